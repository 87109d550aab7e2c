"""Entities: places from the territory gazetteer, street addresses, and natasha NER.

The gazetteer (municipalities with their aliases, settlements, intra-city districts, streets,
places outside the region) is matched on lemmas with the same phrase engine as the rules, so
«в Курске», «Курска», «курский» all resolve. natasha's NER is slow (hundreds of sentences per
second) and runs only on posts that already passed the keyword filter; it supplies persons
(kept out of exports unless allowed) and organisations.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from dataclasses import dataclass

from incidents.core.config import RegionConfig
from incidents.core.records import Entities
from pipelines.lemmas import Lemmatizer, morph
from pipelines.persons import PersonNames
from pipelines.phrases import Match, PhraseMatcher

log = logging.getLogger(__name__)

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
    return morph().parse(word)[0].normal_form.replace("ё", "е")


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


def _name_parse(word: str):  # noqa: ANN202 - a pymorphy3 Parse or None
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


class Gazetteer:
    def __init__(self, cfg: RegionConfig, lemmatizer: Lemmatizer) -> None:
        # names as spelt: a typo correction of an unknown village name is another word
        # («Любаж» → «любой», «Разветье» → «развитие»), which then matched everywhere
        self._m: PhraseMatcher[Place] = PhraseMatcher(lemmatizer, headwords=True)
        # case forms of one-word names, matched on the surface: pymorphy3 lemmatizes many
        # village names wrongly or not at all («Кореневе» → the surname Коренев, «Линца» →
        # «линц») and a common word's name («Клюква») has no bare alias at all
        self._forms: dict[str, list[tuple[Place, bool]]] = {}
        streets: dict[str, set[str]] = {}
        street_names: dict[str, list[str]] = {}
        for muni in cfg.territories.municipalities:
            for alias in _district_abbreviations([muni.name, *muni.aliases]):
                self._add(alias, Place("municipality", (muni.code,), muni.name, _needs_marker(alias)))
            for alias in _district_institutions([muni.name, *muni.aliases]):
                self._add(alias, Place("municipality", (muni.code,), muni.name, False))
            for s in muni.settlements:
                place = Place("settlement", (muni.code,), s.name, False)
                for alias in _settlement_type_spellings([s.name, *s.aliases]):
                    self._add(alias, Place("settlement", (muni.code,), s.name, _needs_marker(alias)))
                    self._add_forms(alias, place)
            for s in muni.subdivisions:
                place = Place("subdivision", (muni.code,), s.name, False)
                for alias in [s.name, *s.aliases]:
                    self._add(alias, Place("subdivision", (muni.code,), s.name, _needs_marker(alias)))
                    self._add_forms(alias, place)
            for s in muni.streets:
                streets.setdefault(s.name, set()).add(muni.code)
                street_names[s.name] = [s.name, *s.aliases]
        for name, munis in streets.items():
            forms = {a: None for a in street_names[name]}
            for alias in list(forms):
                bare = bare_street_name(alias)
                if bare:
                    forms.setdefault(bare, None)
            for alias in forms:
                self._add(alias, Place("street", tuple(sorted(munis)), name, _needs_marker(alias)))
        for alias in cfg.region.aliases:
            self._add(alias, Place("region", (), cfg.region.name, False))
        for alias in cfg.territories.foreign_places:
            self._add(alias, Place("foreign", (), alias, _needs_marker(alias)))

    def _add_forms(self, alias: str, place: Place) -> None:
        """Every case form of a one-word name (a settlement type word in front is dropped:
        «с. Клюква» → «Клюква»). A name that is a common word, and a form that is also
        another word, need a place cue (`_cued`)."""
        words = alias.split()
        if len(words) == 2 and words[0].lower().rstrip(".") in _TYPE_WORDS:
            words = words[1:]
        if len(words) != 1 or not words[0].isalpha() or not words[0][0].isupper():
            return
        common = _needs_marker(words[0])
        lemma = words[0].lower().replace("ё", "е")
        for form in case_forms(words[0]):
            entries = self._forms.setdefault(form, [])
            if all(p != place for p, _ in entries):
                entries.append((place, common or _form_is_other_word(form, lemma)))

    def _add(self, alias: str, place: Place) -> None:
        try:
            self._m.add(alias, place, ordered=True)
        except ValueError:
            log.warning("gazetteer: alias %r has no words, skipped", alias)

    def find(self, lemmas: list[tuple[str, ...]], tokens: list[str], display: str = ""):  # noqa: ANN201 - list of Match[Place]
        found = []
        for m in self._m.find(lemmas):
            place = m.payload
            if (
                place.single_common_word
                and not self._marked(tokens, m.start, m.end, place.kind)
                and not (place.kind == "settlement" and _heading(tokens, m.start, display))
            ):
                continue
            if place.kind in ("municipality", "settlement", "subdivision") and _names_a_street(
                tokens, m.start, m.end
            ):
                continue
            found.append(m)
        forms = self._forms
        for i, t in enumerate(tokens):
            entries = forms.get(t)
            if not entries:
                continue
            for place, guarded in entries:
                if any(m.start <= i <= m.end and m.payload.name == place.name for m in found):
                    continue
                if guarded and not self._cued(tokens, i, display) and not _heading(tokens, i, display):
                    continue
                if _names_a_street(tokens, i, i):
                    continue
                found.append(Match(place, i, i, t))
        # The longest name wins: «Невский проспект» (a street) over «Невский» (a district),
        # «Октябрьская набережная» over the bare «Октябрьская» of another town's street.
        return [
            m
            for m in found
            if not any(
                o is not m and o.start <= m.start and m.end <= o.end and (o.end - o.start) > (m.end - m.start)
                for o in found
            )
        ]

    @staticmethod
    def _cued(tokens: list[str], i: int, display: str) -> bool:
        """A settlement type word before the name («село Клюква», «до деревни Клюква»), or a
        place preposition before it and the name capitalised in the text («в Клюкву», not
        «клюкву собирали», «в белой машине»)."""
        before = tokens[i - 1] if i > 0 else ""
        marker = (
            before
            if before in SETTLEMENT_MARKERS
            else (tokens[i - 2] if i > 1 and tokens[i - 2] in SETTLEMENT_MARKERS else None)
        )
        # a one-letter type word is also a preposition or a conjunction («с белой тростью»,
        # «с Клюквой»): after it the name must be capitalised, as after a preposition
        if marker is not None and len(marker) > 1:
            return True
        if (marker is None and before not in PLACE_PREPOSITIONS) or not display:
            return False
        return re.search("(?<![\\w-])" + _capitalised(tokens[i]) + "(?![\\w-])", display) is not None

    @staticmethod
    def _marked(tokens: list[str], start: int, end: int, kind: str) -> bool:
        markers = STREET_MARKERS if kind == "street" else SETTLEMENT_MARKERS
        before = tokens[max(0, start - 2) : start]
        if any(t in markers for t in before):
            return True
        if kind != "street":
            return False
        after = tokens[end + 1 : end + 3]
        if any(t in STREET_MARKERS for t in after):
            return True
        # «Белгородская 15», «Молодёжная 5» name a street; «парадная 4» is an entrance.
        if any(t[0].isdigit() for t in after) and lemmatizer_free_lemma(tokens[start]) not in ROOM_WORDS:
            return True
        # «на Харьковской возле школы»: a feminine adjective after a preposition, not followed
        # by the feminine noun it would qualify («на школьной площадке»), names a street.
        if start == 0 or tokens[start - 1] not in STREET_PREPOSITIONS or start != end:
            return False
        word = tokens[start]
        if lemmatizer_free_lemma(word) in ROOM_WORDS:  # «у парадной», «в детской»
            return False
        if not any("ADJF" in p.tag and "femn" in p.tag for p in morph().parse(word)):
            return False
        nxt = tokens[end + 1] if end + 1 < len(tokens) else None
        return nxt is None or not any("NOUN" in p.tag and "femn" in p.tag for p in morph().parse(nxt))


_HEADING_END = "[.,:;!—–]|\\s[-—–]"


def _heading(tokens: list[str], i: int, display: str) -> bool:
    """A one-word place name that opens the post as its heading, capitalised and followed by a
    full stop, comma, colon or dash: «Горшечное. Не вывозят мусор», «Чапли — ямочный ремонт
    обещали», «Тим, ул. …». Residents of small places write so; a common word opening a
    sentence that way («Свобода, равенство…») is rare and only the FIRST word counts."""
    if i != 0 or not display:
        return False
    word = tokens[0]
    if not word.isalpha():
        return False
    return re.match("^\\W*" + _capitalised(word) + "\\s*(?:" + _HEADING_END + ")", display) is not None


def _capitalised(word: str) -> str:
    """A pattern of a matching token («клюкву», ё folded to е) as written capitalised in the
    display text, with е or ё."""
    return word[0].upper().replace("Е", "[ЕЁ]") + word[1:].replace("е", "[её]")


def _names_a_street(tokens: list[str], start: int, end: int) -> bool:
    """An adjective place name right next to a street word is part of a street's name:
    «Невский проспект», «Московское шоссе», «улица Пушкинская» — not the district or town."""
    if start != end:
        return False
    if not any("ADJF" in p.tag for p in morph().parse(tokens[start])):
        return False
    before = tokens[start - 1] if start > 0 else ""
    if before in SETTLEMENT_MARKERS:  # «п. Касторное, ул. Ленина»: the place comes first
        return False
    if before in STREET_MARKERS:
        return True
    after = tokens[end + 1] if end + 1 < len(tokens) else ""
    if after in OBJECT_WORDS:  # «Кировский мост», «у Льговского рынка»: a town's object, not the place
        return True
    if after not in STREET_MARKERS:
        return False
    # «Невский проспект 74», «Московское шоссе» end the name; «Касторное ул Ленина» names a
    # place and then its street (punctuation is gone by now).
    nxt = tokens[end + 2] if end + 2 < len(tokens) else ""
    return not nxt or nxt[0].isdigit() or nxt in HOUSE_MARKERS or len(nxt) <= 2


def _house_after(tokens: list[str], end: int) -> str | None:
    for t in tokens[end + 1 : end + 4]:
        if t[0].isdigit():
            return t
        if t not in HOUSE_MARKERS:
            return None
    return None


def _house_before(tokens: list[str], start: int) -> str | None:
    # «в доме 5 по улице Школьной»
    window = tokens[max(0, start - 5) : start]
    for i, t in enumerate(window[:-1]):
        if t in HOUSE_MARKERS and window[i + 1][0].isdigit():
            return window[i + 1]
    return None


def street_name_form(word: str) -> str:
    """«Песковатской» → «песковатская»: adjective street names in the nominative feminine;
    genitive names («Мира», «Радищева») stay as written, as they are on the street sign."""
    for p in morph().parse(word):
        if "ADJF" in p.tag:
            form = p.inflect({"nomn", "femn", "sing"})
            if form is not None:
                return form.word
        break
    return word


def free_street(tokens: list[str], lemmatizer: Lemmatizer) -> tuple[str, str | None, int] | None:
    """A street named after a marker but absent from the gazetteer: «ул. Мира, д. 6»."""
    for i, t in enumerate(tokens[:-1]):
        if t in STREET_MARKERS and t not in ("ш", "линия", "пл"):
            name = tokens[i + 1]
            if name[0].isdigit():
                # «ул. 50 лет Октября»
                if i + 3 < len(tokens) and tokens[i + 2] == "лет":
                    name = " ".join(tokens[i + 1 : i + 4])
                    return name.title(), _house_after(tokens, i + 3), i
                continue
            if len(name) < 3 or name in STREET_MARKERS:
                continue
            return street_name_form(name).capitalize(), _house_after(tokens, i + 1), i
    return None


def _longest(matches: list[Match[Place]]) -> list[Match[Place]]:
    """Drop a place found inside a longer place's words: «в Курском районе» is the district,
    not also the city that «Курском» alone would name."""
    spans = [(m.start, m.end) for m in matches]
    return [
        m
        for m in matches
        if not any(s <= m.start and m.end <= e and (e - s) > (m.end - m.start) for s, e in spans)
    ]


class NerTagger:
    """natasha NER, loaded on first use (≈1.5 s, ≈300 MB), shared by the process."""

    _lock = threading.Lock()
    _loaded: tuple | None = None

    @classmethod
    def _load(cls) -> tuple:
        with cls._lock:
            if cls._loaded is None:
                from natasha import NewsEmbedding, NewsNERTagger, Segmenter

                emb = NewsEmbedding()
                cls._loaded = (Segmenter(), NewsNERTagger(emb))
            return cls._loaded

    def __call__(self, text: str) -> list[tuple[str, str]]:
        """(type, text) of the PER, ORG and LOC spans of one text. The tagger takes raw text
        (it tokenizes itself); natasha's Doc/segmenter round trip only added time."""
        if not text.strip():
            return []
        _, tagger = self._load()
        return [(span.type, text[span.start : span.stop]) for span in tagger(text).spans]

    def many(self, texts: list[str], batch_size: int = 32) -> list[list[tuple[str, str]]]:
        """The same for many texts, batched through the network, similar lengths together
        (the whole signal stage ≈1.3× faster than one by one, bench/signals.py)."""
        _, tagger = self._load()
        out: list[list[tuple[str, str]]] = [[] for _ in texts]
        # similar lengths together: the network pads a batch to its longest text
        todo = sorted((i for i, t in enumerate(texts) if t.strip()), key=lambda i: len(texts[i]))
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            for i, markup in zip(chunk, tagger.map([texts[i] for i in chunk]), strict=True):
                out[i] = [(span.type, texts[i][span.start : span.stop]) for span in markup.spans]
        return out


class EntityExtractor:
    def __init__(self, cfg: RegionConfig, lemmatizer: Lemmatizer, *, ner: NerTagger | None = None) -> None:
        self.gazetteer = Gazetteer(cfg, lemmatizer)
        self._shared_streets_in = cfg.territories.shared_streets_in
        self._lem = lemmatizer
        self._ner = ner
        self._persons = PersonNames(STREET_MARKERS | SETTLEMENT_MARKERS)

    def _route_ends(self, tokens: list[str]) -> list[str]:
        """Towns joined by a hyphen name a route or a road: «маршрут Курск-Суджа», «трасса
        Курск-Фатеж». The tokenizer keeps such a compound as one word, so its parts are looked
        up on their own; only towns and villages count (not streets), each part must be a
        place by itself, and at least two parts must be places — «Илек-Пеньковка» or
        «Северо-Западный» stay whole."""
        out: list[str] = []
        for token in tokens:
            if "-" not in token:
                continue
            parts = [p for p in token.split("-") if len(p) >= 3]
            if len(parts) < 2:
                continue
            codes: list[str] = []
            for part in parts:
                for m in self.gazetteer.find([self._lem.lemmas(part)], [part]):
                    place = m.payload
                    if place.kind in ("municipality", "settlement") and len(place.municipalities) == 1:
                        codes.append(place.municipalities[0])
                        break
            if len(codes) >= 2:
                out.extend(c for c in codes if c not in out)
        return out

    @property
    def ner(self) -> NerTagger | None:
        return self._ner

    def __call__(
        self, lemmas: list[tuple[str, ...]], tokens: list[str], display: str, *, deep: bool
    ) -> Entities:
        ent = Entities()
        best: tuple[float, int, int, str, str, str] | None = (
            None  # (priority, length, -position, code, evidence, kind)
        )
        street_match = None
        found = self.gazetteer.find(self._lem.as_written(tokens, lemmas), tokens, display)
        for m in _longest(found):
            place = m.payload
            words = " ".join(tokens[m.start : m.end + 1])
            if place.kind == "region":
                ent.region_mentioned = True
                continue
            if place.kind == "foreign":
                ent.foreign_places.append(place.name)
                continue
            ent.locations.append(place.name)
            # a village named as a direction («в сторону п. Искра») is not where the problem is
            towards = place.kind == "settlement" and _direction(tokens, m.start)
            if place.kind == "settlement" and not ent.address.settlement and not towards:
                ent.address.settlement = place.name
            if (
                place.kind in ("municipality", "settlement")
                and len(place.municipalities) == 1
                and place.municipalities[0] not in ent.municipalities
            ):
                ent.municipalities.append(place.municipalities[0])
            if place.kind == "street" and street_match is None:
                street_match = m
            if len(place.municipalities) == 1:
                # the strongest kind of place; among equals the longest name («Курский район»
                # over «Курском»), then the first named; a town travelled to the weakest
                kind, priority = place.kind, _PRIORITY[place.kind]
                if towards or (kind == "municipality" and _destination(tokens, m.start)):
                    kind, priority = "destination", 0.5
                cand = (priority, m.end - m.start, -m.start, place.municipalities[0], words, kind)
                if best is None or cand[:3] > best[:3]:
                    best = cand
        for code in self._route_ends(tokens):
            if code not in ent.municipalities:
                ent.municipalities.append(code)
            if best is None:
                best = (0, 0, 0, code, f"{code} (в названии маршрута или дороги)", "municipality")
        if street_match is not None:
            place = street_match.payload
            ent.address.street = place.name
            ent.address.house = _house_after(tokens, street_match.end) or _house_before(
                tokens, street_match.start
            )
            if best is None and len(place.municipalities) > 1:
                shared = self._shared_streets_in
                if shared in place.municipalities:
                    # a street of the regional centre that other towns have too: most posts
                    # naming it alone are about the centre; as a street, a local page still wins
                    best = (
                        1,
                        0,
                        0,
                        shared,
                        f"street {place.name} (also in "
                        f"{', '.join(m for m in place.municipalities if m != shared)}): {shared}",
                        "street",
                    )
                else:
                    ent.municipality_evidence = (
                        f"street {place.name} (ambiguous: {', '.join(place.municipalities)})"
                    )
        else:
            free = free_street(tokens, self._lem)
            if free:
                ent.address.street, ent.address.house = f"ул. {free[0]}", free[1]
        if best is not None:
            ent.municipality = best[3]
            ent.municipality_evidence = best[4]
            ent.municipality_kind = best[5]
        if display:
            # every post, not only the candidates NER reads: names stay out of the indexes
            places = frozenset(t for m in found for t in tokens[m.start : m.end + 1])
            ent.persons.extend(self._persons(display, places))
        if deep and self._ner is not None and display:
            try:
                add_ner(ent, self._ner(display[:NER_MAX_CHARS]))
            except Exception as exc:  # NER is an enrichment: never lose a post over it
                log.warning("NER failed: %s", exc)
        return ent


NER_MAX_CHARS = 5000


def add_ner(ent: Entities, spans: list[tuple[str, str]]) -> None:
    """Persons, organisations and extra locations from NER spans into the entities."""
    for kind, text in spans:
        if kind == "PER":
            if text not in ent.persons:
                ent.persons.append(text)
        elif kind == "ORG":
            ent.organisations.append(text)
        elif kind == "LOC" and text not in ent.locations:
            ent.locations.append(text)
