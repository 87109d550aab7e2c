"""A statistical model combined with the keyword rules (`incidents train`, or trained on first use).

Scikit-learn logistic regressions over the same features: TF-IDF of the post's lemmas
(words and pairs), TF-IDF of character n-grams of the normalized text, the mean navec word
vector of its words (natasha's wheel ships navec: dense features that reach words no rule
lists), and the rules' own findings (score, rule decision, weight per category, which markers
fired). `complaint` says complaint / not a complaint for **every** post (a post no rule fired
on can be one: its card then names the n-grams that pushed it, `explain`); `topic` chooses
the category of a complaint the rules are silent about; `category` (optional, signals.yaml →
model.category) may overrule the rules' category where they fired.

scikit-learn is imported only here and only when a model is trained or configured
(`signals.yaml → model.path`); the default pipeline is rules alone.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.records import NormalizedText, RuleHit, SignalRecord
from core.signed_pickle import CacheKey, read_signed, write_signed

FORMAT = 3
# The characters the char n-grams read: the first ones carry the complaint, and the n-grams of a
# long post cost most of the model's time (bench/signals.py)
CHAR_TEXT = 600
CHAR_BUCKETS = 2**16
NAVEC_FILE = "navec_news_v1_1B_250K_300d_100q.tar"
DEFAULT_PATH = "var/models/signals-kursk.pkl"
_REASON_KEY = re.compile(r"^([a-z][a-z ]*?)(?:\s+[^a-z ]|[:(]|$)")


@dataclass(slots=True)
class Example:
    """What the model sees of one post: the rules' signal and the normalized text."""

    lemmas: str
    text: str
    rules: dict[str, float]
    tokens: tuple[str, ...] = ()


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
    return Example(
        lemmas=sig.lemma_text, text=norm.text[:CHAR_TEXT], rules=rule_features(sig), tokens=tuple(norm.tokens)
    )


_NAVEC: Any = None


def navec() -> Any:
    """natasha's navec embeddings (250k words × 300, quantised), loaded once per process from
    the natasha wheel; None when natasha or the file is absent (the dense features are zeros)."""
    global _NAVEC
    if _NAVEC is None:
        try:
            import natasha
            from navec import Navec

            _NAVEC = Navec.load(Path(natasha.__file__).parent / "data" / "emb" / NAVEC_FILE)
        except Exception:  # noqa: BLE001 - an optional asset
            _NAVEC = False
    return _NAVEC or None


def _dense(xs: Sequence[Example]) -> Any:
    """The mean navec vector of each post's known words, L2-normalised (zeros without words)."""
    import numpy as np

    nv = navec()
    out = np.zeros((len(xs), 300), dtype=np.float32)
    if nv is None:
        return out
    ids_of = nv.vocab.word_ids
    pq = nv.pq
    for i, x in enumerate(xs):
        ids = [j for j in (ids_of.get(t) for t in x.tokens) if j is not None]
        if not ids:
            continue
        v = pq.codes[pq.qdims, pq.indexes[ids]].reshape(len(ids), pq.dim).mean(axis=0)
        n = float(np.linalg.norm(v))
        if n:
            out[i] = v / n
    return out


def _column(xs: Sequence[Example], name: str) -> list[Any]:
    return [getattr(x, name) for x in xs]


def _features() -> Any:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
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
                # hashed, not a vocabulary: the n-grams of every post are looked up in C, not
                # in a Python dict (2.3× faster, bench/signals.py); 2^16 buckets, as many as the vocabulary kept before (60,000)
                make_pipeline(
                    col("text"),
                    HashingVectorizer(
                        analyzer="char_wb",
                        ngram_range=(2, 5),
                        n_features=CHAR_BUCKETS,
                        alternate_sign=False,
                        norm=None,
                    ),
                    TfidfTransformer(sublinear_tf=True),
                ),
            ),
            ("rules", make_pipeline(col("rules"), DictVectorizer(), MaxAbsScaler())),
            ("navec", FunctionTransformer(_dense)),
        ]
    )


def _classifier(c: float, *, balanced: bool = True) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        _features(),
        LogisticRegression(C=c, class_weight="balanced" if balanced else None, max_iter=3000),
    )


def _phrase(gram: str) -> str:
    return f"«{gram}»"


@dataclass(slots=True)
class Assessment:
    """The complaint classifier's probabilities and the feature rows they came from."""

    probs: list[float]
    x: Any


@dataclass(slots=True)
class SignalModel:
    complaint: Any
    category: Any  # None: trained without it (signals.yaml → model.category: false)
    meta: dict[str, Any] = field(default_factory=dict)
    topic: Any = None  # the category of a complaint no rule fired on (None: not trained)

    def complaint_probability(self, examples: Sequence[Example]) -> list[float]:
        return self.assess(examples).probs

    def assess(self, examples: Sequence[Example]) -> Assessment:
        """p(complaint) of each post, with the features computed once for the batch: the card's
        n-grams (`grams`) and the topic (`topics_at`) read them again instead of recomputing."""
        union, lr = self.complaint[0], self.complaint[-1]
        x = union.transform(list(examples))
        classes = list(lr.classes_)
        probs = lr.predict_proba(x)[:, classes.index(1)]
        return Assessment([float(p) for p in probs], x.tocsr() if hasattr(x, "tocsr") else x)

    def grams(self, a: Assessment, i: int, k: int = 3) -> list[str]:
        """The `k` word n-grams of post `i` that pushed it most towards a complaint (lemmas,
        «третий неделя», «никто не реагировать»): what the card shows."""
        import numpy as np

        lr = self.complaint[-1]
        classes = list(lr.classes_)
        coef = lr.coef_[0] if classes.index(1) == 1 else -lr.coef_[0]
        names = self._lemma_names()
        x = a.x
        if not hasattr(x, "indptr"):
            return []
        lo, hi = x.indptr[i], x.indptr[i + 1]
        idx, data = x.indices[lo:hi], x.data[lo:hi]
        keep = idx < len(names)  # the lemma n-grams come first in the union
        idx, data = idx[keep], data[keep]
        contrib = data * coef[idx]
        order = np.argsort(-contrib)[:k]
        return [_phrase(str(names[idx[j]])) for j in order if contrib[j] > 0]

    def explain(self, examples: Sequence[Example], k: int = 3) -> list[tuple[float, list[str]]]:
        """p(complaint) of each post and its `k` n-grams that pushed it most (see `grams`)."""
        a = self.assess(examples)
        return [(p, self.grams(a, i, k)) for i, p in enumerate(a.probs)]

    def _lemma_names(self) -> Any:
        cached = self.meta.get("_lemma_names")
        if cached is None:
            vec = self.complaint[0].transformer_list[0][1][-1]
            cached = vec.get_feature_names_out()
            self.meta["_lemma_names"] = cached
        return cached

    def topics(self, examples: Sequence[Example]) -> list[tuple[str, float]]:
        return self.topics_at(self.assess(examples), range(len(examples)))

    def topics_at(self, a: Assessment, rows: Sequence[int]) -> list[tuple[str, float]]:
        """The topic classifier's best category and its probability for the posts `rows` of an
        assessment: it reads the complaint classifier's features (one computation per batch)."""
        if not rows:
            return []
        x = a.x[list(rows)]
        keep = getattr(self.topic, "text_columns_", None)
        return _best_proba(self.topic, x[:, keep] if keep is not None else x)

    def categories(self, examples: Sequence[Example]) -> list[tuple[str, float]]:
        if self.category is None:
            raise ValueError("this model was trained without the category classifier: train it again")
        return _best(self.category, examples)

    def save(self, path: Path | str) -> Path:
        """Written aside with its checksum, then renamed (`core.signed_pickle`)."""
        payload = {
            "format": FORMAT,
            "complaint": self.complaint,
            "category": self.category,
            "topic": self.topic,
            "meta": {k: v for k, v in self.meta.items() if not k.startswith("_")},
        }
        return write_signed(Path(path), payload)


class UntrustedModel(ValueError):
    """A model file without the checksum `incidents train` writes beside it, or not matching it."""


_LOADED: dict[CacheKey, SignalModel] = {}


def load(path: Path | str) -> SignalModel:
    """A model written by `incidents train`. A pickle runs code when loaded: the file is read
    only if its SHA-256 equals the checksum written beside it at training (F3); a file
    copied or planted without it, or changed after training, is refused unread.

    Loaded once per process and file version: the training check (`ensure_model`) and the
    signal stage both ask for it at start-up, and reading and hashing it twice cost a start."""
    path = Path(path)
    return read_signed(
        path,
        _LOADED,
        lambda data: _model_of(path, data),
        refuse=UntrustedModel,
        no_checksum="{path}: no checksum {side} beside it (train it with `incidents train`)",
        mismatch="{path}: SHA-256 differs from {side}: not loaded (train it again)",
    )


def _model_of(path: Path, data: dict[str, Any]) -> SignalModel:
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: model format {data.get('format')}, expected {FORMAT}: train it again")
    return SignalModel(data["complaint"], data["category"], data.get("meta", {}), data.get("topic"))


def _text_columns(union: Any) -> Any:
    """The columns of the union's output that come from the text (words, characters, navec),
    not from the rules' findings: the topic classifier reads only these — with the rules'
    category among its features it learnt to copy the rules and never overruled them."""
    import numpy as np

    cols, start = [], 0
    for name, tr in union.transformer_list:
        width = _width(tr)
        if name != "rules":
            cols.append(np.arange(start, start + width))
        start += width
    return np.concatenate(cols)


def _width(tr: Any) -> int:
    last = tr[-1] if hasattr(tr, "steps") else tr
    if hasattr(last, "idf_"):
        return len(last.idf_)
    if hasattr(last, "feature_names_"):
        return len(last.feature_names_)
    if hasattr(last, "max_abs_"):
        return len(last.max_abs_)
    return 300  # the navec vector


def _best(clf: Any, examples: Sequence[Example]) -> list[tuple[str, float]]:
    return _best_proba(clf, list(examples))


def _best_proba(clf: Any, x: Any) -> list[tuple[str, float]]:
    classes = list(clf.classes_)
    out = []
    for p in clf.predict_proba(x):
        i = max(range(len(classes)), key=lambda k: p[k])
        out.append((str(classes[i]), float(p[i])))
    return out


def fit(
    complaint_x: Sequence[Example],
    complaint_y: Sequence[int],
    category_x: Sequence[Example],
    category_y: Sequence[str],
    *,
    c: float = 4.0,
    category: bool = True,
    complaint_w: Sequence[float] | None = None,
    topic: bool = True,
) -> SignalModel:
    """`category=False`: no classifier overrules the rules' category where they fired;
    `topic`: the classifier that names the category of a complaint no rule fired on (the
    same examples); `complaint_w`: a weight per complaint example (a source's share)."""
    import sklearn

    comp = _classifier(c, balanced=False).fit(
        list(complaint_x),
        list(complaint_y),
        logisticregression__sample_weight=list(complaint_w) if complaint_w is not None else None,
    )
    cat = _classifier(c).fit(list(category_x), list(category_y)) if category else None
    top = None
    if topic and len(set(category_y)) > 1:
        # on the complaint classifier's features: computed once per batch for both
        from sklearn.linear_model import LogisticRegression

        keep = _text_columns(comp[0])
        top = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(
            comp[0].transform(list(category_x)).tocsc()[:, keep].tocsr(), list(category_y)
        )
        top.text_columns_ = keep
    return SignalModel(
        comp,
        cat,
        {"sklearn": sklearn.__version__, "complaint_n": len(complaint_y), "category_n": len(category_y)},
        top,
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
