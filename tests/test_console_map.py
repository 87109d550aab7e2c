"""The console's map on the bundled Kursk sample: a choropleth of the 33 municipalities from the
shipped OpenStreetMap boundaries, each a link to the queue filtered by it, the attribution the
ODbL asks for, the incidents with coordinates drawn on top, the per-resident toggle, the export,
and the card's «Где» with the municipality's outline and the incident's point."""

from __future__ import annotations

import csv
import html
import io
import re
import shutil
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr
from sqlmodel import Session, col, select

from console import geo
from console.app import create_app
from console.settings import ConsoleSettings
from core.config import RegionMap, load_region
from storage.models import Incident, IncidentPost, Post
from tests.conftest import KURSK, FixedClock
from tests.console_seed import NOW, seed
from tests.test_console import login

POINT = (51.7406, 36.1932)  # Красная площадь, Kursk
GEOTAGGED = {
    "network": "vk",
    "external_id": "-200777_12",
    "source_id": "vk_search",
    "parent_id": None,
    "url": "https://vk.com/wall-200777_12",
    "author_id": "7777",
    "author_name": "Светлана",
    "text": "Курск, улица Ленина 2: огромная яма на проезжей части у остановки, третий день машины бьют "
    "колёса, никто не ремонтирует. Когда заделают яму на дороге?",
    "created_at": "2026-11-20T12:00:00+03:00",
    "likes": 3,
    "reposts": 0,
    "views": 100,
    "geo": {"lat": POINT[0], "lon": POINT[1]},
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, kursk, kursk_builder):  # noqa: ANN001, ANN201
    engine = seed(tmp_path_factory.mktemp("map") / "console.db", kursk, kursk_builder, extra=[GEOTAGGED])
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def app(seeded, kursk):  # noqa: ANN001, ANN201
    return create_app(seeded, kursk, ConsoleSettings(secret_key=SecretStr("x" * 32)), now=FixedClock(NOW))


def _geotagged_incident(engine) -> Incident:  # noqa: ANN001
    with Session(engine) as s:
        return s.exec(
            select(Incident)
            .join(IncidentPost, col(IncidentPost.incident_id) == col(Incident.id))
            .join(Post, col(Post.id) == col(IncidentPost.post_id))
            .where(Post.external_id == GEOTAGGED["external_id"])
        ).one()


def _svg(page: str) -> str:
    return page[page.index("<svg viewBox") : page.index("</svg>", page.index("<svg viewBox"))]


def test_map_is_a_choropleth_of_every_municipality_linking_to_the_queue(app, kursk) -> None:  # noqa: ANN001
    c, _ = login(app, "admin")
    page = c.get("/map?period=30").text
    svg = _svg(page)
    codes = [m.code for m in kursk.territories.municipalities]
    # one filled path per municipality, each inside its link, and one path of the borders over them
    assert len(re.findall(r'class="muni" data-code="[a-z_]+"><path d="M', svg)) == len(codes) == 33
    assert svg.count("<path") == 34 and svg.count('class="borders"') == 1
    hrefs = [html.unescape(h) for h in re.findall(r'<a href="([^"]+)" class="muni"', svg)]
    assert len(hrefs) == 33
    for code in codes:
        assert any(h.startswith(f"/queue?municipality={code}&") and "status=all" in h for h in hrefs), code
    assert "© OpenStreetMap contributors" in svg
    assert "город Курск:" in svg and "инцидент" in svg  # the hover text, in Russian
    assert '<text x="' in svg and ">Курск<" in svg  # a readable label on the regional centre
    assert "Инцидентов:" in page  # the legend
    # the link leads to the queue, filtered by the municipality, and it answers
    kursk_href = next(h for h in hrefs if h.startswith("/queue?municipality=kursk&"))
    queue = c.get(kursk_href)
    assert queue.status_code == 200 and 'value="kursk" selected' in queue.text


def test_the_geotagged_incident_is_a_point_inside_kursk(app, seeded) -> None:  # noqa: ANN001
    inc = _geotagged_incident(seeded)
    assert inc.municipality == "kursk"
    page = login(app, "admin")[0].get("/map?period=30").text
    assert f'<a href="/incidents/{inc.id}" class="pt">' in page
    assert "Точки — инциденты с известными координатами (1)" in page
    # the dot lies inside the drawn outline of the city: where the projection puts the point
    cfg = load_region(KURSK)
    b = cfg.boundaries()
    assert b is not None and b.locate(*POINT) == "kursk"
    proj, _ = geo.outlines(b)
    x, y = proj(*POINT)
    assert f'cx="{x}" cy="{y}"' in page
    # an executor of another body sees the municipalities but not that incident's point
    other = login(app, "ivanova")[0].get("/map?period=30").text
    assert inc.body_code != "kursk_gorinspektsiya"  # ivanova's body: the pothole is the road service's
    assert f"/incidents/{inc.id}" not in other and 'class="muni"' in other


def test_per_resident_toggle_needs_populations(app, seeded, tmp_path: Path) -> None:  # noqa: ANN001
    page = login(app, "admin")[0].get("/map?period=30&per=residents").text
    assert 'value="residents"  disabled' in page or 'value="residents" disabled' in page.replace("  ", " ")
    assert "на 10 тыс. жителей" not in _svg(page)  # no population: the toggle stays on counts
    region = tmp_path / "kursk"
    shutil.copytree(KURSK, region, ignore=shutil.ignore_patterns("sample"))
    terr = yaml.safe_load((region / "territories.yaml").read_text(encoding="utf-8"))
    for m in terr["municipalities"]:
        if m["code"] == "kursk":
            m["population"] = 440_000
        elif m["code"] == "kursky":
            m["population"] = 55_000
    (region / "territories.yaml").write_text(yaml.safe_dump(terr, allow_unicode=True), encoding="utf-8")
    cfg = load_region(region)
    app2 = create_app(seeded, cfg, ConsoleSettings(secret_key=SecretStr("x" * 32)), now=FixedClock(NOW))
    page = login(app2, "admin")[0].get("/map?period=30&per=residents").text
    svg = _svg(page)
    assert "на 10 тыс. жителей" in svg and "нет данных о населении" in svg
    cells = {c.code: c for c in __import__("console").data.heat(Session(seeded), cfg, NOW, 30)}
    rate = cells["kursk"].count * 10_000 / 440_000
    assert f"{rate:.1f}".replace(".", ",") + " на 10 тыс. жителей" in svg
    assert "Инцидентов на 10 тыс. жителей" in page


def test_the_map_table_export_still_works(app) -> None:  # noqa: ANN001
    c, _ = login(app, "admin")
    page = c.get("/map?period=30").text
    rows = list(csv.reader(io.StringIO(c.get("/map?period=30&export=csv").content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["Муниципалитет", "Инцидентов"]
    kursk_row = next(r for r in rows if r[0] == "город Курск")
    assert f"город Курск: {kursk_row[1]} инцидент" in page


def test_the_card_shows_the_municipality_outline_and_the_point(app, seeded) -> None:  # noqa: ANN001
    inc = _geotagged_incident(seeded)
    c, _ = login(app, "admin")
    page = c.get(f"/incidents/{inc.id}").text
    where = page[page.index("<h2>Где</h2>") : page.index("</section>", page.index("<h2>Где</h2>"))]
    assert 'class="outline"' in where and "<title>город Курск</title>" in where
    assert "точка из обращения: 51.74060, 36.19320" in where
    assert "© OpenStreetMap contributors" in where
    # an incident without coordinates: the outline, no point, and a word why
    with Session(seeded) as s:
        other = s.exec(
            select(Incident).where(Incident.municipality == "kursk", Incident.id != inc.id).limit(1)
        ).one()
    where = c.get(f"/incidents/{other.id}").text
    assert 'class="outline"' in where and "Координат в сообщениях нет" in where
    assert "точка из обращения" not in where


def test_outlines_are_simplified_and_cached() -> None:
    cfg = load_region(KURSK)
    b = cfg.boundaries()
    assert b is not None
    proj, paths = geo.outlines(b)
    assert geo.outlines(b)[1] is paths  # built once per process
    vertices = sum(p.count("L") + p.count("M") for p in paths.values())
    source = sum(len(r) for a in b.areas.values() for poly in a.polygons for r in poly)
    assert source > 25_000 and vertices < source / 4


def test_serve_refuses_a_map_file_that_does_not_read(tmp_path: Path, capsys, monkeypatch) -> None:  # noqa: ANN001
    from cli.main import main

    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "data"))
    region = tmp_path / "kursk"
    shutil.copytree(KURSK, region, ignore=shutil.ignore_patterns("sample"))
    (region / "boundaries.geojson").write_text(
        '{"type": "FeatureCollection", "features": [{"geometry": 1}]', "utf-8"
    )
    code = main(["--config", str(region), "--database", f"sqlite:///{tmp_path / 'x.db'}", "serve"])
    assert code == 2 and "Ошибка конфигурации" in capsys.readouterr().err


def test_borders_leave_out_lines_inside_a_municipality_and_draw_shared_ones_once() -> None:
    from core import boundaries as b

    def square(x: float) -> dict[str, object]:
        ring = [[x, 0.0], [x + 1, 0.0], [x + 1, 1.0], [x, 1.0], [x, 0.0]]
        return {"type": "Polygon", "coordinates": [ring]}

    data = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": n}, "geometry": square(x)}
            for n, x in (("Первый округ", 0.0), ("Второй округ", 1.0), ("Соседний", 2.0))
        ],
    }
    features = b.read_features(data)
    munis = [
        b.Municipal("district", ("Район",), ("Первый округ", "Второй округ")),
        b.Municipal("other", ("Соседний",)),
    ]
    bounds = b.Boundaries(features, b.match_features(features, munis))
    proj, paths = geo.outlines(bounds)
    line = geo.borders(bounds)
    internal_x, shared_x = proj.raw(0.5, 1.0)[0], proj.raw(0.5, 2.0)[0]
    vertical = []  # x of every vertical segment the border path draws
    for run in line.split("M")[1:]:
        pts = [tuple(map(float, p.split(","))) for p in run.split("L")]
        vertical += [a[0] for a, c in zip(pts, pts[1:], strict=False) if abs(a[0] - c[0]) < 0.2]
    assert not any(abs(x - internal_x) < 0.2 for x in vertical)  # the okrugs' common edge is no border
    assert sum(abs(x - shared_x) < 0.2 for x in vertical) == 1  # the districts' common edge: once
    assert len(vertical) == 3  # and the two outer sides
    assert set(paths) == {"district", "other"} and paths["district"].count("M") == 2


def test_tiles_under_the_polygons_are_the_slippy_map_tiles_of_the_same_place(seeded, tmp_path: Path) -> None:  # noqa: ANN001
    """With `map.tile_url`, the tile under a point is the one OpenStreetMap's numbering gives for it,
    and the page's CSP lets the browser load images from that server (and from no other)."""
    import math

    region = tmp_path / "kursk"
    shutil.copytree(KURSK, region, ignore=shutil.ignore_patterns("sample"))
    text = (region / "region.yaml").read_text(encoding="utf-8")
    (region / "region.yaml").write_text(
        text.replace("tile_url: null", "tile_url: https://tiles.example.org/{z}/{x}/{y}.png"),
        encoding="utf-8",
    )
    cfg = load_region(region)
    svg = geo.render(cfg, {"kursk": (1, 0)}, {})
    assert svg.tiles and len(svg.tiles) <= geo.MAX_TILES
    bounds = cfg.boundaries()
    assert bounds is not None
    proj, _ = geo.outlines(bounds)
    lat, lon = POINT
    x, y = proj.raw(lat, lon)
    under = [t for t in svg.tiles if t.x <= x < t.x + t.size and t.y <= y < t.y + t.size]
    assert len(under) == 1
    z, tx, ty = map(int, re.search(r"/(\d+)/(\d+)/(\d+)\.png$", under[0].href).groups())  # type: ignore[union-attr]
    n = 2**z
    assert tx == int((lon + 180) / 360 * n)
    assert ty == int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    app = create_app(seeded, cfg, ConsoleSettings(secret_key=SecretStr("x" * 32)), now=FixedClock(NOW))
    r = login(app, "admin")[0].get("/map")
    assert "https://tiles.example.org/" in r.text
    assert "img-src 'self' data: https://tiles.example.org;" in r.headers["content-security-policy"]
    with pytest.raises(ValueError, match="tile_url"):
        RegionMap(tile_url="https://tiles.example.org/tile.png")
