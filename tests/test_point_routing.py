"""The text routing model with the complaint's point (incidents.domain.point_routing).

A synthetic history in a copy of the Lipetsk test region given three square «okrugs»: the same
words («лифт не работает», no address line) go to the housing inspectorate from one building
and to the city administration from another, as a St Petersburg building's complaints go to
its own management company; the yard's rubbish goes to the administration of the district the
point lies in. Only the point can tell them apart."""

from __future__ import annotations

import csv
import json
import random
import shutil

import pytest

from cli.main import main
from core.config import load_region
from incidents.domain.point_routing import PointHistory, desk_labels
from incidents.domain.routing import Router
from incidents.domain.text_routing import load_text_router, model_path
from tests.conftest import LIPETSK

pytest.importorskip("sklearn")

A = (52.571, 39.521)  # a building in the first Lipetsk okrug
B = (52.582, 39.571)  # a building in the second Lipetsk okrug
YELETS = (52.61, 38.50)


def _square(lon0: float, lat0: float, lon1: float, lat1: float) -> list[list[list[float]]]:
    return [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]


@pytest.fixture
def region(tmp_path, monkeypatch):
    """The Lipetsk test region with boundaries: two okrugs of Lipetsk and one of Yelets."""
    root = tmp_path / "lipetsk"
    shutil.copytree(LIPETSK, root)
    features = [
        ("Липецк-1", _square(39.50, 52.55, 39.55, 52.60)),
        ("Липецк-2", _square(39.55, 52.55, 39.60, 52.60)),
        ("Елец-центр", _square(38.45, 52.58, 38.55, 52.65)),
    ]
    geo = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": n}, "geometry": {"type": "Polygon", "coordinates": c}}
            for n, c in features
        ],
    }
    (root / "boundaries.geojson").write_text(json.dumps(geo, ensure_ascii=False), encoding="utf-8")
    with (root / "region.yaml").open("a", encoding="utf-8") as f:
        f.write(
            "map:\n  boundaries: boundaries.geojson\n  features:\n"
            "    Липецк-1: lipetsk\n    Липецк-2: lipetsk\n    Елец-центр: yelets\n"
        )
    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("INCIDENTS_CONFIG", str(root))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return root


def _near(point: tuple[float, float], rnd: random.Random) -> tuple[float, float]:
    """The same building: the portal puts its complaints within a few metres of one point."""
    return point[0] + rnd.uniform(-3e-5, 3e-5), point[1] + rnd.uniform(-3e-5, 3e-5)


def _history(path, n: int = 300, seed: int = 3):
    """Three months; no address line at all, so that only the point can place a complaint."""
    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "created_at", "text", "address", "lat", "lon", "district", "body"])
        for i in range(n):
            kind = i % 4
            tail = rnd.choice(["", " уже неделю", " просим принять меры", " сколько можно"])
            if kind == 0:
                text, body, where, town = "яма на дороге", "roads_region", rnd.choice([A, B, YELETS]), None
            elif kind == 1:
                where = rnd.choice([A, B])
                text, body, town = (
                    "лифт не работает",
                    "gzhi_lipetsk" if where == A else "adm_lipetsk",
                    "lipetsk",
                )
            else:
                where = rnd.choice([A, YELETS])
                town = "lipetsk" if where == A else "yelets"
                text, body = "мусор во дворе не вывозят", f"adm_{town}"
            lat, lon = _near(where, rnd)
            when = f"2026-{1 + i * 3 // n:02d}-{1 + i % 27:02d}T10:00:00"
            name = {"lipetsk": "город Липецк", "yelets": "город Елец", None: ""}[town]
            w.writerow([i + 1, when, text + tail, "", f"{lat:.7f}", f"{lon:.7f}", name, body])
    return path


def test_the_point_tells_buildings_and_districts_apart(region, tmp_path, capsys):
    hist = _history(tmp_path / "history.csv")
    assert main(["routing", "learn", str(hist), "--no-table", "-o", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["text_model"]
    assert report["points"] is True  # the history gives points: learned with them by default
    cfg = load_region(region)
    model = load_text_router(model_path(cfg))
    assert model is not None and model.point_history is not None
    assert model.meta["desks"] == ["adm_{municipality}"] and model.meta["c"] == 0.1
    assert len(model.point_history.okrugs) == 3
    summary = (tmp_path / "learned_text_routing.yaml").read_text(encoding="utf-8")
    desk = next(line for line in summary.splitlines() if "body:" in line and "adm_{municipality}" in line)
    assert "орган своего района" in desk and "appeals: 0" not in desk

    router = Router(cfg)
    lift = "лифт не работает"
    at_a = router.route(category=None, text=lift, address="", lat=A[0], lon=A[1])
    at_b = router.route(category=None, text=lift, address="", lat=B[0], lon=B[1])
    assert (at_a.body, at_b.body) == ("gzhi_lipetsk", "adm_lipetsk")
    assert at_a.learned == at_b.learned == "text"
    assert "и точка на карте →" in at_a.reason  # the card says the point counted
    # the desk learned once for every district, filled with the district the point lies in
    yard = "мусор во дворе не вывозят"
    assert router.route(category=None, text=yard, lat=YELETS[0], lon=YELETS[1]).body == "adm_yelets"
    assert router.route(category=None, text=yard, lat=A[0], lon=A[1]).body == "adm_lipetsk"
    # a post without a point still routes on its words
    road = router.route(category=None, text="огромная яма на дороге")
    assert road.body == "roads_region" and "точка" not in road.reason


def test_points_raise_the_later_months_figure(region, tmp_path, capsys):
    hist = _history(tmp_path / "history.csv")
    figures = {}
    for extra in ((), ("--no-points",)):
        argv = ["routing", "evaluate", str(hist), "--split", "time", "--no-table", "--json", *extra]
        assert main(argv) == 0
        figures[extra] = json.loads(capsys.readouterr().out)["text_model"]
    with_points, words_only = figures[()], figures[("--no-points",)]
    assert with_points["points"] and not words_only["points"]
    assert words_only["place_from_point"] is None
    assert with_points["place_from_point"]["right"] == 1.0  # every district the file names
    # without the point the lift and the rubbish cannot be told apart: half of them go wrong
    assert words_only["exact"] <= 0.75
    assert with_points["exact"] >= 0.95 > words_only["exact"]
    assert main(["routing", "evaluate", str(hist), "--split", "time", "--no-table"]) == 0
    assert "район по точке" in capsys.readouterr().out  # the printed report names it too


def test_a_model_without_points_ignores_a_given_point(region, tmp_path, capsys):
    hist = _history(tmp_path / "history.csv", n=160)
    out = tmp_path / "not" / "made" / "yet"  # `-o` may name a folder that does not exist yet
    assert main(["routing", "learn", str(hist), "--no-table", "-o", str(out), "--no-points"]) == 0
    assert (out / "learned_text_routing.yaml").is_file()
    capsys.readouterr()
    cfg = load_region(region)
    model = load_text_router(model_path(cfg))
    assert model is not None and model.point_history is None
    with_point = model.predict("яма на дороге", "", None, None, A[0], A[1])
    without = model.predict("яма на дороге")
    assert with_point is not None and with_point == without and with_point.body == "roads_region"


def test_a_model_pickled_before_points_loads_and_routes(region, tmp_path, capsys):
    """A model saved before the `points` field existed: its pickled state has no such slot."""
    hist = _history(tmp_path / "history.csv", n=160)
    assert main(["routing", "learn", str(hist), "--no-table", "-o", str(tmp_path), "--no-points"]) == 0
    capsys.readouterr()
    path = model_path(load_region(region))
    model = load_text_router(path)
    assert model is not None
    del model.points  # as the model pickled before the field: the slot is absent from its state
    old_path = model.save(tmp_path / "old.pkl")
    old = load_text_router(old_path)
    assert old is not None
    assert not hasattr(old, "points") and old.point_history is None
    d = old.predict("яма на дороге", "", None, None, A[0], A[1])
    assert d is not None and d.body == "roads_region"


def test_one_post_fast_path_equals_sklearn_with_the_point(region, tmp_path, capsys):
    import numpy as np

    hist = _history(tmp_path / "history.csv", n=160)
    assert main(["routing", "learn", str(hist), "--no-table", "-o", str(tmp_path)]) == 0
    capsys.readouterr()
    model = load_text_router(model_path(load_region(region)))
    assert model is not None and model.point_history is not None
    for text, point in [("лифт не работает", A), ("непонятно что", (None, None)), ("", YELETS)]:
        places = model.place_tokens([point], 1)
        assert places is not None
        doc = model._docs([(text, "", None)], places)
        assert "place" in doc[0]
        slow = model.classifier.decision_function(model.vectorizer.transform(doc))
        assert np.allclose(model._one_margin(doc[0]), slow[0])


def test_point_history_tokens_leave_the_complaint_itself_out():
    square = (((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)),)
    okrugs = PointHistory.make_okrugs([("Первый", "north", [square]), ("Пустой", None, [])])
    assert len(okrugs) == 1  # a feature without a polygon is dropped
    hist = PointHistory.learn(
        [(0.5, 0.5, "zha"), (0.5, 0.5, "zha"), (0.5, 0.5, "adm"), (None, None, "x")], okrugs, (15.0,)
    )
    assert hist.district(0.5, 0.5) == "north" and hist.district(2.0, 2.0) is None
    tokens = hist.tokens(0.5, 0.5).split()
    assert tokens[:2] == ["p_north", "o_0"] and {"h0_zha", "h0_adm", "h0m_zha"} <= set(tokens)
    # learning on a «zha» complaint of this cell: the neighbours are one «zha» and one «adm»
    mine = hist.tokens(0.5, 0.5, exclude="zha").split()
    assert {"h0_zha", "h0_adm", "h0m_zha"} <= set(mine)
    alone = PointHistory.learn([(0.5, 0.5, "zha")], okrugs, (15.0,))
    assert alone.tokens(0.5, 0.5, exclude="zha").split() == ["p_north", "o_0", "h0_none"]
    assert hist.tokens(None, None) == "p_none" and hist.tokens(5.0, 5.0).startswith("p_outside")


def test_desk_families_are_bodies_that_exist_once_per_district():
    bodies = ["zha_north", "zha_south", "zha_east", "adm_north", "adm_south", "ckb", "gzhi_north"]
    labels = desk_labels(bodies, ["north", "south", "east"])
    assert labels == {
        "zha_north": "zha_{municipality}",
        "zha_south": "zha_{municipality}",
        "zha_east": "zha_{municipality}",
    }
    assert desk_labels(bodies, ["north", "south"], min_members=2)["adm_south"] == "adm_{municipality}"


def test_an_incidents_point_reaches_the_model(region, tmp_path, capsys, sqlite_engine):
    """The product path: refresh routes a new incident with the point one of its posts gave."""
    from datetime import UTC, datetime

    from sqlmodel import Session, select

    from incidents.services.refresh import route_incident
    from storage.models import Assignment, Incident
    from storage.store import prepare

    hist = _history(tmp_path / "history.csv")
    assert main(["routing", "learn", str(hist), "--no-table", "-o", str(tmp_path)]) == 0
    capsys.readouterr()
    cfg = load_region(region)
    prepare(sqlite_engine, cfg)
    router = Router(cfg)
    ts = datetime(2026, 4, 1, 10, tzinfo=UTC)
    bodies = {}
    with Session(sqlite_engine) as s:
        for name, point in (("A", A), ("B", B), ("none", (None, None))):
            inc = Incident(
                title="лифт", category="other", summary="лифт не работает", opened_at=ts, updated_at=ts
            )
            inc.lat, inc.lon = point
            s.add(inc)
            s.flush()
            route_incident(s, router, inc, ts)
            rule = s.exec(select(Assignment.rule).where(Assignment.incident_id == inc.id)).one()
            bodies[name] = (inc.body_code, rule)
        s.commit()
    assert bodies["A"] == ("gzhi_lipetsk", "learned:text")
    assert bodies["B"] == ("adm_lipetsk", "learned:text")
    assert bodies["none"][0] is not None  # no point: routed all the same (the model or the rules)
