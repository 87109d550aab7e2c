"""Point in polygon and feature ↔ municipality matching (core/boundaries.py), on small
hand-drawn shapes and on the shipped OpenStreetMap boundaries of Kursk region and St Petersburg."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import boundaries as b
from core.config import ConfigError, load_region

ROOT = Path(__file__).resolve().parents[1]
KURSK = ROOT / "config" / "regions" / "kursk"
SPB = ROOT / "config" / "regions" / "spb"

SQUARE = ((0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0), (0.0, 0.0))
HOLE = ((4.0, 4.0), (6.0, 4.0), (6.0, 6.0), (4.0, 6.0), (4.0, 4.0))
ISLAND = ((20.0, 0.0), (22.0, 0.0), (22.0, 2.0), (20.0, 2.0), (20.0, 0.0))
INNER = ((4.5, 4.5), (5.5, 4.5), (5.5, 5.5), (4.5, 5.5), (4.5, 4.5))


def _geojson(*features: tuple[str, dict[str, object]]) -> dict[str, object]:
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"name": n}, "geometry": g} for n, g in features],
    }


def _toy() -> b.Boundaries:
    """A district with a hole, a city filling the hole, and a district in two parts."""
    data = _geojson(
        ("Окружной район", {"type": "Polygon", "coordinates": [SQUARE, HOLE]}),
        ("Город", {"type": "Polygon", "coordinates": [HOLE]}),
        (
            "Островной район",
            {"type": "MultiPolygon", "coordinates": [[ISLAND], [[(p[0], p[1] + 5) for p in ISLAND]]]},
        ),
    )
    munis = [
        b.Municipal("okr", ("Окружной район",)),
        b.Municipal("city", ("город Город",)),
        b.Municipal("isl", ("Островной район",)),
    ]
    features = b.read_features(data)
    return b.Boundaries(features, b.match_features(features, munis))


def test_inside_outside_hole_and_multipolygon() -> None:
    geo = _toy()
    assert geo.locate(1.0, 1.0) == "okr"  # lat, lon
    assert geo.locate(5.0, 5.0) == "city"  # in the district's hole: the city, not the district
    assert geo.locate(1.0, 21.0) == "isl"  # first part
    assert geo.locate(6.0, 21.0) == "isl"  # second part
    assert geo.locate(4.0, 21.0) is None  # between the parts
    assert geo.locate(-1.0, 5.0) is None  # below everything (the bounding box says no)
    assert geo.locate(5.0, 15.0) is None  # inside the region's box, in no polygon


def test_polygon_with_hole_and_island_in_the_hole() -> None:
    poly = (SQUARE, HOLE, INNER)  # even-odd: an island inside the hole counts as inside again
    assert b.polygon_contains(poly, 1.0, 1.0)
    assert not b.polygon_contains(poly, 4.2, 4.2)
    assert b.polygon_contains(poly, 5.0, 5.0)
    assert not b.ring_contains(SQUARE[:2], 0.5, 0.0)  # fewer than three points is no ring


def test_concave_ring() -> None:
    u_shape = ((0.0, 0.0), (3.0, 0.0), (3.0, 3.0), (2.0, 3.0), (2.0, 1.0), (1.0, 1.0), (1.0, 3.0), (0.0, 3.0))
    assert b.ring_contains(u_shape, 0.5, 2.5)
    assert not b.ring_contains(u_shape, 1.5, 2.0)  # in the notch
    assert b.ring_contains(u_shape, 2.5, 2.5)


def test_not_a_polygon_is_refused() -> None:
    with pytest.raises(ValueError, match="Polygon or MultiPolygon"):
        b.read_features(_geojson(("Точка", {"type": "Point", "coordinates": [1, 2]})))
    with pytest.raises(ValueError, match="FeatureCollection"):
        b.read_features({"type": "Feature"})


def test_douglas_peucker_keeps_corners_and_drops_wobble() -> None:
    line = [(float(x), 0.01 * (x % 2)) for x in range(11)] + [(10.0, 5.0)]
    out = b.simplify(line, 0.1)
    assert out == [(0.0, 0.0), (10.0, 0.0), (10.0, 5.0)]
    assert b.simplify(line, 0.0) == line
    ring = list(SQUARE)
    assert b.simplify(ring, 0.5) == ring  # corners stay, the ring stays closed


# --------------------------------------------------------------------------- matching
def test_name_key_reads_osm_and_config_spellings_alike() -> None:
    assert b.name_key("муниципальный округ Коломна") == b.name_key("МО Коломна") == "коломна"
    assert b.name_key("муниципальный округ N 72") == b.name_key("муниципальный округ №72") == "№72"
    assert b.name_key("муниципальный округ Лахта-Ольгино") == b.name_key("Лахта - Ольгино")
    assert b.name_key("поселок Молодёжное") == "молодежное"
    assert b.name_key("муниципальный округ округ Морской") == "морской"
    assert b.name_key("Курск") == b.name_key("город Курск")
    assert b.name_key("Курский район") != b.name_key("Курск")


def test_matching_order_ambiguity_and_reports() -> None:
    square = {"type": "Polygon", "coordinates": [SQUARE]}
    features = b.read_features(
        _geojson(
            ("Заречье", square),  # a subdivision of one municipality
            ("Слобода", square),  # a settlement of two: ambiguous, not guessed
            ("Нечто", square),  # nobody's
            ("Курск", square),  # the city's own name beats a settlement of the district
            ("Особый", square),  # explicit mapping
        )
    )
    munis = [
        b.Municipal("city", ("город Курск", "Курск"), ("Заречье",)),
        b.Municipal("district", ("Курский район",), ("Слобода", "Курск")),
        b.Municipal("other", ("Другой район",), ("Слобода",)),
        b.Municipal("empty", ("Пустой район",)),
    ]
    m = b.match_features(features, munis, {"Особый": "other"})
    assert m.codes == {0: "city", 3: "city", 4: "other"}
    assert m.unmatched == ["Слобода", "Нечто"]
    assert m.missing == ["district", "empty"]


def test_code_property_matches_when_known() -> None:
    data = _geojson(("Что-то", {"type": "Polygon", "coordinates": [SQUARE]}))
    data["features"][0]["properties"]["code"] = "okr"  # type: ignore[index]
    features = b.read_features(data)
    assert b.match_features(features, [b.Municipal("okr", ("Окружной район",))]).codes == {0: "okr"}


# --------------------------------------------------------------------------- the shipped regions
def test_kursk_every_feature_matches_one_municipality() -> None:
    cfg = load_region(KURSK)
    geo = cfg.boundaries()
    assert geo is not None
    assert geo.unmatched == [] and geo.missing == []
    assert set(geo.areas) == set(cfg.municipality_by_code)
    assert geo.areas["kursk"].features == ("Курск",)
    assert geo.areas["kursky"].features == ("Курский район",)


def test_kursk_points_fall_where_they_are() -> None:
    cfg = load_region(KURSK)
    geo = cfg.boundaries()
    assert geo is not None
    lat, lon = cfg.municipality_by_code["kursk"].centroid or (0, 0)
    assert geo.locate(lat, lon) == "kursk"  # the centre of the city of Kursk
    label = geo.label_point("kursk")
    assert label is not None and geo.locate(*label) == "kursk"
    # Курский район surrounds the city: a point in its ring around Kursk is the district's
    assert geo.locate(51.62, 36.30) == "kursky"
    # the city is a hole in its district: inside the district's outer ring, yet the city's
    district = geo.areas["kursky"]
    assert any(b.ring_contains(poly[0], lon, lat) and len(poly) > 1 for poly in district.polygons)
    assert not district.contains(lat, lon)
    assert len(geo.areas["zheleznogorsky"].polygons) == 2  # a multipolygon, found in both parts
    for poly in geo.areas["zheleznogorsky"].polygons:
        inner_lon, inner_lat = b.centroid(poly)
        if b.polygon_contains(poly, inner_lon, inner_lat):
            assert geo.locate(inner_lat, inner_lon) == "zheleznogorsky"
    assert geo.locate(55.75, 37.62) is None  # Moscow
    for code in cfg.municipality_by_code:  # every municipality's own label point is its own
        point = geo.label_point(code)
        assert point is not None and geo.locate(*point) == code, code


def test_spb_okrugs_are_matched_to_the_eighteen_districts() -> None:
    cfg = load_region(SPB)
    geo = cfg.boundaries()
    assert geo is not None
    assert geo.unmatched == [] and geo.missing == []
    assert sum(len(a.features) for a in geo.areas.values()) == 111
    assert "муниципальный округ Коломна" in geo.areas["admiralteysky"].features
    assert "город Пушкин" in geo.areas["pushkinsky"].features
    assert geo.locate(59.9398, 30.3146) == "tsentralny"  # Дворцовая площадь
    assert geo.locate(59.7236, 30.4156) == "pushkinsky"  # Царское Село


def test_unknown_code_in_the_mapping_fails_the_config_a_missing_file_fails_the_map(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "kursk"
    shutil.copytree(KURSK, root, ignore=shutil.ignore_patterns("sample"))
    region = root / "region.yaml"
    text = region.read_text(encoding="utf-8")
    region.write_text(text.replace("features: {}", "features: {Курск: nowhere}"), encoding="utf-8")
    with pytest.raises(ConfigError, match="map.features.Курск: unknown municipality 'nowhere'"):
        load_region(root)
    region.write_text(
        text.replace("boundaries: boundaries.geojson", "boundaries: none.geojson"), encoding="utf-8"
    )
    cfg = load_region(root)  # the pipeline still loads: the map is not worth refusing to run
    with pytest.raises(OSError):
        cfg.boundaries()
    region.write_text(text, encoding="utf-8")
    (root / "boundaries.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    cfg = load_region(root)
    geo = cfg.boundaries()
    assert geo is not None and geo.locate(51.7373, 36.1874) is None and "kursk" in geo.missing


def test_check_config_warns_of_unmatched_features_and_uncovered_municipalities(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from cli.main import main

    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "data"))
    root = tmp_path / "kursk"
    shutil.copytree(KURSK, root, ignore=shutil.ignore_patterns("sample"))
    data = json.loads((root / "boundaries.geojson").read_text(encoding="utf-8"))
    for f in data["features"]:
        if f["properties"]["name"] == "Льгов":
            f["properties"]["name"] = "Льгов-Товарный"  # matches nothing now: lgov has no feature
    (root / "boundaries.geojson").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    code = main(["--config", str(root), "--database", f"sqlite:///{tmp_path / 'x.db'}", "check-config"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "сопоставлено 32 с 32 муниципалитетами" in out
    assert "граница «Льгов-Товарный» не сопоставлена" in err
    assert "у муниципалитета lgov (город Льгов) нет границы" in err
    (root / "boundaries.geojson").write_text("{broken", encoding="utf-8")
    code = main(["--config", str(root), "--database", f"sqlite:///{tmp_path / 'x.db'}", "check-config"])
    assert code == 1 and "файл границ не читается" in capsys.readouterr().err
