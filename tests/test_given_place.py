"""The place the platform gives, read before the text (pipelines/placing.py): the address line
through the region's gazetteer, the point through Kursk's real municipal boundaries
(config/regions/kursk/boundaries.geojson, OpenStreetMap, ODbL), the text for what they leave;
then end to end: an import with places → signals → an incident with its point → the exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from cli.main import main
from core.records import PostRecord
from storage.db import open_database
from storage.models import Incident
from tests.conftest import KURSK

WHEN = datetime(2026, 11, 20, 9, tzinfo=UTC)
KURSK_CITY = (51.7373, 36.1873)  # Красная площадь, Курск
ZHELEZNOGORSK = (52.3383, 35.3509)  # ул. Ленина, Железногорск
MOSCOW = (55.7539, 37.6208)  # outside every polygon of the region


def _post(text: str, **kw) -> PostRecord:
    return PostRecord(network="pos", external_id="1", source_id="pos_kursk", text=text, created_at=WHEN, **kw)


@pytest.fixture(scope="module")
def builder(kursk):
    from pipelines.signals import SignalBuilder

    return SignalBuilder(kursk, use_ner=False, use_model=False)


def test_the_address_comes_before_the_text(builder):
    text = "Яма на дороге у дома, в Курске такого много"
    assert builder(_post(text)).municipality == "kursk"
    sig = builder(_post(text, address="г. Железногорск, ул. Ленина, д. 26, кв. 14"))
    assert sig.municipality == "zheleznogorsk" and sig.entities.municipality_kind == "municipality"
    assert sig.address == "улица Ленина, 26" and sig.scale == "house"
    assert (
        "place from the platform's address «г. Железногорск, ул. Ленина, д. 26, кв. 14»: zheleznogorsk"
        in sig.reasons
    )
    assert "kursk" in sig.entities.municipalities  # the text's town is still among those named


def test_the_text_places_what_the_address_does_not(builder):
    sig = builder(_post("Не вывозят мусор во дворе дома в Курчатове", address="подъезд 2, кв. 14"))
    assert sig.municipality == "kurchatov"
    assert not any("platform's address" in r for r in sig.reasons)


def test_an_address_in_another_region_puts_the_post_outside_this_one(builder):
    text = "Огромная яма на дороге у дома"
    assert builder(_post(text)).decision == "complaint"
    sig = builder(_post(text, address="г. Белгород, ул. Попова, д. 5"))
    assert sig.decision == "off_region" and sig.municipality is None


def test_a_point_is_placed_in_its_municipality_by_the_boundaries(builder):
    text = "Не вывозят мусор, контейнеры переполнены"  # no place in the text at all
    assert builder(_post(text)).municipality is None
    kursk = builder(_post(text, lat=KURSK_CITY[0], lon=KURSK_CITY[1]))
    assert kursk.municipality == "kursk" and kursk.entities.municipality_kind == "point"
    zh = builder(
        _post("Яма на дороге у дома, в Курске такого много", lat=ZHELEZNOGORSK[0], lon=ZHELEZNOGORSK[1])
    )
    assert zh.municipality == "zheleznogorsk"
    assert (
        f"the point ({ZHELEZNOGORSK[0]}, {ZHELEZNOGORSK[1]}) lies in zheleznogorsk, the text names kursk: the point wins"
        in zh.reasons
    )


def test_a_point_outside_every_polygon_keeps_the_text_place(builder):
    sig = builder(_post("Не вывозят мусор во дворе дома в Курчатове", lat=MOSCOW[0], lon=MOSCOW[1]))
    assert sig.municipality == "kurchatov" and not any("point" in r for r in sig.reasons)


def test_import_process_incident_point_and_exports(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("INCIDENTS_CONFIG", str(KURSK))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    base = {"network": "pos", "source_id": "pos_kursk", "created_at": "2026-11-22T10:00:00+03:00"}
    lines = [
        {
            **base,
            "external_id": "POS-1",
            "text": "Третий день нет отопления в квартире, батареи холодные",
            "address": "г. Железногорск, ул. Ленина, д. 26, кв. 14",
            "lat": ZHELEZNOGORSK[0],
            "lon": ZHELEZNOGORSK[1],
        },
        {
            **base,
            "external_id": "POS-2",
            "text": "Огромная яма на проезжей части, повреждены колёса",
            "lat": KURSK_CITY[0],
            "lon": KURSK_CITY[1],
        },
    ]
    path = tmp_path / "pos.jsonl"
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    assert main(["import", str(path)]) == 0
    capsys.readouterr()
    assert main(["export", "signals"]) == 0
    signals = {s["municipality"]: s for s in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(signals) == {"zheleznogorsk", "kursk"}
    assert (signals["kursk"]["lat"], signals["kursk"]["lon"]) == KURSK_CITY
    assert "post_address" not in signals["zheleznogorsk"]  # a flat number is personal: only --with-authors
    assert main(["export", "incidents"]) == 0
    incidents = {i["municipality"]: i for i in map(json.loads, capsys.readouterr().out.splitlines())}
    assert (incidents["zheleznogorsk"]["lat"], incidents["zheleznogorsk"]["lon"]) == ZHELEZNOGORSK
    assert (incidents["kursk"]["lat"], incidents["kursk"]["lon"]) == KURSK_CITY
    assert main(["export", "incidents", "--format", "csv"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split(",")
    assert header[:4] == ["id", "title", "status", "category"] and header[-2:] == ["lat", "lon"]
    engine = open_database(f"sqlite:///{tmp_path / 'var' / 'incidents.db'}")
    try:
        with Session(engine) as s:
            assert {(i.municipality, i.lat) for i in s.exec(select(Incident)).all()} == {
                ("zheleznogorsk", ZHELEZNOGORSK[0]),
                ("kursk", KURSK_CITY[0]),
            }
    finally:
        engine.dispose()


def test_the_lab_measure_counts_each_way(builder, kursk):
    """`python -m lab evaluate-place` on three rows of the real files' shape (the files stay in
    ../shared/data): the point places what the text cannot, the address what the point leaves."""
    from lab.place_eval import evaluate

    rows = [
        {"id": "1", "text": "Не вывозят мусор", "lat": str(ZHELEZNOGORSK[0]), "lon": str(ZHELEZNOGORSK[1])},
        {"id": "2", "text": "Яма на дороге", "address": "г. Курчатов, ул. Энергетиков", "lat": "", "lon": ""},
        {"id": "3", "text": "Нет воды в Курске", "gold": ""},
    ]
    gold = {"1": "zheleznogorsk", "2": "kurchatov", "3": "kursk"}
    rep = evaluate(rows, builder, lambda r: gold[r["id"]], file="x")
    assert (rep.gold, rep.with_address, rep.with_point, rep.address_places, rep.point_places) == (
        3,
        1,
        1,
        1,
        1,
    )
    right = {way: s.right for way, s in rep.ways.items()}
    assert right == {
        "text": 1,
        "text+address": 2,
        "text+point": 2,
        "text+address+point": 3,
        "text with address appended": 2,
    }
