"""The territory gazetteer: municipalities, settlements, districts and streets matched on lemmas,
with the cues that decide a name's reading (a house number, «ул.», a heading)."""

from __future__ import annotations

import logging
import re

from core.config import RegionConfig
from pipelines.lemmas import Lemmatizer, morph
from pipelines.phrases import Match, PhraseMatcher
from pipelines.place_readings import TOWN_KINDS, _number_after, genders_agree, street_forms, street_or_town
from pipelines.place_words import (
    _TYPE_WORDS,
    HOUSE_MARKERS,
    OBJECT_WORDS,
    PLACE_PREPOSITIONS,
    ROOM_WORDS,
    SETTLEMENT_MARKERS,
    STREET_MARKERS,
    STREET_PREPOSITIONS,
    Place,
    _district_abbreviations,
    _district_institutions,
    _form_is_other_word,
    _needs_marker,
    _settlement_type_spellings,
    bare_street_name,
    case_forms,
    lemmatizer_free_lemma,
)

log = logging.getLogger(__name__)


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
        # a street's one-word names as written, lower case («чехова»): the form that tells the
        # street from a town of the same lemma (pipelines/place_readings.py)
        self.street_forms: dict[str, frozenset[str]] = {}
        for name, munis in streets.items():
            forms = {a: None for a in street_names[name]}
            for alias in list(forms):
                bare = bare_street_name(alias)
                if bare:
                    forms.setdefault(bare, None)
            self.street_forms[name] = street_forms(a for a in forms if " " not in a and "." not in a)
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

    def find(self, lemmas: list[tuple[str, ...]], tokens: list[str], display: str = "") -> list[Match[Place]]:
        found: list[Match[Place]] = []
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
        found = self._one_reading(found, tokens)
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

    def _one_reading(self, found: list[Match[Place]], tokens: list[str]) -> list[Match[Place]]:
        """One reading per word that names two places: an adjective that does not agree in
        gender with a one-word name is not that place («на Советской» is not «Советский район»),
        and a word read both as a town and as a street is the one its cues say
        (`place_readings.street_or_town`: «на Чехова 5» the street, «в Чехове» the town)."""
        found = [m for m in found if not self._disagrees(m, found, tokens)]
        drop: set[int] = set()
        for m in found:
            if m.start != m.end or m.payload.kind != "street":
                continue
            towns = [o for o in found if o.start == o.end == m.start and o.payload.kind in TOWN_KINDS]
            if not towns:
                continue
            forms = self.street_forms.get(m.payload.name, frozenset())
            if street_or_town(tokens, m.start, forms) == "street":
                drop.update(id(o) for o in towns)
            else:
                drop.add(id(m))
        return [m for m in found if id(m) not in drop]

    @staticmethod
    def _disagrees(m: Match[Place], found: list[Match[Place]], tokens: list[str]) -> bool:
        """A one-word adjective name read on a word of another gender is not that place when
        another place on the word agrees («на Советской»: the street, not «Советский район»), or
        when nothing says a street is meant («красного сигнала» is not «Красная площадь»). A
        street type word beside it («1-й Суворовский переулок» off «улица Суворовская», «3-я
        Пушкарная улица» in «Пушкарное») or, for a street, «на», «по», «у» before it or a house
        number after it («на Магистральной» beside «Магистральный проезд») says the same name
        under another street type, in the same quarter."""
        i = m.start
        if m.end != i or genders_agree(m.phrase, tokens[i]):
            return False
        if any(o.start == o.end == i and o is not m and genders_agree(o.phrase, tokens[i]) for o in found):
            return True
        near = tokens[max(0, i - 1) : i] + tokens[i + 1 : i + 2]
        if any(t in STREET_MARKERS for t in near):
            return False
        before = tokens[i - 1] if i > 0 else ""
        return m.payload.kind != "street" or not (before in STREET_PREPOSITIONS or _number_after(tokens, i))

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
                inflected: str = form.word
                return inflected
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
