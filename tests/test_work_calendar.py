"""The working-hours calendar beyond the year its YAML lists (issue 18: on 1 January 2027 the
clocks silently went wrong): the country's holidays and transfers come from the `holidays` package."""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.config import Calendar
from incidents.domain.sla import SlaCalendar

MSK = ZoneInfo("Europe/Moscow")


def test_2027_holidays_and_transfers_come_from_the_country_calendar(kursk):
    cal = SlaCalendar(kursk.sla.calendar, kursk.region.timezone)
    assert kursk.sla.calendar.country == "RU"
    for day in (
        "2027-01-04",
        "2027-01-08",
        "2027-02-22",
        "2027-05-03",
        "2027-05-10",
        "2027-06-14",
        "2027-11-05",
    ):
        assert not cal.is_workday(date.fromisoformat(day)), day
    assert cal.is_workday(date(2027, 2, 20))  # Saturday worked for the day off on Monday 22 February
    assert cal.is_workday(date(2027, 1, 11)) and not cal.is_workday(date(2027, 1, 9))
    # eight working hours from the last working evening of 2026 end on the first working day of 2027
    due = cal.add(datetime(2026, 12, 30, 17, 0, tzinfo=MSK), 8, working=True)
    assert due == datetime(2027, 1, 11, 16, 0, tzinfo=MSK)


def test_a_listed_calendar_that_ran_out_says_so(caplog):
    cal = SlaCalendar(Calendar(holidays=["2026-01-01"]), "Europe/Moscow")
    with caplog.at_level(logging.WARNING):
        assert cal.is_workday(date(2027, 1, 4))  # nothing listed for 2027: weekends alone, loudly
        cal.is_workday(date(2027, 1, 5))
    warnings = [r for r in caplog.records if "listed up to 2026" in r.getMessage()]
    assert len(warnings) == 1 and "calendar.country" in warnings[0].getMessage()
