"""Process settings from the environment; region data lives in YAML (see core.config).

Nothing is read at import time: `get_settings()` builds the object on first use and caches
it, so tests and the CLI can set the environment first.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REGION = "kursk"


class Settings(BaseModel):
    config_dir: Path = Field(description="Region configuration folder (INCIDENTS_CONFIG).")
    database_url: str = Field(description="SQLAlchemy URL (DATABASE_URL); SQLite file by default.")
    data_dir: Path = Field(description="Where the default SQLite file and reports go (INCIDENTS_DATA_DIR).")


def _default_data_dir() -> Path:
    return Path(os.environ.get("INCIDENTS_DATA_DIR") or PROJECT_ROOT / "var")


def get_settings(config_dir: str | Path | None = None, database_url: str | None = None) -> Settings:
    """The settings; an explicit argument (the command line's `--config`, `--database`) wins over
    the environment, so a command never has to write the environment to pass its options on."""
    return _cached(
        str(Path(config_dir).resolve()) if config_dir else os.environ.get("INCIDENTS_CONFIG") or "",
        database_url or os.environ.get("DATABASE_URL") or "",
        os.environ.get("INCIDENTS_DATA_DIR") or "",
    )


@lru_cache(maxsize=8)
def _cached(config: str, database_url: str, data_dir: str) -> Settings:
    data = Path(data_dir) if data_dir else _default_data_dir()
    cfg = Path(config) if config else PROJECT_ROOT / "config" / "regions" / DEFAULT_REGION
    url = database_url or f"sqlite:///{data / 'incidents.db'}"
    return Settings(config_dir=cfg, database_url=url, data_dir=data)
