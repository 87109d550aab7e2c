"""A region's configuration: YAML files in one folder, validated with pydantic.

Every region lives in `config/regions/<name>/`. The files hold data (rubricator,
territories, bodies, routing, SLA policy, sources), never secrets: tokens come from the
environment only. Errors name the file and the key so that an operator can fix them.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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


# --------------------------------------------------------------------------- region.yaml
class RegionInfo(_Strict):
    code: str = Field(description="Short code of the region, e.g. 'kursk'.")
    name: str = Field(description="Name of the region in Russian, e.g. 'Курская область'.")
    timezone: str = Field("Europe/Moscow", description="IANA time zone of the region.")
    aliases: list[str] = Field(
        default_factory=list,
        description="Words that name the region itself in posts (any case/inflection), e.g. 'курская область', 'куряне'.",
    )
    centroid: tuple[float, float] | None = Field(None, description="(lat, lon) of the region for maps.")


# --------------------------------------------------------------------------- rubricator.yaml
class KeywordRule(_Strict):
    """A rule fires when every lemma of one of its phrases occurs within `window` words."""

    id: str = Field(description="Unique id of the rule within the rubricator, shown in signals.")
    phrases: list[str] = Field(
        min_length=1,
        description="Phrases in dictionary form ('горячая вода', 'яма'). Each word is lemmatized; "
        "a phrase matches when all its lemmas occur within `window` words of each other.",
    )
    window: int = Field(4, ge=1, le=50, description="Maximum distance in words between the phrase's words.")
    require: list[str] = Field(
        default_factory=list,
        description="Context lemmas of which at least one must occur in the post for the rule to fire.",
    )
    forbid: list[str] = Field(
        default_factory=list, description="Context lemmas that, if present anywhere in the post, cancel the rule."
    )
    weight: float = Field(1.0, gt=0, description="How strongly the rule points to its category.")


class Fact(_Strict):
    code: str
    name: str
    rules: list[KeywordRule] = Field(default_factory=list)


class Subcategory(_Strict):
    code: str
    name: str
    rules: list[KeywordRule] = Field(default_factory=list)
    facts: list[Fact] = Field(default_factory=list)


class Category(_Strict):
    code: str = Field(description="One of the fixed top-level codes.")
    name: str
    rules: list[KeywordRule] = Field(default_factory=list)
    subcategories: list[Subcategory] = Field(default_factory=list)

    @field_validator("code")
    @classmethod
    def _fixed_code(cls, v: str) -> str:
        if v not in CATEGORY_CODES:
            raise ValueError(f"unknown category code {v!r}; allowed: {', '.join(CATEGORY_CODES)}")
        return v


class Rubricator(_Strict):
    extends: str | None = Field(
        None,
        description="Path (relative to the region folder) of another region's rubricator this one builds on: "
        "its categories come first; a category, subcategory or fact of the same code here adds rules to it.",
    )
    categories: list[Category]

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> Rubricator:
        seen: set[str] = set()
        for cat in self.categories:
            for rule in _all_rules(cat):
                if rule.id in seen:
                    raise ValueError(f"duplicate rule id {rule.id!r}")
                seen.add(rule.id)
        return self


def _all_rules(cat: Category) -> list[KeywordRule]:
    rules = list(cat.rules)
    for sub in cat.subcategories:
        rules += sub.rules
        for fact in sub.facts:
            rules += fact.rules
    return rules


# --------------------------------------------------------------------------- signals.yaml
class Markers(_Strict):
    phrases: list[str] = Field(default_factory=list, description="Phrases in dictionary form, matched on lemmas.")
    weight: float = 1.0


class SignalPolicy(_Strict):
    """Weights and thresholds of the complaint decision."""

    complaint_markers: Markers = Field(description="«нет», «не работает», «сколько можно», «когда починят»…")
    noise_markers: Markers = Field(description="Ads, sales, announcements, news, completed-work reports.")
    thanks_markers: Markers = Field(default_factory=Markers, description="Gratitude: not a complaint.")
    brief_weight: float = Field(
        0.0,
        description="Added when a post with a problem rule is a brief statement (at most `brief_max_words` words) "
        "with no noise marker: «Протекает крыша», «Яма в асфальте» — residents state a defect tersely, news does not.",
    )
    brief_max_words: int = Field(20, ge=1, description="Word count up to which a post counts as brief.")
    thanks_over_markers: bool = Field(
        False,
        description="Subtract the thanks weight even when complaint markers occur («два дня без воды, но спасибо "
        "что дали»); «заранее спасибо» never counts as thanks.",
    )
    resolved_verbs: list[str] = Field(
        default_factory=list,
        description="Verbs (dictionary form) that, in the past tense and not negated, report a fix: «починили», "
        "«устранили», «дали воду».",
    )
    resolved_weight: float = Field(0.0, description="Subtracted when a post reports a fix (resolved_verbs).")
    news_format_weight: float = Field(
        0.0,
        description="Subtracted when a post is formatted as a channel or news post: a link under a word "
        "(«[текст](https://…)») or a quote attributed after a dash («…, — Собянин.»).",
    )
    place_markers: Markers = Field(
        default_factory=Markers,
        description="Micro-places a resident names about his own surroundings (двор, подъезд, этаж, у дома): "
        "the weight is added once when no place of the gazetteer is named.",
    )
    request_weight: float = Field(
        0.5,
        description="Added once when the post asks for action in the imperative («уберите», «почините»); "
        "verbs of the noise markers («подписывайтесь», «звоните») do not count. 0 switches it off.",
    )
    problem_weight: float = Field(1.0, description="Weight of the best category rule score.")
    location_weight: float = Field(0.5, description="Added when a place in the region is named.")
    address_weight: float = Field(0.5, description="Added when a street address is found.")
    official_author_penalty: float = Field(
        2.0, description="Subtracted when the author is one of the bodies' own accounts."
    )
    threshold: float = Field(1.5, description="Score from which a post is a complaint.")
    min_text_chars: int = Field(10, description="Shorter texts are never complaints.")
    max_text_chars: int = Field(20000, description="Longer texts are cut before analysis (kept whole in storage).")
    official_authors: list[str] = Field(
        default_factory=list, description="author_id values of official accounts (госпаблики, bodies' pages)."
    )
    keep_person_names: bool = Field(False, description="Keep persons' names in exports and search indexes.")
    use_ner: bool = Field(True, description="Run natasha NER on candidate posts (persons, organisations).")


# --------------------------------------------------------------------------- territories.yaml
class Place(_Strict):
    name: str
    aliases: list[str] = Field(default_factory=list, description="Other spellings; matched case-insensitively on lemmas.")


class Municipality(_Strict):
    code: str = Field(description="Stable code, used in routing rules, exports and labels.")
    name: str = Field(description="Official name, e.g. 'город Курск', 'Курский район'.")
    kind: Literal["city_okrug", "municipal_okrug", "municipal_district", "city_district"] = "municipal_district"
    aliases: list[str] = Field(default_factory=list, description="Names as residents write them: 'Курск', 'Курске'.")
    centroid: tuple[float, float] | None = Field(None, description="(lat, lon) for maps.")
    settlements: list[Place] = Field(default_factory=list, description="Towns and villages inside it.")
    streets: list[Place] = Field(default_factory=list, description="Streets that identify it (unique ones).")
    subdivisions: list[Place] = Field(default_factory=list, description="Intra-city okrugs / microdistricts.")


class Territories(_Strict):
    municipalities: list[Municipality] = Field(min_length=1)
    foreign_places: list[str] = Field(
        default_factory=list,
        description="Places outside the region that residents mention (other regions' cities): off-region markers.",
    )

    @model_validator(mode="after")
    def _unique_codes(self) -> Territories:
        codes = [m.code for m in self.municipalities]
        dup = {c for c in codes if codes.count(c) > 1}
        if dup:
            raise ValueError(f"duplicate municipality codes: {sorted(dup)}")
        return self


# --------------------------------------------------------------------------- bodies.yaml
class Contacts(_Strict):
    email: str | None = None
    phone: str | None = None
    telegram_chat_id: str | None = None
    head_email: str | None = Field(None, description="Head of the body, notified when an incident is overdue.")


class Body(_Strict):
    code: str
    name: str = Field(description="Exact name, as the body names itself (and as real data names it).")
    level: Literal["municipal", "regional", "federal", "utility", "admin"]
    territories: list[str] = Field(default_factory=list, description="Municipality codes it serves; empty = whole region.")
    categories: list[str] = Field(default_factory=list, description="Category codes it handles.")
    contacts: Contacts = Field(default_factory=Contacts)
    accounts: list[str] = Field(default_factory=list, description="author_id values of the body's own accounts.")


class Bodies(_Strict):
    bodies: list[Body] = Field(min_length=1)
    triage_body: str = Field(description="Code of the regional administrator's queue: where unrouted incidents go.")

    @model_validator(mode="after")
    def _check(self) -> Bodies:
        codes = [b.code for b in self.bodies]
        dup = {c for c in codes if codes.count(c) > 1}
        if dup:
            raise ValueError(f"duplicate body codes: {sorted(dup)}")
        if self.triage_body not in codes:
            raise ValueError(f"triage_body {self.triage_body!r} is not a body code")
        return self


# --------------------------------------------------------------------------- routing.yaml
class RoutingRule(_Strict):
    """First matching rule wins; a missing key matches anything."""

    category: str | None = None
    subcategory: str | None = None
    fact: str | None = None
    municipality: list[str] | None = Field(None, description="Municipality codes; None = any.")
    scale: list[Literal["house", "street", "settlement", "municipality", "region"]] | None = None
    body: str = Field(description="Body code, or '{municipality}' templates like 'adm_{municipality}'.")
    note: str | None = None


class Routing(_Strict):
    rules: list[RoutingRule]


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
    holidays: list[str] = Field(default_factory=list, description="ISO dates that are days off.")
    extra_workdays: list[str] = Field(default_factory=list, description="ISO dates of working Saturdays.")


class SlaPolicy(_Strict):
    first_answer_hours: float = Field(24, description="The public answer is due this long after opening.")
    hours: Literal["calendar", "working"] = "calendar"
    at_risk_margin_hours: float = Field(4, description="Time left below which an incident is at risk.")
    overrides: list[SlaOverride] = Field(default_factory=list)
    calendar: Calendar = Field(default_factory=Calendar)


# --------------------------------------------------------------------------- clustering.yaml
class ClusteringPolicy(_Strict):
    window_hours: float = Field(72, description="A post joins only incidents active within this window.")
    threshold: float = Field(0.55, description="Minimum similarity to join an incident.")
    text_weight: float = 0.5
    address_weight: float = 0.35
    time_weight: float = 0.15
    max_candidates: int = Field(50, description="Bound on comparisons per post.")
    reopen_window_days: float = Field(14, description="A post within this many days after closing reopens.")


# --------------------------------------------------------------------------- sources.yaml
class SourceConfig(_Strict):
    id: str
    network: Literal["vk", "ok", "telegram", "pos", "replay"]
    kind: str = Field(description="Adapter kind: replay, wall, newsfeed, streaming, group, channel, preview, messages.")
    enabled: bool = True
    schedule: str | None = Field(None, description="Cron expression or 'every Nm' for the crawl flow.")
    params: dict[str, Any] = Field(default_factory=dict, description="Adapter parameters (no secrets).")
    municipality: str | None = Field(
        None,
        description="The municipality a local page or chat is about: posts from it that name no place are placed there.",
    )


class Sources(_Strict):
    sources: list[SourceConfig]


# --------------------------------------------------------------------------- the whole region
FILES: dict[str, type[BaseModel]] = {
    "region.yaml": RegionInfo,
    "rubricator.yaml": Rubricator,
    "signals.yaml": SignalPolicy,
    "territories.yaml": Territories,
    "bodies.yaml": Bodies,
    "routing.yaml": Routing,
    "sla.yaml": SlaPolicy,
    "clustering.yaml": ClusteringPolicy,
    "sources.yaml": Sources,
}


class RegionConfig:
    """All of one region's configuration, loaded once and read-only."""

    def __init__(self, root: Path, parts: dict[str, BaseModel]) -> None:
        self.root = root
        self.region: RegionInfo = parts["region.yaml"]  # type: ignore[assignment]
        self.rubricator: Rubricator = parts["rubricator.yaml"]  # type: ignore[assignment]
        self.signals: SignalPolicy = parts["signals.yaml"]  # type: ignore[assignment]
        self.territories: Territories = parts["territories.yaml"]  # type: ignore[assignment]
        self.bodies: Bodies = parts["bodies.yaml"]  # type: ignore[assignment]
        self.routing: Routing = parts["routing.yaml"]  # type: ignore[assignment]
        self.sla: SlaPolicy = parts["sla.yaml"]  # type: ignore[assignment]
        self.clustering: ClusteringPolicy = parts["clustering.yaml"]  # type: ignore[assignment]
        self.sources: Sources = parts["sources.yaml"]  # type: ignore[assignment]

    @cached_property
    def body_by_code(self) -> dict[str, Body]:
        return {b.code: b for b in self.bodies.bodies}

    @cached_property
    def municipality_by_code(self) -> dict[str, Municipality]:
        return {m.code: m for m in self.territories.municipalities}

    def resolve_path(self, value: str) -> Path:
        """Paths in the config are relative to the region folder."""
        p = Path(value)
        return p if p.is_absolute() else self.root / p


def _format_error(file: Path, err: ValidationError) -> str:
    lines = [f"{file}: invalid configuration"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {key}: {e['msg']}")
    return "\n".join(lines)


def _read_mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: file is missing (every region needs {', '.join(FILES)})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def _merge_by_code(base: list[Any], extra: list[Any], children: tuple[str, ...]) -> list[Any]:
    """Items of `extra` whose code is already in `base` add their rules (and, one level
    down, their subcategories or facts) to it; new codes are appended in order."""
    out = [dict(b) if isinstance(b, dict) else b for b in base]
    by_code = {b.get("code"): b for b in out if isinstance(b, dict)}
    for item in extra:
        if not isinstance(item, dict) or item.get("code") not in by_code:
            out.append(item)
            continue
        target = by_code[item["code"]]
        target["rules"] = list(target.get("rules") or []) + list(item.get("rules") or [])
        if children:
            key, rest = children[0], children[1:]
            target[key] = _merge_by_code(list(target.get(key) or []), list(item.get(key) or []), rest)
    return out


def _rubricator_data(path: Path, depth: int = 0) -> dict[str, Any]:
    """rubricator.yaml with its `extends` chain resolved: regions share one rubricator and
    add their own rules, instead of copying 2,000 lines that then drift apart."""
    data = _read_mapping(path)
    parent = data.get("extends")
    if not parent:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends: must be a path to another rubricator.yaml")
    if depth >= 5:
        raise ConfigError(f"{path}: extends: chain longer than 5 files (a loop?)")
    base_path = Path(parent) if Path(parent).is_absolute() else path.parent / parent
    if not base_path.is_file():
        raise ConfigError(f"{path}: extends: {base_path} not found")
    base = _rubricator_data(base_path.resolve(), depth + 1)
    cats = _merge_by_code(list(base.get("categories") or []), list(data.get("categories") or []),
                          ("subcategories", "facts"))
    return {**data, "categories": cats}


def load_file(path: Path, model: type[BaseModel]) -> BaseModel:
    data = _rubricator_data(path) if model is Rubricator else _read_mapping(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(path, exc)) from exc


def load_region(root: Path | str) -> RegionConfig:
    """Load and cross-check a region folder; raises ConfigError naming file and key."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: configuration folder not found")
    parts = {name: load_file(root / name, model) for name, model in FILES.items()}
    cfg = RegionConfig(root, parts)
    _cross_check(cfg)
    return cfg


def _cross_check(cfg: RegionConfig) -> None:
    errors: list[str] = []
    munis = set(cfg.municipality_by_code)
    cats = {c.code for c in cfg.rubricator.categories}
    for i, body in enumerate(cfg.bodies.bodies):
        for t in body.territories:
            if t not in munis:
                errors.append(f"bodies.yaml: bodies.{i}.territories: unknown municipality {t!r}")
        for c in body.categories:
            if c not in CATEGORY_CODES:
                errors.append(f"bodies.yaml: bodies.{i}.categories: unknown category {c!r}")
    for i, rule in enumerate(cfg.routing.rules):
        if rule.category and rule.category not in cats:
            errors.append(f"routing.yaml: rules.{i}.category: {rule.category!r} is not in the rubricator")
        for m in rule.municipality or []:
            if m not in munis:
                errors.append(f"routing.yaml: rules.{i}.municipality: unknown municipality {m!r}")
        if "{" not in rule.body and rule.body not in cfg.body_by_code:
            errors.append(f"routing.yaml: rules.{i}.body: unknown body {rule.body!r}")
    for i, ov in enumerate(cfg.sla.overrides):
        if ov.category and ov.category not in CATEGORY_CODES:
            errors.append(f"sla.yaml: overrides.{i}.category: unknown category {ov.category!r}")
    for i, src in enumerate(cfg.sources.sources):
        if src.municipality and src.municipality not in munis:
            errors.append(f"sources.yaml: sources.{i}.municipality: unknown municipality {src.municipality!r}")
    ids = [s.id for s in cfg.sources.sources]
    for s in {x for x in ids if ids.count(x) > 1}:
        errors.append(f"sources.yaml: sources: duplicate source id {s!r}")
    if errors:
        raise ConfigError("\n".join(errors))
