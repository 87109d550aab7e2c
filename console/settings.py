"""The console's process settings, from the environment (secrets never from YAML)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr


class ConsoleSettings(BaseModel):
    secret_key: SecretStr = Field(
        description="Signs the session cookies (CONSOLE_SECRET_KEY; else a file in the data folder)."
    )
    secure_cookies: bool = Field(
        False, description="Send cookies only over HTTPS (CONSOLE_SECURE_COOKIES=1 behind TLS)."
    )
    session_hours: float = Field(12.0, description="A log-in lasts this long (CONSOLE_SESSION_HOURS).")
    lock_minutes: float = Field(
        15.0, description="An opened incident shows its reader for this long unless renewed."
    )
    page_size: int = Field(
        50,
        description="Rows per page of a list (triage reads the top of the queue; 200 cost ≈ 25 ms of templating per request under load).",
    )
    live_seconds: float = Field(15.0, description="How often the SLA board refreshes its counters.")
    snapshot_seconds: float = Field(
        10.0,
        description="The open incidents' clocks shared by the lists are at most this old "
        "(rebuilt at once when the data changes).",
    )
    figures_seconds: float = Field(
        60.0, description="The ratings and the heat map are recomputed at most this often."
    )


def _secret_from_file(data_dir: Path) -> str:
    """A random key kept beside the database (0600), so log-ins survive a restart without configuration."""
    path = data_dir / "console-secret"
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key)
    return key


def console_settings(data_dir: Path) -> ConsoleSettings:
    key = os.environ.get("CONSOLE_SECRET_KEY") or _secret_from_file(data_dir)
    return ConsoleSettings(
        secret_key=SecretStr(key),
        secure_cookies=os.environ.get("CONSOLE_SECURE_COOKIES", "").lower() in ("1", "true", "yes"),
        session_hours=float(os.environ.get("CONSOLE_SESSION_HOURS") or 12),
    )
