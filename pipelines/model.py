"""A statistical model combined with the keyword rules (optional; `incidents train`).

Two scikit-learn logistic regressions over the same features: TF-IDF of the post's lemmas
(words and pairs), TF-IDF of character n-grams of the normalized text, and the rules' own
findings (score, rule decision, weight per category, which markers fired). One says
complaint / not a complaint, the other chooses the category. The rules stay the first
step: the model is asked only about posts where a problem rule fired (the candidates), so it
can overrule the rules' score and category but never invents a topic no rule saw.

scikit-learn is imported only here and only when a model is trained or configured
(`signals.yaml → model.path`); the default pipeline is rules alone.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import pickle
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from incidents.core.records import NormalizedText, RuleHit, SignalRecord

FORMAT = 1
DEFAULT_PATH = "var/models/signals.pkl"
_REASON_KEY = re.compile(r"^([a-z][a-z ]*?)(?:\s+[^a-z ]|[:(]|$)")


@dataclass(slots=True)
class Example:
    """What the model sees of one post: the rules' signal and the normalized text."""

    lemmas: str
    text: str
    rules: dict[str, float]


def rule_features(sig: SignalRecord) -> dict[str, float]:
    """The rules' findings as numbers: score, decision, weight per category, reasons fired."""
    f: dict[str, float] = {
        "score": sig.score,
        "rule_complaint": float(sig.is_complaint),
        "rule_fired": float(bool(sig.rules)),
    }
    by_cat: dict[str, float] = defaultdict(float)
    for h in sig.rules:
        by_cat[h.category] += h.weight
    for cat, w in by_cat.items():
        f[f"catw={cat}"] = min(w, 3.0)
    if sig.category:
        f[f"cat={sig.category}"] = 1.0
    for r in sig.reasons:
        m = _REASON_KEY.match(r)
        if m:
            f[f"reason={m.group(1).strip()}"] = 1.0
    f["in_region"] = float(sig.in_region)
    f["words"] = math.log1p(len(sig.lemma_text.split()))
    return f


def example(sig: SignalRecord, norm: NormalizedText) -> Example:
    return Example(lemmas=sig.lemma_text, text=norm.text, rules=rule_features(sig))


def _column(xs: Sequence[Example], name: str) -> list[Any]:
    return [getattr(x, name) for x in xs]


def _features() -> Any:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler

    def col(name: str) -> Any:
        return FunctionTransformer(_column, kw_args={"name": name})

    return FeatureUnion(
        [
            (
                "lemmas",
                make_pipeline(
                    col("lemmas"),
                    TfidfVectorizer(
                        ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
                    ),
                ),
            ),
            (
                "chars",
                make_pipeline(
                    col("text"),
                    TfidfVectorizer(
                        analyzer="char_wb",
                        ngram_range=(2, 5),
                        min_df=2,
                        sublinear_tf=True,
                        max_features=60000,
                    ),
                ),
            ),
            ("rules", make_pipeline(col("rules"), DictVectorizer(), MaxAbsScaler())),
        ]
    )


def _classifier(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(_features(), LogisticRegression(C=c, class_weight="balanced", max_iter=3000))


@dataclass(slots=True)
class SignalModel:
    complaint: Any
    category: Any  # None: trained without it (signals.yaml → model.category: false)
    meta: dict[str, Any] = field(default_factory=dict)

    def complaint_probability(self, examples: Sequence[Example]) -> list[float]:
        classes = list(self.complaint.classes_)
        return [float(p[classes.index(1)]) for p in self.complaint.predict_proba(list(examples))]

    def categories(self, examples: Sequence[Example]) -> list[tuple[str, float]]:
        if self.category is None:
            raise ValueError("this model was trained without the category classifier: train it again")
        classes = list(self.category.classes_)
        out = []
        for p in self.category.predict_proba(list(examples)):
            i = max(range(len(classes)), key=lambda k: p[k])
            out.append((str(classes[i]), float(p[i])))
        return out

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # written aside and renamed: a process starting meanwhile never loads half a file
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(
                {"format": FORMAT, "complaint": self.complaint, "category": self.category, "meta": self.meta},
                fh,
            )
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        # the checksum first, then the model: `load` never sees a model without its checksum
        checksum_path(path).write_text(f"{digest}  {path.name}\n", encoding="ascii")
        os.replace(tmp, path)
        return path


def checksum_path(path: Path) -> Path:
    """The SHA-256 written beside a model by `save`: `signals.pkl.sha256`."""
    return path.with_name(path.name + ".sha256")


class UntrustedModel(ValueError):
    """A model file without the checksum `incidents train` writes beside it, or not matching it."""


def load(path: Path | str) -> SignalModel:
    """A model written by `incidents train`. A pickle runs code when loaded: the file is read
    only if its SHA-256 equals the checksum written beside it at training (F3); a file
    copied or planted without it, or changed after training, is refused unread."""
    path = Path(path)
    data_bytes = path.read_bytes()
    side = checksum_path(path)
    try:
        expected = side.read_text(encoding="ascii").split()[0].lower()
    except (OSError, IndexError, UnicodeDecodeError) as exc:
        raise UntrustedModel(
            f"{path}: no checksum {side.name} beside it (train it with `incidents train`)"
        ) from exc
    if not hmac.compare_digest(hashlib.sha256(data_bytes).hexdigest(), expected):
        raise UntrustedModel(f"{path}: SHA-256 differs from {side.name}: not loaded (train it again)")
    data = pickle.loads(data_bytes)  # noqa: S301 - checked against the checksum written by our training
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: model format {data.get('format')}, expected {FORMAT}: train it again")
    return SignalModel(data["complaint"], data["category"], data.get("meta", {}))


def fit(
    complaint_x: Sequence[Example],
    complaint_y: Sequence[int],
    category_x: Sequence[Example],
    category_y: Sequence[str],
    *,
    c: float = 4.0,
    category: bool = True,
) -> SignalModel:
    """`category=False`: the complaint classifier only (the category stays the rules')."""
    import sklearn

    comp = _classifier(c).fit(list(complaint_x), list(complaint_y))
    cat = _classifier(c).fit(list(category_x), list(category_y)) if category else None
    return SignalModel(
        comp,
        cat,
        {"sklearn": sklearn.__version__, "complaint_n": len(complaint_y), "category_n": len(category_y)},
    )


def best_in(hits: Sequence[RuleHit], category: str) -> tuple[str | None, str | None]:
    """The strongest subcategory and fact among the rules of one category."""
    by_sub: dict[str, float] = defaultdict(float)
    for h in hits:
        if h.category == category and h.subcategory:
            by_sub[h.subcategory] += h.weight
    if not by_sub:
        return None, None
    sub = max(by_sub, key=by_sub.__getitem__)
    facts = [h for h in hits if h.category == category and h.subcategory == sub and h.fact]
    return sub, (max(facts, key=lambda h: h.weight).fact if facts else None)
