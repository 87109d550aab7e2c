"""Municipal boundaries of a region: which municipality a point lies in (`Boundaries.locate`).

A region folder may ship its municipalities' polygons as GeoJSON (`region.yaml → map.boundaries`,
e.g. OpenStreetMap's admin boundaries). The features carry OSM names, not our codes, so each is
matched to a municipality of `territories.yaml` (`match_features`): an explicit mapping first,
then a `code` property, then the municipality's own name or aliases, then the names of its
subdivisions and settlements (St Petersburg's 111 municipal okrugs each belong to one of the 18
districts the config calls municipalities). A feature that matches nothing or more than one
municipality is left out and reported, never guessed.

Point-in-polygon is the even-odd ray test over every ring of a polygon, so holes (a district
around the city okrug it encloses) need no special case; a multipolygon contains a point when
any of its parts does. A bounding box per municipality and per part rejects most candidates
before the ring test. Pure Python on purpose: the region's few tens of thousands of vertices
answer a point in well under a millisecond, and shapely with its GEOS wheel is not a
dependency. `simplify` (Douglas–Peucker) is here so the console can draw light SVG from the
same geometry.

Core layer: imports nothing of the project (the region config is passed in as plain data).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock
from typing import Any

Point = tuple[float, float]
"""(lon, lat), the GeoJSON order."""
Ring = tuple[Point, ...]
Polygon = tuple[Ring, ...]
"""The outer ring first, then its holes."""
BBox = tuple[float, float, float, float]
"""(min_lon, min_lat, max_lon, max_lat)."""


@dataclass(frozen=True, slots=True)
class Feature:
    """One GeoJSON feature as read: its OSM name, properties and polygons."""

    name: str
    properties: Mapping[str, Any]
    polygons: tuple[Polygon, ...]


@dataclass(frozen=True, slots=True)
class Area:
    """All the polygons of one municipality (one or several features), with their boxes."""

    code: str
    polygons: tuple[Polygon, ...]
    features: tuple[str, ...]
    bbox: BBox
    part_boxes: tuple[BBox, ...]

    def contains(self, lat: float, lon: float) -> bool:
        if not _in_box(self.bbox, lon, lat):
            return False
        return any(
            _in_box(box, lon, lat) and polygon_contains(poly, lon, lat)
            for box, poly in zip(self.part_boxes, self.polygons, strict=True)
        )


@dataclass(frozen=True, slots=True)
class Municipal:
    """What matching needs to know of a municipality (from territories.yaml)."""

    code: str
    names: tuple[str, ...]
    """Its name and aliases."""
    parts: tuple[str, ...] = ()
    """Names and aliases of its subdivisions and settlements."""


@dataclass(slots=True)
class Matching:
    """Feature index → municipality code, and what could not be matched (for check-config)."""

    codes: dict[int, str] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    """Names of features that match no municipality (or several)."""
    missing: list[str] = field(default_factory=list)
    """Codes of municipalities with no feature."""


# --------------------------------------------------------------------------- geometry
def _in_box(box: BBox, lon: float, lat: float) -> bool:
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


def ring_contains(ring: Sequence[Point], lon: float, lat: float) -> bool:
    """Even-odd ray test: does a horizontal ray from the point cross the ring an odd number of times."""
    inside = False
    n = len(ring)
    if n < 3:
        return False
    x0, y0 = ring[-1]
    for x1, y1 in ring:
        if (y1 > lat) != (y0 > lat) and lon < (x0 - x1) * (lat - y1) / (y0 - y1) + x1:
            inside = not inside
        x0, y0 = x1, y1
    return inside


def polygon_contains(polygon: Polygon, lon: float, lat: float) -> bool:
    """Inside the outer ring and outside every hole (even-odd over all rings gives exactly that)."""
    inside = False
    for ring in polygon:
        if ring_contains(ring, lon, lat):
            inside = not inside
    return inside


def bbox_of(rings: Iterable[Sequence[Point]]) -> BBox:
    lons: list[float] = []
    lats: list[float] = []
    for ring in rings:
        for x, y in ring:
            lons.append(x)
            lats.append(y)
    if not lons:
        return (0.0, 0.0, 0.0, 0.0)
    return (min(lons), min(lats), max(lons), max(lats))


def simplify(points: Sequence[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Douglas–Peucker: drop the points closer than `tolerance` to the line the kept ones draw.

    Iterative (a deep ring would overflow recursion); the first and last points are kept, so a
    closed ring stays closed."""
    n = len(points)
    if n < 3 or tolerance <= 0:
        return list(points)
    keep = [False] * n
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    tol2 = tolerance * tolerance
    while stack:
        a, b = stack.pop()
        ax, ay = points[a]
        bx, by = points[b]
        dx, dy = bx - ax, by - ay
        norm = dx * dx + dy * dy
        worst, at = -1.0, -1
        for i in range(a + 1, b):
            px, py = points[i]
            if norm == 0:
                d2 = (px - ax) ** 2 + (py - ay) ** 2
            else:
                t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / norm))
                d2 = (px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2
            if d2 > worst:
                worst, at = d2, i
        if at > 0 and worst > tol2:
            keep[at] = True
            stack.append((a, at))
            stack.append((at, b))
    return [p for p, k in zip(points, keep, strict=True) if k]


def centroid(polygon: Polygon) -> Point:
    """Area centroid of the outer ring (shoelace); the mean vertex for a degenerate ring."""
    ring = polygon[0]
    a = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(a) < 1e-15:
        return (sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring))
    return (cx / (3 * a), cy / (3 * a))


def ring_area(ring: Sequence[Point]) -> float:
    """Unsigned planar area in square degrees (to pick the largest part of a multipolygon)."""
    s = 0.0
    for (x0, y0), (x1, y1) in zip(ring, list(ring[1:]) + list(ring[:1]), strict=True):
        s += x0 * y1 - x1 * y0
    return abs(s) / 2


# --------------------------------------------------------------------------- GeoJSON
def _ring(coords: Any) -> Ring:
    return tuple((float(p[0]), float(p[1])) for p in coords)


def read_features(data: Any, source: str = "GeoJSON") -> list[Feature]:
    """Polygon and MultiPolygon features of a FeatureCollection; anything else is an error."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ValueError(f"{source}: a GeoJSON FeatureCollection is expected")
    out: list[Feature] = []
    for i, f in enumerate(data.get("features") or []):
        props = (f or {}).get("properties") or {}
        geom = (f or {}).get("geometry") or {}
        kind, coords = geom.get("type"), geom.get("coordinates") or []
        if kind == "Polygon":
            polys: tuple[Polygon, ...] = (tuple(_ring(r) for r in coords),)
        elif kind == "MultiPolygon":
            polys = tuple(tuple(_ring(r) for r in poly) for poly in coords)
        else:
            raise ValueError(f"{source}: feature {i}: a Polygon or MultiPolygon is expected, not {kind!r}")
        polys = tuple(p for p in polys if p and len(p[0]) >= 3)
        name = str(props.get("name") or props.get("code") or f"#{i}")
        out.append(Feature(name, props, polys))
    return out


def read_file(path: Path) -> list[Feature]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from exc
    return read_features(data, str(path))


# --------------------------------------------------------------------------- matching
_PREFIX = re.compile(
    r"^(?:муниципальн\w+ (?:округ|образование|район)|внутригородск\w+ муниципальн\w+ образование"
    r"|городской округ|мо|округ|город|г\.|поселок|пос\.|п\.|село|с\.)\s+"
)


def name_key(name: str) -> str:
    """A name compared without case, ё, quotes, «N»/«№» spelling, spaces around a hyphen and the unit word in front
    («муниципальный округ Коломна», «МО Коломна» and «Коломна» are one key)."""
    s = name.lower().replace("ё", "е").replace("«", "").replace("»", "").replace('"', "")
    s = re.sub(r"\bn\s*(?=\d)", "№", s)
    s = re.sub(r"№\s+", "№", s)
    s = re.sub(r"\s*[-‐–—]\s*", "-", s)  # «Лахта - Ольгино» is «Лахта-Ольгино»
    s = " ".join(s.split())
    for _ in range(3):  # «муниципальный округ округ Морской»
        stripped = _PREFIX.sub("", s)
        if stripped == s:
            break
        s = stripped
    return s


def match_features(
    features: Sequence[Feature],
    municipalities: Sequence[Municipal],
    explicit: Mapping[str, str] | None = None,
) -> Matching:
    """Give each feature a municipality code, most certain evidence first.

    1. `explicit` (feature name → code, from region.yaml), 2. a `code` property naming a known
    municipality, 3. the feature's name is a municipality's name or alias, 4. it is the name of a
    subdivision or settlement of exactly one municipality. A name that fits several
    municipalities at the same step is not matched (reported in `unmatched`)."""
    explicit = explicit or {}
    known = {m.code for m in municipalities}
    own: dict[str, set[str]] = {}
    part: dict[str, set[str]] = {}
    for m in municipalities:
        for n in m.names:
            own.setdefault(name_key(n), set()).add(m.code)
        for n in m.parts:
            part.setdefault(name_key(n), set()).add(m.code)
    result = Matching()
    for i, f in enumerate(features):
        code = explicit.get(f.name)
        if code is None:
            prop = f.properties.get("code")
            if isinstance(prop, str) and prop in known:
                code = prop
        if code is None:
            key = name_key(f.name)
            for index in (own, part):
                hits = index.get(key) or set()
                if len(hits) == 1:
                    code = next(iter(hits))
                    break
                if hits:  # ambiguous at this step: do not fall through to weaker evidence
                    break
        if code is None or code not in known:
            result.unmatched.append(f.name)
        else:
            result.codes[i] = code
    covered = set(result.codes.values())
    result.missing = [m.code for m in municipalities if m.code not in covered]
    return result


# --------------------------------------------------------------------------- the region's map
class Boundaries:
    """The region's municipalities as polygons: `locate(lat, lon)` → municipality code or None."""

    def __init__(self, features: Sequence[Feature], matching: Matching) -> None:
        grouped: dict[str, list[int]] = {}
        for i, code in matching.codes.items():
            grouped.setdefault(code, []).append(i)
        self.areas: dict[str, Area] = {}
        for code, idx in grouped.items():
            polys = tuple(p for i in idx for p in features[i].polygons)
            boxes = tuple(bbox_of(p[:1]) for p in polys)
            self.areas[code] = Area(
                code,
                polys,
                tuple(features[i].name for i in idx),
                bbox_of(p[0] for p in polys),
                boxes,
            )
        self._labels: dict[str, tuple[float, float]] = {}
        self.unmatched = list(matching.unmatched)
        self.missing = list(matching.missing)
        all_boxes = [a.bbox for a in self.areas.values()]
        self.bbox: BBox = (
            (
                min(b[0] for b in all_boxes),
                min(b[1] for b in all_boxes),
                max(b[2] for b in all_boxes),
                max(b[3] for b in all_boxes),
            )
            if all_boxes
            else (0.0, 0.0, 0.0, 0.0)
        )

    def locate(self, lat: float, lon: float) -> str | None:
        """The code of the municipality whose polygon holds the point, None outside all of them.

        Boundaries of neighbours coincide, so a point exactly on a shared border may fall on
        either side; such a point is a coin toss anyway."""
        if not _in_box(self.bbox, lon, lat):
            return None
        for code, area in self.areas.items():
            if area.contains(lat, lon):
                return code
        return None

    def label_point(self, code: str) -> tuple[float, float] | None:
        """(lat, lon) to write the municipality's name at: in its largest part, as far from the
        part's edges as a 12×12 grid (and the centroid) can find. A district around a city has
        its centroid in the city: the centroid alone would label the wrong municipality."""
        if code in self._labels:
            return self._labels[code]
        area = self.areas.get(code)
        if area is None:
            return None
        largest = max(area.polygons, key=lambda p: ring_area(p[0]))
        box = bbox_of(largest[:1])
        w, h = box[2] - box[0], box[3] - box[1]
        rough = [simplify(ring, max(w, h) / 60) for ring in largest]
        candidates = [centroid(largest)] + [
            (box[0] + w * (i + 0.5) / 12, box[1] + h * (j + 0.5) / 12) for i in range(12) for j in range(12)
        ]
        rough_poly = tuple(tuple(r) for r in rough)
        scored = sorted(
            (
                (_edge_distance(rough, x, y), x, y)
                for x, y in candidates
                if polygon_contains(rough_poly, x, y)
            ),
            reverse=True,
        )
        # the rough outline decides fast; the exact one confirms (a grid point may sit in a notch)
        best = next(((y, x) for _, x, y in scored if polygon_contains(largest, x, y)), None)
        if best is None:
            best = ((box[1] + box[3]) / 2, (box[0] + box[2]) / 2)
        self._labels[code] = best
        return best


def _edge_distance(rings: Sequence[Sequence[Point]], x: float, y: float) -> float:
    """Distance (in degrees, planar) from a point to the nearest edge of the rings."""
    best = float("inf")
    for ring in rings:
        for (ax, ay), (bx, by) in zip(ring, ring[1:], strict=False):
            dx, dy = bx - ax, by - ay
            norm = dx * dx + dy * dy
            t = 0.0 if norm == 0 else max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / norm))
            d = (x - ax - t * dx) ** 2 + (y - ay - t * dy) ** 2
            if d < best:
                best = d
    return math.sqrt(best)


def load(
    path: Path, municipalities: Sequence[Municipal], explicit: Mapping[str, str] | None = None
) -> Boundaries:
    """Read and match a boundaries file (no caching: see `load_cached`)."""
    features = read_file(path)
    return Boundaries(features, match_features(features, municipalities, explicit))


_CACHE: dict[tuple[str, float, int, tuple[Municipal, ...], tuple[tuple[str, str], ...]], Boundaries] = {}
_LOCK = Lock()


def load_cached(
    path: Path, municipalities: Sequence[Municipal], explicit: Mapping[str, str] | None = None
) -> Boundaries:
    """`load`, once per process while the file (and the municipalities) are unchanged: the
    console and the address resolver ask for every page and every post."""
    st = path.stat()
    key = (
        str(path.resolve()),
        st.st_mtime,
        st.st_size,
        tuple(municipalities),
        tuple(sorted((explicit or {}).items())),
    )
    with _LOCK:
        got = _CACHE.get(key)
    if got is None:
        got = load(path, municipalities, explicit)
        with _LOCK:
            if len(_CACHE) > 8:
                _CACHE.clear()
            _CACHE[key] = got
    return got
