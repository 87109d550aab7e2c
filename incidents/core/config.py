"""A region's configuration: YAML files in one folder, validated with pydantic.

Every region lives in `config/regions/<name>/`. The files hold data (rubricator,
territories, bodies, routing, SLA policy, sources), never secrets: tokens come from the
environment only. Errors name the file and the key so that an operator can fix them.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
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


def _check_schedule(value: str | None) -> str | None:
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

    @field_validator("process", "sla_watch", "publish", "index", "report", "purge")
    @classmethod
    def _valid(cls, v: str) -> str:
        return _check_schedule(v)  # type: ignore[return-value]


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
class RegionInfo(_Strict):
    code: str = Field(description="Short code of the region, e.g. 'kursk'.")
    name: str = Field(description="Name of the region in Russian, e.g. 'Курская область'.")
    timezone: str = Field("Europe/Moscow", description="IANA time zone of the region.")
    aliases: list[str] = Field(
        default_factory=list,
        description="Words that name the region itself in posts (any case/inflection), e.g. 'курская область', 'куряне'.",
    )
    centroid: tuple[float, float] | None = Field(None, description="(lat, lon) of the region for maps.")
    schedules: JobSchedules = Field(
        default_factory=JobSchedules, description="Schedules of the jobs (flows/jobs.py)."
    )
    privacy: PrivacyPolicy = Field(
        default_factory=lambda: PrivacyPolicy(),
        description="Personal data (152-ФЗ): what exports show, how long raw payloads stay.",
    )


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
        default_factory=list,
        description="Context lemmas that, if present anywhere in the post, cancel the rule.",
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


class Precedence(_Strict):
    """When the words of a post fit two categories: the object a problem is about (a hospital,
    a school, a cemetery) decides over a generic problem word («крыша течёт», «мусор»)."""

    object: list[str] = Field(
        description="Codes that name the object: category, category.subcategory or a rule id."
    )
    over: list[str] = Field(description="Codes of the generic problems it decides over (same forms).")


class Rubricator(_Strict):
    extends: str | None = Field(
        None,
        description="Path (relative to the region folder) of another region's rubricator this one builds on: "
        "its categories come first; a category, subcategory or fact of the same code here adds rules to it.",
    )
    categories: list[Category]
    precedence: list[Precedence] = Field(
        default_factory=list,
        description="Object-over-problem cuts applied in order after the weights chose a category; "
        "inherited from the base file of `extends` unless given here.",
    )

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
    phrases: list[str] = Field(
        default_factory=list, description="Phrases in dictionary form, matched on lemmas."
    )
    weight: float = 1.0


class SignalModelPolicy(_Strict):
    """A statistical model trained by `incidents train`, combined with the rules (optional)."""

    path: str = Field(
        description="The model file written by `incidents train` (relative: to the region folder if "
        "there, else to the project root; never to the working directory)."
    )
    train: list[str] = Field(
        default_factory=list,
        description="Labels files (posts.jsonl beside each) to train the model from, deterministically, "
        "when `path` does not exist yet (first use on a fresh clone); empty: rules alone until trained.",
    )
    complaint: bool = Field(True, description="Let the model decide complaint / not a complaint.")
    category: bool = Field(True, description="Let the model choose the category.")
    threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Probability from which the model says complaint."
    )


class SignalPolicy(_Strict):
    """Weights and thresholds of the complaint decision."""

    model: SignalModelPolicy | None = Field(
        None,
        description="A scikit-learn model combined with the rules (`incidents train`); none: rules alone.",
    )

    complaint_markers: Markers = Field(description="«нет», «не работает», «сколько можно», «когда починят»…")
    noise_markers: Markers = Field(description="Ads, sales, announcements, news, completed-work reports.")
    event_markers: Markers = Field(
        default_factory=Markers,
        description="Words of news about events and people («погибнуть», «спасатель», «продавать»): noise "
        "with the weight of `noise_markers`, but not counted when the post speaks in the first person "
        "(«у нас», «мы», «мой») — «пчёлы погибли у всех, нас не предупредили».",
    )
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
    resolved_supply_verbs: list[str] = Field(
        default_factory=list,
        description="Verbs that report a fix only beside a supply (`resolved_supplies`): «воду дали», «отопление "
        "включили» — but not «дали отписку». Past tense, not negated, within 3 words of the supply.",
    )
    resolved_supplies: list[str] = Field(default_factory=list, description="вода, отопление, свет, газ…")
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
    max_text_chars: int = Field(
        20000, description="Longer texts are cut before analysis (kept whole in storage)."
    )
    official_authors: list[str] = Field(
        default_factory=list, description="author_id values of official accounts (госпаблики, bodies' pages)."
    )
    keep_person_names: bool = Field(False, description="Keep persons' names in exports and search indexes.")
    use_ner: bool = Field(True, description="Run natasha NER on candidate posts (persons, organisations).")
    workers: int = Field(
        1,
        ge=0,
        le=1,
        description="Processes that build the next batch's signals while the processing writes the current one "
        "(incidents/services/signal_worker.py); 0 builds them in the processing process itself.",
    )


# --------------------------------------------------------------------------- territories.yaml
class Place(_Strict):
    name: str
    aliases: list[str] = Field(
        default_factory=list, description="Other spellings; matched case-insensitively on lemmas."
    )


class Municipality(_Strict):
    code: str = Field(description="Stable code, used in routing rules, exports and labels.")
    name: str = Field(description="Official name, e.g. 'город Курск', 'Курский район'.")
    kind: Literal["city_okrug", "municipal_okrug", "municipal_district", "city_district"] = (
        "municipal_district"
    )
    aliases: list[str] = Field(
        default_factory=list, description="Names as residents write them: 'Курск', 'Курске'."
    )
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
    shared_streets_in: str | None = Field(
        None,
        description="Municipality code (the regional centre) that a street also found in other towns names when "
        "the text names no other place: a weak place, the town of the local page or thread still wins. "
        "None: such a street names no municipality.",
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
    head_email: str | None = Field(
        None, description="Head of the body, notified when an incident is overdue."
    )


class Body(_Strict):
    code: str
    name: str = Field(description="Exact name, as the body names itself (and as real data names it).")
    level: Literal["municipal", "regional", "federal", "utility", "admin"]
    territories: list[str] = Field(
        default_factory=list, description="Municipality codes it serves; empty = whole region."
    )
    categories: list[str] = Field(default_factory=list, description="Category codes it handles.")
    contacts: Contacts = Field(default_factory=Contacts)
    accounts: list[str] = Field(
        default_factory=list, description="author_id values of the body's own accounts."
    )
    parent: str | None = Field(
        None,
        description="Code of the body this one is part of (a city committee → the city administration): "
        "routing to the parent or a sibling stays inside one organisation.",
    )


class Bodies(_Strict):
    bodies: list[Body] = Field(min_length=1)
    triage_body: str = Field(
        description="Code of the regional administrator's queue: where unrouted incidents go."
    )

    @model_validator(mode="after")
    def _check(self) -> Bodies:
        codes = [b.code for b in self.bodies]
        dup = {c for c in codes if codes.count(c) > 1}
        if dup:
            raise ValueError(f"duplicate body codes: {sorted(dup)}")
        if self.triage_body not in codes:
            raise ValueError(f"triage_body {self.triage_body!r} is not a body code")
        known = set(codes)
        for b in self.bodies:
            if b.parent is not None and (b.parent not in known or b.parent == b.code):
                raise ValueError(f"body {b.code!r}: parent {b.parent!r} is not another body's code")
        parents = {b.code: b.parent for b in self.bodies}
        for b in self.bodies:
            seen, cur = {b.code}, b.parent
            while cur is not None:
                if cur in seen:
                    raise ValueError(f"body {b.code!r}: parent chain loops through {cur!r}")
                seen.add(cur)
                cur = parents[cur]
        return self

    def organisation_of(self, code: str) -> str:
        """The top of a body's parent chain: the organisation it belongs to."""
        parents = {b.code: b.parent for b in self.bodies}
        while parents.get(code):
            code = parents[code]  # type: ignore[assignment]
        return code


# --------------------------------------------------------------------------- routing.yaml
class RoutingRule(_Strict):
    """First matching rule wins; a missing key matches anything."""

    category: str | None = None
    subcategory: str | None = None
    fact: str | None = None
    municipality: list[str] | None = Field(None, description="Municipality codes; None = any.")
    settlement: list[str] | None = Field(
        None,
        description="Settlement names as in territories.yaml (a town inside a district with an administration "
        "of its own: «Обоянь»); None = any.",
    )
    scale: list[Literal["house", "street", "settlement", "municipality", "region"]] | None = None
    body: str = Field(description="Body code, or '{municipality}' templates like 'adm_{municipality}'.")
    note: str | None = None


class Routing(_Strict):
    rules: list[RoutingRule]
    unplaced_municipality: str | None = Field(
        None,
        description="Municipality assumed when a complaint names no place in the region (the regional centre, "
        "where most such complaints come from); None sends them through the rules with no municipality.",
    )


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


class Escalation(_Strict):
    """Who is told, and how, when a clock is at risk or overdue."""

    at_risk: list[Literal["body", "body_head", "regional_admin"]] = Field(default_factory=lambda: ["body"])
    overdue: list[Literal["body", "body_head", "regional_admin"]] = Field(
        default_factory=lambda: ["body", "body_head", "regional_admin"]
    )
    channels: list[Literal["email", "telegram"]] = Field(default_factory=lambda: ["email", "telegram"])


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
    "replies.yaml": RepliesPolicy,
}
OPTIONAL_FILES: dict[str, type[BaseModel]] = {
    "search.yaml": SearchPolicy,
}
"""Files a region may have; without one its model's defaults apply."""


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
        self.search: SearchPolicy = parts.get("search.yaml") or SearchPolicy()  # type: ignore[assignment]
        self.replies: RepliesPolicy = parts["replies.yaml"]  # type: ignore[assignment]

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

    def project_path(self, value: str) -> Path:
        """A path of the region's model or labels (`signals.yaml → model`), never relative to the
        working directory: absolute as written; else in the region folder if it is there; else
        under the project root (`var/models/…`, `config/regions/…`).

        Relative to the working directory, `incidents import` run elsewhere decided by the rules
        alone, and a `var/models/signals.pkl` planted in that directory was unpickled (F3)."""
        from incidents.core.settings import PROJECT_ROOT

        p = Path(value)
        if p.is_absolute():
            return p
        if (self.root / p).exists():
            return self.root / p
        return PROJECT_ROOT / p


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
    cats = _merge_by_code(
        list(base.get("categories") or []), list(data.get("categories") or []), ("subcategories", "facts")
    )
    out = {**data, "categories": cats}
    if "precedence" not in data and base.get("precedence"):
        out["precedence"] = base["precedence"]
    return out


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
    for name, model in OPTIONAL_FILES.items():
        if (root / name).exists():
            parts[name] = load_file(root / name, model)
    cfg = RegionConfig(root, parts)
    _cross_check(cfg)
    return cfg


def _cross_check(cfg: RegionConfig) -> None:
    errors: list[str] = []
    munis = set(cfg.municipality_by_code)
    cats = {c.code for c in cfg.rubricator.categories}
    settlements = {s.name for m in cfg.territories.municipalities for s in m.settlements}
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
        for name in rule.settlement or []:
            if name not in settlements:
                errors.append(
                    f"routing.yaml: rules.{i}.settlement: {name!r} is no settlement of territories.yaml"
                )
        if "{" not in rule.body and rule.body not in cfg.body_by_code:
            errors.append(f"routing.yaml: rules.{i}.body: unknown body {rule.body!r}")
    shared = cfg.territories.shared_streets_in
    if shared is not None and shared not in munis:
        errors.append(f"territories.yaml: shared_streets_in: unknown municipality {shared!r}")
    unplaced = cfg.routing.unplaced_municipality
    if unplaced is not None and unplaced not in munis:
        errors.append(f"routing.yaml: unplaced_municipality: unknown municipality {unplaced!r}")
    for i, ov in enumerate(cfg.sla.overrides):
        if ov.category and ov.category not in CATEGORY_CODES:
            errors.append(f"sla.yaml: overrides.{i}.category: unknown category {ov.category!r}")
    for c in cfg.sla.pos_resolution_days:
        if c not in CATEGORY_CODES:
            errors.append(f"sla.yaml: pos_resolution_days: unknown category {c!r}")
    for i, tpl in enumerate(cfg.replies.templates):
        if tpl.category and tpl.category not in CATEGORY_CODES:
            errors.append(f"replies.yaml: templates.{i}.category: unknown category {tpl.category!r}")
        try:
            from jinja2.sandbox import SandboxedEnvironment

            SandboxedEnvironment().parse(tpl.text)
        except Exception as exc:  # a template that does not compile is a configuration error
            errors.append(f"replies.yaml: templates.{i}.text: not a valid template: {exc}")
    for i, src in enumerate(cfg.sources.sources):
        if src.municipality and src.municipality not in munis:
            errors.append(
                f"sources.yaml: sources.{i}.municipality: unknown municipality {src.municipality!r}"
            )
    ids = [s.id for s in cfg.sources.sources]
    for s in {x for x in ids if ids.count(x) > 1}:
        errors.append(f"sources.yaml: sources: duplicate source id {s!r}")
    if errors:
        raise ConfigError("\n".join(errors))
