"""Entities: places from the territory gazetteer, street addresses, and natasha NER.

The gazetteer (municipalities with their aliases, settlements, intra-city districts, streets,
places outside the region) is matched on lemmas with the same phrase engine as the rules, so
«в Курске», «Курска», «курский» all resolve. natasha's NER is slow (hundreds of sentences per
second) and runs only on posts that already passed the keyword filter; it supplies persons
(kept out of exports unless allowed) and organisations.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from core.config import RegionConfig
from core.records import Entities
from pipelines.gazetteer import Gazetteer, _house_after, _house_before, _longest, free_street
from pipelines.lemmas import Lemmatizer
from pipelines.persons import PersonNames
from pipelines.phrases import Match
from pipelines.place_readings import region_wide_cue
from pipelines.place_words import (
    _PRIORITY,
    SETTLEMENT_MARKERS,
    STREET_MARKERS,
    Place,
    _destination,
    _direction,
    case_forms,  # noqa: F401 - callers read it here
)

log = logging.getLogger(__name__)


class NerTagger:
    """natasha NER, loaded on first use (≈1.5 s, ≈300 MB), shared by the process."""

    _lock = threading.Lock()
    _loaded: tuple[Any, Any] | None = None

    @classmethod
    def _load(cls) -> tuple[Any, Any]:
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
        region_at: list[tuple[int, int]] = []
        found = self.gazetteer.find(self._lem.as_written(tokens, lemmas), tokens, display)
        kept = _longest(found)
        tied = _street_ties(kept)
        for m in kept:
            place = m.payload
            words = " ".join(tokens[m.start : m.end + 1])
            if place.kind == "region":
                ent.region_mentioned = True
                region_at.append((m.start, m.end))
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
            if len(place.municipalities) == 1 and id(m) not in tied:
                # the strongest kind of place; among equals the longest name («Курский район»
                # over «Курском»), then the first named; a town travelled to the weakest
                kind = place.kind
                priority: float = _PRIORITY[place.kind]
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
            munis = tied.get(id(street_match), place.municipalities)
            if best is None and len(munis) > 1:
                shared = self._shared_streets_in
                if shared in munis:
                    # a street of the regional centre that other towns have too: most posts
                    # naming it alone are about the centre; as a street, a local page still wins
                    best = (
                        1,
                        0,
                        0,
                        shared,
                        f"street {place.name} (also in "
                        f"{', '.join(m for m in munis if m != shared)}): {shared}",
                        "street",
                    )
                else:
                    ent.municipality_evidence = f"street {place.name} (ambiguous: {', '.join(munis)})"
        else:
            free = free_street(tokens, self._lem)
            if free:
                ent.address.street, ent.address.house = f"ул. {free[0]}", free[1]
        if best is not None:
            ent.municipality = best[3]
            ent.municipality_evidence = best[4]
            ent.municipality_kind = best[5]
        elif not (ent.municipalities or ent.address.settlement or ent.address.street or ent.foreign_places):
            # no narrower place: «по всей области не чистят дороги» is the region's problem
            cue = region_wide_cue(tokens, region_at)
            if cue:
                ent.region_wide = True
                ent.municipality_evidence = f"весь регион: «{cue}»"
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


def _street_ties(matches: list[Match[Place]]) -> dict[int, tuple[str, ...]]:
    """Streets read on the same words whose towns differ («Мира»: «переулок Мира» in one town,
    «улица Мира» in two others; «Победы»: a prospect in one town, a boulevard in another): the
    word names a street of every one of those towns, as one street listed in all of them would
    (docs/place-matching.md, «Ties»). id of each such match → all their municipalities."""
    spans: dict[tuple[int, int], list[Match[Place]]] = {}
    for m in matches:
        if m.payload.kind == "street":
            spans.setdefault((m.start, m.end), []).append(m)
    out: dict[int, tuple[str, ...]] = {}
    for group in spans.values():
        munis = tuple(sorted({c for m in group for c in m.payload.municipalities}))
        if len(group) > 1 and any(m.payload.municipalities != munis for m in group):
            out.update((id(m), munis) for m in group)
    return out


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
