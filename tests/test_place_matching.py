"""Names read two ways (issue 21): a town and a street of the same lemma, a district adjective
and a street, a common-word village, streets of several towns; and posts about the whole
region. On the test region tests/data/region_collisions, whose names collide on purpose, and on
Kursk. The rules: docs/place-matching.md."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.main import main
from core.config import RegionConfig, load_region
from core.records import PostRecord
from incidents.domain.assess import scale_from
from incidents.domain.clustering import Clusterer
from incidents.domain.routing import Router
from pipelines.signals import SignalBuilder

REGION = Path(__file__).parent / "data" / "region_collisions"


@pytest.fixture(scope="module")
def region() -> RegionConfig:
    return load_region(REGION)


@pytest.fixture(scope="module")
def builder(region: RegionConfig) -> SignalBuilder:
    return SignalBuilder(region, use_ner=False, use_model=False)


def _post(text: str, source: str = "s", n: int = 1, hour: int = 9) -> PostRecord:
    return PostRecord(
        network="vk",
        external_id=str(n),
        source_id=source,
        text=text,
        created_at=datetime(2026, 11, 20, hour, tzinfo=UTC),
        author_id=f"u{n}",
    )


@pytest.mark.parametrize(
    ("text", "municipality", "street", "settlement"),
    [
        # the street of one town named after a person, the town of another named after him
        ("Прорвало трубу на Чехова 5", "berezovsk", "улица Чехова", None),
        ("На Чехова опять нет воды", "berezovsk", "улица Чехова", None),
        ("Нет воды, ул. Чехова", "berezovsk", "улица Чехова", None),
        ("В Чехове нет воды", "chekhovsky", None, "Чехов"),
        ("Из Чехова не ходит автобус, нет воды", "chekhovsky", None, "Чехов"),
        ("г. Чехов, ул. Ленина 3 — нет воды", "chekhovsky", "улица Ленина", "Чехов"),
        ("Чехов, нет воды третий день", "chekhovsky", None, "Чехов"),
        ("на Суворова 12 нет воды", "berezovsk", "улица Суворова", None),
        ("в Суворове нет воды", "suvorovsky", None, "Суворов"),
        # a district adjective and a street: the gender decides
        ("На Советской прорвало трубу, нет воды", "berezovsk", "Советская улица", None),
        ("В Советском районе нет воды", "sovetsky", None, None),
        # a common-word village: only with a cue
        ("В Заре нет воды", "sovetsky", None, "Заря"),
        ("Нет воды, а заря уже встала", None, None, None),
    ],
)
def test_a_name_read_two_ways_is_read_by_its_cues(builder, text, municipality, street, settlement):
    s = builder(_post(text))
    assert (s.municipality, s.street, s.entities.address.settlement) == (municipality, street, settlement), (
        text,
        s.reasons,
    )


def test_a_bare_word_of_streets_in_several_towns_is_a_street_of_all_of_them(builder):
    """«Мира»: «переулок Мира» of Суворов district, «улица Мира» of Берёзовск and Чехов district —
    as a street listed in all three: the shared-street town (Берёзовск), weakly."""
    s = builder(_post("Яма на Мира 5, колесо пробил"))
    assert s.municipality == "berezovsk" and s.entities.municipality_kind == "street"
    assert builder(_post("Яма на пер. Мира 5, колесо пробил")).municipality == "suvorovsky"


def test_check_config_lists_every_collision_with_its_reading(region, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["--config", str(REGION), "check-config", "--collisions"]) == 0
    out = capsys.readouterr().out
    for line in (
        "«Прорвало трубу на Чехова 5» → улица Чехова, дом 5 → город Берёзовск",
        "«В Чехове нет воды» → Чехов → Чеховский район",
        "«г. Чехов, ул. Ленина 3 — нет воды» → Чехов, улица Ленина, дом 3 → Чеховский район",
        "«Прорвало трубу на Суворова 5» → улица Суворова, дом 5 → город Берёзовск",
        "«В Суворове нет воды» → Суворов → Суворовский район",
        "«На Советской опять яма» → Советская улица → город Берёзовск",
        "«В Советском районе нет воды» → Советский район",
        "«В Заре нет воды» → Заря → Советский район",
        "«Яма на Ленина 5» → улица Ленина, дом 5 → город Берёзовск",
    ):
        assert line in out, line
    heads = [x for x in out.splitlines() if " — " in x and not x.startswith(" ")]
    for name, kind in (
        ("Чехов", "место (город, село, район) и улица"),
        ("Суворов", "место (город, село, район) и улица"),
        ("Советский", "место (город, село, район) и улица"),
        ("Заря", "название — обычное слово"),
        ("улица Ленина", "улица в нескольких муниципалитетах"),
        ("Мира", "одно слово — улицы разных городов"),
    ):
        assert any(h.startswith(f"{name} — {kind}") for h in heads), (name, heads)


# ----------------------------------------------------------------------------- region scale
@pytest.mark.parametrize(
    "text",
    [
        "По всей области не чистят дороги",
        "Во всей области не чистят дороги, сколько можно",
        "В регионе не чистят дороги третий день",
        "В Тестовой области не чистят дороги, безобразие",
    ],
)
def test_a_post_about_the_whole_region_has_region_scale_and_goes_to_the_regional_body(region, builder, text):
    s = builder(_post(text, source="vk_berezovsk"))  # a town's page: the whole region still wins
    assert s.entities.region_wide and s.scale == "region" and s.municipality is None, s.reasons
    d = Router(region).route(category=s.category, municipality=s.municipality, scale=s.scale)
    assert d.body == "roads_region" and "место не названо" not in d.reason


@pytest.mark.parametrize(
    "text",
    [
        "по всей области не чистят дороги, у нас на Ленина 5 тоже",  # a narrower place
        "В Берёзовске не чистят дороги",
        "В области медицины не чистят дороги",  # «в области» alone is not the region
        "Не чистят дороги третий день",
    ],
)
def test_a_narrower_place_or_no_region_words_is_not_region_scale(builder, text):
    s = builder(_post(text))
    assert not s.entities.region_wide and s.scale != "region", s.reasons


def test_kursk_region_post_routes_to_the_regional_roads_committee(kursk_builder, kursk):
    s = kursk_builder(_post("В Курской области совсем не чистят дороги, сплошной гололёд"))
    assert s.category == "roads" and s.scale == "region" and s.municipality is None, s.reasons
    d = Router(kursk).route(category=s.category, subcategory=s.subcategory, municipality=None, scale="region")
    assert d.body == "reg_transport_roads", d.reason


def test_region_scale_of_an_incident():
    assert scale_from(set(), set(), set(), set(), region_wide=True) == "region"
    assert scale_from({"kursk"}, set(), set(), set(), region_wide=True) == "municipality"
    assert scale_from(set(), set(), set(), set()) == "municipality"


def test_region_posts_cluster_together_and_not_with_a_towns_incident(region, builder):
    c = Clusterer(region.clustering)
    town = builder(_post("В Берёзовске не чистят дороги, машины застревают", n=1, hour=8))
    whole = builder(_post("По всей области не чистят дороги, машины застревают", n=2, hour=9))
    again = builder(_post("В регионе опять не чистят дороги, машины застревают", n=3, hour=10))
    d_town = c.assign(town)
    d_whole = c.assign(whole)
    d_again = c.assign(again)
    assert d_whole.new and d_whole.incident != d_town.incident
    assert not d_again.new and d_again.incident == d_whole.incident
    late = builder(_post("В Берёзовске опять не чистят дороги, машины застревают", n=4, hour=11))
    assert c.assign(late).incident == d_town.incident


def test_a_region_incident_end_to_end(region, capsys, monkeypatch, tmp_path):
    """Imported, clustered, routed and shown: the whole region's incident goes to the regional
    ministry, the town's to the town, and `show` names the region and the scale in Russian."""
    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("INCIDENTS_CONFIG", str(REGION))
    monkeypatch.setenv("INCIDENTS_SIGNALS_MODEL", "off")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["import", str(REGION / "posts.jsonl")]) == 0
    capsys.readouterr()
    assert main(["export", "incidents"]) == 0
    incidents = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    roads = [i for i in incidents if i["category"] == "roads"]
    whole = next(i for i in roads if i["municipality"] is None)
    assert whole["body"] == "roads_region" and sorted(whole["posts"]) == ["ok:t2", "vk:t1"]
    assert next(i for i in roads if i["municipality"] == "berezovsk")["body"] == "adm_berezovsk"
    water = {p: i["municipality"] for i in incidents if i["category"] == "water" for p in i["posts"]}
    assert water == {"vk:t4": "berezovsk", "vk:t5": "chekhovsky", "vk:t6": "chekhovsky"}
    assert main(["show", str(whole["id"])]) == 0
    out = capsys.readouterr().out
    assert "масштаб: регион" in out and "Тестовая область (весь регион)" in out


def test_the_console_names_the_scale_and_the_whole_region_in_russian(region):
    from console.data.names import Names

    names = Names(region)
    assert names.scale("region") == "регион (вся область или несколько муниципалитетов)"
    assert names.place(None, "region") == "Тестовая область (весь регион)"
    assert names.place("berezovsk", "region") == "город Берёзовск"  # a route through several towns
    assert names.place(None, "municipality") == "не определён"


def test_a_place_given_on_the_form_is_narrower_than_the_whole_region(builder):
    post = _post("По всей области не чистят дороги")
    post.address = "г. Чехов, ул. Ленина, 3"
    s = builder(post)
    assert not s.entities.region_wide and s.municipality == "chekhovsky" and s.scale == "house", s.reasons
