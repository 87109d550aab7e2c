"""The offline map: inline SVG drawn on the server from the region's own configuration.

No tiles, no map service: a choropleth from the region's municipal boundaries when the region
folder ships them (`boundaries.geojson`, each feature's `properties.code` a municipality code of
`territories.yaml`), otherwise a circle per municipality at its `centroid`. Coordinates are
projected equirectangularly with the longitude scaled by the cosine of the region's latitude,
which is faithful enough at the size of one region. Everything is returned as data for the
template (paths, circles, labels), so the template escapes every name it prints.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from incidents.core.config import RegionConfig

BOUNDARIES_FILE = "boundaries.geojson"
WIDTH, HEIGHT, PAD = 760, 520, 28
# calm sequential scale (light → dark), then the colour for "no incidents"
SCALE = ["#fde8d7", "#fbc9a4", "#f5a06c", "#e7743f", "#c9511f", "#9a3412"]
EMPTY = "#eef2f5"


@dataclass(slots=True)
class Shape:
    code: str | None
    name: str
    path: str
    fill: str
    count: int
    change: int


@dataclass(slots=True)
class Marker:
    code: str | None
    name: str
    x: float
    y: float
    r: float
    fill: str
    count: int
    change: int
    label: bool


@dataclass(slots=True)
class SvgMap:
    width: int
    height: int
    shapes: list[Shape]
    markers: list[Marker]
    mode: str  # choropleth | markers


class Projection:
    def __init__(
        self, points: Iterable[tuple[float, float]], width: int = WIDTH, height: int = HEIGHT, pad: int = PAD
    ) -> None:
        pts = list(points)
        if not pts:
            pts = [(0.0, 0.0)]
        lats, lons = [p[0] for p in pts], [p[1] for p in pts]
        self.k = math.cos(math.radians((min(lats) + max(lats)) / 2))
        self.min_x, self.max_x = min(lons) * self.k, max(lons) * self.k
        self.min_y, self.max_y = min(lats), max(lats)
        span_x = max(self.max_x - self.min_x, 1e-6)
        span_y = max(self.max_y - self.min_y, 1e-6)
        self.scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
        self.off_x = (width - span_x * self.scale) / 2
        self.off_y = (height - span_y * self.scale) / 2

    def __call__(self, lat: float, lon: float) -> tuple[float, float]:
        x = self.off_x + (lon * self.k - self.min_x) * self.scale
        y = self.off_y + (self.max_y - lat) * self.scale
        return round(x, 1), round(y, 1)


def colour(count: int, top: int) -> str:
    if count <= 0 or top <= 0:
        return EMPTY
    step = min(len(SCALE) - 1, int((len(SCALE) - 1) * math.sqrt(count / top) + 0.5))
    return SCALE[step]


def load_boundaries(cfg: RegionConfig) -> dict[str, Any] | None:
    path: Path = cfg.root / BOUNDARIES_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ValueError(f"{path}: a GeoJSON FeatureCollection is expected")
    known = cfg.municipality_by_code
    for i, f in enumerate(data.get("features") or []):
        code = (f.get("properties") or {}).get("code")
        if code not in known:
            raise ValueError(
                f"{path}: feature {i}: properties.code {code!r} is not a municipality of territories.yaml"
            )
        if (f.get("geometry") or {}).get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"{path}: feature {i} ({code}): a Polygon or MultiPolygon is expected")
    return data


def _rings(geometry: dict[str, Any]) -> list[Sequence[Sequence[float]]]:
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    if kind == "Polygon":
        return list(coords)
    if kind == "MultiPolygon":
        return [ring for poly in coords for ring in poly]
    return []


def render(
    cfg: RegionConfig, counts: dict[str | None, tuple[int, int]], names: dict[str | None, str]
) -> SvgMap:
    """`counts`: municipality code → (this period, previous period)."""
    top = max((c for c, _ in counts.values()), default=0)
    geo = load_boundaries(cfg)
    if geo is not None:
        features = [f for f in geo.get("features", []) if f.get("geometry")]
        points = [(pt[1], pt[0]) for f in features for ring in _rings(f["geometry"]) for pt in ring]
        proj = Projection(points)
        shapes: list[Shape] = []
        for f in features:
            code = (f.get("properties") or {}).get("code")
            cur, prev = counts.get(code, (0, 0))
            d = " ".join(
                "M" + " L".join("{},{}".format(*proj(pt[1], pt[0])) for pt in ring) + " Z"
                for ring in _rings(f["geometry"])
                if ring
            )
            shapes.append(Shape(code, names.get(code) or str(code), d, colour(cur, top), cur, cur - prev))
        return SvgMap(WIDTH, HEIGHT, shapes, [], "choropleth")
    placed = [(m, c) for m in cfg.territories.municipalities if (c := m.centroid)]
    proj = Projection([c for _, c in placed])
    markers: list[Marker] = []
    for m, centroid in placed:
        cur, prev = counts.get(m.code, (0, 0))
        x, y = proj(*centroid)
        r = 5 + 20 * math.sqrt(cur / top) if top and cur else 4
        markers.append(
            Marker(
                m.code,
                m.name,
                x,
                y,
                round(r, 1),
                colour(cur, top),
                cur,
                cur - prev,
                label=cur > 0 and cur >= top / 4,
            )
        )
    markers.sort(key=lambda mk: -mk.r)  # small circles on top of big ones
    return SvgMap(WIDTH, HEIGHT, [], markers, "markers")


def pin(cfg: RegionConfig, municipality: str | None) -> tuple[SvgMap, tuple[float, float] | None]:
    """The region's municipalities as dots, and where the incident's one is (its centroid)."""
    placed = [(m, c) for m in cfg.territories.municipalities if (c := m.centroid)]
    proj = Projection([c for _, c in placed], 320, 220, 16)
    dots = [Marker(m.code, m.name, *proj(*c), 3, EMPTY, 0, 0, False) for m, c in placed]
    target = cfg.municipality_by_code.get(municipality or "")
    where = proj(*target.centroid) if target and target.centroid else None
    return SvgMap(320, 220, [], dots, "markers"), where
