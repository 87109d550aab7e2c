"""The words of places: street and settlement type words, prepositions, case forms of names,
and the small tests on tokens (a direction, a destination) that the gazetteer builds on."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from pipelines.lemmas import morph

STREET_MARKERS = frozenset(
    [
        "ул",
        "улица",
        "улочка",
        "пр",
        "пр-т",
        "пр-кт",
        "проспект",
        "пер",
        "переулок",
        "бульвар",
        "б-р",
        "шоссе",
        "ш",
        "проезд",
        "пл",
        "площадь",
        "набережная",
        "наб",
        "тупик",
        "мкр",
        "микрорайон",
        "линия",
    ]
)
SETTLEMENT_MARKERS = frozenset(
    [
        "г",
        "город",
        "гор",
        "с",
        "село",
        "пос",
        "поселок",
        "п",
        "д",
        "деревня",
        "х",
        "хутор",
        "сл",
        "слобода",
        "рп",
        "пгт",
        "ст",
        "станция",
        # the type word in the cases residents write it: «в деревне Щетинка», «до села Клюква»
        "городе",
        "города",
        "селе",
        "села",
        "селу",
        "поселке",
        "поселка",
        "поселку",
        "деревне",
        "деревни",
        "деревню",
        "хуторе",
        "хутора",
        "слободе",
        "слободы",
        "станции",
    ]
)
# Spellings of one settlement type: an alias written with one («п. Юбилейный») also matches
# the others («пос. Юбилейный», «посёлок Юбилейный»).
_SETTLEMENT_TYPES: tuple[tuple[str, ...], ...] = (
    ("п.", "пос.", "посёлок", "поселок"),
    ("с.", "село"),
    ("д.", "дер.", "деревня"),
    ("сл.", "слобода"),
    ("х.", "хутор"),
)
STREET_PREPOSITIONS = frozenset(["на", "по", "у", "около", "возле", "напротив", "с", "со", "вдоль"])
HOUSE_MARKERS = frozenset(["д", "дом", "доме", "дома", "домом", "домов", "корпус", "к", "кв"])
# Nouns of a town's named objects: an adjective place name before them names the object
# («от Кировского моста», «у Льговского рынка»), not the settlement or district.
OBJECT_WORDS = frozenset(
    [
        "мост",
        "моста",
        "мосту",
        "мостом",
        "мосте",
        "рынок",
        "рынка",
        "рынку",
        "рынке",
        "рынком",
        "вокзал",
        "вокзала",
        "вокзалу",
        "вокзале",
        "вокзалом",
        "сквер",
        "сквера",
        "скверу",
        "сквере",
    ]
)
# Adjectives used as nouns for rooms and parts of a building («парадная» is St Petersburg's
# word for the entrance): after a preposition or before a number they are not streets.
ROOM_WORDS = frozenset(
    [
        "парадный",
        "детский",
        "столовый",
        "ванный",
        "приемный",
        "учительский",
        "лестничный",
        "проходной",
        "диспетчерский",
        "дежурный",
        "бельевой",
        "колясочный",
        "мусорокамерный",
    ]
)


def lemmatizer_free_lemma(word: str) -> str:
    """The most probable lemma of a word, ё folded (no cache needed: only on a few tokens)."""
    lemma: str = morph().parse(word)[0].normal_form.replace("ё", "е")
    return lemma


_PROPER_TAGS = ("Surn", "Name", "Patr", "Geox", "Orgn", "Abbr")
# Words before a place name that say a place follows: «в Клюкву», «из Глушкова», «под Рыльском».
PLACE_PREPOSITIONS = frozenset(
    [
        "в",
        "во",
        "из",
        "под",
        "до",
        "к",
        "ко",
        "у",
        "около",
        "возле",
        "за",
        "от",
        "через",
        "над",
        "между",
        "близ",
        "вблизи",
        "недалеко",
    ]
)
_CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")
_TYPE_WORDS = frozenset(w.rstrip(".") for group in _SETTLEMENT_TYPES for w in group) | {
    "г",
    "город",
    "пгт",
    "рп",
}


@dataclass(slots=True, frozen=True)
class Place:
    kind: str  # municipality | settlement | subdivision | street | region | foreign
    municipalities: tuple[str, ...]
    name: str
    single_common_word: bool  # needs a marker or a house number to count


_PRIORITY = {"settlement": 4, "municipality": 3, "subdivision": 2, "street": 1}


_STREET_TYPE_WORDS = STREET_MARKERS | {"пр-д", "пр.", "ул.", "пер.", "б-р.", "пл."}


def bare_street_name(alias: str) -> str | None:
    """«ул. Белгородская» → «Белгородская», «проспект Победы» → «Победы»: residents mostly
    write the name alone («Белгородская 15»). None when nothing is left or nothing changed."""
    words = [w for w in alias.replace(".", ". ").split() if w.lower().rstrip(".") not in _STREET_TYPE_WORDS]
    bare = " ".join(words)
    return bare if bare and bare != alias else None


_DISTRICT_WORDS = ("район", "р-н")
_DISTRICT_ABBREVIATIONS = ("р-н", "р-на", "р-не", "р-ну", "р-оне")


def _district_abbreviations(aliases: list[str]) -> list[str]:
    """«Тимский район» also as «Тимского р-на», «в Беловском р-не»: the abbreviation has no
    dictionary lemma, so each of its case forms is an alias of its own (the adjective before
    it is matched on lemmas in any case)."""
    out = list(dict.fromkeys(aliases))
    for alias in aliases:
        words = alias.split()
        if len(words) == 2 and words[1].lower() in _DISTRICT_WORDS:
            for abbr in _DISTRICT_ABBREVIATIONS:
                variant = f"{words[0]} {abbr}"
                if variant not in out:
                    out.append(variant)
    return out


# A district's institutions named by its adjective: «в Обоянской ЦРБ» is the Обоянский район
# (the central district hospital), whichever town the patients are sent on to.
_DISTRICT_INSTITUTIONS = ("ЦРБ", "центральная районная больница", "районная больница")


def _district_institutions(aliases: list[str]) -> list[str]:
    """«Обоянский район» → «Обоянский ЦРБ», «Обоянский районная больница»: matched on lemmas,
    so «Обоянской ЦРБ», «в Обоянскую районную больницу» resolve to the district."""
    out: list[str] = []
    for alias in aliases:
        words = alias.split()
        if len(words) == 2 and words[1].lower() == "район":
            out.extend(f"{words[0]} {inst}" for inst in _DISTRICT_INSTITUTIONS)
    return out


# Where a resident has to travel to, not where the problem is: «ездим в Курск», «отправляют
# в Курск», «до Курска два часа». A town named so ranks below every other place of the text
# and gives way to the local page or thread («в поликлинике на Красноармейской … в Курск»).
_TO_PREPOSITIONS = frozenset(["в", "во", "на"])
_TOWARDS_PREPOSITIONS = frozenset(["до", "к", "ко"])


# «в сторону п. Искра», «со стороны Клюквы», «поворот на Ворошнево»: a direction on a road
# of the place where the problem is, not that place
_DIRECTION_WORDS = frozenset(
    [
        "сторону",
        "стороны",
        "поворот",
        "повороте",
        "поворота",
        "съезд",
        "съезде",
        "съезда",
        "выезд",
        "выезде",
        "выезда",
        "направлении",
        "направлению",
    ]
)


def _direction(tokens: list[str], start: int) -> bool:
    """A place named as a direction («в сторону п. Искра», «поворот на Клюкву», «до Ворошнево»):
    the word before it (a settlement type word skipped) is «до», «к», or a direction word, or
    «на» after one."""
    i = start - 1
    if i >= 0 and tokens[i] in SETTLEMENT_MARKERS:
        i -= 1
    if i < 0:
        return False
    if tokens[i] in _TOWARDS_PREPOSITIONS or tokens[i] in _DIRECTION_WORDS:
        return True
    return tokens[i] == "на" and i > 0 and tokens[i - 1] in _DIRECTION_WORDS


def _destination(tokens: list[str], start: int) -> bool:
    """The town after «в/на» in the accusative («в Курск», not «в Курске»), or after «до», «к»."""
    if start == 0:
        return False
    if _direction(tokens, start):
        return True
    before = tokens[start - 1]
    if before in _TOWARDS_PREPOSITIONS:
        return True
    if before not in _TO_PREPOSITIONS:
        return False
    parses = morph().parse(tokens[start])
    return any("accs" in p.tag for p in parses) and not any(
        "loct" in p.tag or "loc2" in p.tag for p in parses
    )


def _settlement_type_spellings(aliases: list[str]) -> list[str]:
    out = list(dict.fromkeys(aliases))
    for alias in aliases:
        head, _, rest = alias.partition(" ")
        if not rest:
            continue
        for spellings in _SETTLEMENT_TYPES:
            if head.lower() in spellings:
                for other in spellings:
                    variant = f"{other} {rest}"
                    if variant not in out:
                        out.append(variant)
    return out


def _needs_marker(alias: str) -> bool:
    words = alias.split()
    if len(words) != 1:
        return False
    parses = morph().parse(words[0].lower())
    if not parses or not any(p.is_known for p in parses):
        return False
    return not any(any(t in p.tag for t in _PROPER_TAGS) for p in parses)


def _name_parse(word: str) -> Any:  # a pymorphy3 Parse or None (pymorphy3 is untyped)
    """The reading of a place name in the nominative: a geographical name first, then a noun,
    then an adjective or participle («Горшечное», «Званное»)."""
    parses = [p for p in morph().parse(word) if "nomn" in p.tag and p.word.replace("ё", "е") == word]
    for test in ("Geox", "NOUN", "ADJF", "PRTF"):
        for p in parses:
            if test in p.tag:
                return p
    return None


@functools.lru_cache(maxsize=4096)
def case_forms(name: str) -> tuple[str, ...]:
    """The case forms of a one-word place name, lower case, ё folded: «Клюква» → клюква,
    клюквы, клюкве, клюкву, клюквой; «Гирьи» in the plural; «Горшечное» → горшечного, …
    Inflected with pymorphy3 (the dictionary, or its guess from the ending for unknown
    villages), in the number of the name. Names in -ово/-ево/-ино keep the bare form too
    («в Коренево»). Empty for several words or a name pymorphy3 cannot read as a noun or adjective."""
    word = name.lower().replace("ё", "е")
    if " " in word or "." in word or len(word) < 3:
        return ()
    p = _name_parse(word)
    if p is None:
        return ()
    number = "plur" if "plur" in p.tag else "sing"
    out = {word: None}
    for case in _CASES:
        f = p.inflect({case, number})
        if f is not None:
            out.setdefault(f.word.replace("ё", "е"), None)
    return tuple(out)


def _form_is_other_word(form: str, name: str) -> bool:
    """Whether a case form is also another word or a person's name («Глушкова» the surname,
    «Белой» the adjective): then it counts as a place only with a place cue."""
    return any(p.is_known and "Geox" not in p.tag and p.normal_form != name for p in morph().parse(form))
