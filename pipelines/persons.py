"""Persons' names found cheaply in every post, from pymorphy3's name tags.

natasha's NER finds persons, but it costs ≈2 ms a post and runs only on the candidates (a
rule fired), about a third of the stream. The names in the other two thirds still reach the
search indexes, which must not carry them (`signals.yaml → keep_person_names`). This finder
runs on every post for the price of a dictionary look-up per capitalised word (cached): a
person is a run of capitalised words that pymorphy3 knows as a first name, a patronymic or a
surname, in the shapes Russians write a person — «Иван Петров», «Петрова Мария Ивановна»,
«Мария Ивановна», «Петров И.И.», «И. И. Петров». A surname alone («Петров сказал») is not
taken: it is too often a street («на Гагарина»), and a street or a place of the gazetteer is
never a person here (`places`), nor a name after a street or institution word («ул. Карла
Маркса», «школа имени Юрия Гагарина»).
"""

from __future__ import annotations

import re

from pipelines.lemmas import morph
from pipelines.normalize import MAX_CHARS

# capitalised words (with a hyphenated second part: «Петрова-Водкина») and initials («И.»)
_TOKEN = re.compile(r"(?<![А-ЯЁа-яё])(?:[А-ЯЁ][а-яё]{2,}(?:-[А-ЯЁ][а-яё]+)?|[А-ЯЁ]\.)")
_SURNAME_ENDING = re.compile(r"(?:ов|ев|ёв|ин|ын|ова|ева|ёва|ина|ына|ский|цкий|ская|цкая|енко|ук|юк|ых|их)$")
# a name right after one of these words is a street, a square, an institution named after a
# person; the street and settlement type words themselves come from the caller (entities.py)
_NAMED_AFTER = frozenset(
    [
        "улице",
        "улицу",
        "улицы",
        "проспекте",
        "проспекта",
        "переулке",
        "переулка",
        "бульваре",
        "площади",
        "набережной",
        "проезде",
        "им",
        "имени",
        "микрорайоне",
        "сквер",
        "сквере",
        "парк",
        "парке",
        "памятник",
        "памятника",
        "музей",
        "музея",
        "школа",
        "школе",
        "школы",
        "гимназия",
        "гимназии",
        "лицей",
        "лицея",
    ]
)
_CACHE_SIZE = 200_000


class PersonNames:
    """`finder(display, places)` → the persons' names in the text, as written."""

    def __init__(self, type_words: frozenset[str] = frozenset()) -> None:
        """`type_words`: street and settlement type words («ул», «пр-т», «село»…), after which
        a name is the place's, not a person's."""
        self._morph = morph()
        self._named_after = _NAMED_AFTER | type_words
        self._kinds: dict[str, frozenset[str]] = {}

    def kinds(self, word: str) -> frozenset[str]:
        """Which parts of a person's name a capitalised word can be: Name, Patr, Surn."""
        hit = self._kinds.get(word)
        if hit is not None:
            return hit
        found: set[str] = set()
        low = word.lower()
        for p in self._morph.parse(low):
            for part in ("Name", "Patr", "Surn"):
                if part in p.tag and (p.is_known or (part == "Surn" and _SURNAME_ENDING.search(low))):
                    found.add(part)
        if not found and _SURNAME_ENDING.search(low) and not self._morph.word_is_known(low):
            found.add("Surn")  # an unknown word shaped like a surname: «Карамалаков»
        kinds = frozenset(found)
        if len(self._kinds) >= _CACHE_SIZE:
            self._kinds.clear()
        self._kinds[word] = kinds
        return kinds

    def __call__(self, display: str, places: frozenset[str] = frozenset()) -> list[str]:
        """`places`: the lower-case words (ё as е) of the places the gazetteer found in the text."""
        if not display:
            return []
        display = display[:MAX_CHARS]  # the analysed and indexed part: a megabyte of capitalised
        # nonsense would otherwise cost a dictionary look-up per word (8 s)
        toks = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(display)]
        out: list[str] = []
        i = 0
        while i < len(toks):
            span = self._person_at(display, toks, i, places)
            if span:
                start, end, j = span
                name = display[start:end]
                if name not in out:
                    out.append(name)
                i = j
            else:
                i += 1
        return out

    def _person_at(
        self, display: str, toks: list[tuple[str, int, int]], i: int, places: frozenset[str]
    ) -> tuple[int, int, int] | None:
        """(start, end, next token) of a person's name starting at token i, or None."""
        run = [toks[i]]
        for k in range(i + 1, min(i + 3, len(toks))):  # at most three adjacent parts
            gap = display[run[-1][2] : toks[k][1]]
            if gap.strip() or len(gap) > 2:
                break
            run.append(toks[k])
        parts = [self._part(w) for w, _, _ in run]
        shape = self._shape(parts)
        if not shape:
            return None
        words = [w for w, _, _ in run[:shape]]
        if any(w.lower().replace("ё", "е") in places for w in words if not w.endswith(".")):
            return None
        before = display[max(0, run[0][1] - 24) : run[0][1]].lower().replace("ё", "е")
        prev = re.findall(r"[а-я][а-я-]*", before)
        if prev and prev[-1] in self._named_after:
            return None
        return run[0][1], run[shape - 1][2], i + shape

    def _part(self, word: str) -> frozenset[str]:
        if word.endswith("."):
            return frozenset({"Init"})
        return self.kinds(word)

    @staticmethod
    def _shape(parts: list[frozenset[str]]) -> int:
        """How many of the leading parts make a person's name (0: none)."""

        def has(k: int, kind: str) -> bool:
            return k < len(parts) and kind in parts[k]

        if has(0, "Init"):  # «И. И. Петров», «И.И. Петров», «И. Петров»
            if has(1, "Init") and has(2, "Surn"):
                return 3
            return 2 if has(1, "Surn") else 0
        if has(0, "Name") and has(1, "Patr"):
            return 3 if has(2, "Surn") else 2  # «Мария Ивановна [Петрова]»
        if has(0, "Surn") and has(1, "Name"):
            return 3 if has(2, "Patr") else 2  # «Петрова Мария [Ивановна]»
        if has(0, "Name") and has(1, "Surn"):
            return 2  # «Иван Петров»
        if has(0, "Surn") and has(1, "Init"):
            return 3 if has(2, "Init") else 2  # «Петров И.И.»
        return 0
