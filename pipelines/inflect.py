"""Official names in the case a sentence needs, with pymorphy3.

A reply says «передано в Администрацию города Курска», not «в Администрация города Курска».
An official name is a head phrase (adjectives and the first noun, in the nominative) followed
by dependents already in their own case («города Курска», «Курской области», «по культуре»);
only the head phrase follows the sentence. Words pymorphy3 does not read as a nominative
adjective or noun (abbreviations such as «СПб ГКУ», «ООО», quoted names) end the search: such a
name stays as written — indeclinable is safer than a wrong guess in a text to residents.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pipelines.lemmas import morph

CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")
_WORD = re.compile(r"[А-Яа-яЁё]+(?:-[А-Яа-яЁё]+)*")


def _restore(form: str, original: str) -> str:
    """The inflected word spelt as the name spells it (capitals, all caps, «е» for «ё»)."""
    if "ё" not in original.lower():
        form = form.replace("ё", "е")
    if original.isupper() and len(original) > 1:
        return form.upper()
    if original[:1].isupper():
        return form[:1].upper() + form[1:]
    return form


def _nominative(word: str, pos: set[str]) -> Any:
    """The most probable parse of `word` as a nominative singular of one of `pos`, or None."""
    if word.isupper() and len(word) > 1 and len(word) <= 5:
        return None  # an abbreviation («ГКУ», «ООО», «ПМИ»): not declined
    for p in morph().parse(word.lower()):
        if p.tag.POS in pos and p.tag.case == "nomn" and p.tag.number == "sing" and "Abbr" not in p.tag:
            return p
    return None


@lru_cache(maxsize=4096)
def inflect_name(name: str, case: str) -> str:
    """`name` with its head phrase (leading adjectives and the first noun) put in `case`
    (a pymorphy3 case: gent, datv, accs, ablt, loct); the rest of the name as written."""
    if case not in CASES:
        raise ValueError(f"unknown case {case!r}; use one of {', '.join(CASES)}")
    if case == "nomn" or not name.strip():
        return name
    words = list(_WORD.finditer(name))
    adjectives: list[tuple[re.Match[str], Any]] = []
    noun: tuple[re.Match[str], Any] | None = None
    for m in words:
        if name[: m.start()].strip(" ") != "" and not adjectives:
            return name  # the name does not start with a word (a quote, a number): as written
        p = _nominative(m.group(), {"NOUN"})
        a = _nominative(m.group(), {"ADJF", "PRTF"})
        if p is not None and (a is None or adjectives):
            noun = (m, p)
            break
        if a is None:
            return name
        adjectives.append((m, a))
        gap_end = m.end()
        nxt = name[gap_end : gap_end + 1]
        if nxt and nxt != " ":
            return name  # punctuation inside the head phrase: not a plain name
    if noun is None:
        return name
    m_noun, p_noun = noun
    form = p_noun.inflect({case})
    if form is None:
        return name
    grams = {case, p_noun.tag.gender or "masc"}
    if case == "accs" and p_noun.tag.gender == "masc":
        grams.add(p_noun.tag.animacy or "inan")
    out = name
    for m, p in reversed([*adjectives, (m_noun, p_noun)]):
        if m is m_noun:
            word = form.word
        else:
            f = p.inflect(grams)
            if f is None:
                return name
            word = f.word
        out = out[: m.start()] + _restore(word, m.group()) + out[m.end() :]
    return out
