"""How far a statistical text classifier gets at routing the Kursk appeals: an upper-bound check.

The hand-written rules of `config/regions/kursk/routing.yaml` score 0.488 on the exact body
(`incidents evaluate-routing`). The question a reader asks next is whether the target of 0.85
is a matter of better rules, or whether the body cannot be read from the text at all. This
module answers it with the strongest cheap learner for short texts: TF-IDF of words (1–2
grams) and character n-grams (2–5, within words, so typos and inflections still match) into a
linear SVM, trained and scored K-fold on the file itself — the same hash folds as the learned
routing table in `routing_eval`, so the figures compare. It fits the file's own quirks (which
desk took which topic in which period) as well as anything of that size can; if it does not
reach the target, rules written from the same file will not either.

Two variants: the text alone (what a social-media post gives us) and the text with the
platform's own topic as an extra feature (what a feedback-platform message carries besides its
text). The second tells whether the platform's metadata would close the gap.

scikit-learn is an optional dependency (extra `ml`): the pipeline never needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lab.appeals import Appeal, fold_of


@dataclass(frozen=True, slots=True)
class LearnedRouting:
    """Out-of-fold accuracy of one learned variant."""

    name: str
    folds: int
    accuracy: float
    fold_accuracies: tuple[float, ...]


def _require_sklearn() -> None:
    try:
        import sklearn  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise RuntimeError("scikit-learn is not installed: pip install -e '.[ml]'") from exc


class _TextRouter:
    """Words and character n-grams of the text (and, if asked, the topic one-hot) into a linear SVM."""

    def __init__(self, with_topic: bool) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_union
        from sklearn.preprocessing import OneHotEncoder
        from sklearn.svm import LinearSVC

        self.text = make_union(
            TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2),
            TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(2, 5), min_df=2),
        )
        self.topic = OneHotEncoder(handle_unknown="ignore") if with_topic else None
        self.svm = LinearSVC(C=0.5)

    def _features(self, appeals: Sequence[Appeal], *, fit: bool):  # type: ignore[no-untyped-def]
        from scipy.sparse import hstack

        texts = [a.text or "" for a in appeals]
        x = self.text.fit_transform(texts) if fit else self.text.transform(texts)
        if self.topic is not None:
            topics = [[a.topic or ""] for a in appeals]
            t = self.topic.fit_transform(topics) if fit else self.topic.transform(topics)
            x = hstack([x, t]).tocsr()
        return x

    def fit(self, appeals: Sequence[Appeal]) -> _TextRouter:
        self.svm.fit(self._features(appeals, fit=True), [a.executor for a in appeals])
        return self

    def predict(self, appeals: Sequence[Appeal]) -> list[str]:
        return list(self.svm.predict(self._features(appeals, fit=False)))


def cross_validate_text_classifier(
    appeals: Sequence[Appeal], *, folds: int = 5, with_topic: bool = False
) -> LearnedRouting:
    """K-fold accuracy of a text classifier predicting `executor` (folds by hash of the appeal id)."""
    _require_sklearn()
    if folds < 2:
        raise ValueError("folds must be at least 2")
    fold = [fold_of(a.id, folds) for a in appeals]
    right = 0
    per_fold: list[float] = []
    for k in range(folds):
        train = [a for a, f in zip(appeals, fold, strict=True) if f != k]
        test = [a for a, f in zip(appeals, fold, strict=True) if f == k]
        if not test:
            per_fold.append(0.0)
            continue
        if len({a.executor for a in train}) < 2:  # one class: the learner can only say it
            only = train[0].executor if train else ""
            ok = sum(a.executor == only for a in test)
        else:
            predicted = _TextRouter(with_topic).fit(train).predict(test)
            ok = sum(p == a.executor for p, a in zip(predicted, test, strict=True))
        right += ok
        per_fold.append(ok / len(test))
    name = "text + platform topic" if with_topic else "text only"
    return LearnedRouting(
        name=name, folds=folds, accuracy=right / (len(appeals) or 1), fold_accuracies=tuple(per_fold)
    )
