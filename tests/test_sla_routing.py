from datetime import UTC, datetime, timedelta

from core.config import Calendar, SlaPolicy
from core.states import InvalidTransition, check_transition
from incidents.domain.routing import Router
from incidents.domain.sla import SlaCalendar, SlaPolicyEngine

MSK = timedelta(hours=3)


def test_calendar_hours():
    eng = SlaPolicyEngine(SlaPolicy())
    t = datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert eng.due(t, category="water", network="vk") == t + timedelta(hours=24)


def test_working_hours_skip_weekend_and_holiday():
    cal = SlaCalendar(Calendar(holidays=["2026-11-04"]), "Europe/Moscow")
    # Tuesday 3 Nov 2026, 17:00 Moscow; 8 working hours: 1 h on Tuesday, 4 Nov is a holiday,
    # then 7 h on Thursday 5 Nov → 16:00 Moscow.
    start = datetime(2026, 11, 3, 14, tzinfo=UTC)
    due = cal.add(start, 8, working=True)
    assert due == datetime(2026, 11, 5, 13, tzinfo=UTC)
    # Friday 18:30 → Monday 09:00 + 4 h = 13:00 Moscow
    fri = datetime(2026, 11, 6, 15, 30, tzinfo=UTC)
    assert cal.add(fri, 4, working=True) == datetime(2026, 11, 9, 10, tzinfo=UTC)


def test_status_on_a_fixed_clock():
    eng = SlaPolicyEngine(SlaPolicy(at_risk_margin_hours=4))
    due = datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert eng.status(due, None, due - timedelta(hours=5)).state == "ok"
    assert eng.status(due, None, due - timedelta(hours=3)).state == "at_risk"
    assert eng.status(due, None, due + timedelta(minutes=1)).state == "overdue"
    assert eng.status(due, due, due + timedelta(hours=1)).state == "answered"


def test_urgent_override(lipetsk):
    eng = SlaPolicyEngine(lipetsk.sla)
    assert eng.hours_for(category="water", network="vk", urgent=True) == 4
    assert eng.hours_for(category="water", network="vk") == 24


def test_routing_rules_and_fallback(lipetsk):
    r = Router(lipetsk)
    assert r.route(category="roads", municipality="lipetsk", scale="region").body == "roads_region"
    assert r.route(category="roads", municipality="lipetsk", scale="street").body == "adm_lipetsk"
    assert (
        r.route(category="housing_utilities", subcategory="heating", municipality="yelets").body
        == "gzhi_lipetsk"
    )
    d = r.route(category="water", municipality=None)
    assert d.body == "cur_lipetsk" and d.rule is None


def test_state_machine_refuses_invalid_moves():
    assert check_transition("new", "assigned") == "assigned"
    try:
        check_transition("new", "closed")
    except InvalidTransition as exc:
        assert "можно" in str(exc)
    else:
        raise AssertionError("new → closed must be refused")
