"""All the clocks of one incident, computed from its stored timestamps: a pure calculator.

* `first_answer` — the public answer, due `sla.yaml: first_answer_hours` after opening (by
  category, network and urgency); an interim answer stops it as well as a final one.
* `triage` — from opening until the incident is triaged, assigned or rejected.
* `draft` — from the (latest) assignment until an answer is drafted.
* `follow_up` — from an interim answer until the final answer.
* `resolution` — feedback-platform messages: the platform's own 5–30-day deadline, until resolved.

Each clock is `off` (not configured or not started), `ok`, `at_risk` (less than its margin
left), `overdue`, `met` (stopped in time) or `missed` (stopped late). The clock (`now`) is
always passed in; nothing here reads the time or the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.config import ClockPolicy, SlaPolicy
from incidents.domain.sla import SlaCalendar

CLOCKS: tuple[str, ...] = ("triage", "draft", "first_answer", "follow_up", "resolution")


class IncidentTimes(Protocol):
    """What the clocks read from an incident (the `Incident` row has all of it)."""

    opened_at: datetime
    due_at: datetime | None
    first_answer_at: datetime | None
    urgent: bool
    triaged_at: datetime | None
    assigned_at: datetime | None
    drafted_at: datetime | None
    interim_answer_at: datetime | None
    final_answer_at: datetime | None
    follow_up_due_at: datetime | None
    resolution_due_at: datetime | None
    resolved_at: datetime | None


@dataclass(slots=True, frozen=True)
class ClockState:
    name: str
    state: str  # off | ok | at_risk | overdue | met | missed
    due_at: datetime | None = None
    stopped_at: datetime | None = None
    left: timedelta | None = None

    @property
    def running(self) -> bool:
        return self.state in ("ok", "at_risk", "overdue")


def judge(
    name: str, due_at: datetime | None, stopped_at: datetime | None, now: datetime, margin: timedelta
) -> ClockState:
    """The state of one clock that is due at `due_at` and stopped at `stopped_at` (or still running)."""
    if due_at is None:
        return ClockState(name, "off")
    if stopped_at is not None:
        return ClockState(name, "met" if stopped_at <= due_at else "missed", due_at, stopped_at)
    left = due_at - now
    if left <= timedelta(0):
        return ClockState(name, "overdue", due_at, None, left)
    if left <= margin:
        return ClockState(name, "at_risk", due_at, None, left)
    return ClockState(name, "ok", due_at, None, left)


class SlaClocks:
    def __init__(self, policy: SlaPolicy, tz: str = "Europe/Moscow") -> None:
        self.policy = policy
        self.calendar = SlaCalendar(policy.calendar, tz)

    # -- deadlines (the workflow stores some of them when a clock starts)
    def _due(self, clock: ClockPolicy, start: datetime | None, urgent: bool) -> datetime | None:
        if start is None or clock.hours is None:
            return None
        hours = clock.urgent_hours if urgent and clock.urgent_hours is not None else clock.hours
        return self.calendar.add(start, hours, working=clock.basis == "working")

    @staticmethod
    def _margin(clock: ClockPolicy, urgent: bool) -> timedelta:
        if clock.at_risk_margin_hours is not None:
            return timedelta(hours=clock.at_risk_margin_hours)
        hours = clock.urgent_hours if urgent and clock.urgent_hours is not None else (clock.hours or 0)
        return timedelta(hours=hours / 4)

    def triage_due(self, opened_at: datetime, urgent: bool = False) -> datetime | None:
        return self._due(self.policy.clocks.triage, opened_at, urgent)

    def draft_due(self, assigned_at: datetime | None, urgent: bool = False) -> datetime | None:
        return self._due(self.policy.clocks.draft, assigned_at, urgent)

    def follow_up_due(self, interim_at: datetime, urgent: bool = False) -> datetime | None:
        return self._due(self.policy.clocks.follow_up, interim_at, urgent)

    def pos_resolution_due(
        self, created_at: datetime, category: str | None, raw: dict[str, Any] | None
    ) -> datetime:
        """The feedback platform's own deadline: from the message when it carries one, else by category."""
        value: Any = raw or {}
        for part in self.policy.pos_deadline_field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            try:
                due = datetime.fromisoformat(value if "T" in value else value + "T23:59:59+03:00")
                if due.tzinfo is not None:
                    return due
            except ValueError:
                pass  # a malformed deadline: fall back to the category's days
        days = self.policy.pos_resolution_days.get(category or "", self.policy.pos_resolution_default_days)
        return created_at + timedelta(days=days)

    # -- the states
    def evaluate(self, inc: IncidentTimes, now: datetime) -> dict[str, ClockState]:
        p = self.policy
        triage_stop = inc.triaged_at or inc.assigned_at
        out = {
            "triage": judge(
                "triage",
                self.triage_due(inc.opened_at, inc.urgent),
                triage_stop,
                now,
                self._margin(p.clocks.triage, inc.urgent),
            ),
            "draft": judge(
                "draft",
                self.draft_due(inc.assigned_at, inc.urgent),
                inc.drafted_at,
                now,
                self._margin(p.clocks.draft, inc.urgent),
            ),
            "first_answer": judge(
                "first_answer", inc.due_at, inc.first_answer_at, now, timedelta(hours=p.at_risk_margin_hours)
            ),
            "follow_up": judge(
                "follow_up",
                inc.follow_up_due_at,
                inc.final_answer_at,
                now,
                self._margin(p.clocks.follow_up, inc.urgent),
            ),
            "resolution": judge("resolution", inc.resolution_due_at, inc.resolved_at, now, timedelta(days=1)),
        }
        if inc.assigned_at is not None and inc.drafted_at is not None and inc.drafted_at < inc.assigned_at:
            # reassigned after a draft: the new body's draft clock runs again
            out["draft"] = judge(
                "draft",
                self.draft_due(inc.assigned_at, inc.urgent),
                None,
                now,
                self._margin(p.clocks.draft, inc.urgent),
            )
        return out

    def verdict(self, inc: IncidentTimes, now: datetime) -> ClockState | None:
        """The one state a person is shown for an incident, the same in the console, the CLI's
        list and its summary: the worst of its running clocks (overdue, then at risk, then in
        time), the soonest due among those; None when no clock runs."""
        running = sorted(
            (c for c in self.evaluate(inc, now).values() if c.running),
            key=lambda c: c.due_at or now,
        )
        worst = worst_state(running)
        return next((c for c in running if c.state == worst), None)


def worst_state(clocks: list[ClockState]) -> str:
    """overdue, at_risk or ok: the worst of the clocks given (running ones); off when none."""
    states = {c.state for c in clocks}
    return (
        "overdue" if "overdue" in states else "at_risk" if "at_risk" in states else "ok" if states else "off"
    )
