"""The incident domain (domain/) and the services over it (services/). Importing `core` first sets the
process-wide defaults (see core/__init__.py)."""

import core  # noqa: F401
