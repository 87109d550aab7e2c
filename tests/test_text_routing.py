"""The text routing model: learn from a history file → route → evaluate on the later months.

A small synthetic history (Lipetsk test region, three months) where the body follows the words
and, for the yard's rubbish, the district the address names: what the St Petersburg portal
does with its reason × district, in miniature."""

from __future__ import annotations

import csv
import json
import random

import pytest

from cli.main import main
from core.config import load_region
from core.signed_pickle import checksum_path
from incidents.domain.routing import Router
from incidents.domain.text_routing import (
    PlaceParser,
    UntrustedRoutingModel,
    load_text_router,
    model_path,
    street_of,
)
from incidents.services.routing_text import choose_threshold, gazetteer
from tests.conftest import LIPETSK

pytest.importorskip("sklearn")

_PROBLEMS = [
    (["яма на дороге", "разбитый асфальт", "провал на проезжей части", "ямы на трассе"], "roads_region"),
    (
        ["в квартире холодно", "батареи не греют", "нет отопления в доме", "холодные радиаторы"],
        "gzhi_lipetsk",
    ),
    (["мусор во дворе не вывозят", "переполнены контейнеры", "свалка у подъезда", "мусорка не убрана"], None),
]
_ADDRESSES = {
    "lipetsk": ["г. Липецк, улица Гагарина, дом 5", "г. Липецк, улица Катукова, дом 12"],
    "yelets": ["город Елец, улица Коммунаров, дом 3", "город Елец, улица Коммунаров, дом 40"],
}
_TAILS = ["", " уже неделю", " сделайте что-нибудь", " просим принять меры", " сколько можно"]


def _history(path, n: int = 240, seed: int = 7):
    """n complaints over Jan–Mar 2026; rubbish goes to the administration of the address's town."""
    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "created_at", "text", "address", "district", "body"])
        for i in range(n):
            phrases, body = rnd.choice(_PROBLEMS)
            town = rnd.choice(list(_ADDRESSES))
            body = body or f"adm_{town}"
            month = 1 + i * 3 // n
            when = f"2026-{month:02d}-{1 + i % 27:02d}T10:00:00"
            name = "город Липецк" if town == "lipetsk" else "город Елец"
            text = rnd.choice(phrases) + rnd.choice(_TAILS)
            w.writerow([i + 1, when, text, rnd.choice(_ADDRESSES[town]), name, body])
    return path


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("INCIDENTS_CONFIG", str(LIPETSK))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path


def _run(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    out, _err = capsys.readouterr()
    return code, out


def test_learn_route_evaluate(env, capsys):
    hist = _history(env / "history.csv")
    code, out = _run(capsys, "routing", "learn", str(hist), "--no-table", "-o", str(env), "--json")
    assert code == 0
    report = json.loads(out)["text_model"]
    cfg = load_region(LIPETSK)
    path = model_path(cfg)
    assert report["model"] == str(path) and path.is_file() and checksum_path(path).is_file()
    assert str(path).startswith(str(env / "var" / "models"))  # the data dir, never the repository
    summary = (env / "learned_text_routing.yaml").read_text(encoding="utf-8")
    assert "roads_region" in summary and checksum_path(path).read_text().split()[0] in summary
    assert 0 < report["threshold"] <= 1 and report["validation"]["n"] > 0

    # Router(cfg) reads the model from the data dir: explicit rules → text model → rules
    router = Router(cfg)
    assert router.text is not None
    d = router.route(category=None, text="огромная яма на дороге", address="")
    assert d.body == "roads_region" and d.learned == "text" and d.assigned
    assert d.reason.startswith("обучено по тексту: слова «") and "вероятность" in d.reason
    assert "Управление дорог" in d.reason
    # the district comes from the address line: the same words, two towns, two administrations
    yard = "мусор во дворе не вывозят"
    assert router.route(category=None, text=yard, address=_ADDRESSES["yelets"][0]).body == "adm_yelets"
    assert router.route(category=None, text=yard, address=_ADDRESSES["lipetsk"][0]).body == "adm_lipetsk"

    code, out = _run(capsys, "routing", "evaluate", str(hist), "--split", "time", "--no-table", "--json")
    tm = json.loads(out)["text_model"]
    assert code == 0 and tm["test"]["period"][0].startswith("2026-03")  # whole later month held back
    assert tm["train"]["period"][1] < tm["test"]["period"][0]
    assert tm["exact"] >= 0.95 and tm["organisation"] >= tm["exact"]
    assert tm["coverage"] > 0.5 and tm["covered_exact"] >= 0.95


def test_below_the_threshold_the_rules_decide(env, capsys, lipetsk):
    hist = _history(env / "history.csv")
    assert _run(capsys, "routing", "learn", str(hist), "--no-table", "-o", str(env), "--json")[0] == 0
    model = load_text_router(model_path(lipetsk))
    assert model is not None
    text = "холодные радиаторы"
    sure = Router(lipetsk, learned=False, text=model).route(
        category="water", municipality="yelets", text=text
    )
    assert sure.body == "gzhi_lipetsk" and sure.learned == "text"
    model.threshold = 1.01  # nothing is that sure: the post goes on to the rules
    unsure = Router(lipetsk, learned=False, text=model).route(
        category="water", municipality="yelets", text=text
    )
    rules = Router(lipetsk, learned=False).route(category="water", municipality="yelets")
    assert unsure == rules and unsure.learned is None


def test_threshold_is_the_lowest_probability_that_keeps_the_precision():
    probs = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5]
    right = [True, True, True, False, True, False]
    assert choose_threshold(right, probs, 0.8) == 0.6  # 4 of 5 above 0.6
    assert choose_threshold(right, probs, 1.0) == 0.8
    assert choose_threshold([False, False], [0.9, 0.8], 0.5) == 1.0  # never sure enough: never decides


def test_a_region_without_history_routes_by_rules(env, lipetsk):
    router = Router(lipetsk)  # no model in the data dir, no table in the folder
    assert router.text is None and router.learned is None
    d = router.route(category="water", municipality="yelets", text="батареи не греют", address="")
    assert d == Router(lipetsk, learned=False).route(category="water", municipality="yelets")


def test_a_changed_or_unsigned_model_is_refused(env, capsys, lipetsk):
    hist = _history(env / "history.csv", n=120)
    assert _run(capsys, "routing", "learn", str(hist), "--no-table", "-o", str(env))[0] == 0
    path = model_path(lipetsk)
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(UntrustedRoutingModel):
        load_text_router(path)
    checksum_path(path).unlink()
    with pytest.raises(UntrustedRoutingModel):
        Router(lipetsk)


def test_address_to_district_without_the_signal_stage(lipetsk):
    assert street_of("г.Санкт-Петербург, Мебельная улица, дом 47, корпус 1") == "мебельная улица"
    assert street_of("город Колпино, улица Машиностроителей, дом 12") == "улица машиностроителей"
    assert street_of("") is None
    parse = PlaceParser(gazetteer(lipetsk))
    assert parse("г. Липецк, улица Катукова, дом 1") == "lipetsk"
    assert parse("город Грязи, улица Правды, дом 2") == "gryazinsky"  # the town, when the street is unknown
    assert parse("") is None


def test_one_post_fast_path_equals_sklearn(env, capsys, lipetsk):
    import numpy as np

    hist = _history(env / "history.csv", n=120)
    assert _run(capsys, "routing", "learn", str(hist), "--no-table", "-o", str(env))[0] == 0
    model = load_text_router(model_path(lipetsk))
    for text, address in [
        ("Яма на дороге!", "г. Липецк, улица Гагарина, дом 5"),
        ("непонятно что", ""),
        ("", ""),
    ]:
        doc = model._docs([(text, address, model.place_of(address, None))])
        slow = model.classifier.decision_function(model.vectorizer.transform(doc))
        assert np.allclose(model._one_margin(doc[0]), slow[0])


def test_a_dispatchers_correction_wins_over_the_text_model(env, capsys, lipetsk):
    """Reassignments folded into the table after the model learned outrank it; plain history does not."""
    from incidents.domain.learned_routing import Case, Example, LearnedTable

    hist = _history(env / "history.csv")
    assert _run(capsys, "routing", "learn", str(hist), "--no-table", "-o", str(env))[0] == 0
    model = load_text_router(model_path(lipetsk))
    case = Case("roads", None, None, "yelets")
    history_only = LearnedTable.learn([Example(case, "adm_yelets")] * 5)
    route = {"category": "roads", "municipality": "yelets", "text": "яма на дороге", "address": ""}
    assert Router(lipetsk, learned=history_only, text=model).route(**route).body == "roads_region"
    corrected = LearnedTable.learn(
        [Example(case, "adm_yelets", 2, correction=True)] * 2,
        base=LearnedTable.learn([Example(case, "roads_region")]),
    )
    d = Router(lipetsk, learned=corrected, text=model).route(**route)
    assert (
        d.body == "adm_yelets"
        and d.learned == "category_place"
        and "переназначения диспетчеров: 4" in d.reason
    )
    back = LearnedTable.from_yaml(corrected.to_yaml())
    assert back.entries == corrected.entries  # the corrections survive the file


def test_a_history_with_one_body_is_refused_in_words(env, capsys):
    path = env / "one.csv"
    path.write_text("id,text,body\n1,яма на дороге,roads_region\n2,ямы,roads_region\n", encoding="utf-8")
    code = main(["routing", "learn", str(path), "--no-table", "-o", str(env)])
    _out, err = capsys.readouterr()
    assert code != 0 and "меньше двух органов" in err
    assert not (env / "var" / "models").exists()
