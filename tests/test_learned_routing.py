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
