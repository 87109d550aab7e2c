"""Typed records that flow between the stages: source → post → signal → incident.

Plain dataclasses (not ORM rows) so that every stage is a function over values, testable
without a database or Prefect, and cheap enough for the streaming path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class PostRecord:
    """One post in the interchange format (the JSONL contract), plus the raw payload."""

    network: str
    external_id: str
    source_id: str
    text: str
    created_at: datetime
    parent_id: str | None = None
    url: str | None = None
    author_id: str | None = None
    author_name: str | None = None
    likes: int = 0
    reposts: int = 0
    views: int = 0
    # The place the platform gives beside the text (the feedback platform's address line and
    # point): the signal stage reads it before the text (pipelines/placing.py).
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False

    @property
    def key(self) -> str:
        """The post's identity across the system: 'network:external_id'."""
        return f"{self.network}:{self.external_id}"


@dataclass(slots=True)
class NormalizedText:
    """Text prepared for matching; `display` keeps the original for people."""

    display: str
    text: str  # cleaned, lower case, ё→е, repeated letters folded
    tokens: list[str]
    lemmas: list[tuple[str, ...]]  # every candidate lemma of each token
    hashtags: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    truncated: bool = False

    @property
    def lemma_text(self) -> str:
        """First lemma of each token, joined: the text the clustering compares."""
        return " ".join(cands[0] for cands in self.lemmas if cands)


# The reason a reply gets when its category is its thread's (no problem rule fired on it).
THREAD_CATEGORY_REASON = "category from the thread it replies to"


@dataclass(slots=True, frozen=True)
class RuleHit:
    """A keyword rule that fired, with the words that made it fire."""

    rule_id: str
    category: str
    subcategory: str | None
    fact: str | None
    weight: float
    matched: str


@dataclass(slots=True)
class Address:
    street: str | None = None
    house: str | None = None
    settlement: str | None = None

    def normalized(self) -> str | None:
        parts = [p for p in (self.settlement, self.street, self.house) if p]
        return ", ".join(parts) if parts else None

    @property
    def scale(self) -> str | None:
        if self.street and self.house:
            return "house"
        if self.street:
            return "street"
        if self.settlement:
            return "settlement"
        return None


@dataclass(slots=True)
class Entities:
    municipality: str | None = None
    municipality_evidence: str | None = None
    # Every municipality the text names by its own name, a town or a village, in order: a
    # route «Курск — Курчатов» or a road «от Курска до Курасово» spans several, and the scale
    # of such a complaint is the region's.
    municipalities: list[str] = field(default_factory=list)
    municipality_kind: str | None = (
        None  # municipality | settlement | subdivision | street | destination (a town travelled to)  # | point (the post's lat/lon inside a municipal boundary, pipelines/placing.py)
    )
    address: Address = field(default_factory=Address)
    locations: list[str] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)
    persons: list[str] = field(default_factory=list)
    foreign_places: list[str] = field(default_factory=list)
    region_mentioned: bool = False
    # the post is about the whole region and names no narrower place («по всей области»): its
    # scale is the region's and it is routed to the regional body, not to a municipality
    region_wide: bool = False

    @property
    def scale(self) -> str | None:
        """The address's scale, or «region» for a post about the whole region."""
        return self.address.scale or ("region" if self.region_wide else None)


@dataclass(slots=True)
class SignalRecord:
    """The decision about one post: is it a concrete complaint, about what, where."""

    post_key: str
    is_complaint: bool
    in_region: bool
    score: float
    category: str | None
    subcategory: str | None
    fact: str | None
    municipality: str | None
    address: str | None
    street: str | None
    scale: str | None
    rules: list[RuleHit]
    reasons: list[str]
    entities: Entities
    lemma_text: str
    created_at: datetime
    network: str
    author_id: str | None = None
    reach: int = 0

    @property
    def decision(self) -> str:
        if not self.is_complaint:
            return "not_complaint"
        return "complaint" if self.in_region else "off_region"


@dataclass(slots=True)
class BadRecord:
    """A payload the adapter could not turn into a post: quarantined with the reason."""

    location: str
    reason: str
    payload: str
