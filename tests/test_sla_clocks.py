"""The incident's clocks as a pure calculator, on Kursk's policy and its 2026 production calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from incidents.domain.sla_clocks import SlaClocks
from incidents.domain.sla_report import figures

MSK = ZoneInfo("Europe/Moscow")


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MSK)


@dataclass
class Times:
    opened_at: datetime
    due_at: datetime | None = None
    first_answer_at: datetime | None = None
    urgent: bool = False
    triaged_at: datetime | None = None
    assigned_at: datetime | None = None
    drafted_at: datetime | None = None
    interim_answer_at: datetime | None = None
    final_answer_at: datetime | None = None
    follow_up_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    resolved_at: datetime | None = None
    body_code: str | None = None
    municipality: str | None = None


@pytest.fixture(scope="module")
def clocks(kursk) -> SlaClocks:
    return SlaClocks(kursk.sla, kursk.region.timezone)


def test_triage_within_sixty_calendar_minutes(clocks):
    assert clocks.triage_due(msk(2026, 11, 28, 23, 30)) == msk(2026, 11, 29, 0, 30)  # Saturday night counts


def test_draft_in_eight_working_hours_over_a_weekend_and_a_holiday(clocks):
    assert clocks.draft_due(msk(2026, 11, 27, 16, 0)) == msk(2026, 11, 30, 15, 0)  # Fri 16:00 → Mon 15:00
    assert clocks.draft_due(msk(2026, 11, 3, 17, 0)) == msk(2026, 11, 5, 16, 0)  # 4 Nov (Unity Day) skipped
    assert clocks.draft_due(msk(2026, 11, 27, 16, 0), urgent=True) == msk(
        2026, 11, 30, 11, 0
    )  # 4 h when urgent


def test_states_from_ok_to_at_risk_to_overdue_and_met(clocks):
    opened = msk(2026, 11, 23, 9, 0)
    inc = Times(opened_at=opened, due_at=opened + timedelta(hours=24), assigned_at=opened, triaged_at=opened)
    st = clocks.evaluate(inc, opened + timedelta(hours=2))
    assert st["triage"].state == "met" and st["first_answer"].state == "ok"
    assert st["draft"].state == "ok" and st["draft"].due_at == msk(2026, 11, 23, 17, 0)
    assert (
        clocks.evaluate(inc, msk(2026, 11, 23, 15, 30))["draft"].state == "at_risk"
    )  # under 2 h (¼ of 8) left
    late = clocks.evaluate(inc, msk(2026, 11, 24, 9, 30))
    assert late["draft"].state == "overdue" and late["first_answer"].state == "overdue"
    assert late["first_answer"].left == timedelta(minutes=-30)
    assert clocks.evaluate(inc, msk(2026, 11, 24, 5, 30))["first_answer"].state == "at_risk"


def test_an_interim_answer_stops_the_first_answer_clock_and_starts_the_follow_up(clocks):
    opened = msk(2026, 11, 23, 9, 0)
    interim = msk(2026, 11, 23, 20, 0)
    inc = Times(
        opened_at=opened,
        due_at=opened + timedelta(hours=24),
        first_answer_at=interim,
        interim_answer_at=interim,
        follow_up_due_at=clocks.follow_up_due(interim),
    )
    st = clocks.evaluate(inc, msk(2026, 11, 25, 12, 0))
    assert st["first_answer"].state == "met"
    assert st["follow_up"].state == "ok" and st["follow_up"].due_at == msk(
        2026, 11, 30, 13, 0
    )  # 40 working h from Tue 09:00
    inc.final_answer_at = msk(2026, 12, 1, 10, 0)
    assert clocks.evaluate(inc, msk(2026, 12, 2, 9, 0))["follow_up"].state == "missed"


def test_feedback_platform_deadline_from_the_message_or_the_category(clocks):
    created = msk(2026, 11, 20, 7, 15)
    assert clocks.pos_resolution_due(created, "waste", {"deadline": "2026-11-25"}) == msk(
        2026, 11, 25, 23, 59, 59
    )
    assert clocks.pos_resolution_due(created, "waste", {}) == created + timedelta(days=10)
    assert clocks.pos_resolution_due(created, "roads", {"deadline": "не число"}) == created + timedelta(
        days=30
    )
    assert clocks.pos_resolution_due(created, None, None) == created + timedelta(days=30)


def test_sla_figures_per_body_with_a_minimum_for_the_rating():
    now = msk(2026, 11, 30, 12, 0)
    t = msk(2026, 11, 23, 9, 0)
    rows = []
    for i in range(6):  # adm_kursk: 5 answered in time (1–5 h), 1 late
        rows.append(
            Times(
                opened_at=t,
                due_at=t + timedelta(hours=24),
                first_answer_at=t + timedelta(hours=i + 1 if i < 5 else 30),
                body_code="adm_kursk",
                municipality="kursk",
            )
        )
    rows.append(
        Times(opened_at=t, due_at=t + timedelta(hours=24), body_code="reg_health", municipality="kursk")
    )
    rows.append(
        Times(opened_at=now, due_at=now + timedelta(hours=24), body_code="reg_health", municipality="kursk")
    )
    out = {f.key: f for f in figures(rows, now, by="body_code", min_incidents=5)}  # type: ignore[arg-type]
    assert out["adm_kursk"].rated and round(out["adm_kursk"].share_in_time, 3) == 0.833
    assert out["adm_kursk"].median_hours_to_answer == 3.5 and out["adm_kursk"].overdue == 1
    assert not out["reg_health"].rated and out["reg_health"].overdue == 1 and out["reg_health"].answered == 0
    assert (
        out["reg_health"].pending == 1 and out["reg_health"].share_in_time == 0
    )  # the one not yet due is not counted
    by_muni = figures(rows, now, by="municipality", min_incidents=5)  # type: ignore[arg-type]
    assert by_muni[0].key == "kursk" and by_muni[0].incidents == 8
