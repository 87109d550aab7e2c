"""Shared pieces of a region's configuration: the error, strict models, codes, job schedules, privacy and region.yaml."""

from __future__ import annotations

import re
from typing import TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)

CATEGORY_CODES: tuple[str, ...] = (
    "housing_utilities",
    "waste",
    "energy",
    "water",
    "roads",
    "transport",
    "healthcare",
    "education",
    "social_protection",
    "ecology",
    "landscaping",
    "land_property",
    "construction",
    "safety",
    "other",
)
"""Fixed top-level category codes: other tools depend on them, never rename."""

NETWORKS: tuple[str, ...] = ("vk", "ok", "telegram", "pos")
SCALES: tuple[str, ...] = ("house", "street", "settlement", "municipality", "region")


class ConfigError(Exception):
    """A configuration file is missing or invalid; the message names the file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- schedules
_EVERY = re.compile(r"^every\s+(\d+)\s*([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_schedule(value: str) -> tuple[str, int | str]:
    """'every 10m' → ('interval', 600); a five-field cron expression → ('cron', expr).

    Checked when the config loads, so that a typo fails `check-config`, not the scheduler."""
    text = value.strip()
    m = _EVERY.match(text)
    if m:
        seconds = int(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        if seconds <= 0:
            raise ValueError(f"schedule {value!r}: the interval must be positive")
        return "interval", seconds
    fields = text.split()
    if len(fields) != 5 or not all(re.fullmatch(r"[\d*/,\-A-Za-z]+", f) for f in fields):
        raise ValueError(f"schedule {value!r}: use 'every N[s|m|h|d]' or a five-field cron expression")
    return "cron", text


_Schedule = TypeVar("_Schedule", str, str | None)


def _check_schedule(value: _Schedule) -> _Schedule:
    if value is not None:
        parse_schedule(value)
    return value


class JobSchedules(_Strict):
    """When the around-the-clock jobs run (crawls have their own schedule per source)."""

    process: str = Field("every 2m", description="Signals → incidents → routing for new posts.")
    sla_watch: str = Field("every 5m", description="SLA states and escalations.")
    publish: str = Field("every 1m", description="Send queued replies from the outbox.")
    index: str = Field("every 15m", description="Sync the search indexes (embedded and Elasticsearch).")
    report: str = Field("0 6 * * *", description="Daily report (counts, SLA figures, ratings), region time.")
    purge: str = Field(
        "30 3 * * *", description="Drop raw payloads and resolved quarantine rows past their retention."
    )

    routing_learn: str = Field(
        "0 4 * * *",
        description="Fold the dispatchers' reassignments into the learned routing table (audited diff).",
    )

    @field_validator("process", "sla_watch", "publish", "index", "report", "purge", "routing_learn")
    @classmethod
    def _valid(cls, v: str) -> str:
        return _check_schedule(v)


class PrivacyPolicy(_Strict):
    """Residents' personal data (Federal Law 152-ФЗ): only where a role needs it, only as long as needed."""

    export_personal_data: bool = Field(
        False,
        description="Allow `incidents export --with-authors` (authors' ids and names); masked otherwise.",
    )
    raw_retention_days: int = Field(
        90,
        ge=1,
        description="Days a post's raw network payload is kept; `incidents purge` empties older ones.",
    )
    quarantine_retention_days: int = Field(
        90,
        ge=1,
        description="Days a resolved quarantine row (with its payload) is kept after it was resolved.",
    )


# --------------------------------------------------------------------------- region.yaml
class RegionMap(_Strict):
    """The console's map: the municipalities' polygons and, optionally, tiles underneath."""

    boundaries: str | None = Field(
        None,
        description="GeoJSON FeatureCollection of the municipalities' (Multi)Polygons, relative to the region "
        "folder. None: the map draws a circle per municipality at its centroid and no point is placed.",
    )
    features: dict[str, str] = Field(
        default_factory=dict,
        description="Feature name (properties.name) → municipality code, for features whose name is no name, "
        "alias, subdivision or settlement of exactly one municipality.",
    )
    tile_url: str | None = Field(
        None,
        description="XYZ tile URL with {z}, {x}, {y} to show under the polygons where a tile server is "
        "reachable; None (the default): no tiles, the map works offline.",
    )
    attribution: str = Field(
        "© OpenStreetMap contributors",
        description="Shown on the map: the licence of the boundaries (and of the tiles) asks for it.",
    )

    @field_validator("tile_url")
    @classmethod
    def _tile_url(cls, v: str | None) -> str | None:
        if v is not None and not all(k in v for k in ("{z}", "{x}", "{y}")):
            raise ValueError("tile_url must contain {z}, {x} and {y}")
        return v


class RegionInfo(_Strict):
    code: str = Field(description="Short code of the region, e.g. 'kursk'.")
    name: str = Field(description="Name of the region in Russian, e.g. 'Курская область'.")
    timezone: str = Field("Europe/Moscow", description="IANA time zone of the region.")
    aliases: list[str] = Field(
        default_factory=list,
        description="Words that name the region itself in posts (any case/inflection), e.g. 'курская область', 'куряне'.",
    )
    centroid: tuple[float, float] | None = Field(None, description="(lat, lon) of the region for maps.")
    base: str | None = Field(
        None,
        description="The language base the region's files are deltas over: a name (`ru`: config/base/ru) or "
        "a path relative to the region folder. Its rubricator.yaml, signals.yaml and replies.yaml come first; "
        "the region's files of the same name add, override or remove by id (config/README.md).",
    )
    schedules: JobSchedules = Field(
        default_factory=JobSchedules, description="Schedules of the jobs (flows/jobs.py)."
    )
    privacy: PrivacyPolicy = Field(
        default_factory=lambda: PrivacyPolicy(),
        description="Personal data (152-ФЗ): what exports show, how long raw payloads stay.",
    )
    map: RegionMap = Field(
        default_factory=lambda: RegionMap(),
        description="The console's map: municipal boundaries, optional tiles, attribution.",
    )
