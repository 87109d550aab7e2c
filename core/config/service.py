"""sla.yaml, replies.yaml, clustering.yaml, sources.yaml and search.yaml: how the centre works."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from core.config.base import _check_schedule, _Strict


# --------------------------------------------------------------------------- sla.yaml
class SlaOverride(_Strict):
    category: str | None = None
    network: str | None = None
    urgent: bool | None = None
    first_answer_hours: float


class Calendar(_Strict):
    workday_start: str = "09:00"
    workday_end: str = "18:00"
    weekend: list[int] = Field(default_factory=lambda: [5, 6], description="Weekday numbers, Monday = 0.")
    country: str | None = Field(
        None,
        description="ISO country code (RU): the official holidays and the government's day transfers of "
        "every year come from the maintained `holidays` package; `holidays`/`extra_workdays` add to them.",
    )
    holidays: list[str] = Field(default_factory=list, description="ISO dates that are days off.")
    extra_workdays: list[str] = Field(default_factory=list, description="ISO dates of working Saturdays.")


class ClockPolicy(_Strict):
    """One of the region's stricter clocks (triage, draft, follow-up)."""

    hours: float | None = Field(
        None, description="Deadline after the clock starts; None switches the clock off."
    )
    urgent_hours: float | None = Field(
        None, description="The deadline for an urgent incident (None: same as hours)."
    )
    basis: Literal["calendar", "working"] = Field("calendar", description="Calendar hours or working hours.")
    at_risk_margin_hours: float | None = Field(
        None, description="Time left under which the clock is at risk (None: a quarter of its hours)."
    )


class SlaClocks(_Strict):
    triage: ClockPolicy = Field(
        default_factory=ClockPolicy, description="From opening to triage (assignment or rejection)."
    )
    draft: ClockPolicy = Field(
        default_factory=ClockPolicy, description="From assignment to a drafted answer."
    )
    follow_up: ClockPolicy = Field(
        default_factory=ClockPolicy, description="From an interim answer to the final one."
    )


EscalationTarget = Literal["body", "body_head", "regional_admin"]
EscalationChannel = Literal["email", "telegram"]


def _at_risk_default() -> list[EscalationTarget]:
    return ["body"]


def _overdue_default() -> list[EscalationTarget]:
    return ["body", "body_head", "regional_admin"]


def _channels_default() -> list[EscalationChannel]:
    return ["email", "telegram"]


class Escalation(_Strict):
    """Who is told, and how, when a clock is at risk or overdue."""

    at_risk: list[EscalationTarget] = Field(default_factory=_at_risk_default)
    overdue: list[EscalationTarget] = Field(default_factory=_overdue_default)
    channels: list[EscalationChannel] = Field(default_factory=_channels_default)


class SlaPolicy(_Strict):
    first_answer_hours: float = Field(24, description="The public answer is due this long after opening.")
    hours: Literal["calendar", "working"] = "calendar"
    at_risk_margin_hours: float = Field(4, description="Time left below which an incident is at risk.")
    overrides: list[SlaOverride] = Field(default_factory=list)
    calendar: Calendar = Field(default_factory=Calendar)
    clocks: SlaClocks = Field(default_factory=SlaClocks, description="The region's stricter clocks.")
    escalation: Escalation = Field(default_factory=Escalation)
    pos_deadline_field: str = Field(
        "deadline", description="Dotted path of the deadline in a feedback-platform message."
    )
    pos_resolution_days: dict[str, int] = Field(
        default_factory=dict, description="Category code → days to resolve."
    )
    pos_resolution_default_days: int = Field(
        30, ge=1, le=30, description="Days to resolve when the message names none."
    )
    rating_min_incidents: int = Field(
        5, ge=1, description="A body or municipality enters a rating from this many incidents."
    )


# --------------------------------------------------------------------------- replies.yaml
class AnswerTemplate(_Strict):
    id: str = Field(description="Unique id, used by `incidents reply --template`.")
    name: str | None = None
    category: str | None = Field(None, description="Category code the template is for (None: any).")
    categories: list[str] | None = Field(
        None,
        description="Category codes the template fits besides `category` (neither: it fits all); "
        "another category's incident is refused unless the controller overrides.",
    )
    subcategory: str | None = None
    fact: str | None = None
    interim: bool = Field(False, description="An interim answer («промежуточный ответ»).")
    text: str = Field(
        description="Jinja2 text (sandboxed) with placeholders such as {{ address }}, {{ body }}, {{ deadline }}."
    )


class RetryPolicy(_Strict):
    max_attempts: int = Field(5, ge=1, description="Tries per post before the reply is failed for good.")
    base_seconds: float = Field(60, ge=0, description="Wait after the first failed try.")
    factor: float = Field(2, ge=1, description="Each further wait is this many times longer.")
    max_seconds: float = Field(3600, ge=0, description="The longest wait.")


class RepliesPolicy(_Strict):
    approval_required: bool = Field(
        True, description="A controller must approve an answer before it is published."
    )
    auto_answer_joined_posts: bool = Field(
        True, description="A new post joining an answered incident gets the incident's answer automatically."
    )
    reopen_ratings: list[int] = Field(
        default_factory=lambda: [1, 2], description="Feedback-platform ratings that reopen the incident."
    )
    signature: str | None = Field(None, description="Appended to every published answer.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    templates: list[AnswerTemplate] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> RepliesPolicy:
        ids = [t.id for t in self.templates]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate template ids: {sorted(dup)}")
        return self


# --------------------------------------------------------------------------- clustering.yaml
class ClusteringPolicy(_Strict):
    window_hours: float = Field(72, description="A post joins only incidents active within this window.")
    threshold: float = Field(0.45, description="Minimum similarity to join an incident.")
    text_weight: float = 0.5
    address_weight: float = 0.35
    time_weight: float = 0.15
    max_candidates: int = Field(50, ge=1, description="Bound on incidents looked at per post.")
    rescore_top: int = Field(
        8, ge=1, description="Candidates scored exactly (rapidfuzz) after the cheap ranking."
    )
    other_subcategory_factor: float = Field(
        0.7, ge=0, le=1, description="Score multiplier for another subcategory."
    )
    other_category_factor: float = Field(
        0.85,
        ge=0,
        le=1,
        description="Score multiplier for another category at the same house (else never joined).",
    )
    reopen_window_days: float = Field(
        14, ge=0, description="A post within this many days after closing reopens."
    )
    link_window_days: float = Field(
        90,
        ge=0,
        description="After the reopen window and up to this many days after closing, a matching post "
        "opens a new incident linked to the closed one.",
    )


# --------------------------------------------------------------------------- sources.yaml
class SourceConfig(_Strict):
    id: str
    network: Literal["vk", "ok", "telegram", "pos", "replay"]
    kind: str = Field(
        description="Adapter kind: replay, wall, newsfeed, streaming, group, channel, preview, messages."
    )
    enabled: bool = True
    schedule: str | None = Field(None, description="Cron expression or 'every Nm' for the crawl flow.")
    params: dict[str, Any] = Field(default_factory=dict, description="Adapter parameters (no secrets).")
    municipality: str | None = Field(
        None,
        description="The municipality a local page or chat is about: posts from it that name no place are placed there.",
    )
    sample: bool = Field(
        False,
        description="The bundled fictional sample: read by `incidents run` on the default database only, "
        "never by a scheduled deployment nor into a production database.",
    )

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, v: str | None) -> str | None:
        return _check_schedule(v)


class Sources(_Strict):
    sources: list[SourceConfig]


# --------------------------------------------------------------------------- search.yaml (optional)
class SearchPolicy(_Strict):
    """How the region's posts and incidents are indexed in Elasticsearch (`incidents index`).

    Optional: without the file the defaults apply. Where Elasticsearch is (URL, credentials)
    comes from the environment, never from here (`incidents/services/search/settings.py`)."""

    index_prefix: str = Field(
        "incidents",
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="Prefix of index, template and ILM policy names: <prefix>-posts-YYYY.MM.01, <prefix>-incidents.",
    )
    posts_retention_days: int = Field(
        365,
        ge=1,
        description="Monthly post indexes are deleted by ILM this many days after their month began.",
    )
    posts_warm_after_days: int | None = Field(
        30,
        ge=1,
        description="Monthly post indexes move to the warm phase (lower priority) after this many days; "
        "null = never.",
    )
    bulk_chunk_size: int = Field(500, ge=1, le=10000, description="Documents per _bulk request.")
    bulk_max_retries: int = Field(
        5, ge=0, le=50, description="Retries of documents rejected with 429/502/503/504."
    )
    bulk_initial_backoff_seconds: float = Field(
        2.0, ge=0, description="Wait before the first retry; doubled on each further retry."
    )
    bulk_max_backoff_seconds: float = Field(60.0, ge=0, description="Longest wait between retries.")
    sync_overlap_minutes: float = Field(
        15.0,
        ge=0,
        description="Each incremental sync re-reads rows changed this long before the last cursor "
        "(transactions that committed late); re-sending a document is harmless.",
    )
    request_timeout_seconds: float = Field(30.0, gt=0, description="Timeout of one request to Elasticsearch.")

    @field_validator("posts_warm_after_days")
    @classmethod
    def _warm_before_delete(cls, warm: int | None, info: ValidationInfo) -> int | None:
        retention = info.data.get("posts_retention_days")
        if warm is not None and retention is not None and warm >= retention:
            raise ValueError(f"must be less than posts_retention_days ({retention}), or null")
        return warm

    @field_validator("bulk_max_backoff_seconds")
    @classmethod
    def _backoff_bounds(cls, longest: float, info: ValidationInfo) -> float:
        first = info.data.get("bulk_initial_backoff_seconds")
        if first is not None and longest < first:
            raise ValueError(f"must not be less than bulk_initial_backoff_seconds ({first})")
        return longest
