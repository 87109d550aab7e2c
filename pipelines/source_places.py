"""The municipality a post's source implies: a town's page, chat or community is about its town.

`sources.yaml → municipality` says it for the sources a region configured. A post may also come
from a page nobody configured — an import of another system's export, a VK search result, a
Telegram chat forwarded in — and such pages are named after their town more often than not
(«podslushano_kursk», «tg_livny_chat», «ok_oboyan_rayon», «vk_zhel_live»). `SourcePlaces` reads
the town from the id of an unconfigured source: the id's words in Latin letters against every
municipality's code, name and settlements (spelling folded by `core.latin.skeleton`). A word
names a place when it is the place's whole name, or, from 4 letters, the start of exactly one
municipality's names («zhel» → Железногорск). A district word («rayon», «raion») prefers the
district over its town. Anything uncertain — no word naming a place, or two municipalities — is
no place at all. A configured source is never guessed at: without `municipality` it covers the
region."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING

from core.latin import GENERIC_NAME_WORDS, skeleton

if TYPE_CHECKING:
    from core.config import RegionConfig

# Words of a page's id that say it is the district's page, not its town's.
_DISTRICT_WORDS = frozenset(skeleton(w) for w in ["rayon", "raion", "rajon", "rn", "district", "okrug", "mo"])
# Words that make it the region's page (the centre's name in it is the region's): no place.
_REGION_WORDS = frozenset(
    skeleton(w) for w in ["oblast", "obl", "region", "krai", "kray", "respublika", "gov"]
)
MIN_PREFIX = 4  # letters from which the start of a name may name it («zhel», not «kur»)
MIN_WORD = 3  # shorter words of an id are never a place («tg», «ok», «57»)


class SourcePlaces:
    """`get(source_id)`: the municipality of the source, configured or read from its id."""

    def __init__(self, cfg: RegionConfig) -> None:
        self.configured = {s.id: s.municipality for s in cfg.sources.sources if s.municipality}
        self._known = {s.id for s in cfg.sources.sources}
        self._kind = {m.code: m.kind for m in cfg.territories.municipalities}
        self._names: dict[str, set[str]] = defaultdict(set)  # skeleton of a name, its words joined → codes
        for m in cfg.territories.municipalities:
            names = [m.code, m.name, *m.aliases]
            for place in [*m.settlements, *m.subdivisions]:
                names += [place.name, *place.aliases]
            for name in names:
                core = GENERIC_NAME_WORDS.sub(" ", name.replace("_", " ")).split()
                if core and len(key := skeleton("".join(core))) >= MIN_WORD:
                    self._names[key].add(m.code)  # «Красная Заря» → «krasnazara»
        self._cache: dict[str, str | None] = {}

    def get(self, source_id: str, network: str | None = None) -> str | None:
        """`network` «pos»: the feedback platform serves the whole region, whatever its id says."""
        if source_id in self.configured:
            return self.configured[source_id]
        if source_id in self._known or network == "pos":
            return None  # configured without a municipality, or the platform: the whole region
        if source_id not in self._cache:
            self._cache[source_id] = self._read(source_id)
        return self._cache[source_id]

    def inferred(self, source_id: str, network: str | None = None) -> bool:
        """Whether the place was read from the id rather than configured."""
        return source_id not in self._known and self.get(source_id, network) is not None

    def _read(self, source_id: str) -> str | None:
        words = [skeleton(w) for w in re.split(r"[^0-9a-zA-Zа-яА-ЯёЁ]+", re.sub(r"\d+", " ", source_id))]
        if any(w in _REGION_WORDS for w in words):
            return None
        district = any(w in _DISTRICT_WORDS for w in words)
        words = [w for w in words if len(w) >= MIN_WORD and w not in _DISTRICT_WORDS]
        words += [a + b for a, b in zip(words, words[1:], strict=False)]  # «krasnaya_zarya»
        found: set[str] = set()
        for w in words:
            codes = self._names.get(w)
            if codes is None and len(w) >= MIN_PREFIX:
                starts = {c for k, cs in self._names.items() if k.startswith(w) for c in cs}
                codes = starts or None
            if codes:
                found |= codes
        if len(found) > 1:  # a town and its district, or two places: the page's kind decides
            towns = {c for c in found if self._kind[c] == "city_okrug"}
            found = (found - towns) if district else (towns or found)
        return next(iter(found)) if len(found) == 1 else None
