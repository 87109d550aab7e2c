"""One word, two places: how the gazetteer picks the reading of a name that is a town and a
street, or an adjective of a district and of a street (docs/place-matching.md, «Collisions»).

Both places are matched on lemmas, so «Чехова» (the street named after the writer) and «Чехов»
(the town) share the lemma «чехов», and «Советской» (the street) and «Советский» (the district)
share «советский». Whichever kind ranked higher used to win everywhere: the town swallowed the
street of another town («на Чехова 5» placed the post in Чехов). Here the grammar of the word
and its neighbours decide instead, the way a reader decides:

* a street type word before it («ул. Чехова») or a house number after it («Чехова 5») makes a
  street; a settlement type word before it («г. Чехов», «в городе Чехове») makes a town;
* a street named after a person is written in the genitive («улица Чехова» → «на Чехова»): any
  other form of the word («Чехов», «в Чехове», «Чеховом») can only be the town;
* the street's own form after «в», «из», «до», «от», «под», «к» («из Чехова») is the town;
  after «на», «по», «у» or alone («на Чехова») it is the street;
* an adjective name agrees in gender with its noun: «на Советской» is feminine and cannot be
  «Советский район» when «Советская улица» is there to take it; «в Советском» cannot be
  «Советская улица». A word of another gender is still read as the place beside a street type
  word («1-й Суворовский переулок» off «улица Суворовская»: the same name, the same quarter),
  and as a street after «на», «по», «у» or before a house number («на Магистральной» beside
  «Магистральный проезд»), never alone («красного сигнала» is not «Красная площадь»).

The whole region is a place too (`region_wide`): «по всей области», «в регионе», «в Курской
области» with no narrower place is a problem of region scale, routed to the regional body.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from pipelines.lemmas import morph
from pipelines.place_words import SETTLEMENT_MARKERS, STREET_MARKERS, case_forms

TOWN_KINDS = frozenset({"settlement", "municipality", "subdivision"})
# «из Чехова», «до Чехова», «в Чехове»: prepositions of going to or coming from a town
TOWN_PREPOSITIONS = frozenset(["в", "во", "из", "до", "от", "под", "к", "ко", "через"])
_GENDERS = ("masc", "femn", "neut")


def street_or_town(tokens: list[str], i: int, street_forms: frozenset[str]) -> str:
    """«street» or «town»: the reading of the one-word name at `i` that names both (see the
    module's rules). `street_forms`: the street's name as written, lower case («чехова»)."""
    before = tokens[i - 1] if i > 0 else ""
    if before in STREET_MARKERS:
        return "street"
    if before in SETTLEMENT_MARKERS and before != "д":  # «д.» is a house as often as a village
        return "town"
    if tokens[i] not in street_forms:
        return "town"
    if _number_after(tokens, i):
        return "street"
    if before in TOWN_PREPOSITIONS:
        return "town"
    return "street"


def street_forms(names: Iterable[str]) -> frozenset[str]:
    """The forms of a street's one-word names that only the street has, lower case: a name
    in the genitive as on the sign («Чехова») stays as it is; an adjective name («Советская»)
    has every case form of its gender («советской», «советскую»)."""
    out: set[str] = set()
    for name in names:
        word = name.lower().replace("ё", "е")
        out.add(word)
        if adjective_genders(word):
            out.update(case_forms(name))
    return frozenset(out)


def _number_after(tokens: list[str], i: int) -> bool:
    """A house number right after the name, «д.» or «дом» allowed between: «Чехова 5», «Чехова д 5»."""
    for t in tokens[i + 1 : i + 3]:
        if t[:1].isdigit():
            return True
        if t not in ("д", "дом"):
            return False
    return False


@functools.lru_cache(maxsize=8192)
def adjective_genders(word: str) -> frozenset[str]:
    """The genders a word can have as a singular adjective («советской» → femn; «советском» →
    masc, neut); empty when it cannot be one, or can be a plural or a noun (then it agrees with
    anything: only a clear disagreement separates two places)."""
    out: set[str] = set()
    for p in morph().parse(word.lower().replace("ё", "е")):
        if "ADJF" not in p.tag:
            if "NOUN" in p.tag and p.score > 0.2:
                return frozenset()
            continue
        if "plur" in p.tag:
            return frozenset()
        out.update(g for g in _GENDERS if g in p.tag)
    return frozenset(out)


def genders_agree(name: str, token: str) -> bool:
    """Whether `token` can be a form of the one-word adjective name `name` («Советский» and
    «советском»: yes; «Советский» and «советской»: no). Anything that is not a one-word adjective
    on both sides agrees."""
    if " " in name.strip():
        return True
    want = adjective_genders(name)
    have = adjective_genders(token)
    return not want or not have or bool(want & have)


# «по всей области», «во всём регионе», «по региону», «в регионе», «в нашей области»: the whole
# region, whichever it is (the region's own names, «в Курской области», come from region.yaml)
_REGION_NOUNS = frozenset(
    ["области", "регионе", "региону", "регион", "крае", "краю", "республике", "губернии"]
)
_WHOLE = frozenset(["всей", "всему", "всем", "нашей", "нашему", "нашем"])
_REGION_PREPOSITIONS = frozenset(["в", "во", "по"])


def region_wide_cue(tokens: list[str], region_named: list[tuple[int, int]]) -> str | None:
    """The words that say the post is about the whole region, or None: «по всей области»,
    «во всём регионе», «в регионе», «по региону» (not «в области медицины»: «в области» alone is
    not enough, nor «по краю дороги»: «край» only with «всему», «нашему»), or the region's own name after «в»/«по» (`region_named`: where a name of the
    region from region.yaml starts and ends, «в Курской области»)."""
    for i, t in enumerate(tokens):
        if t not in _REGION_NOUNS:
            continue
        before = tokens[i - 1] if i > 0 else ""
        if before in _WHOLE and i > 1 and tokens[i - 2] in _REGION_PREPOSITIONS:
            return " ".join(tokens[i - 2 : i + 1])  # «по всей области», «в нашем регионе»
        if before in _REGION_PREPOSITIONS and (t.startswith("регион") or (before == "по" and t == "области")):
            return f"{before} {t}"  # «в регионе», «по региону», «по области»
    for start, end in region_named:
        if start > 0 and tokens[start - 1] in _REGION_PREPOSITIONS | _WHOLE:
            return " ".join(tokens[start - 1 : end + 1])
    return None
