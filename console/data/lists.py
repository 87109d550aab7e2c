"""The triage queue, the inbox and the SLA board: the open incidents filtered, ordered and narrowed to
what the viewer may see (an executor: their body's only, whatever the URL asks for)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from console.data.locks import active_locks
from console.data.names import OPEN, visible
from console.data.snapshot import Evaluated, OpenSnapshot, worst_state
from incidents.core.config import RegionConfig
from incidents.core.roles import Actor, Role
from incidents.domain.sla_clocks import ClockState, SlaClocks
from incidents.storage.models import Incident, row_id


# --------------------------------------------------------------------------- the queue
@dataclass(slots=True)
class ListFilters:
    """The filters of the triage queue, as the query string gives them (empty = any)."""

    category: str = ""
    municipality: str = ""
    network: str = ""
    status: str = "open"  # open | all | a state
    body: str = ""
    since: str = ""
    until: str = ""
    q: str = ""

    @classmethod
    def from_query(cls, params: Any) -> ListFilters:
        f = cls()
        for name in ("category", "municipality", "network", "status", "body", "since", "until", "q"):
            value = (params.get(name) or "").strip()
            if value or name != "status":
                setattr(f, name, value[:200])
        return f

    def as_query(self) -> dict[str, str]:
        return {k: v for k, v in ((n, getattr(self, n)) for n in self.__slots__) if v}


def _day(value: str, tz: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(value), time(0), ZoneInfo(tz))
    except ValueError:
        return None


@dataclass(slots=True)
class QueueRow:
    inc: Incident
    clocks: list[ClockState]
    first: ClockState | None
    untriaged: bool
    lock: str | None = None
    all_clocks: dict[str, ClockState] = field(default_factory=dict)

    @property
    def worst(self) -> str:
        return worst_state(self.clocks)


def open_incidents(
    session: Session,
    cfg: RegionConfig,
    actor: Actor,
    now: datetime,
    clocks: SlaClocks,
    snapshot: OpenSnapshot | None,
) -> list[Evaluated]:
    """The open incidents evaluated and in queue order: from the console's shared `snapshot` when given
    (not yet narrowed to the actor: the callers filter), else read for this actor alone."""
    if snapshot is not None:
        return snapshot.rows(session, now)
    incs = session.exec(
        visible(
            select(Incident).where(
                col(Incident.merged_into_id).is_(None),
                col(Incident.status).in_(OPEN),
            ),
            actor,
        )
    ).all()
    snap = OpenSnapshot(cfg, clocks)
    return snap.order(snap.evaluate(list(incs), now), now)


def as_rows(evaluated: list[Evaluated], locks: dict[int, str]) -> list[QueueRow]:
    """The list rows of evaluated incidents, each with who is working on it."""
    return [
        QueueRow(
            e.inc,
            e.running,
            e.running[0] if e.running else None,
            e.untriaged,
            locks.get(row_id(e.inc)),
            e.all_clocks,
        )
        for e in evaluated
    ]


def _matches(
    inc: Incident, actor: Actor, f: ListFilters, since: datetime | None, until: datetime | None
) -> bool:
    return (
        (actor.role is not Role.EXECUTOR or inc.body_code == actor.body_code)
        and (not f.category or inc.category == f.category)
        and (not f.municipality or inc.municipality == f.municipality)
        and (not f.body or inc.body_code == f.body)
        and (not f.network or f.network in (inc.networks or ""))
        and (since is None or inc.opened_at >= since)
        and (until is None or inc.opened_at < until + timedelta(days=1))
    )


def queue(
    session: Session,
    engine: Engine,
    cfg: RegionConfig,
    actor: Actor,
    f: ListFilters,
    now: datetime,
    clocks: SlaClocks,
    snapshot: OpenSnapshot | None = None,
) -> list[QueueRow]:
    """New and unassigned first, then by the time left on the nearest running clock, then priority.
    The open incidents come from `snapshot` when given (the console's shared one), else from the database."""
    tz = cfg.region.timezone
    since = _day(f.since, tz) if f.since else None
    until = _day(f.until, tz) if f.until else None
    ids: set[int] | None = None
    if f.q:
        found = search_incident_ids(engine, cfg, f.q)
        if not found:
            return []
        ids = set(found)
    if f.status == "open":
        evaluated = open_incidents(session, cfg, actor, now, clocks, snapshot)
    else:
        stmt = visible(select(Incident).where(col(Incident.merged_into_id).is_(None)), actor)
        if f.status and f.status != "all":
            stmt = stmt.where(Incident.status == f.status)
        if ids is not None:
            stmt = stmt.where(col(Incident.id).in_(sorted(ids)))
        snap = OpenSnapshot(cfg, clocks)
        evaluated = snap.order(snap.evaluate(list(session.exec(stmt).all()), now), now)
    chosen = [
        e for e in evaluated if (ids is None or e.inc.id in ids) and _matches(e.inc, actor, f, since, until)
    ]
    return as_rows(chosen, active_locks(session, now))


def search_incident_ids(engine: Engine, cfg: RegionConfig, text: str, limit: int = 2000) -> list[int]:
    """The incidents whose posts match the words, through the project's one search entry point."""
    from incidents.services.search import search

    hits = search(engine, cfg, text, None, limit=limit)
    return list(dict.fromkeys(h.incident_id for h in hits if h.incident_id is not None))


# --------------------------------------------------------------------------- the SLA board
@dataclass(slots=True)
class Board:
    counters: dict[str, int]
    overdue: list[QueueRow]
    at_risk: list[QueueRow]


def board(
    session: Session,
    engine: Engine,
    cfg: RegionConfig,
    actor: Actor,
    now: datetime,
    clocks: SlaClocks,
    snapshot: OpenSnapshot | None = None,
) -> Board:
    """Open incidents with a clock overdue or at risk, and the counters the board refreshes live."""
    scope = actor.body_code if actor.role is Role.EXECUTOR else None
    evaluated = open_incidents(session, cfg, actor, now, clocks, snapshot)

    def split() -> tuple[list[Evaluated], list[Evaluated], dict[str, int]]:
        mine = [e for e in evaluated if scope is None or e.inc.body_code == scope]
        overdue = [e for e in mine if worst_state(e.running) == "overdue"]
        at_risk = [e for e in mine if worst_state(e.running) == "at_risk"]
        first = Counter(e.all_clocks["first_answer"].state for e in mine)
        return (
            overdue,
            at_risk,
            {
                "open": len(mine),
                "overdue": len(overdue),
                "at_risk": len(at_risk),
                "answer_overdue": first.get("overdue", 0),
                "answer_at_risk": first.get("at_risk", 0),
                "untriaged": sum(1 for e in mine if e.untriaged),
            },
        )

    overdue, at_risk, counted = snapshot.derive(("board", scope), split) if snapshot is not None else split()
    day_ago = now - timedelta(hours=24)
    answered = session.exec(
        visible(
            select(sa.func.count())
            .select_from(Incident)
            .where(col(Incident.first_answer_at) >= day_ago, col(Incident.merged_into_id).is_(None)),
            actor,
        )
    ).one()
    locks = active_locks(session, now)
    return Board({**counted, "answered_24h": int(answered)}, as_rows(overdue, locks), as_rows(at_risk, locks))
