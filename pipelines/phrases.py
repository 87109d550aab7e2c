"""A lemma phrase matcher whose cost grows with the post, not with the number of phrases.

Every phrase word is indexed by its lemmas; a post is scanned once, each token's candidate
lemmas are looked up in the index, and only phrases whose words all occurred are checked for
the word-distance window. This is the engine behind the keyword rules, the complaint and noise
markers, and the territory gazetteer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Generic, TypeVar

from pipelines.lemmas import Lemmatizer
from pipelines.normalize import _TOKEN, matching_text

T = TypeVar("T")


@dataclass(slots=True, frozen=True)
class Match(Generic[T]):
    payload: T
    start: int  # first token index
    end: int  # last token index (inclusive)
    phrase: str


class PhraseMatcher(Generic[T]):
    def __init__(self, lemmatizer: Lemmatizer) -> None:
        self._lem = lemmatizer
        # lemma -> list of (phrase index, word position)
        self._index: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self._phrases: list[tuple[int, int, bool, T, str]] = []  # (n words, window, ordered, payload, text)

    def __len__(self) -> int:
        return len(self._phrases)

    def add(self, phrase: str, payload: T, *, window: int | None = None, ordered: bool = False) -> None:
        """Add a phrase in dictionary form. `window` = max distance between its first and last word."""
        text, *_ = matching_text(phrase)
        words = _TOKEN.findall(text)
        if not words:
            raise ValueError(f"phrase {phrase!r} has no words")
        idx = len(self._phrases)
        n = len(words)
        self._phrases.append((n, max(window if window is not None else n - 1, n - 1), ordered, payload, phrase))
        for pos, word in enumerate(words):
            for lemma in self._lem.lemmas(word):
                entry = (idx, pos)
                bucket = self._index[lemma]
                if entry not in bucket:
                    bucket.append(entry)

    def find(self, lemmas: list[tuple[str, ...]]) -> list[Match[T]]:
        """Every phrase occurrence (the tightest one per phrase)."""
        hits: dict[int, dict[int, list[int]]] = {}
        index = self._index
        for ti, cands in enumerate(lemmas):
            for lemma in cands:
                for pi, pos in index.get(lemma, ()):
                    per = hits.setdefault(pi, {})
                    lst = per.setdefault(pos, [])
                    if not lst or lst[-1] != ti:
                        lst.append(ti)
        out: list[Match[T]] = []
        for pi, per in hits.items():
            n, window, ordered, payload, text = self._phrases[pi]
            if len(per) < n:
                continue
            span = self._best_span(per, n, window, ordered)
            if span is not None:
                out.append(Match(payload, span[0], span[1], text))
        out.sort(key=lambda m: (m.start, m.end))
        return out

    @staticmethod
    def _best_span(per: dict[int, list[int]], n: int, window: int, ordered: bool) -> tuple[int, int] | None:
        if n == 1:
            p = per[0][0]
            return (p, p)
        best: tuple[int, int] | None = None
        for anchor in per[0]:
            lo = hi = anchor
            prev = anchor
            ok = True
            for pos in range(1, n):
                cands = per[pos]
                if ordered:
                    nxt = [c for c in cands if prev < c <= prev + window]
                    if not nxt:
                        ok = False
                        break
                    prev = nxt[0]
                    hi = max(hi, prev)
                    continue
                near = [c for c in cands if c != anchor and abs(c - anchor) <= window]
                if not near:
                    ok = False
                    break
                c = min(near, key=lambda x: abs(x - anchor))
                lo, hi = min(lo, c), max(hi, c)
            if ok and hi - lo <= window and (best is None or hi - lo < best[1] - best[0]):
                best = (lo, hi)
        return best
