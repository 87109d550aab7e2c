"""What every `incidents` command shares: one console for output, one for errors, one clock,
one set of exit codes, and the region and database built from the global options.

Exit codes: 0 success; 1 the work failed (a database error, a crawl that could not finish);
2 bad usage or invalid configuration; 3 a command ran but found problems (bad lines
quarantined on import, quality below a requested minimum).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.console import Console

from core.config import RegionConfig, load_region

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

console = Console(stderr=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PROBLEMS = 0, 1, 2, 3


def now() -> datetime:
    return datetime.now(UTC)


class Context:
    """What every command needs, built lazily from the global options."""

    def __init__(self, args: argparse.Namespace) -> None:
        from core.settings import get_settings

        self.settings = get_settings(getattr(args, "config", None), getattr(args, "database", None))
        self._cfg: RegionConfig | None = None
        self._engine: Engine | None = None

    @property
    def cfg(self) -> RegionConfig:
        if self._cfg is None:
            self._cfg = load_region(self.settings.config_dir)
        return self._cfg

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from storage.db import open_database
            from storage.store import prepare

            self._engine = open_database(self.settings.database_url)
            prepare(self._engine, self.cfg)  # bodies and sources mirror the YAML
        return self._engine
