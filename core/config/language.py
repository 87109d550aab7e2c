"""rubricator.yaml and signals.yaml: how the region's residents write about problems."""

from __future__ import annotations

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from core.config.base import CATEGORY_CODES, _Strict


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


LANGUAGE_DATA = "config/language/ru"
"""Language-level training files that may ship (see its README): our written posts and the
Apache-2.0 CEDR everyday sentences; the shipped model of every region is fitted on them."""
DEFAULT_MODEL_TRAIN = (
    "config/regions/kursk/sample/labels.jsonl",
    "tests/data/dev_kursk/labels.jsonl",
    f"{LANGUAGE_DATA}/written/labels.jsonl",
)
DEFAULT_MODEL_NEGATIVES = (f"{LANGUAGE_DATA}/cedr_sentences.csv",)


class SignalModelPolicy(_Strict):
    """A statistical model trained by `incidents train`, combined with the rules. A region
    without a `model` section gets this default: the shipped (language-level) model, trained
    on first use from files that ship with the project."""

    path: str = Field(
        "var/models/signals-{region}.pkl",
        description="The model file written by `incidents train` (relative to the working directory; "
        "{region} is replaced by the region folder's name).",
    )
    train: list[str] = Field(
        default_factory=lambda: list(DEFAULT_MODEL_TRAIN),
        description="Labels files (posts.jsonl beside each) to train the model from, deterministically, "
        "when `path` does not exist yet (first use on a fresh clone); empty: rules alone until trained.",
    )
    negatives: list[str] = Field(
        default_factory=lambda: list(DEFAULT_MODEL_NEGATIVES),
        description="CSV files (a `text` column) of everyday sentences that are not complaints.",
    )
    appeals: str | None = Field(
        None,
        description="The region's own appeal history (a feedback-platform export, CSV with `text` and "
        "`category_code` or `topic`; relative to the region folder; it stays outside the repository): "
        "when present, the regional model is fitted on it too (every row a complaint).",
    )
    complaint: bool = Field(True, description="Let the model decide complaint / not a complaint.")
    category: bool = Field(True, description="Let the model overrule the rules' category where they fired.")
    threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Probability from which the model says complaint."
    )
    regional_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="The same for the regional model (fitted with `appeals`, every row a complaint, so more "
        "liberal than the shipped one); None: `threshold`. Where the appeal file is missing the shipped model "
        "runs, with `threshold`.",
    )
    topic_over_unsure: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Where the rules are unsure of the category (their category named by less weight than one "
        "strong rule, or a rival category nearly as heavy), the topic classifier's category replaces theirs "
        "from this probability (1: never). Where no rule fired, the topic classifier names it in any case.",
    )
    pos_threshold: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="The same on the feedback platform (network pos), a complaint channel: a strong "
        "prior. A message a problem rule fired on is a complaint whatever the probability; one no rule "
        "fired on from this probability (0: every message, the model choosing its category). Thanks, "
        "requests for information, proposals, spam and pure questions are rejected in any case.",
    )


class SignalPolicy(_Strict):
    """Weights and thresholds of the complaint decision."""

    model: SignalModelPolicy | None = Field(
        default_factory=SignalModelPolicy,
        description="A scikit-learn model combined with the rules (`incidents train`); absent: the shipped "
        "language-level model; `null`: rules alone.",
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
    inquiry_markers: Markers = Field(
        default_factory=Markers,
        description="A request for information or a proposal («прошу разъяснить», «прошу сообщить», «предлагаю "
        "установить»): on the feedback platform, where every other message is a complaint, such a message is "
        "not one unless it also says what is wrong (a complaint marker other than a polite «прошу»). The "
        "weight is not used.",
    )
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
    official_author_words: list[str] = Field(
        default_factory=list,
        description="Words of an author's name that make it an organisation («Администрация …», «Комитет …», "
        "«ЦУР …», «… ЦРБ»): its posts are announcements and replies, never a resident's complaint, whatever "
        "the model says. A body's own name (bodies.yaml) counts the same.",
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
