"""The desk step: which desk of an organisation takes a complaint now.

A small synthetic Kursk history: the city administration's committees take roads, lights and
trees by topic for a period, then the administration itself takes everything for a period, then
the committees again — what the Kursk feedback-platform file does, in miniature."""

from __future__ import annotations

import csv
import json
import random

import pytest

from core.config import load_region
from core.signed_pickle import checksum_path
from incidents.domain.desk_routing import DeskExample, DeskRouter, UntrustedDeskModel, load_desk_router
from incidents.domain.routing import Router
from incidents.services.routing_desk import (
    DeskRow,
    evaluate_desk_split,
    learn_desk_router,
    read_desk_rows,
    route_in_order,
)
from tests.conftest import KURSK

pytest.importorskip("sklearn")

_TOPICS = {
    "kursk_roads": ["яма на дороге", "разбитый асфальт на улице", "провал на проезжей части", "ямы во дворе"],
    "kursk_housing": ["не горит фонарь", "нет уличного освещения", "темно на улице фонари не работают"],
    "kursk_city_economy": ["аварийное дерево", "дерево упало на провода", "спилите сухое дерево"],
}
_CATEGORY = {"kursk_roads": "roads", "kursk_housing": "energy", "kursk_city_economy": "landscaping"}
_TAILS = ["", " уже неделю", " примите меры", " сколько можно", " на улице Ленина"]


def _examples(periods: list[tuple[str, int]], seed: int = 3) -> list[DeskExample]:
    """Periods of («desks» | «head», n appeals), in time order; a tenth go to a regional body."""
    rnd = random.Random(seed)
    out = []
    for kind, n in periods:
        for _ in range(n):
            if rnd.random() < 0.1:
                out.append(DeskExample("в поликлинике очередь", "reg_health", "healthcare"))
                continue
            desk = rnd.choice(list(_TOPICS))
            text = rnd.choice(_TOPICS[desk]) + rnd.choice(_TAILS)
            body = desk if kind == "desks" else "adm_kursk"
            out.append(DeskExample(text, body, _CATEGORY[desk], None, "kursk"))
    return out


@pytest.fixture(scope="module")
def cfg():
    return load_region(KURSK)


def _router(cfg, periods, *, fed: bool = True):
    """The desk step learned from `periods`; `fed`: then told again who took the last `window`
    appeals, as the nightly refresh does with the dispatchers' assignments (a step nobody has fed
    since fitting reads the history-wide share instead: test_an_unfed_step_reads_the_whole_history)."""
    examples = _examples(periods)
    router = DeskRouter.fit(
        examples, cfg.bodies.organisation_of, [b.code for b in cfg.bodies.bodies], min_examples=20
    )
    if fed:
        for e in examples[-router.window :]:
            router.observe(e.body)
    return router


def test_an_unfed_step_reads_the_whole_history(cfg):
    # the history ends with the head taking everything (30 appeals), but over the whole history the
    # desks took most: with nothing observed since fitting, the step follows the whole history
    router = _router(cfg, [("desks", 120), ("head", 30)], fed=False)
    taken, known = router.current("adm_kursk")
    assert known > router.window and taken * 2 < known
    item = DeskExample("яма на дороге", "kursk_roads", "roads", None, "kursk")
    assert router.choose("kursk_roads", item) is None  # not sent to the head on a stale tail
    for _ in range(router.window):  # one night's assignments: the head is taking them now
        router.observe("adm_kursk")
    d = router.choose("kursk_roads", item)
    assert d is not None and (d.body, d.kind) == ("adm_kursk", "head")
    mostly_head = _router(cfg, [("desks", 40), ("head", 110)], fed=False)
    assert mostly_head.choose("kursk_roads", item).body == "adm_kursk"  # the head's history-wide share


def test_desks_learned_per_organisation_and_current_desk(cfg):
    router = _router(cfg, [("desks", 120)])
    assert set(router.models) == {"adm_kursk"}  # the health committee has no desks under it
    taken, known = router.current("adm_kursk")
    assert (taken, known) == (0, router.window)
    item = DeskExample("огромная яма на дороге у дома", "adm_kursk", "roads", None, "kursk")
    d = router.choose("adm_kursk", item)  # the rules' fallback named the head: the model picks the desk
    assert d is not None and (d.body, d.kind) == ("kursk_roads", "desk")
    lights = DeskExample("не горит фонарь у подъезда", "adm_kursk", "energy", None, "kursk")
    assert router.choose("adm_kursk", lights).body == "kursk_housing"
    assert router.choose("kursk_city_economy", item) is None  # a desk the rules named is kept
    assert router.choose("reg_health", item) is None  # an organisation without desks: the rules'


def test_head_takes_over_when_its_latest_appeals_say_so(cfg):
    router = _router(cfg, [("desks", 120), ("head", 30)])
    taken, known = router.current("adm_kursk")
    assert taken * 2 >= known
    item = DeskExample("яма на дороге", "kursk_roads", "roads", None, "kursk")
    d = router.choose("kursk_roads", item)
    assert d is not None and (d.body, d.kind, d.head) == ("adm_kursk", "head", "adm_kursk")
    assert router.choose("adm_kursk", item) is None  # the rules already named the head
    for _ in range(router.window):  # the committees take the next ones: the state moves with them
        router.observe("kursk_housing")
    assert router.current("adm_kursk") == (0, router.window)
    assert router.choose("kursk_roads", item) is None
    router.observe("reg_health")  # another organisation's appeal does not move this one's
    assert router.current("adm_kursk") == (0, router.window)


def test_router_takes_the_desk_and_says_why(cfg):
    desks = _router(cfg, [("desks", 120)])
    plain = Router(cfg, learned=False).route(
        category="roads", subcategory="pothole", municipality="kursk", text="яма на дороге"
    )
    assert plain.body == "adm_kursk"  # precondition: the rules' «the city administration» for potholes
    d = Router(cfg, learned=False, desk=desks).route(
        category="roads", subcategory="pothole", municipality="kursk", text="яма на дороге"
    )
    assert (d.body, d.learned, d.rule) == ("kursk_roads", "desk", plain.rule)
    assert "отделы" in d.reason and "Комитет дорожного хозяйства" in d.reason
    head = _router(cfg, [("desks", 120), ("head", 30)])
    other = Router(cfg, learned=False).route(category="roads", municipality="kursk", text="нет разметки")
    assert other.body == "kursk_roads"
    d = Router(cfg, learned=False, desk=head).route(
        category="roads", municipality="kursk", text="нет разметки"
    )
    assert d.body == "adm_kursk" and "принимает Администрация города Курска" in d.reason
    far = Router(cfg, learned=False, desk=head).route(category="roads", municipality="lgov", text="яма")
    assert far.learned is None  # another organisation: the rules decide


def _rows(periods) -> list[DeskRow]:
    """Rows whose rules send every city complaint to the head (the rules' fallback)."""
    return [
        DeskRow(str(i), "", e, "adm_kursk" if e.body.startswith(("adm_kursk", "kursk_")) else e.body)
        for i, e in enumerate(_examples(periods, seed=11))
    ]


def test_evaluate_in_order_with_a_lag(cfg):
    rows = _rows([("desks", 150), ("head", 60), ("desks", 90)])
    out = evaluate_desk_split(cfg, rows, train_share=0.7, lags=(None, 0, 5))
    assert (out["train"], out["test"]) == (210, 90)
    frozen, fresh, late = out["desk frozen"], out["desk lag 0"], out["desk lag 5"]
    # the training period ends with the head taking everything; the test period is the desks'.
    # Frozen (nothing observed since fitting) the step reads the whole history, where the desks
    # took most (150 of 210): it no longer follows the stale tail to the head (it did: ≤ the rules)
    assert frozen["exact"] > out["rules"]["exact"] + 0.3
    assert fresh["exact"] > out["rules"]["exact"] + 0.3
    assert fresh["exact"] >= late["exact"]
    assert fresh["organisation"] == out["rules"]["organisation"]  # the step never leaves the organisation


def test_route_in_order_leaves_the_learned_state_alone(cfg):
    rows = _rows([("desks", 60), ("head", 40)])
    router = learn_desk_router(cfg, rows[:60], min_examples=20)
    before = router.current("adm_kursk")
    bodies = route_in_order(router, rows[60:], 0)
    assert router.current("adm_kursk") == before
    assert bodies[-1] == "adm_kursk"  # by the end the state has seen the head take over


def test_save_load_and_refuse_a_changed_file(cfg, tmp_path):
    router = _router(cfg, [("desks", 120)])
    path = router.save(tmp_path / "models" / "desk-kursk.pkl")
    loaded = load_desk_router(path)
    item = DeskExample("дерево упало на провода", "adm_kursk", "landscaping", None, "kursk")
    assert loaded is not None and loaded.choose("adm_kursk", item).body == "kursk_city_economy"
    assert load_desk_router(tmp_path / "none.pkl") is None
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(UntrustedDeskModel):
        load_desk_router(path)
    checksum_path(path).unlink()
    with pytest.raises(UntrustedDeskModel):
        load_desk_router(path)


def test_history_rows_through_the_signal_stage(cfg, kursk_builder, tmp_path):
    path = tmp_path / "history.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "executor"])
        w.writerow(
            [
                1,
                "Огромная яма на дороге на улице Ленина в Курске",
                "Комитет дорожного хозяйства города Курска",
            ]
        )
        w.writerow([2, "В поликлинике не записаться к врачу", "Комитет здравоохранения Курской области"])
        w.writerow([3, "Яма", "Неизвестный орган"])
    rows = read_desk_rows(cfg, path, builder=kursk_builder)
    assert [(r.id, r.item.body) for r in rows] == [("1", "kursk_roads"), ("2", "reg_health")]
    assert rows[1].rules_body == "reg_health" and rows[1].item.category == "healthcare"
    assert rows[0].item.category == "roads" and rows[0].item.municipality == "kursk"


def test_reassignments_move_the_current_desk(engine, kursk_builder, tmp_path):
    """Dispatchers reassigning the city's complaints to the administration itself: the nightly
    refresh folds them into the desk step's state, which then sends the committees' complaints
    to the head; the change is audited and not counted twice."""
    from sqlmodel import Session, select

    from core.config import load_region
    from incidents.services.routing_refresh import refresh_desk_state
    from incidents.services.workflow import Workflow, add_user
    from storage.models import AuditEvent, Incident
    from tests.conftest import FixedClock
    from tests.workflow_scenario import T0, open_incident

    cfg = load_region(KURSK)
    desks = DeskRouter.fit(
        _examples([("desks", 120)]),
        cfg.bodies.organisation_of,
        [b.code for b in cfg.bodies.bodies],
        window=4,
        min_examples=20,
    )
    path = desks.save(tmp_path / "models" / "desk-kursk.pkl")
    item = DeskExample("нет разметки на дороге", "kursk_roads", "roads", None, "kursk")
    assert desks.choose("kursk_roads", item) is None  # the committees take the city's complaints
    clock = FixedClock(T0)
    iid, _posts = open_incident(engine, cfg, kursk_builder, clock)
    with Session(engine, expire_on_commit=False) as s, s.begin():
        moder = add_user(
            s, cfg, login="moder", role="moderator", body=None, now=clock(), email="m@example.org"
        )
        wf = Workflow(s, cfg, clock)
        inc = s.get(Incident, iid)
        if inc.status != "assigned":
            wf.assign(moder, iid, "kursk_housing", "первое назначение")
        # enough reassignments to fill the window (4): until then the whole history's share decides
        for body in ("adm_kursk", "kursk_roads", "adm_kursk", "kursk_housing", "adm_kursk"):
            if s.get(Incident, iid).body_code == body:
                continue
            wf.assign(moder, iid, body, "сейчас город принимает сам")
    with Session(engine) as s, s.begin():
        out = refresh_desk_state(s, cfg, clock(), path=path)
    assert out["desk"] and out["observed"] >= 2
    taken, known = out["head_share"]["adm_kursk"]
    assert known == 4 and taken >= 2
    after = load_desk_router(path)
    d = after.choose("kursk_roads", item)
    assert after.current("adm_kursk") == (taken, known), (after.recent, after.window, after.meta)
    assert d is not None and d.body == "adm_kursk"
    with Session(engine) as s, s.begin():
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "routing_desk_refreshed")).one()
        assert ev.data["head_share_after"]["adm_kursk"] == [taken, known]
        assert refresh_desk_state(s, cfg, clock(), path=path)["observed"] == 0
    assert refresh_desk_state(None, cfg, clock(), path=tmp_path / "none.pkl") == {"desk": False}  # type: ignore[arg-type]


_NAMES = {
    "kursk_roads": "Комитет дорожного хозяйства города Курска",
    "kursk_housing": "Комитет жилищно-коммунального хозяйства города Курска",
    "kursk_city_economy": "Комитет городского хозяйства города Курска",
    "adm_kursk": "Администрация города Курска",
    "reg_health": "Комитет здравоохранения Курской области",
}


def test_cli_learns_evaluates_and_the_router_reads_it(tmp_path, monkeypatch, capsys):
    from cli.main import main

    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("INCIDENTS_CONFIG", str(KURSK))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    path = tmp_path / "history.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "executor"])
        for i, e in enumerate(_examples([("head", 30), ("desks", 90)], seed=5)):
            w.writerow([i + 1, f"{e.text}, город Курск", _NAMES[e.body]])
    assert main(["routing", "desk", str(path), "--evaluate", "--lags", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["train"] == 90 and out["test"] == 30
    assert out["desk lag 0"]["exact"] >= out["rules"]["exact"]
    assert not (tmp_path / "var" / "models").exists()  # evaluating writes nothing
    assert main(["routing", "desk", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == 120 and out["last_known"]["adm_kursk"] == [0, 10]
    taken, known = out["current"]["adm_kursk"]  # nothing observed since: the whole history's share
    assert known > 10 and taken > 0 and 2 * taken < known
    model = tmp_path / "var" / "models" / "desk-kursk.pkl"
    assert out["model"] == str(model) and model.is_file()
    cfg = load_region(KURSK)
    d = Router(cfg).route(category="roads", subcategory="pothole", municipality="kursk", text="яма на дороге")
    assert (d.body, d.learned) == ("kursk_roads", "desk")
    assert Router(cfg, learned=False).route(
        category="roads", subcategory="pothole", municipality="kursk"
    ).body == ("adm_kursk")
