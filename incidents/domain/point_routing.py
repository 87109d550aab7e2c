"""What a complaint's point says about its body: the district and okrug it lies in, and which
bodies took the earlier complaints at the same building and around it.

A control centre's history knows which management company serves which building: in St
Petersburg every complaint of the portal carries the point the resident placed (the building,
the yard, the street), and a third of them have no address line, so the address gives the
district desk (`zha_*`, `adm_*`) of only 63 % of December. The point gives it always, and the
bodies that took the earlier complaints within a few tens of metres name the building's own
management company, which neither the words nor the district do.

`PointHistory` is learned with the text model (`incidents.domain.text_routing`) and pickled
inside it: the okrug polygons of the region's boundaries (111 in St Petersburg, matched to
their districts), and per grid cell at three sizes the bodies of the training period's
complaints. Its features are tokens («p_primorsky», «o_17», «h1_zha_primorsky»…) that the model
reads as a fourth field beside the text and the address; a complaint without a point gets
«p_none» alone, and a model learned without points never asks for them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from core.boundaries import BBox, Polygon, bbox_of, polygon_contains

DESK = "{municipality}"
"""In a class name: a district's desk learned as one class, filled with the complaint's district."""

CELLS_M: tuple[float, ...] = (15.0, 60.0, 250.0)
"""Grid cell sizes in metres: the building (the portal places a building's complaints on one
point), its block, the neighbourhood. On the St Petersburg validation slice they add little to
the district and okrug (0.755 exact against 0.751; 60 m alone 0.749, with 1000 m 0.754):
docs/quality-routing.md."""
MIN_SHARE = 0.25
"""A body is named for a cell when it took at least this share of the cell's earlier complaints."""
_M_PER_DEG = 111_320.0


@dataclass(frozen=True, slots=True)
class Okrug:
    """One feature of the boundaries file: its name, the district it was matched to, its polygons."""

    name: str
    district: str | None
    polygons: tuple[Polygon, ...]
    bbox: BBox
    part_boxes: tuple[BBox, ...]

    def contains(self, lat: float, lon: float) -> bool:
        box = self.bbox
        if not (box[0] <= lon <= box[2] and box[1] <= lat <= box[3]):
            return False
        return any(
            b[0] <= lon <= b[2] and b[1] <= lat <= b[3] and polygon_contains(p, lon, lat)
            for b, p in zip(self.part_boxes, self.polygons, strict=True)
        )


@dataclass(slots=True)
class PointHistory:
    """Okrug polygons and the bodies per grid cell of the training period's points."""

    okrugs: tuple[Okrug, ...] = ()
    cells_m: tuple[float, ...] = CELLS_M
    lat0: float = 60.0
    cells: list[dict[tuple[int, int], Counter[str]]] = field(default_factory=list)

    @staticmethod
    def make_okrugs(named: Iterable[tuple[str, str | None, Sequence[Polygon]]]) -> tuple[Okrug, ...]:
        """(feature name, its district code or None, its polygons) → the okrugs, boxes precomputed."""
        out = []
        for name, district, polys in named:
            polys = tuple(p for p in polys if p and len(p[0]) >= 3)
            if polys:
                boxes = tuple(bbox_of(p[:1]) for p in polys)
                out.append(Okrug(name, district, polys, bbox_of(p[0] for p in polys), boxes))
        return tuple(out)

    @classmethod
    def learn(
        cls,
        points: Iterable[tuple[float | None, float | None, str]],
        okrugs: Sequence[Okrug] = (),
        cells_m: Sequence[float] = CELLS_M,
    ) -> PointHistory:
        """The bodies of the earlier complaints per cell, from (lat, lon, body); no point, skipped."""
        placed = [(lat, lon, b) for lat, lon, b in points if lat is not None and lon is not None]
        lat0 = sum(p[0] for p in placed) / len(placed) if placed else 60.0
        hist = cls(tuple(okrugs), tuple(cells_m), lat0, [{} for _ in cells_m])
        for lat, lon, body in placed:
            for s, key in enumerate(hist.keys(lat, lon)):
                hist.cells[s].setdefault(key, Counter())[body] += 1
        return hist

    def keys(self, lat: float, lon: float) -> list[tuple[int, int]]:
        """The point's cell at each size (a planar grid: metres at the region's mean latitude)."""
        k = math.cos(math.radians(self.lat0))
        return [
            (math.floor(lat * _M_PER_DEG / m), math.floor(lon * _M_PER_DEG * k / m)) for m in self.cells_m
        ]

    def okrug_of(self, lat: float, lon: float) -> tuple[int, Okrug] | None:
        for i, o in enumerate(self.okrugs):
            if o.contains(lat, lon):
                return i, o
        return None

    def tokens(self, lat: float | None, lon: float | None, exclude: str | None = None) -> str:
        """The point's features as one string of tokens. `exclude`: the complaint's own body,
        taken out of its cells when the complaint is itself in the history (learning), so that
        the model learns what the neighbours say, not what the complaint says of itself."""
        if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
            return "p_none"
        out = []
        found = self.okrug_of(lat, lon)
        if found is not None:
            i, o = found
            out += [f"p_{o.district or 'none'}", f"o_{i}"]
        elif self.okrugs:
            out.append("p_outside")
        for s, key in enumerate(self.keys(lat, lon)):
            counts = self.cells[s].get(key)
            if counts and exclude is not None and counts[exclude] > 0:
                counts = counts.copy()
                counts[exclude] -= 1
                counts = +counts
            n = sum(counts.values()) if counts else 0
            if not counts or n == 0:
                out.append(f"h{s}_none")
                continue
            top, top_n = counts.most_common(1)[0]
            out += [f"h{s}_{b}" for b, c in counts.items() if c / n >= MIN_SHARE]
            if n >= 2 and top_n / n >= 0.5:
                out.append(f"h{s}m_{top}")
        return " ".join(out)

    @staticmethod
    def district_in(tokens: str) -> str | None:
        """The district named by a point's tokens (their first, «p_<code>»), without a second search."""
        first = tokens.split(" ", 1)[0]
        code = first[2:] if first.startswith("p_") else ""
        return code if code and code not in ("none", "outside") else None

    def district(self, lat: float | None, lon: float | None) -> str | None:
        """The district code the point lies in (None: no point, or outside every okrug)."""
        if lat is None or lon is None:
            return None
        found = self.okrug_of(lat, lon)
        return found[1].district if found else None


def desk_labels(bodies: Iterable[str], municipalities: Iterable[str], min_members: int = 3) -> dict[str, str]:
    """Body code → its district-desk class («zha_primorsky» → «zha_{municipality}») for the
    families of bodies that exist once per district (at least `min_members` districts).

    With a point the district is always known, so the model need only learn which kind of desk
    (the district's housing agency or its administration) a complaint goes to, from every
    district's complaints at once: on the St Petersburg validation slice 0.755 exact against
    0.730 with each district's desk as its own class. Without points it is worse (0.660 against
    0.696: a third of the complaints have no address line, hence no district to fill in)."""
    munis = sorted(set(municipalities), key=len, reverse=True)
    family: dict[str, list[str]] = {}
    for body in bodies:
        for m in munis:
            if body.endswith(m) and len(body) > len(m):
                family.setdefault(body[: -len(m)] + DESK, []).append(body)
                break
    return {b: desk for desk, members in family.items() if len(members) >= min_members for b in members}
