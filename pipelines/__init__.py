"""post → signal stages. Importing `core` first sets OPENBLAS_NUM_THREADS before numpy loads
(see core/__init__.py)."""

import core  # noqa: F401
