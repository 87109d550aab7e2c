"""The learned routing table: learning, the file, and its place in the router's order."""

from __future__ import annotations

import copy

from incidents.domain.learned_routing import Case, Example, LearnedTable, load_learned, save_learned
from incidents.domain.routing import Router


def _examples() -> list[Example]:
    out = [Example(Case("water", None, None, "yelets"), "adm_yelets") for _ in range(9)]
    out.append(Example(Case("water", None, None, "yelets"), "gzhi_lipetsk"))
    out += [
        Example(Case("housing_utilities", "heating", None, m), f"adm_{m}") for m in ("lipetsk", "yelets")
    ] * 2
    return out


def test_learn_keeps_confident_keys_with_their_support():
    t = LearnedTable.learn(_examples())
    e = t.entries[("category_place", ("water", "yelets"))]
    assert (e.body, e.n, e.hits) == ("adm_yelets", 10, 9)
    # a district's own desk is learned as a template on keys without the district
    assert t.entries[("subcategory", ("housing_utilities", "heating"))].body == "adm_{municipality}"
    assert t.lookup(Case("housing_utilities", "heating", None, "gryazinsky")) is not None


def test_file_round_trip_and_diff(tmp_path):
    t = LearnedTable.learn(_examples(), meta={"file": "history.csv"})
    save_learned(tmp_path, t)
    back = load_learned(tmp_path)
    assert back is not None and back.entries == t.entries
    assert load_learned(tmp_path / "none") is None
    more = LearnedTable.learn(
        _examples() + [Example(Case("water", None, None, "yelets"), "gzhi_lipetsk")] * 20
    )
    d = t.diff(more)
    assert any(c["body"] == "gzhi_lipetsk" and c["was"] == "adm_yelets" for c in d["changed"])


def test_router_order_explicit_then_learned_then_rules(lipetsk):
    t = LearnedTable.learn(_examples() + [Example(Case("roads", None, None, "lipetsk"), "gzhi_lipetsk")] * 5)
    r = Router(lipetsk, learned=t)
    d = r.route(category="water", municipality="yelets")
    assert d.body == "adm_yelets" and d.assigned and d.learned == "category_place"
    assert d.reason.startswith("обучено: 9 из 10 прежних обращений") and "Администрация" in d.reason
    # without the table: the rules as before
    plain = Router(lipetsk, learned=False).route(category="water", municipality="yelets")
    assert plain.learned is None and plain.rule == 2
    # an explicit rule wins over the table
    cfg = copy.copy(lipetsk)
    cfg.routing = lipetsk.routing.model_copy(
        update={
            "rules": [
                lipetsk.routing.rules[0].model_copy(
                    update={
                        "category": "roads",
                        "municipality": None,
                        "scale": None,
                        "body": "roads_region",
                        "explicit": True,
                    }
                ),
                *lipetsk.routing.rules,
            ]
        }
    )
    assert Router(cfg, learned=t).route(category="roads", municipality="lipetsk").body == "roads_region"
    assert Router(lipetsk, learned=t).route(category="roads", municipality="lipetsk").body == "gzhi_lipetsk"
    # nothing learned, no rule: triage, never dropped
    assert Router(lipetsk, learned=t).route(category="other", municipality=None).body == "cur_lipetsk"


def test_a_reassignment_changes_the_next_learned_table(engine, kursk, kursk_builder, tmp_path):
    """A dispatcher's reassignment with a reason is a training example: the refresh counts it
    into the region's table, writes it and audits the diff."""
    import shutil

    from sqlmodel import Session, select

    from core.config import load_region
    from incidents.services.routing_refresh import refresh_learned_routing
    from incidents.services.workflow import Workflow, add_user
    from storage.models import AuditEvent, Incident
    from tests.conftest import FixedClock
    from tests.workflow_scenario import T0, open_incident

    shutil.copytree(kursk.root, tmp_path / "kursk")  # the table is written into the region folder
    cfg = load_region(tmp_path / "kursk")
    clock = FixedClock(T0)
    iid, _posts = open_incident(engine, cfg, kursk_builder, clock)
    with Session(engine, expire_on_commit=False) as s, s.begin():
        moder = add_user(
            s, cfg, login="moder", role="moderator", body=None, now=clock(), email="m@example.org"
        )
        inc = s.get(Incident, iid)
        case = Case(inc.category, inc.subcategory, inc.fact, inc.municipality, None)
        wf = Workflow(s, cfg, clock)
        if inc.status != "assigned":
            wf.assign(moder, iid, "adm_kursk", "первое назначение")
        first = inc.body_code
        target = "reg_transport_roads" if first != "reg_transport_roads" else "adm_kursk"
        save_learned(cfg.root, LearnedTable.learn([Example(case, first)] * 3))
        wf.assign(moder, iid, target, "площадка у дороги — областной комитет")
    before = load_learned(cfg.root)
    with Session(engine) as s, s.begin():
        out = refresh_learned_routing(s, cfg, clock())
    after = load_learned(cfg.root)
    assert out["corrections"] == 1 and out["written"]
    key = ("category_place", (case.category, case.municipality))
    assert before.entries[key].n == 3 and after.entries[key].n == 5
    assert before.entries[key].corrections == 0
    assert after != before and out["diff"]["recounted"] >= 1
    with Session(engine) as s:
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "routing_table_refreshed")).one()
        assert ev.data["counts"]["recounted"] >= 1
        # the same correction is not counted twice
        assert refresh_learned_routing(s, cfg, clock())["corrections"] == 0
