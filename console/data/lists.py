"""The triage queue, the inbox and the SLA board: the open incidents filtered, ordered and narrowed to
what the viewer may see (an executor: their body's only, whatever the URL asks for)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
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
from core.config import RegionConfig
from core.roles import Actor, Role
from incidents.domain.sla_clocks import ClockState, SlaClocks
from storage.models import Incident


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
            locks.get(e.id),
            e.all_clocks,
        )
        for e in evaluated
    ]


def _matcher(
    actor: Actor, f: ListFilters, ids: set[int] | None, since: datetime | None, until: datetime | None
) -> Callable[[Evaluated], bool]:
    """Whether an evaluated incident passes the filters and the actor's scope. Only the filters that
    are set are checked: an unfiltered queue tests nothing but the scope for each of thousands of rows."""
    tests: list[Callable[[Evaluated], bool]] = []
    if actor.role is Role.EXECUTOR:
        tests.append(lambda e: e.body == actor.body_code)
    if ids is not None:
        tests.append(lambda e: e.id in ids)
    if f.category:
        tests.append(lambda e: e.inc.category == f.category)
    if f.municipality:
        tests.append(lambda e: e.inc.municipality == f.municipality)
    if f.body:
        tests.append(lambda e: e.body == f.body)
    if f.network:
        tests.append(lambda e: f.network in (e.inc.networks or ""))
    if since is not None:
        tests.append(lambda e: e.inc.opened_at >= since)
    if until is not None:
        end = until + timedelta(days=1)
        tests.append(lambda e: e.inc.opened_at < end)
    if not tests:
        return lambda e: True
    if len(tests) == 1:
        return tests[0]
    return lambda e: all(test(e) for test in tests)


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
    return as_rows(
        matching(session, engine, cfg, actor, f, now, clocks, snapshot), active_locks(session, now)
    )


def matching(
    session: Session,
    engine: Engine,
    cfg: RegionConfig,
    actor: Actor,
    f: ListFilters,
    now: datetime,
    clocks: SlaClocks,
    snapshot: OpenSnapshot | None = None,
) -> list[Evaluated]:
    """The evaluated incidents of `queue`, in its order, before they become rows: a page turns only
    the rows it shows into `QueueRow`s (with who is working on each)."""
    tz = cfg.region.timezone
    since = _day(f.since, tz) if f.since else None
    until = _day(f.until, tz) if f.until else None
    ids: set[int] | None = None
    if f.q:
        found = search_incident_ids(engine, cfg, f.q)
        if not found:
            return []
        ids = set(found)
    wanted = _matcher(actor, f, ids, since, until)
    status = f.status or "all"
    if status == "open":
        return [e for e in open_incidents(session, cfg, actor, now, clocks, snapshot) if wanted(e)]
    else:
        # the open ones (an open state, or "all") from the evaluated open incidents — the shared
        # snapshot when there is one — and only the closed ones read and evaluated here, narrowed in
        # SQL first: evaluating every clock of every incident on each view of "all statuses" cost
        # 0.4 s of CPU for 3,000 incidents (issue 18, bench/console_cpu.py)
        chosen = []
        if status == "all" or status in OPEN:
            chosen = [
                e
                for e in open_incidents(session, cfg, actor, now, clocks, snapshot)
                if (status == "all" or e.inc.status == status) and wanted(e)
            ]
        if status == "all" or status not in OPEN:
            closed = _closed(actor, f, status, ids, since, until)
            snap = OpenSnapshot(cfg, clocks)
            chosen += [e for e in snap.evaluate(list(session.exec(closed).all()), now) if wanted(e)]
        return OpenSnapshot.order(chosen, now)


def _closed(
    actor: Actor,
    f: ListFilters,
    status: str,
    ids: set[int] | None,
    since: datetime | None,
    until: datetime | None,
) -> Any:
    """The incidents not open (of `status`, or every closed state for "all") that the filters can match,
    narrowed by the database; `_matcher` still decides each row."""
    stmt = visible(select(Incident).where(col(Incident.merged_into_id).is_(None)), actor)
    if status == "all":
        stmt = stmt.where(col(Incident.status).not_in(OPEN))
    else:
        stmt = stmt.where(Incident.status == status)
    if ids is not None:
        stmt = stmt.where(col(Incident.id).in_(sorted(ids)))
    for name in ("category", "municipality"):
        if getattr(f, name):
            stmt = stmt.where(getattr(Incident, name) == getattr(f, name))
    if f.body:
        stmt = stmt.where(Incident.body_code == f.body)
    if f.network:
        stmt = stmt.where(col(Incident.networks).contains(f.network, autoescape=True))
    if since is not None:
        stmt = stmt.where(col(Incident.opened_at) >= since)
    if until is not None:
        stmt = stmt.where(col(Incident.opened_at) < until + timedelta(days=1))
    return stmt


def search_incident_ids(engine: Engine, cfg: RegionConfig, text: str, limit: int = 2000) -> list[int]:
    """The incidents whose posts match the words, through the project's one search entry point."""
    from incidents.services.search import search_incidents

    return search_incidents(engine, cfg, text, limit=limit)


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
    *,
    rows: int | None = None,
) -> Board:
    """Open incidents with a clock overdue or at risk, and the counters the board refreshes live.
    `rows`: at most this many of each list become rows (the page shows the first 50, the live counters
    none; the counters count them all) — None: every one (the export)."""
    scope = actor.body_code if actor.role is Role.EXECUTOR else None
    evaluated = open_incidents(session, cfg, actor, now, clocks, snapshot)

    def split() -> tuple[list[Evaluated], list[Evaluated], dict[str, int]]:
        mine = evaluated if scope is None else [e for e in evaluated if e.body == scope]
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
    counters = {**counted, "answered_24h": int(answered)}
    if rows == 0:
        return Board(counters, [], [])
    locks = active_locks(session, now)
    return Board(counters, as_rows(overdue[:rows], locks), as_rows(at_risk[:rows], locks))
