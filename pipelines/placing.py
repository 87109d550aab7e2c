"""The place the platform gives (a post's `address` and `lat`/`lon`), read before the text.

A feedback-platform message carries the address the resident chose on the form and often its
point; a resident's text names the place loosely, or not at all («во дворе дома не вывозят
мусор»). So the signal stage asks, in this order:

1. the **point**, where the region has municipal boundaries (`locate(lat, lon)`): a polygon is
   the one answer to "which municipality is this in", with no ambiguous names to resolve;
2. the **address line**, through the same gazetteer as the text (so «г. Курчатов, ул.
   Энергетиков» and «Курчатов» in a text resolve alike): its municipality, settlement, street
   and house;
3. the **text**, as before — which also fills whatever the first two left blank (a point
   outside every polygon, an address the gazetteer does not know).

Each step that decides says so in the signal's reasons. When the point and the address name
different municipalities the point wins and the reason records both, so the administrator can
see a pin dropped in the wrong place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from core.config import RegionConfig
from core.records import Address, Entities, PostRecord
from pipelines.entities import EntityExtractor
from pipelines.normalize import Normalizer

Locate = Callable[[float, float], str | None]
log = logging.getLogger(__name__)


def region_locator(cfg: RegionConfig) -> Locate | None:
    """`locate(lat, lon)` of the region's municipal boundaries (`region.yaml → map.boundaries`,
    core/boundaries.py), or None when it ships none. A file that cannot be read
    places no point (the text and the address still do) rather than stopping the processing;
    `incidents check-config` reports it."""
    try:
        geo = cfg.boundaries()
    except (OSError, ValueError) as exc:
        log.warning("region.yaml → map.boundaries cannot be read (%s): points are not placed", exc)
        return None
    return geo.locate if geo is not None else None


class GivenPlace:
    """Folds a post's given address and point into the entities found in its text."""

    def __init__(
        self, extractor: EntityExtractor, normalize: Normalizer, locate: Locate | None = None
    ) -> None:
        self.extractor, self.normalize, self.locate = extractor, normalize, locate

    def of_address(self, address: str) -> Entities:
        """The entities of an address line alone (no NER: it names places, not people)."""
        norm = self.normalize(address)
        return self.extractor(norm.lemmas, norm.tokens, "", deep=False)

    def point_municipality(self, post: PostRecord) -> str | None:
        if self.locate is None or post.lat is None or post.lon is None:
            return None
        return self.locate(post.lat, post.lon)

    def apply(self, post: PostRecord, ent: Entities) -> list[str]:
        """Put the given place first in `ent` (in place); returns the reasons to record."""
        reasons: list[str] = []
        from_address = self.of_address(post.address) if post.address else None
        if from_address is not None:
            _address_first(ent, from_address)
            if from_address.municipality:
                ent.municipality = from_address.municipality
                ent.municipality_kind = from_address.municipality_kind
                ent.municipality_evidence = f"«{post.address}» (адрес на платформе)"
                reasons.append(
                    f"place from the platform's address «{post.address}»: {from_address.municipality}"
                )
        in_polygon = self.point_municipality(post)
        if in_polygon:
            if ent.municipality and ent.municipality != in_polygon:
                said = "address" if from_address is not None and from_address.municipality else "text"
                reasons.append(
                    f"the point ({post.lat}, {post.lon}) lies in {in_polygon}, the {said} names "
                    f"{ent.municipality}: the point wins"
                )
            else:
                reasons.append(f"place from the point ({post.lat}, {post.lon}): {in_polygon}")
            ent.municipality = in_polygon
            ent.municipality_kind = "point"
            ent.municipality_evidence = f"точка {post.lat}, {post.lon} (в границах {in_polygon})"
        if ent.municipality and ent.municipality not in ent.municipalities:
            ent.municipalities.insert(0, ent.municipality)
        if ent.municipality or ent.address.street or ent.address.settlement:
            ent.region_wide = False  # «по всей области» with a place on the form: that place
        return reasons


def _address_first(ent: Entities, given: Entities) -> None:
    """The address line's settlement, street and house replace the text's (a text's «у нас на
    Ленина» is vaguer than the form's «ул. Ленина, д. 26»); its places join the text's."""
    a, g = ent.address, given.address
    if g.street:
        ent.address = Address(street=g.street, house=g.house, settlement=g.settlement or a.settlement)
    elif g.settlement:
        ent.address = Address(street=a.street, house=a.house, settlement=g.settlement)
    ent.region_mentioned = ent.region_mentioned or given.region_mentioned
    for name in given.locations:
        if name not in ent.locations:
            ent.locations.append(name)
    for name in given.foreign_places:  # an address in another region puts the post outside this one
        if name not in ent.foreign_places:
            ent.foreign_places.append(name)
    ent.municipalities[:0] = [m for m in given.municipalities if m not in ent.municipalities]
