"""Lemmas with pymorphy3, keeping every candidate lemma of a word.

spaCy's Russian lemmatizer is a wrapper over the same pymorphy3 analyses that keeps one
lemma per word; without a tagger it picks wrongly for ambiguous forms («воды», «ямы») and
misses rules (measured in ../shared/STACK.md). Keeping all candidates of each word and
matching on any of them finds those cases. Words repeat heavily, so lemmas are cached.
"""

from __future__ import annotations

import threading

import pymorphy3

_ALPHABET = "абвгдежзийклмнопрстуфхцчшщыьэюя"
_lock = threading.Lock()
_shared: pymorphy3.MorphAnalyzer | None = None


def morph() -> pymorphy3.MorphAnalyzer:
    """One analyzer per process: loading the dictionaries costs ~0.3 s and ~15 MB."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = pymorphy3.MorphAnalyzer()
        return _shared


class Lemmatizer:
    def __init__(self, *, cache_size: int = 500_000) -> None:
        self._morph = morph()
        self._cache: dict[str, tuple[str, ...]] = {}
        self._cache_size = cache_size
        self._imperative: dict[str, str | None] = {}
        self.corrected: dict[str, str] = {}
        """word → the lemma `correction` added for it (places are matched without them)."""

    def lemmas(self, word: str) -> tuple[str, ...]:
        """All candidate lemmas, the most probable first; numbers and Latin pass as they are."""
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        if word[0].isdigit() or not ("а" <= word[0] <= "я" or word[0] == "ё"):
            result: tuple[str, ...] = (word,)
        else:
            seen: dict[str, None] = {}
            parses = self._morph.parse(word)
            if 5 <= len(word) <= 24 and not any(p.is_known for p in parses):
                fixed = self.correction(word)
                if fixed:
                    seen[fixed] = None
                    if len(self.corrected) >= self._cache_size:
                        self.corrected.clear()
                    self.corrected[word] = fixed
            for p in parses:
                seen.setdefault(p.normal_form.replace("ё", "е"), None)
            seen.setdefault(word, None)
            result = tuple(seen)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
            self.corrected.clear()
        self._cache[word] = result
        return result

    def headword_lemmas(self, word: str) -> tuple[str, ...]:
        """The lemmas of a word of a rule's phrase: all its candidates but a typo correction —
        a rule's words are spelt as meant. «мусорка» (not in pymorphy3's dictionary) is one
        slip from «мусора», and as its lemma «мусор» it made the bins rule fire on every «мусор»."""
        cands = self.lemmas(word)
        fixed = self.corrected.get(word)
        if fixed is None or len(cands) < 2:
            return cands
        return tuple(c for c in cands if c != fixed)

    def lemmas_of(self, tokens: list[str]) -> list[tuple[str, ...]]:
        return [self.lemmas(t) for t in tokens]

    def as_written(self, tokens: list[str], lemmas: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
        """The lemmas without the typo corrections: place names are proper names, and
        «correcting» an unknown village or surname into another place is a guess."""
        corrected = self.corrected
        if not corrected or not any(t in corrected for t in tokens):
            return lemmas
        return [
            tuple(x for x in c if x != corrected[t]) or c if t in corrected else c
            for t, c in zip(tokens, lemmas, strict=True)
        ]

    def is_past(self, word: str) -> bool:
        """Whether the most probable reading is a past-tense verb or a short passive
        participle («починили», «устранено»)."""
        tag = self._morph.parse(word)[0].tag
        return ("VERB" in tag and "past" in tag) or "PRTS" in tag

    def correction(self, word: str) -> str | None:
        """The lemma of the one dictionary word a single slip away from an unknown word
        («вадопровод» → «водопровод», «канализацыя» → «канализация»), or None when no or several lemmas
        are that close. Slips are tried in order of how people make them: a swapped,
        missing or doubled letter first, then a wrong letter, then an extra one. The
        original lemmas are kept beside it, so a rare name is never lost, only helped."""
        # the dictionary's word graph directly: 6× faster than word_is_known, at the price of
        # not finding candidates spelt with «е» for «ё» (they are all short, common words)
        known = self._morph.dictionary.words.__contains__
        n = len(word)
        # The first letter is left alone: people rarely mistype it, and changing it turns
        # an unknown word into an unrelated one too easily («отопленее» → «топленее»).
        tiers = (
            [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(1, n - 1)]
            + [word[:i] + word[i + 1 :] for i in range(1, n)],
            [word[:i] + c + word[i + 1 :] for i in range(1, n) for c in _ALPHABET if c != word[i]],
            [word[:i] + c + word[i:] for i in range(1, n + 1) for c in _ALPHABET],
        )
        for cands in tiers:
            lemmas: set[str] = {
                self._morph.parse(c)[0].normal_form.replace("ё", "е") for c in set(cands) if known(c)
            }
            if len(lemmas) == 1:
                return lemmas.pop()
            if lemmas:
                return None
        return None

    def is_known(self, word: str) -> bool:
        known: bool = self._morph.word_is_known(word)
        return known

    def lemma(self, word: str) -> str:
        return self.lemmas(word)[0]

    def mood(self, word: str) -> str | None:
        """ "impr" when the word's most probable reading is a plural (polite) imperative
        («уберите», «почините»), "infn" when it is an infinitive («убрать», «заменить»),
        else None. Residents ask officials to act in those forms («Убрать мусор у
        парадной», «Примите меры»); news almost never does. Cached like the lemmas."""
        if word in self._imperative:
            return self._imperative[word]
        mood: str | None = None
        if len(word) > 3 and ("а" <= word[0] <= "я"):
            parses = self._morph.parse(word)
            top = parses[0].score
            # «почините» is as likely future indicative as imperative: either asks for action
            if any(
                "impr" in p.tag and "excl" in p.tag and "plur" in p.tag and p.score >= top for p in parses
            ):
                mood = "impr"
            elif "INFN" in parses[0].tag:
                mood = "infn"
        if len(self._imperative) >= self._cache_size:
            self._imperative.clear()
        self._imperative[word] = mood
        return mood
