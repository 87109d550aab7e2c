"""Issue 21: `incidents region new` scaffolds a region on config/base/ru that loads and processes
posts at once; `incidents check-config` says what is still missing and what each gap costs."""

import json

import pytest

from cli.main import main
from core.config import ConfigError, load_region
from core.latin import slug
from incidents.services.config_gaps import config_gaps
from incidents.services.region_scaffold import read_municipalities
from tests.conftest import KURSK, LIPETSK

CSV = """\
name,kind,lat,lon,oktmo,settlements
город Белгород,городской округ,50.5956,36.5873,14701000,
Белгородский район,муниципальный район,50.57,36.50,14610000,Разумное;Майский;Дубовое
Борисовский район,municipal_district,,,,Борисовка
"""
GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "Борисовский район"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[36.0, 50.5], [36.1, 50.5], [36.1, 50.7], [36.0, 50.5]]],
            },
        },
        {
            "type": "Feature",
            "properties": {"name": "Где-то ещё"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[1.0, 1.0], [2.0, 1.0], [1.0, 2.0], [1.0, 1.0]]],
            },
        },
    ],
}
SCAFFOLD_GAPS = {
    "no_bodies",
    "no_routing",
    "no_sources",
    "no_labels",
    "no_appeals",
    "no_unplaced_municipality",
    "no_streets",
    "no_settlements",
    "no_official_accounts",
    "bodies_without_contacts",
}


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("INCIDENTS_SIGNALS_MODEL", "off")  # the shipped model trains in 45 s: rules alone here
    monkeypatch.delenv("INCIDENTS_CONFIG", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (tmp_path / "m.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "b.geojson").write_text(json.dumps(GEOJSON, ensure_ascii=False), encoding="utf-8")
    return tmp_path


def test_codes_come_from_the_names():
    assert slug("город Белгород") == "belgorod"
    assert slug("Белгородский район") == "belgorodsky"
    assert slug("Алексеевский муниципальный округ") == "alekseevsky"


def test_a_bad_line_of_the_list_is_named(tmp_path):
    f = tmp_path / "m.csv"
    f.write_text("name,kind,lat,lon\nСуджа,городок,1,2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{f}:2: kind: 'городок'"):
        read_municipalities(f)


def test_semicolons_between_the_columns_and_between_the_settlements(tmp_path):
    """The Oryol set-up crashed with a traceback here: «;» between the columns and the settlements."""
    f = tmp_path / "m.csv"
    f.write_text(
        "name;kind;lat;lon;settlements\nБолховский район;муниципальный район;53.44;36.01;Болхов;Злынь;Сурьянино\n"
        "город Орёл;городской округ;52.97;36.06;\n",
        encoding="utf-8",
    )
    rows = read_municipalities(f)
    assert rows[0].settlements == ["Болхов", "Злынь", "Сурьянино"] and rows[1].settlements == []
    f.write_text("name;kind;lat;lon\nОрёл;городской округ;52.97;36.06;лишнее\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{f}:2: лишние столбцы"):
        read_municipalities(f)


def test_region_new_makes_a_folder_that_loads_processes_and_says_what_is_missing(env, capsys):
    folder = env / "regions" / "belgorod"
    code = main(
        [
            "region",
            "new",
            "belgorod",
            "--municipalities",
            str(env / "m.csv"),
            "--title",
            "Белгородская область",
            "--boundaries",
            str(env / "b.geojson"),
            "--dir",
            str(folder),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "Где-то ещё" in out  # the boundary that names no municipality is left out, and said
    cfg = load_region(folder)
    assert cfg.region.base == "ru" and len(cfg.rubricator.categories) == 15  # the language base
    assert [m.code for m in cfg.territories.municipalities] == ["belgorod", "belgorodsky", "borisovsky"]
    assert cfg.municipality_by_code["belgorod"].oktmo == "14701000"
    assert cfg.municipality_by_code["borisovsky"].centroid == (50.5667, 36.0667)  # from its boundary
    assert cfg.replies.signature == "ЦУР Белгородской области" and cfg.replies.templates
    geo = json.loads((folder / "boundaries.geojson").read_text(encoding="utf-8"))
    assert [f["properties"]["code"] for f in geo["features"]] == ["borisovsky"]
    located = cfg.boundaries()
    assert located is not None and located.locate(50.55, 36.05) == "borisovsky"  # the map reads them
    assert {g.code for g in config_gaps(cfg)} == SCAFFOLD_GAPS

    code = main(["--config", str(folder), "check-config"])
    out = capsys.readouterr().out
    assert (
        code == 0 and "конфигурация в порядке" in out and f"Чего ещё не хватает ({len(SCAFFOLD_GAPS)})" in out
    )
    assert "все инциденты уходят на ручной разбор" in out and "ничего не собирается" in out
    assert main(["--config", str(folder), "check-config", "--strict"]) == 3
    capsys.readouterr()

    posts = env / "posts.jsonl"
    posts.write_text(
        json.dumps(
            {
                "network": "vk",
                "external_id": "1_1",
                "source_id": "vk_test",
                "author_id": "u1",
                "text": "В Разумном третий день нет воды, сколько можно! Примите меры",
                "created_at": "2026-12-01T10:00:00+00:00",
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    assert main(["--config", str(folder), "import", str(posts)]) == 0
    capsys.readouterr()
    assert main(["--config", str(folder), "list", "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    # a complaint, placed by a settlement of the CSV, categorised by the base's rules
    assert len(rows) == 1 and rows[0]["title"] == "Холодное водоснабжение — Белгородский район, Разумное"
    assert (
        main(["region", "new", "belgorod", "--municipalities", str(env / "m.csv"), "--dir", str(folder)]) == 2
    )
    assert "папка уже есть" in capsys.readouterr().err


def test_check_config_costs_on_the_shipped_regions():
    """Kursk is filled in: only its crawl (the sample alone is enabled) and two districts'
    villages are missing — and its appeal history where the clone has no ../shared/data beside it
    (signals.yaml names the file outside the repository)."""
    kursk = load_region(KURSK)
    appeals = kursk.resolve_path(kursk.signals.model.appeals) if kursk.signals.model else None
    missing_history = ["no_appeals"] if appeals is None or not appeals.is_file() else []
    assert [g.code for g in config_gaps(kursk)] == ["no_sources", *missing_history, "no_settlements"]
    gaps = {g.code: g for g in config_gaps(load_region(LIPETSK))}
    assert "no_bodies" not in gaps and "no_routing" not in gaps
    assert all(g.what and g.cost for g in gaps.values())
