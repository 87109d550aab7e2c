"""Names of territories.yaml that can be read two ways, with how each will be read.

`incidents check-config --collisions` prints them. Every reading shown is not a description of
the rules but the gazetteer's own answer on an example sentence: the example is run through the
same normalizer and entity extractor as a post, so the listing cannot drift from what the
pipeline does. The rules themselves: docs/place-matching.md.

Four kinds of collision are looked for:

* **town / street** — a town, village or district and a street of the same lemma («Чехов» and
  «улица Чехова»; «Советский» район and «Советская» улица);
* **shared street** — a street listed in several municipalities («улица Ленина»);
* **tie** — a bare street name of a street of one town and of a street of several («Мира»);
* **common word** — a name that is an everyday word («Заря», «Свобода»): read only with a cue.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from core.config import RegionConfig
from core.records import Entities
from pipelines.entities import EntityExtractor
from pipelines.lemmas import Lemmatizer
from pipelines.normalize import Normalizer
from pipelines.place_readings import adjective_genders
from pipelines.place_words import _TYPE_WORDS, _name_parse, _needs_marker, bare_street_name


@dataclass(slots=True)
class Collision:
    kind: str  # town_street | shared_street | tie | common_word
    name: str  # the word that collides, as written in territories.yaml
    places: list[str]  # the places it can name, in words
    rule: str  # how it will be read, in words
    examples: list[tuple[str, str]] = field(default_factory=list)  # (sentence, its reading)


KIND_NAMES = {
    "town_street": "место (город, село, район) и улица",
    "shared_street": "улица в нескольких муниципалитетах",
    "tie": "одно слово — улицы разных городов",
    "common_word": "название — обычное слово",
}


_NOUN_RULE = (
    "улица — с номером дома («на Чехова 5»), после «ул.», в форме с уличной таблички после «на», «по», «у» "
    "или без предлога; место — после «г.», «с.», «в», «из», «до», «от» и в любой другой форме («в Чехове», "
    "«Чехов,»)"
)
_ADJECTIVE_RULE = (
    "по согласованию в роде: женский род — улица («на Советской»), мужской и средний — район или "
    "посёлок («в Советском районе»); после «ул.» или с номером дома — улица"
)


class PlaceReader:
    """A sentence → the place the pipeline reads in it, in words («улица Чехова, дом 5 →
    город Берёзовск»)."""

    def __init__(self, cfg: RegionConfig, lemmatizer: Lemmatizer | None = None) -> None:
        lem = lemmatizer or Lemmatizer()
        self.cfg = cfg
        self._norm = Normalizer(lemmatizer=lem)
        self._ent = EntityExtractor(cfg, lem)

    def entities(self, text: str) -> Entities:
        n = self._norm(text)
        return self._ent(n.lemmas, n.tokens, n.display, deep=False)

    def __call__(self, text: str) -> str:
        ent = self.entities(text)
        where = []
        if ent.address.settlement:
            where.append(ent.address.settlement)
        if ent.address.street:
            where.append(ent.address.street + (f", дом {ent.address.house}" if ent.address.house else ""))
        muni = self.cfg.municipality_by_code.get(ent.municipality or "")
        if ent.region_wide:
            return f"весь регион ({self.cfg.region.name})"
        if not where:
            return muni.name if muni else "место не найдено"
        return ", ".join(where) + " → " + (muni.name if muni else "муниципалитет не определён")


def _muni_names(cfg: RegionConfig, codes: set[str]) -> str:
    return ", ".join(sorted(cfg.municipality_by_code[c].name for c in codes))


def _one_word(alias: str) -> str | None:
    """The name of a one-word place, its settlement type word dropped («г. Чехов» → «Чехов»)."""
    words = alias.split()
    if len(words) == 2 and words[0].lower().rstrip(".") in _TYPE_WORDS:
        words = words[1:]
    return words[0] if len(words) == 1 and words[0].replace("-", "").isalpha() else None


def _towns(cfg: RegionConfig) -> Iterator[tuple[str, str, str, str]]:
    """(word, kind in words, place name, municipality code) of every one-word town name."""
    for m in cfg.territories.municipalities:
        for alias in [m.name, *m.aliases]:
            if (w := _one_word(alias)) is not None:
                yield w, "муниципалитет", m.name, m.code
        for s in m.settlements:
            for alias in [s.name, *s.aliases]:
                if (w := _one_word(alias)) is not None:
                    yield w, "населённый пункт", s.name, m.code
        for s in m.subdivisions:
            for alias in [s.name, *s.aliases]:
                if (w := _one_word(alias)) is not None:
                    yield w, "район города", s.name, m.code


def _streets(cfg: RegionConfig) -> dict[str, tuple[set[str], set[str]]]:
    """Street name → (its one-word bare names, the municipalities that list it)."""
    out: dict[str, tuple[set[str], set[str]]] = {}
    for m in cfg.territories.municipalities:
        for s in m.streets:
            words, munis = out.setdefault(s.name, (set(), set()))
            munis.add(m.code)
            for alias in [s.name, *s.aliases]:
                bare = bare_street_name(alias) or alias
                if " " not in bare and "." not in bare and bare.replace("-", "").isalpha():
                    words.add(bare)
    return out


def _lemma(lem: Lemmatizer, word: str) -> frozenset[str]:
    return frozenset(lem.headword_lemmas(word.lower()))


def _inflect(word: str, case: str) -> str:
    """`word` in `case` («Чехов», loct → «Чехове»; «Советская», gent → «Советской»), capitalised."""
    p = _name_parse(word.lower().replace("ё", "е"))
    form = p.inflect({case}) if p is not None else None
    return str(form.word if form is not None else word).capitalize()


def _on_street(bare: str) -> str:
    """A bare street name as written after «на»: «Мира», «Красной» (an adjective in the genitive)."""
    return _inflect(bare, "gent") if adjective_genders(bare.lower()) else bare[:1].upper() + bare[1:]


def town_street_examples(town: str, street: str, full: str | None = None) -> list[str]:
    """Sentences that put a name in each of its cues: a house number, a street word, a town
    word, a locative after «в», a genitive after «из», the nominative opening an address.
    `full`: the street's name as listed («Северный проспект»), for the example with its type."""
    typed = full or f"ул. {street}"
    if adjective_genders(street.lower()):  # «Советская» улица and «Советский» район
        on = _inflect(street, "gent")
        return [
            f"Прорвало трубу на {on} 5",
            f"Нет воды, {typed}",
            f"На {on} опять яма",
            f"В {_inflect(town, 'loct')} районе нет воды",
            f"В {_inflect(town, 'loct')} нет воды",
        ]
    return [
        f"Прорвало трубу на {street} 5",
        f"Нет воды, {typed}",
        f"На {street} опять яма",
        f"В {_inflect(town, 'loct')} нет воды",
        f"Из {_inflect(town, 'gent')} не ходит автобус, нет воды",
        f"г. {town}, ул. Ленина 3 — нет воды",
    ]


def find_collisions(cfg: RegionConfig, reader: PlaceReader | None = None) -> list[Collision]:
    """Every name of the region's territories that can be read two ways, with examples read by
    the pipeline itself."""
    lem = Lemmatizer()
    reader = reader or PlaceReader(cfg, lem)
    streets = _streets(cfg)
    out: list[Collision] = []
    # town / street: the same lemma
    street_lemmas: dict[str, list[tuple[str, str]]] = {}
    for name, (words, _) in streets.items():
        for w in words:
            for lemma in _lemma(lem, w):
                street_lemmas.setdefault(lemma, []).append((name, w))
    seen: set[tuple[str, str]] = set()
    for word, kind, place, code in _towns(cfg):
        for lemma in _lemma(lem, word):
            for street, bare in street_lemmas.get(lemma, []):
                munis = streets[street][1]
                if (place, street) in seen or munis == {code}:
                    continue  # a town's own street of its name is the same place either way
                seen.add((place, street))
                c = Collision(
                    "town_street",
                    word,
                    [
                        f"{kind} «{place}» ({cfg.municipality_by_code[code].name})",
                        f"«{street}» ({_muni_names(cfg, munis)})",
                    ],
                    _ADJECTIVE_RULE if adjective_genders(bare.lower()) else _NOUN_RULE,
                )
                c.examples = [(s, reader(s)) for s in town_street_examples(word, bare, street)]
                out.append(c)
    # shared streets and ties
    shared_in = cfg.territories.shared_streets_in

    def alone(munis: set[str]) -> str:
        if shared_in in munis:
            return (
                f"без другого места — {cfg.municipality_by_code[shared_in].name} (shared_streets_in), "
                "слабое место: город страницы или ветки важнее; с названием города — этот город"
            )
        return "без другого места муниципалитет не определяется; с названием города — этот город"

    by_bare: dict[str, list[str]] = {}
    for name, (words, munis) in streets.items():
        for w in words:
            by_bare.setdefault(w.lower(), []).append(name)
        if len(munis) > 1:
            c = Collision("shared_street", name, [_muni_names(cfg, munis)], alone(munis))
            sentence = f"Яма на {_on_street(next(iter(sorted(words)), bare_street_name(name) or name))} 5"
            c.examples = [(sentence, reader(sentence))]
            out.append(c)
    for bare, names in sorted(by_bare.items()):
        towns = {code for n in names for code in streets[n][1]}
        if len(names) < 2 or all(streets[n][1] == towns for n in names):
            continue
        c = Collision(
            "tie",
            bare.capitalize(),
            [f"«{n}» ({_muni_names(cfg, streets[n][1])})" for n in names],
            "одно слово — улицы разных городов: читается как улица всех этих городов ("
            + _muni_names(cfg, towns)
            + "); "
            + alone(towns)
            + "; полное название («пер. Мира») — своя улица",
        )
        sentence = f"Яма на {_on_street(bare)} 5"
        c.examples = [(sentence, reader(sentence))]
        out.append(c)
    # common words
    done: set[tuple[str, str]] = set()
    for word, kind, place, code in _towns(cfg):
        if not _needs_marker(word) or (word, place) in done:
            continue
        done.add((word, place))
        c = Collision(
            "common_word",
            word,
            [f"{kind} «{place}» ({cfg.municipality_by_code[code].name})", "обычное слово"],
            "место — только с подсказкой: тип («с.», «деревня»), предлог с заглавной буквы («в Заре»), "
            "заголовок поста («Заря. Нет воды»)",
        )
        loct = _inflect(word, "loct")
        sentences = (
            f"В {loct} нет воды",
            f"{word}. Нет воды третий день",
            f"Нет воды, а в {loct.lower()} всё хорошо",
        )
        c.examples = [(s, reader(s)) for s in sentences]
        out.append(c)
    return out
