"""post → signal stages. Importing `incidents` first sets OPENBLAS_NUM_THREADS before numpy loads
(see incidents/__init__.py)."""

import incidents  # noqa: F401
