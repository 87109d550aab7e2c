"""What a search asks and what it returns, whichever engine answers (embedded or Elasticsearch)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True, frozen=True)
class SearchFilters:
    """Filters on posts. Dates bound `created_at`: since ≤ created_at < until."""

    category: str | None = None
    municipality: str | None = None
    network: str | None = None
    status: str | None = None  # status of the post's incident (after merges)
    since: datetime | None = None
    until: datetime | None = None

    def is_empty(self) -> bool:
        return not any((self.category, self.municipality, self.network, self.status, self.since, self.until))


@dataclass(slots=True)
class SearchHit:
    post_id: int | None
    post_key: str
    network: str
    created_at: datetime | None
    url: str | None
    snippet: str
    category: str | None = None
    municipality: str | None = None
    incident_id: int | None = None
    incident_status: str | None = None
    score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat() if self.created_at else None
        d.pop("extra")
        return d
