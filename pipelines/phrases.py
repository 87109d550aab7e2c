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
    def __init__(self, lemmatizer: Lemmatizer, *, headwords: bool = False) -> None:
        """`headwords`: a phrase's words are taken as spelt (`Lemmatizer.headword_lemmas`): their
        candidate lemmas without a typo correction («мусорка» is not «мусор»)."""
        self._lem = lemmatizer
        self._headwords = headwords
        # per phrase: (n words, window, ordered, payload, text) and the lemma set of each word
        self._phrases: list[tuple[int, int, bool, T, str]] = []
        self._words: list[list[frozenset[str]]] = []
        # key lemma -> phrases whose rarest word has that lemma (built on first find)
        self._keys: dict[str, list[int]] | None = None

    def __len__(self) -> int:
        return len(self._phrases)

    def add(
        self,
        phrase: str,
        payload: T,
        *,
        window: int | None = None,
        ordered: bool = False,
        exact: bool = False,
    ) -> None:
        """Add a phrase in dictionary form. `window` = max distance between its first and last word.
        `exact`: the words match only as written (after case and ё folding), not in any form —
        an ad's «продаю» is not the «продают» of a complaint about a shop. Every token's lemma
        candidates include the token itself, so an exact word is looked up like a lemma."""
        text, *_ = matching_text(phrase)
        words = _TOKEN.findall(text)
        if not words:
            raise ValueError(f"phrase {phrase!r} has no words")
        n = len(words)
        self._phrases.append(
            (n, max(window if window is not None else n - 1, n - 1), ordered, payload, phrase)
        )
        if exact:
            self._words.append([frozenset((w,)) for w in words])
        else:
            lemmas = self._lem.headword_lemmas if self._headwords else self._lem.lemmas
            self._words.append([frozenset(lemmas(w)) for w in words])
        self._keys = None

    def _build_keys(self) -> dict[str, list[int]]:
        """Index each phrase under the lemmas of its rarest word only: a post then looks at the
        phrases whose rarest word it contains, not at every phrase with «не» or «в»."""
        df: dict[str, int] = defaultdict(int)
        for words in self._words:
            for lemmas in {lem for w in words for lem in w}:
                df[lemmas] += 1
        keys: dict[str, list[int]] = defaultdict(list)
        for pi, words in enumerate(self._words):
            rarest = min(words, key=lambda w: (sum(df[lem] for lem in w), -len(w)))
            for lemma in rarest:
                keys[lemma].append(pi)
        return dict(keys)

    def find(self, lemmas: list[tuple[str, ...]]) -> list[Match[T]]:
        """Every phrase occurrence (the tightest one per phrase)."""
        keys = self._keys
        if keys is None:
            keys = self._keys = self._build_keys()
        where: dict[str, list[int]] = {}
        for ti, cands in enumerate(lemmas):
            for lemma in cands:
                lst = where.get(lemma)
                if lst is None:
                    where[lemma] = [ti]
                elif lst[-1] != ti:
                    lst.append(ti)
        seen: set[int] = set()
        found: list[tuple[int, int, int, Match[T]]] = []
        for lemma in where.keys() & keys.keys():
            for pi in keys[lemma]:
                if pi in seen:
                    continue
                seen.add(pi)
                per: dict[int, list[int]] = {}
                for pos, word in enumerate(self._words[pi]):
                    hits = [t for lem in word if lem in where for t in where[lem]]
                    if not hits:
                        break
                    per[pos] = sorted(set(hits)) if len(word) > 1 else hits
                else:
                    n, window, ordered, payload, text = self._phrases[pi]
                    span = self._best_span(per, n, window, ordered)
                    if span is not None:
                        found.append((span[0], span[1], pi, Match(payload, span[0], span[1], text)))
        found.sort(key=lambda f: f[:3])  # deterministic: position, then the order phrases were added
        return [f[3] for f in found]

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
