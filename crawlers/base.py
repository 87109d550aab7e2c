"""What every source adapter returns, and how it says it cannot run.

An adapter only *returns* uniform posts and the cursor that follows them; the caller stores
both in one transaction, so a crash between two pages loses and doubles nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from core.records import BadRecord, PostRecord  # noqa: F401 - BadRecord is part of the source contract


class SourceNotConfigured(Exception):
    """The source lacks what it needs (credentials, a file); other sources still run."""


class SourceStopped(Exception):
    """The network asked us to stop for now (rate limit for the day): resume from the cursor later."""


@dataclass(slots=True)
class FetchResult:
    posts: list[PostRecord]
    next_cursor: dict[str, Any] | None
    bad: list[BadRecord] = field(default_factory=list)
    done: bool = False  # nothing more to fetch right now


class SourceAdapter(Protocol):
    source_id: str

    def fetch(self, cursor: dict[str, Any] | None) -> FetchResult:
        """Return the next page after `cursor` (None: from the configured start)."""
        ...
