"""The daily report: what came in, what was done, who answers in time — one region-local day.

Written to the database (`daily_reports`, one row per day, replaced when the day is
reported again) and as CSV files under `$INCIDENTS_DATA_DIR/reports/<day>/` for people who
work in spreadsheets: `summary.csv` (the day's counts), `categories.csv`, `bodies.csv` and
`municipalities.csv` (SLA figures and ratings over the trailing `rating_days`, the period the
centres rate on). Rerunning a day gives the same files and row: the job is idempotent.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from core.config import RegionConfig
from core.states import OPEN_STATES
from incidents.domain.sla_report import figures, load_period
from storage.models import DailyReport, Incident, Post, Signal

RATING_DAYS = 30


@dataclass(slots=True)
class Report:
    day: date
    summary: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    municipalities: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "summary": self.summary,
            "categories": self.categories,
            "rating_days": RATING_DAYS,
            "bodies": self.bodies,
            "municipalities": self.municipalities,
        }


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of a local day in UTC: reports follow the region's calendar, not UTC's."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def _count(session: Session, stmt: Any) -> int:
    return int(session.exec(stmt).one())


def build_report(session: Session, cfg: RegionConfig, day: date) -> Report:
    start, end = day_bounds(day, cfg.region.timezone)
    rep = Report(day)
    in_day = (Incident.opened_at >= start) & (Incident.opened_at < end)
    rep.summary = {
        "posts_collected": _count(
            session,
            select(func.count()).select_from(Post).where(Post.fetched_at >= start, Post.fetched_at < end),
        ),
        "posts_written": _count(
            session,
            select(func.count()).select_from(Post).where(Post.created_at >= start, Post.created_at < end),
        ),
        "complaints": _count(
            session,
            select(func.count())
            .select_from(Signal)
            .join(Post, col(Post.id) == col(Signal.post_id))
            .where(
                col(Signal.is_complaint).is_(True),
                col(Signal.in_region).is_(True),
                Post.created_at >= start,
                Post.created_at < end,
            ),
        ),
        "incidents_opened": _count(
            session,
            select(func.count()).select_from(Incident).where(in_day, col(Incident.merged_into_id).is_(None)),
        ),
        "incidents_answered": _count(
            session,
            select(func.count())
            .select_from(Incident)
            .where(col(Incident.first_answer_at) >= start, col(Incident.first_answer_at) < end),
        ),
        "incidents_closed": _count(
            session,
            select(func.count())
            .select_from(Incident)
            .where(col(Incident.closed_at) >= start, col(Incident.closed_at) < end),
        ),
        "open_at_end": _count(
            session,
            select(func.count())
            .select_from(Incident)
            .where(
                col(Incident.status).in_([s.value for s in OPEN_STATES]),
                col(Incident.merged_into_id).is_(None),
                Incident.opened_at < end,
            ),
        ),
        "overdue_at_end": _count(
            session,
            select(func.count())
            .select_from(Incident)
            .where(
                col(Incident.status).in_([s.value for s in OPEN_STATES]),
                col(Incident.merged_into_id).is_(None),
                col(Incident.first_answer_at).is_(None),
                col(Incident.due_at) < end,
                Incident.opened_at < end,
            ),
        ),
    }
    rows = session.exec(
        select(Incident.category, func.count())
        .where(in_day, col(Incident.merged_into_id).is_(None))
        .group_by(Incident.category)
    ).all()
    rep.categories = dict(sorted(Counter({c: n for c, n in rows}).items()))
    period = load_period(session, end - timedelta(days=RATING_DAYS), end)
    min_n = cfg.sla.rating_min_incidents
    names = {b.code: b.name for b in cfg.bodies.bodies}
    munis = {m.code: m.name for m in cfg.territories.municipalities}
    for f in figures(period, end, by="body_code", min_incidents=min_n):
        rep.bodies.append({**f.as_dict(), "name": names.get(f.key or "", f.key)})
    for f in figures(period, end, by="municipality", min_incidents=min_n):
        rep.municipalities.append({**f.as_dict(), "name": munis.get(f.key or "", f.key)})
    return rep


def store_report(session: Session, rep: Report, now: datetime) -> None:
    row = session.get(DailyReport, rep.day) or DailyReport(day=rep.day, generated_at=now)
    row.generated_at, row.data = now, rep.as_json()
    session.add(row)


FIGURE_COLUMNS = [
    "key",
    "name",
    "incidents",
    "answered",
    "answered_in_time",
    "share_in_time",
    "overdue",
    "pending",
    "median_hours_to_answer",
    "rated",
]


def write_csv(rep: Report, folder: Path) -> list[Path]:
    """UTF-8 with a BOM, so that Excel opens the Russian names right."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []

    def _write(name: str, header: list[str], rows: list[list[Any]]) -> None:
        path = folder / name
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
        out.append(path)

    _write(
        "summary.csv",
        ["day", "figure", "value"],
        [[rep.day.isoformat(), k, v] for k, v in rep.summary.items()],
    )
    _write(
        "categories.csv",
        ["day", "category", "incidents_opened"],
        [[rep.day.isoformat(), k, v] for k, v in rep.categories.items()],
    )
    for name, rows in (("bodies.csv", rep.bodies), ("municipalities.csv", rep.municipalities)):
        _write(name, FIGURE_COLUMNS, [[r.get(c) for c in FIGURE_COLUMNS] for r in rows])
    return out


def yesterday(tz: str, now: datetime) -> date:
    return (now.astimezone(ZoneInfo(tz)) - timedelta(days=1)).date()


def run_report(
    engine: Any, cfg: RegionConfig, day: date, folder: Path, now: datetime
) -> tuple[Report, list[Path]]:
    with Session(engine) as session, session.begin():
        rep = build_report(session, cfg, day)
        store_report(session, rep, now)
    return rep, write_csv(rep, folder / day.isoformat())
