"""The SLA clock: when the first public answer is due, and how much time is left.

`SlaCalendar` is pure: it adds hours in calendar time or in working hours of a regional
calendar (weekends, holidays, working Saturdays). The clock is always passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from incidents.core.config import Calendar, SlaPolicy


class SlaCalendar:
    def __init__(self, calendar: Calendar, tz: str = "Europe/Moscow") -> None:
        self.tz = ZoneInfo(tz)
        self.start = time.fromisoformat(calendar.workday_start)
        self.end = time.fromisoformat(calendar.workday_end)
        self.weekend = frozenset(calendar.weekend)
        self.holidays = frozenset(date.fromisoformat(d) for d in calendar.holidays)
        self.extra = frozenset(date.fromisoformat(d) for d in calendar.extra_workdays)
        if self.end <= self.start:
            raise ValueError("workday_end must be after workday_start")

    def is_workday(self, day: date) -> bool:
        if day in self.extra:
            return True
        return day.weekday() not in self.weekend and day not in self.holidays

    def add(self, start: datetime, hours: float, *, working: bool) -> datetime:
        if not working:
            return start + timedelta(hours=hours)
        local = start.astimezone(self.tz)
        remaining = timedelta(hours=hours)
        day = local.date()
        cursor = local
        for _ in range(3660):  # ten years of days: a bound, never reached by sane policies
            if self.is_workday(day):
                open_at = datetime.combine(day, self.start, self.tz)
                close_at = datetime.combine(day, self.end, self.tz)
                begin = max(cursor, open_at)
                if begin < close_at:
                    available = close_at - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(start.tzinfo)
                    remaining -= available
            day += timedelta(days=1)
            cursor = datetime.combine(day, time(0), self.tz)
        raise ValueError("SLA deadline beyond ten years: check the calendar")


@dataclass(slots=True, frozen=True)
class SlaStatus:
    state: str  # answered | ok | at_risk | overdue
    due_at: datetime | None
    left: timedelta | None


class SlaPolicyEngine:
    def __init__(self, policy: SlaPolicy, tz: str = "Europe/Moscow") -> None:
        self.policy = policy
        self.calendar = SlaCalendar(policy.calendar, tz)

    def hours_for(self, *, category: str | None, network: str | None, urgent: bool = False) -> float:
        for ov in self.policy.overrides:
            if ov.category is not None and ov.category != category:
                continue
            if ov.network is not None and ov.network != network:
                continue
            if ov.urgent is not None and ov.urgent != urgent:
                continue
            return ov.first_answer_hours
        return self.policy.first_answer_hours

    def due(
        self, opened_at: datetime, *, category: str | None, network: str | None, urgent: bool = False
    ) -> datetime:
        hours = self.hours_for(category=category, network=network, urgent=urgent)
        return self.calendar.add(opened_at, hours, working=self.policy.hours == "working")

    def status(self, due_at: datetime | None, first_answer_at: datetime | None, now: datetime) -> SlaStatus:
        if first_answer_at is not None:
            return SlaStatus("answered", due_at, None)
        if due_at is None:
            return SlaStatus("ok", None, None)
        left = due_at - now
        if left <= timedelta(0):
            return SlaStatus("overdue", due_at, left)
        if left <= timedelta(hours=self.policy.at_risk_margin_hours):
            return SlaStatus("at_risk", due_at, left)
        return SlaStatus("ok", due_at, left)


def format_left(left: timedelta | None) -> str:
    if left is None:
        return "—"
    sign = "-" if left < timedelta(0) else ""
    total = abs(int(left.total_seconds())) // 60
    h, m = divmod(total, 60)
    return f"{sign}{h}ч {m:02d}м"
