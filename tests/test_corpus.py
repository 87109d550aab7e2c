"""Measurement on real data (`incidents evaluate-corpus`) and the St Petersburg configuration.

The real files live in ../shared/data and are never copied here: the tests that read them
skip when they are absent. The measurement code itself is also checked on a few portal-style
rows written into a temporary file, so it is tested on every machine.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from core.config import load_region
from lab.__main__ import main
from lab.corpus import SPB_FILE, TELEGRAM_FILE, evaluate_news, evaluate_spb, street_of, text_names_place
from pipelines.signals import SignalBuilder
from tests.conftest import ROOT

SPB = ROOT / "config" / "regions" / "spb"
DATA = ROOT.parent / "shared" / "data"
needs_data = pytest.mark.skipif(
    not (DATA / SPB_FILE).is_file() or not (DATA / TELEGRAM_FILE).is_file(),
    reason="../shared/data is not on this machine",
)

SPB_DISTRICTS = {
    "Адмиралтейский",
    "Василеостровский",
    "Выборгский",
    "Калининский",
    "Кировский",
    "Колпинский",
    "Красногвардейский",
    "Красносельский",
    "Кронштадтский",
    "Курортный",
    "Московский",
    "Невский",
    "Петроградский",
    "Петродворцовый",
    "Приморский",
    "Пушкинский",
    "Фрунзенский",
    "Центральный",
}


@pytest.fixture(scope="module")
def spb():
    return load_region(SPB)


@pytest.fixture(scope="module")
def spb_builder(spb):
    return SignalBuilder(spb, use_ner=False)


def test_spb_config_loads_with_its_18_districts(spb) -> None:
    assert spb.region.code == "spb"
    munis = spb.territories.municipalities
    assert {m.name for m in munis} == SPB_DISTRICTS
    nevsky = spb.municipality_by_code["nevsky"]
    assert "Рыбацкое" in {s.name for s in nevsky.subdivisions}
    assert "Октябрьская набережная" in {s.name for s in nevsky.streets}
    assert "Шушары" in {s.name for s in spb.municipality_by_code["pushkinsky"].settlements}
    # the bodies as the portal names them, one housing agency and administration per district
    names = {b.name for b in spb.bodies.bodies}
    assert 'СПб ГКУ "Центр комплексного благоустройства"' in names and "СПб ГБУ «Ленсвет»" in names
    for m in munis:
        assert f"zha_{m.code}" in spb.body_by_code and f"adm_{m.code}" in spb.body_by_code


def test_spb_and_kursk_share_the_language_base_not_each_others_names(spb, kursk) -> None:
    """Both regions build on config/base/ru (issue 21): every base rule is in both, St Petersburg's
    own rules are not in Kursk, and Kursk's local names (utility companies, rivers, its highways)
    are not in St Petersburg — as they were while it extended Kursk's rubricator."""
    from core.config import Rubricator, load_file

    base = load_file(ROOT / "config" / "base" / "ru" / "rubricator.yaml", Rubricator)
    base_rules = {r.id for c in base.categories for r in _rules(c)}
    spb_rules = {r.id: r for c in spb.rubricator.categories for r in _rules(c)}
    kursk_rules = {r.id: r for c in kursk.rubricator.categories for r in _rules(c)}
    assert base_rules < set(spb_rules) and base_rules < set(kursk_rules)
    assert "spb.landscaping.advertising.notices" in spb_rules
    assert "spb.landscaping.advertising.notices" not in kursk_rules
    assert "roads.regional_road.named" in kursk_rules and "roads.regional_road.named" not in spb_rules
    assert "Квадра" in kursk_rules["housing_utilities.heating.generic"].phrases
    assert "Квадра" not in spb_rules["housing_utilities.heating.generic"].phrases
    assert [c.code for c in spb.rubricator.categories] == [c.code for c in kursk.rubricator.categories]


def _rules(cat):  # noqa: ANN001, ANN202
    from core.config import _all_rules

    return _all_rules(cat)


def test_extends_merges_by_code_and_reports_a_missing_base(tmp_path: Path) -> None:
    from core.config import ConfigError, Rubricator, load_file

    base = tmp_path / "base.yaml"
    base.write_text(
        "categories:\n"
        "  - code: roads\n    name: Дороги\n    rules: [{id: roads.pit, phrases: [яма]}]\n"
        "    subcategories:\n      - code: snow\n        name: Снег\n        rules: [{id: roads.snow, phrases: [снег]}]\n",
        encoding="utf-8",
    )
    child = tmp_path / "rubricator.yaml"
    child.write_text(
        "extends: base.yaml\ncategories:\n"
        "  - code: roads\n    name: Дороги\n    subcategories:\n"
        "      - code: snow\n        name: Снег\n        rules: [{id: roads.snow.ice, phrases: [наледь]}]\n"
        "  - code: waste\n    name: Мусор\n    rules: [{id: waste.bin, phrases: [урна]}]\n",
        encoding="utf-8",
    )
    rub = load_file(child, Rubricator)
    assert [c.code for c in rub.categories] == ["roads", "waste"]
    snow = rub.categories[0].subcategories[0]
    assert [r.id for r in snow.rules] == ["roads.snow", "roads.snow.ice"]
    child.write_text("extends: nowhere.yaml\ncategories: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="extends"):
        load_file(child, Rubricator)


def test_district_names_inside_street_names_are_streets(spb_builder) -> None:
    s = spb_builder_post(spb_builder, "Граффити на фасаде, Невский проспект, дом 74")
    assert s.municipality is None or s.municipality == "tsentralny"
    s = spb_builder_post(spb_builder, "Мусор у парадной 4 не убирают неделю, Октябрьская набережная, дом 124")
    assert s.municipality == "nevsky" and s.is_complaint
    s = spb_builder_post(spb_builder, "В Невском районе на Дыбенко яма во дворе, просим отремонтировать")
    assert s.municipality == "nevsky"


def spb_builder_post(builder, text):  # noqa: ANN001, ANN201
    from datetime import UTC, datetime

    from core.records import PostRecord

    return builder(
        PostRecord(
            network="pos",
            external_id="t",
            source_id="s",
            text=text,
            created_at=datetime(2020, 11, 2, tzinfo=UTC),
        )
    )


def test_street_and_place_helpers() -> None:
    assert street_of("г.Санкт-Петербург, Тамбовская улица, дом 11, литера А") == "Тамбовская улица"
    assert street_of("город Павловск, Берёзовая улица, дом 24") == "Берёзовая улица"
    assert text_names_place(
        "мусор во дворе д. 155 пр. Ветеранов", "г.Санкт-Петербург, проспект Ветеранов, дом 155", ""
    )
    assert not text_names_place("Граффити на заборе", "", "муниципальный округ Сампсониевское")


def test_measurement_on_portal_style_rows(spb, spb_builder, kursk) -> None:
    rows = [
        {
            "id": "1",
            "text": "Мусор у парадной не убирают уже неделю",
            "district": "Невский",
            "address": "г.Санкт-Петербург, Октябрьская набережная, дом 124, литера А",
            "municipality": "муниципальный округ Народный",
            "category": "Благоустройство",
        },
        {
            "id": "2",
            "text": "Надписи на стене дома, просьба закрасить",
            "district": "Фрунзенский",
            "address": "г.Санкт-Петербург, Тамбовская улица, дом 11, литера А",
            "municipality": "муниципальный округ Волковское",
            "category": "Фасад",
        },
        {
            "id": "3",
            "text": "Спасибо",
            "district": "Кировский",
            "address": "",
            "municipality": "муниципальный округ Дачное",
            "category": "Благоустройство",
        },
    ]
    r = evaluate_spb(rows, spb_builder, spb, keep_errors=5)
    assert r.rows == 3 and r.recall_with_address == pytest.approx(2 / 3)
    assert r.district_n == 2 and r.district_accuracy == 1.0
    assert len(r.misses) == 1 and r.misses[0].startswith("3:")
    news = [
        {
            "message_id": "1",
            "channel": "112",
            "text": "В Подмосковье загорелась электричка, пострадавших нет, "
            "на месте работают спасатели. Возбуждено уголовное дело.",
        },
        {
            "message_id": "2",
            "channel": "112",
            "text": "Синоптики обещают снег и гололедицу, водителям рекомендуют "
            "пересесть на общественный транспорт.",
        },
    ]
    n = evaluate_news(news, SignalBuilder(kursk, use_ner=False))
    assert n.posts == 2 and n.complaint_rate == 0.0 and n.by_channel["112"] == (2, 0.0)


@needs_data
def test_evaluate_corpus_on_the_real_files(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate-corpus", "--data", str(DATA), "--sample", "300", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["spb"]["rows"] == 300 and out["telegram"]["posts"] == 4000
    # floors well under the measured figures (README): a regression, not noise, breaks them
    assert out["spb"]["recall_with_address"] > 0.55
    assert out["spb"]["district_accuracy"] > 0.75
    assert out["telegram"]["false_positive_rate"] < 0.05


@needs_data
def test_real_files_have_the_columns_we_read() -> None:
    with gzip.open(DATA / SPB_FILE, "rt", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert {"text", "district", "address", "municipality", "category"} <= set(header)
    with gzip.open(DATA / TELEGRAM_FILE, "rt", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert {"message_id", "channel", "text"} <= set(header)


def test_missing_data_folder_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["evaluate-corpus", "--data", str(tmp_path)]) == 2
