"""Which desk of an organisation takes a complaint now: the organisation's current desk and its desks' model.

In the Kursk feedback-platform file the city administration and its committees take the same
complaints in alternating periods: for months the administration itself takes nearly every
complaint of the city (the «A» periods), then for months it takes none and its committees
(roads, housing, city economy, the municipal inspection, the okrugs) split them by topic. The
right ORGANISATION does not change between periods; the right DESK does, and nothing in the
text says which period it is. What says it is the history itself: the bodies that took the
organisation's latest appeals.

So the desk step, after the rules (or the learned table) have chosen a body:

1. the organisation of that body (`parent` chain in bodies.yaml) is looked up; an organisation
   without desks learned from the history is left to the rules;
2. **the current desk**: of the organisation's last `window` appeals whose handler is known
   (the history file's latest rows, then every body a dispatcher confirms or reassigns,
   `observe`), the share its head took itself. At half or more the head is taking its desks'
   complaints now, and the complaint goes to the head;
3. otherwise the desks are taking them, and where the rules sent the complaint to the head
   itself (their fallback «the rest → the city administration»), **the desks' model** — words
   and character n-grams of the text with our category, subcategory, municipality, scale and
   street as tokens, a linear SVM over the organisation's desks, learned from the history's
   appeals that a desk took — picks the desk. A desk the rules named is kept.

Measured on the Kursk time split (docs/quality-routing.md, Kursk): on the later 500 appeals,
with the current desk refreshed 10 appeals behind, exact body 0.530 → 0.610; a current desk
read off the file's last rows and never refreshed gave 0.262 (the training period ends in an «A»
period, the test period is mostly the committees'), so it is not used: until bodies have been
observed since fitting (`observe` every body known to have taken an appeal), the head's
history-wide share stands in for the current desk (`current`): 0.546 on Kursk with nothing fed.

scikit-learn is the `ml` extra: imported only when a model is fitted or used.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import RegionConfig
from core.signed_pickle import CacheKey, data_model_path, read_router, write_signed

FORMAT = 2
WINDOW = 10
"""The organisation's last appeals that say which desk is taking its complaints now. Chosen on
the Kursk validation slice (the last 300 rows of the training period): 10 recovered more of an
«A» period (exact 0.790 with the state one appeal behind) than 30 (0.760)."""
MIN_RECENT = 5
"""Fewer known appeals of the organisation than this (or than the window): no current desk,
the rules' body stays."""
MIN_DESK_EXAMPLES = 30
"""An organisation's desks are learned only from at least this many appeals a desk took."""


@dataclass(frozen=True, slots=True)
class DeskExample:
    """One earlier appeal: its words, what our signal stage read of it, and the body that took it."""

    text: str
    body: str
    category: str | None = None
    subcategory: str | None = None
    municipality: str | None = None
    scale: str | None = None
    street: str | None = None


@dataclass(frozen=True, slots=True)
class DeskDecision:
    """The desk step's body, and why: `head` (the head takes its desks' complaints now) or
    `desk` (the desks take them, the model chose this one); `taken`/`recent`: how many of the
    organisation's last known appeals its head took."""

    body: str
    kind: str
    head: str
    taken: int
    recent: int


def _tokens(ex: DeskExample) -> str:
    street = "_".join((ex.street or "").lower().split())
    return f"cat={ex.category} sub={ex.subcategory} muni={ex.municipality} scale={ex.scale} st={street}"


@dataclass(slots=True)
class DeskModel:
    """One organisation's desks: the features (words, characters, our codes) and the classifier."""

    vectorizer: Any
    classifier: Any

    @staticmethod
    def _docs(items: Iterable[DeskExample]) -> list[dict[str, str]]:
        return [{"text": e.text, "codes": _tokens(e)} for e in items]

    @classmethod
    def fit(cls, examples: Sequence[DeskExample], *, c: float = 0.3) -> DeskModel:
        from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
        from sklearn.pipeline import FeatureUnion, make_pipeline
        from sklearn.preprocessing import FunctionTransformer
        from sklearn.svm import LinearSVC

        def part(name: str, vec: Any) -> tuple[str, Any]:
            return name, make_pipeline(
                FunctionTransformer(_Field("codes" if name == "codes" else "text")), vec
            )

        vectorizer = FeatureUnion(
            [
                part("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
                part(
                    "chars",
                    TfidfVectorizer(
                        analyzer="char_wb",
                        ngram_range=(2, 5),
                        min_df=2,
                        sublinear_tf=True,
                        max_features=100_000,
                    ),
                ),
                part("codes", CountVectorizer(token_pattern=r"\S+", binary=True, lowercase=False)),
            ]
        )
        x = vectorizer.fit_transform(cls._docs(examples))
        classifier = LinearSVC(C=c).fit(x, [e.body for e in examples])
        return cls(vectorizer, classifier)

    def predict(self, items: Sequence[DeskExample]) -> list[str]:
        x = self.vectorizer.transform(self._docs(items))
        return [str(b) for b in self.classifier.predict(x)]


class _Field:
    """Picks one field of the feature dicts (a class, not a lambda: the model is pickled)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, docs: Sequence[Mapping[str, str]]) -> list[str]:
        return [d[self.name] for d in docs]


@dataclass(slots=True)
class DeskRouter:
    """Per organisation with learned desks: its desks' model and its last known handlers."""

    organisation: dict[str, str]  # body code → the head of its organisation (every body of bodies.yaml)
    models: dict[str, DeskModel]  # head → its desks' model
    recent: dict[str, deque[str]] = field(default_factory=dict)  # head → last bodies that took its appeals
    window: int = WINDOW
    meta: dict[str, Any] = field(default_factory=dict)
    prior: dict[str, tuple[int, int]] = field(
        default_factory=dict
    )  # head → (taken by itself, all) in the history
    fed: dict[str, int] = field(default_factory=dict)  # head → its appeals observed since fitting

    @classmethod
    def fit(
        cls,
        examples: Sequence[DeskExample],
        organisation_of: Callable[[str], str],
        bodies: Iterable[str],
        *,
        window: int = WINDOW,
        min_examples: int = MIN_DESK_EXAMPLES,
        c: float = 0.3,
    ) -> DeskRouter:
        """`examples` in time order. An organisation gets a desks' model when its desks (bodies
        under it, not the head itself) took at least `min_examples` of them, at least two desks."""
        organisation = {b: organisation_of(b) for b in bodies}
        by_head: dict[str, list[DeskExample]] = {}
        for e in examples:
            head = organisation.get(e.body, e.body)
            if e.body != head:
                by_head.setdefault(head, []).append(e)
        models = {
            head: DeskModel.fit(rows, c=c)
            for head, rows in sorted(by_head.items())
            if len(rows) >= min_examples and len({e.body for e in rows}) >= 2
        }
        router = cls(organisation, models, window=window)
        router.meta = {
            "examples": len(examples),
            "window": window,
            "organisations": {h: len(by_head[h]) for h in models},
        }
        for e in examples:
            router.observe(e.body)
            head = organisation.get(e.body, e.body)
            if head in models:
                taken, known = router.prior.get(head, (0, 0))
                router.prior[head] = (taken + (e.body == head), known + 1)
        router.fed = {}
        return router

    def observe(self, body: str) -> None:
        """A body is known to have taken an appeal (the history's row, a dispatcher's
        confirmation or reassignment): the organisation's current desk moves with it."""
        head = self.organisation.get(body, body)
        if head in self.models:
            self.recent.setdefault(head, deque(maxlen=self.window)).append(body)
            self.fed[head] = self.fed.get(head, 0) + 1

    def current(self, head: str) -> tuple[int, int]:
        """(taken by the head itself, known) among the organisation's last appeals.

        Only bodies observed since fitting count: the last rows of the history file say nothing
        about now (the file may be months old, and on Kursk's split a current desk frozen at the
        end of the training period scored 0.262 exact against the rules' 0.532). Until `MIN_RECENT`
        have been observed, the whole history's share stands in for it — the state the
        organisation spends most of its time in (on Kursk its desks: 0.546)."""
        fed = min(self.fed.get(head, 0), self.window)
        seen = list(self.recent.get(head, ()))[-fed:] if fed else []
        if head in self.prior and len(seen) < min(MIN_RECENT, self.window):
            return self.prior[head]
        return sum(b == head for b in seen), len(seen)

    def choose(self, rules_body: str, item: DeskExample, *, desks: bool = True) -> DeskDecision | None:
        """The desk for a complaint the rules sent to `rules_body`; None keeps the rules' body.
        `desks=False`: the current desk alone, without the desks' model (for the measurement)."""
        head = self.organisation.get(rules_body, rules_body)
        model = self.models.get(head)
        if model is None:
            return None
        taken, known = self.current(head)
        if known < min(MIN_RECENT, self.window):
            return None
        if 2 * taken >= known:
            return None if rules_body == head else DeskDecision(head, "head", head, taken, known)
        if rules_body != head or not desks:
            return None
        desk = model.predict([item])[0]
        return DeskDecision(desk, "desk", head, taken, known)

    # ------------------------------------------------------------------ the file
    def save(self, path: Path) -> Path:
        """Pickle aside, checksum written first, then renamed (`core.signed_pickle`)."""
        for m in self.models.values():
            for _name, pipe in m.vectorizer.transformer_list:
                pipe.steps[-1][1].stop_words_ = None  # the terms min_df dropped: only for inspection
        return write_signed(path, {"format": FORMAT, "router": self})


class UntrustedDeskModel(ValueError):
    """A desk model without the checksum written at learning, or not matching it."""


_LOADED: dict[CacheKey, DeskRouter] = {}


def load_desk_router(path: Path) -> DeskRouter | None:
    """The desk model at `path`, or None when there is none; refused unread without a matching checksum."""
    return read_router(path, _LOADED, fmt=FORMAT, refuse=UntrustedDeskModel, what="модель отделов")


def desk_model_path(cfg: RegionConfig, data_dir: Path | None = None) -> Path:
    """Where a region's desk step lives: `<data dir>/models/desk-<region folder>.pkl`, never the
    repository (it is learned from the region's appeals)."""
    return data_model_path(cfg.root.name, "desk", data_dir)
