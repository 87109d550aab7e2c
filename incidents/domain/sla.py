"""The SLA clock: when the first public answer is due, and how much time is left.

`SlaCalendar` is pure: it adds hours in calendar time or in working hours of a regional
calendar (weekends, holidays, working Saturdays). The clock is always passed in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.config import Calendar, SlaPolicy

log = logging.getLogger(__name__)


class SlaCalendar:
    def __init__(self, calendar: Calendar, tz: str = "Europe/Moscow") -> None:
        self.tz = ZoneInfo(tz)
        self.start = time.fromisoformat(calendar.workday_start)
        self.end = time.fromisoformat(calendar.workday_end)
        self.weekend = frozenset(calendar.weekend)
        self.holidays = frozenset(date.fromisoformat(d) for d in calendar.holidays)
        self.extra = frozenset(date.fromisoformat(d) for d in calendar.extra_workdays)
        self.country = calendar.country
        self.listed_until = max((d.year for d in self.holidays | self.extra), default=None)
        self._years: dict[int, tuple[frozenset[date], frozenset[date]]] = {}
        self._warned: set[int] = set()
        # (start, hours) → deadline in working hours: a pure function of the calendar, asked again for
        # the same stored start each time an incident's clocks are evaluated (every list view of the
        # console); bounded, dropped whole when full
        self._added: dict[tuple[datetime, float], datetime] = {}
        if self.end <= self.start:
            raise ValueError("workday_end must be after workday_start")

    def _official(self, year: int) -> tuple[frozenset[date], frozenset[date]]:
        """The country's days off and its worked weekend days (the government's transfers) of one
        year, from the maintained `holidays` package."""
        if year not in self._years:
            import holidays as official

            days = official.country_holidays(self.country or "", years=year)
            self._years[year] = (frozenset(days), frozenset(days.weekend_workdays))
        return self._years[year]

    def is_workday(self, day: date) -> bool:
        if day in self.extra:
            return True
        if day in self.holidays:
            return False
        if self.country:
            off, worked = self._official(day.year)
            if day in worked:
                return True
            if day in off:
                return False
        elif self.listed_until is not None and day.year > self.listed_until and day.year not in self._warned:
            self._warned.add(day.year)  # loud, once a year: the list ran out and weekends alone count
            log.warning(
                "sla.yaml → calendar: holidays are listed up to %d only, %s counts weekends alone; "
                "set calendar.country (RU) or list the holidays of %d",
                self.listed_until,
                day.isoformat(),
                day.year,
            )
        return day.weekday() not in self.weekend

    def add(self, start: datetime, hours: float, *, working: bool) -> datetime:
        if not working:
            return start + timedelta(hours=hours)
        key = (start, hours)
        found = self._added.get(key)
        if found is None or found.tzinfo != start.tzinfo:  # equal instants in other zones are equal keys
            if len(self._added) >= 200_000:
                self._added.clear()
            found = self._added[key] = self._working(start, hours)
        return found

    def _working(self, start: datetime, hours: float) -> datetime:
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
