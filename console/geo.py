"""The offline map: inline SVG drawn on the server from the region's own configuration.

No tile server is needed: a choropleth of the municipalities' polygons when the region ships its
boundaries (`region.yaml → map.boundaries`, read and matched by `core.boundaries`),
otherwise a circle per municipality at its `centroid`. Coordinates are projected in Web Mercator,
so that a deployment with a tile server (`map.tile_url`) can lay the XYZ tiles exactly under the
polygons. The outlines are simplified once per process (Douglas–Peucker to half a pixel of the
drawing, cached beside the boundaries): the 30,000 vertices of Kursk region become a few
thousand, the page stays light. Everything is returned as data for the template (paths, labels,
points, legend), so the template escapes every name it prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from threading import Lock

from core.boundaries import Boundaries, simplify
from core.config import RegionConfig

WIDTH, HEIGHT, PAD = 760, 560, 16
CARD_W, CARD_H, CARD_PAD = 320, 220, 14
# calm sequential scale (light → dark), then the colour for "no incidents" and for "no data"
SCALE = ["#fde8d7", "#fbc9a4", "#f5a06c", "#e7743f", "#c9511f", "#9a3412"]
EMPTY = "#eef2f5"
NODATA = "#e2e8f0"
TOLERANCE_PX = 0.5
MAX_TILES = 30


@dataclass(slots=True)
class Shape:
    code: str | None
    name: str
    path: str
    fill: str
    count: int
    change: int
    title: str = ""
    href: str = ""


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
class Label:
    x: float
    y: float
    text: str
    sub: str


@dataclass(slots=True)
class Dot:
    x: float
    y: float
    title: str
    href: str


@dataclass(slots=True)
class Tile:
    x: float
    y: float
    size: float
    href: str


@dataclass(slots=True)
class SvgMap:
    width: int
    height: int
    shapes: list[Shape]
    markers: list[Marker]
    mode: str  # choropleth | markers
    labels: list[Label] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    attribution: str = ""
    tiles: list[Tile] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    """Paths drawn faintly behind (the neighbours on the card's map)."""
    borders: str = ""
    """One stroke-only path of the borders between municipalities, over the fills."""


def _merc(lat: float, lon: float) -> tuple[float, float]:
    lat = max(-85.0, min(85.0, lat))
    return math.radians(lon), math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


class Projection:
    """Web Mercator fitted into a width × height box with a margin (x right, y down)."""

    def __init__(
        self, points: Iterable[tuple[float, float]], width: int = WIDTH, height: int = HEIGHT, pad: int = PAD
    ) -> None:
        pts = [_merc(lat, lon) for lat, lon in points] or [(0.0, 0.0)]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        self.min_x, self.max_y = min(xs), max(ys)
        span_x = max(max(xs) - self.min_x, 1e-7)
        span_y = max(self.max_y - min(ys), 1e-7)
        self.scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
        self.off_x = (width - span_x * self.scale) / 2
        self.off_y = (height - span_y * self.scale) / 2
        self.width, self.height = width, height

    def raw(self, lat: float, lon: float) -> tuple[float, float]:
        x, y = _merc(lat, lon)
        return self.off_x + (x - self.min_x) * self.scale, self.off_y + (self.max_y - y) * self.scale

    def __call__(self, lat: float, lon: float) -> tuple[float, float]:
        x, y = self.raw(lat, lon)
        return round(x, 1), round(y, 1)

    def inside(self, x: float, y: float) -> bool:
        return 0 <= x <= self.width and 0 <= y <= self.height


def _step(value: float, top: float) -> int:
    return min(len(SCALE) - 1, int((len(SCALE) - 1) * math.sqrt(value / top) + 0.5))


def colour(count: float, top: float) -> str:
    if count <= 0 or top <= 0:
        return EMPTY
    return SCALE[_step(count, top)]


def legend(top: float, integer: bool) -> list[tuple[str, str]]:
    """(fill, «от–до») for each colour `colour` gives, so the reader can tell a number from a shade."""
    items: list[tuple[str, str]] = [(EMPTY, "0")]
    if top <= 0:
        return items
    if integer:  # exact: the counts 1..top grouped by the colour they get
        ranges: dict[int, list[int]] = {}
        for n in range(1, int(top) + 1):
            ranges.setdefault(_step(n, top), []).append(n)
        for step, ns in sorted(ranges.items()):
            items.append((SCALE[step], str(ns[0]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"))
        return items
    n = len(SCALE) - 1
    for step, fill in enumerate(SCALE):
        lo = top * max(0.0, (step - 0.5) / n) ** 2
        hi = top * min(1.0, (step + 0.5) / n) ** 2
        items.append((fill, f"{_num(lo)}–{_num(hi)}"))
    return items


def _num(x: float) -> str:
    return f"{x:.1f}".replace(".", ",")


def plural(n: int, one: str, few: str, many: str) -> str:
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def short_name(name: str) -> str:
    """«город Курск» → «Курск», «Курский район» → «Курский р-н»: labels that fit."""
    return name.replace("город ", "").replace(" район", " р-н").replace("муниципальный округ ", "")


# --------------------------------------------------------------------------- outlines
_OUTLINES: dict[tuple[int, int, int, int], tuple[Boundaries, Projection, dict[str, str], str]] = {}
_LOCK = Lock()


def _path(proj: Projection, rings: Iterable[Sequence[tuple[float, float]]], tolerance: float) -> str:
    parts: list[str] = []
    for ring in rings:
        pts = simplify([proj.raw(lat, lon) for lon, lat in ring], tolerance)
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        if len(pts) < 4 or (max(xs) - min(xs) < 1.0 and max(ys) - min(ys) < 1.0):
            continue  # a sliver or an islet smaller than a pixel
        parts.append("M" + "L".join(f"{_c(x)},{_c(y)}" for x, y in pts[:-1]) + "Z")
    return "".join(parts)


def _c(v: float) -> str:
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _borders(proj: Projection, geo: Boundaries, tolerance: float) -> str:
    """The lines between municipalities and around the region, each drawn once: a segment two rings
    of one municipality share (St Petersburg's okrugs inside a district) is no border, a segment
    two municipalities share is drawn by the first. Neighbours' borders coincide in the shipped
    files (snapped to one grid), so the segments compare exactly."""
    seen: set[tuple[tuple[float, float], tuple[float, float]]] = set()
    parts: list[str] = []
    for area in geo.areas.values():
        rings = [ring for poly in area.polygons for ring in poly]
        own: dict[tuple[tuple[float, float], tuple[float, float]], int] = {}
        for ring in rings:
            for a, b in zip(ring, ring[1:], strict=False):
                seg = (a, b) if a <= b else (b, a)
                own[seg] = own.get(seg, 0) + 1
        runs: list[list[tuple[float, float]]] = []
        for ring in rings:
            run: list[tuple[float, float]] | None = None
            for a, b in zip(ring, ring[1:], strict=False):
                seg = (a, b) if a <= b else (b, a)
                if own[seg] > 1 or seg in seen:
                    run = None  # inside the municipality, or drawn already: the line breaks here
                    continue
                seen.add(seg)
                if run is None:
                    run = [a, b]
                    runs.append(run)
                else:
                    run.append(b)
        for run in runs:
            pts = simplify([proj.raw(lat, lon) for lon, lat in run], tolerance)
            parts.append("M" + "L".join(f"{_c(x)},{_c(y)}" for x, y in pts))
    return "".join(parts)


def outlines(
    geo: Boundaries, width: int = WIDTH, height: int = HEIGHT, pad: int = PAD
) -> tuple[Projection, dict[str, str]]:
    """The projection of the whole region and one SVG path per municipality (all its features'
    rings, holes included: the template fills with `evenodd`). Built once per process."""
    got = _drawing(geo, width, height, pad)
    return got[1], got[2]


def borders(geo: Boundaries, width: int = WIDTH, height: int = HEIGHT, pad: int = PAD) -> str:
    """One path of every border (`_borders`), built with the outlines."""
    return _drawing(geo, width, height, pad)[3]


def _drawing(
    geo: Boundaries, width: int, height: int, pad: int
) -> tuple[Boundaries, Projection, dict[str, str], str]:
    key = (id(geo), width, height, pad)
    with _LOCK:
        got = _OUTLINES.get(key)
    if got is not None and got[0] is geo:
        return got
    b = geo.bbox
    proj = Projection([(b[1], b[0]), (b[3], b[2])], width, height, pad)
    paths = {
        code: _path(proj, (ring for poly in area.polygons for ring in poly), TOLERANCE_PX)
        for code, area in geo.areas.items()
    }
    got = (geo, proj, paths, _borders(proj, geo, TOLERANCE_PX))
    with _LOCK:
        if len(_OUTLINES) > 16:
            _OUTLINES.clear()
        _OUTLINES[key] = got
    return got


def tiles(url: str | None, proj: Projection) -> list[Tile]:
    """The XYZ tiles under the drawing at the zoom whose tiles are closest to 256 units wide."""
    if not url:
        return []
    z = max(0, min(18, round(math.log2(proj.scale * 2 * math.pi / 256))))
    n = 2**z
    size = proj.scale * 2 * math.pi / n

    def tile_x(px: float) -> float:
        return ((px - proj.off_x) / proj.scale + proj.min_x + math.pi) / (2 * math.pi) * n

    def tile_y(py: float) -> float:
        return (math.pi - (proj.max_y - (py - proj.off_y) / proj.scale)) / (2 * math.pi) * n

    x0, x1 = math.floor(tile_x(0)), math.floor(tile_x(proj.width))
    y0, y1 = math.floor(tile_y(0)), math.floor(tile_y(proj.height))
    if (x1 - x0 + 1) * (y1 - y0 + 1) > MAX_TILES:
        return []
    out = []
    for tx in range(x0, x1 + 1):
        for ty in range(y0, y1 + 1):
            px = proj.off_x + (tx / n * 2 * math.pi - math.pi - proj.min_x) * proj.scale
            py = proj.off_y + (proj.max_y - (math.pi - ty / n * 2 * math.pi)) * proj.scale
            href = url.replace("{z}", str(z)).replace("{x}", str(tx % n)).replace("{y}", str(ty))
            out.append(Tile(round(px, 1), round(py, 1), round(size, 1), href))
    return out


def boundaries_of(cfg: RegionConfig) -> Boundaries | None:
    """The region's boundaries, or None when it ships none or they do not read (check-config says
    why): the map then falls back to circles rather than failing the page."""
    try:
        return cfg.boundaries()
    except (OSError, ValueError):
        return None


def prepare(cfg: RegionConfig) -> None:
    """Read the boundaries, simplify the outlines and find the label points before the first page
    asks (about a second for Kursk region, once per process); a file that does not read raises,
    so that `incidents serve` refuses to start on a broken map rather than show circles."""
    geo = cfg.boundaries()
    if geo is not None:
        outlines(geo)
        for code in geo.areas:
            geo.label_point(code)


# --------------------------------------------------------------------------- the heat map
@dataclass(slots=True)
class _Candidate:
    rank: tuple[float, float]
    x: float
    y: float
    text: str
    sub: str
    top: float | None
    """The shape's top edge when the label does not fit inside it (a small city okrug): the label
    then goes on one line just above the shape."""


def _place_labels(cands: list[_Candidate], width: int, height: int) -> list[Label]:
    """Labels by priority (most incidents first, then the larger shape), each where its
    municipality's label point is, skipped when it would cover one already placed or leave the
    drawing: fewer labels, every one readable."""
    placed: list[tuple[float, float, float, float]] = []
    out: list[Label] = []
    for c in sorted(cands, key=lambda c: c.rank):
        if c.top is not None:
            text, sub = (f"{c.text} · {c.sub}" if c.sub else c.text), ""
            x, y = c.x, c.top - 3
        else:
            text, sub, x, y = c.text, c.sub, c.x, c.y
        w = max(len(text), len(sub)) * 6.4 + 4
        h = 25.0 if sub else 13.0
        box = (x - w / 2, y - 11, x + w / 2, y - 11 + h)
        if box[0] < 0 or box[2] > width or box[1] < 0 or box[3] > height:
            continue
        if any(not (box[2] < p[0] or box[0] > p[2] or box[3] < p[1] or box[1] > p[3]) for p in placed):
            continue
        placed.append(box)
        out.append(Label(round(x, 1), round(y, 1), text, sub))
    return out


def render(
    cfg: RegionConfig,
    counts: dict[str | None, tuple[int, int]],
    names: dict[str | None, str],
    *,
    per_resident: bool = False,
    points: Sequence[tuple[float, float, str, str]] = (),
    link: Callable[[str], str] | None = None,
) -> SvgMap:
    """`counts`: municipality code → (this period, previous period); `per_resident`: colour by
    incidents per 10,000 residents (`territories.yaml → population`) instead of the count;
    `points`: (lat, lon, title, href) of the incidents that have coordinates; `link`: the URL a
    municipality leads to (the queue filtered by it)."""
    geo = boundaries_of(cfg)
    if geo is None or not geo.areas:
        return _markers(cfg, counts, names)
    proj, paths = outlines(geo)
    munis = cfg.municipality_by_code

    def value(code: str, n: int) -> float | None:
        if not per_resident:
            return float(n)
        pop = munis[code].population if code in munis else None
        return n * 10_000 / pop if pop else None

    values = {code: value(code, counts.get(code, (0, 0))[0]) for code in paths}
    top = max((v for v in values.values() if v is not None), default=0.0)
    shapes: list[Shape] = []
    cands: list[_Candidate] = []
    for code, d in paths.items():
        if not d:
            continue
        cur, prev = counts.get(code, (0, 0))
        name = names.get(code) or (munis[code].name if code in munis else code)
        v = values[code]
        fill = NODATA if v is None else colour(v, top)
        title = (
            f"{name}: {cur} {plural(cur, 'инцидент', 'инцидента', 'инцидентов')}, в прошлом периоде {prev}"
        )
        if cur != prev:
            title += f" ({cur - prev:+d})"
        if per_resident:
            title += "; нет данных о населении" if v is None else f"; {_num(v)} на 10 тыс. жителей"
        title += ". Нажмите, чтобы открыть очередь по муниципалитету."
        shapes.append(Shape(code, name, d, fill, cur, cur - prev, title, link(code) if link else ""))
        at = geo.label_point(code)
        if at is not None:
            x, y = proj.raw(*at)
            box = geo.areas[code].bbox
            left, upper = proj.raw(box[3], box[0])
            right, lower = proj.raw(box[1], box[2])
            label = short_name(name)
            sub = "" if v is None or cur == 0 else (_num(v) if per_resident else str(cur))
            fits = right - left >= 0.8 * len(label) * 6.4 and lower - upper >= 24
            rank = (-(v or 0.0), -(right - left) * (lower - upper))
            cands.append(_Candidate(rank, x, y, label, sub, None if fits else upper))
    dots = []
    for lat, lon, title, href in points:
        x, y = proj(lat, lon)
        if proj.inside(x, y):
            dots.append(Dot(x, y, title, href))
    return SvgMap(
        WIDTH,
        HEIGHT,
        shapes,
        [],
        "choropleth",
        labels=_place_labels(cands, WIDTH, HEIGHT),
        borders=borders(geo),
        dots=dots,
        legend=legend(top, integer=not per_resident),
        attribution=cfg.region.map.attribution,
        tiles=tiles(cfg.region.map.tile_url, proj),
    )


def _markers(
    cfg: RegionConfig, counts: dict[str | None, tuple[int, int]], names: dict[str | None, str]
) -> SvgMap:
    """No boundaries: a circle per municipality at its centroid, sized by the count."""
    top = max((c for c, _ in counts.values()), default=0)
    placed = [(m, c) for m in cfg.territories.municipalities if (c := m.centroid)]
    proj = Projection([c for _, c in placed], pad=28)
    markers: list[Marker] = []
    for m, centroid in placed:
        cur, prev = counts.get(m.code, (0, 0))
        x, y = proj(*centroid)
        r = 5 + 20 * math.sqrt(cur / top) if top and cur else 4
        markers.append(
            Marker(
                m.code,
                names.get(m.code) or m.name,
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
    return SvgMap(WIDTH, HEIGHT, [], markers, "markers", legend=legend(top, integer=True))


# --------------------------------------------------------------------------- the card
_PINS: dict[
    tuple[int, str, tuple[float, float] | None], tuple[Boundaries, Projection, list[Shape], list[str]]
] = {}


def pin(
    cfg: RegionConfig, municipality: str | None, point: tuple[float, float] | None = None
) -> tuple[SvgMap, tuple[float, float] | None]:
    """The card's «Где»: the incident's municipality outlined (the neighbours that share its
    frame faint behind) with the incident's point when a post gave coordinates; without
    boundaries, the region's municipalities as dots and the incident's one at its centroid.
    The drawing of a municipality is kept per process (the point only moves the pin, unless it
    lies outside the municipality's frame)."""
    geo = boundaries_of(cfg)
    area = geo.areas.get(municipality or "") if geo is not None else None
    if geo is None or (area is None and not geo.areas):
        return _dot_cloud(cfg, municipality)
    box = area.bbox if area is not None else geo.bbox
    outside = point is not None and not (box[1] <= point[0] <= box[3] and box[0] <= point[1] <= box[2])
    key = (id(geo), municipality or "", point if outside else None)
    with _LOCK:
        got = _PINS.get(key)
    if got is None or got[0] is not geo:
        corners = [(box[1], box[0]), (box[3], box[2])] + ([point] if outside and point else [])
        proj = Projection(corners, CARD_W, CARD_H, CARD_PAD)
        lat0, lon0 = proj_inverse(proj, 0, CARD_H)
        lat1, lon1 = proj_inverse(proj, CARD_W, 0)
        shapes, context = [], []
        for code, other in geo.areas.items():
            ob = other.bbox
            if ob[2] < lon0 or ob[0] > lon1 or ob[3] < lat0 or ob[1] > lat1:
                continue  # not in the frame
            d = _path(proj, (ring for poly in other.polygons for ring in poly), TOLERANCE_PX)
            if code == municipality:
                name = cfg.municipality_by_code[code].name
                shapes.append(Shape(code, name, d, "#fde8d7", 0, 0, name))
            elif d:
                context.append(d)
        got = (geo, proj, shapes, context)
        with _LOCK:
            if len(_PINS) > 256:
                _PINS.clear()
            _PINS[key] = got
    _, proj, shapes, context = got
    where = proj(*point) if point is not None else None
    svg = SvgMap(
        CARD_W, CARD_H, shapes, [], "choropleth", attribution=cfg.region.map.attribution, context=context
    )
    return svg, where


def proj_inverse(proj: Projection, x: float, y: float) -> tuple[float, float]:
    """(lat, lon) of a point of the drawing: the frame's corners, to leave out what lies outside."""
    mx = (x - proj.off_x) / proj.scale + proj.min_x
    my = proj.max_y - (y - proj.off_y) / proj.scale
    return math.degrees(2 * math.atan(math.exp(my)) - math.pi / 2), math.degrees(mx)


def _dot_cloud(cfg: RegionConfig, municipality: str | None) -> tuple[SvgMap, tuple[float, float] | None]:
    placed = [(m, c) for m in cfg.territories.municipalities if (c := m.centroid)]
    proj = Projection([c for _, c in placed], CARD_W, CARD_H, CARD_PAD)
    dots = [Marker(m.code, m.name, *proj(*c), 3, EMPTY, 0, 0, False) for m, c in placed]
    target = cfg.municipality_by_code.get(municipality or "")
    where = proj(*target.centroid) if target and target.centroid else None
    return SvgMap(CARD_W, CARD_H, [], dots, "markers"), where
