"""The per-process caches the lists and the figures start from: the open incidents with their clocks
(`OpenSnapshot`) and the region-wide figures (`Memo`).

Why a module of their own: both are shared, thread-safe state with their own freshness rules; the
queries that read through them stay plain functions elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from console.data.names import OPEN, UNTRIAGED
from core.config import RegionConfig
from incidents.domain.sla_clocks import ClockState, SlaClocks, worst_state  # noqa: F401 - one evaluation for all
from storage.models import AuditEvent, Incident, row_id, stored_ids


def _due_at(clock: ClockState) -> datetime:
    assert clock.due_at is not None  # a running clock has a deadline
    return clock.due_at


@dataclass(slots=True)
class Evaluated:
    """One open incident with its clocks, as the queue snapshot holds it (shared, read only). `id` and
    `body` are the incident's, copied once: every list view filters thousands of these, and an
    attribute of a mapped row costs a descriptor call each time."""

    inc: Incident
    all_clocks: dict[str, ClockState]
    running: list[ClockState]
    untriaged: bool
    id: int
    body: str | None


class OpenSnapshot:
    """The open incidents with their clocks evaluated and in queue order, shared by the requests of one
    console process — the queue, the inbox, the SLA board and its live counters all start from it.

    Why: evaluating every clock of every open incident (working hours, the regional calendar) and
    building the rows cost 0.2–0.4 s of one core for 2,500 open incidents, on every page view; under 50
    users that saturated the process (docs/reliability.md, the console's load test).

    Fresh on every request: the newest audit event (every workflow step, answer and reply writes one),
    the newest `incidents.updated_at` and the number of incidents (processing, merges) are compared
    first — three index look-ups. When they moved, only the incidents they name are read again and
    re-evaluated (those of the new audit events, those updated since); the clocks of all are evaluated
    again at least every `ttl` seconds, so a clock's state and time left are never older than that;
    everything is read anew every `rebuild` seconds. One request refreshes the snapshot while the
    others wait for it instead of each doing the same work. `derive` keeps what is computed from one
    state of the snapshot (the SLA board's counters) until it changes."""

    def __init__(
        self, cfg: RegionConfig, clocks: SlaClocks, ttl: float = 10.0, rebuild: float = 60.0
    ) -> None:
        import threading

        self.cfg, self.clocks, self.ttl, self.rebuild = cfg, clocks, ttl, rebuild
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._built_at = 0.0  # monotonic: the last full read
        self._evaluated_at = 0.0  # monotonic: the last evaluation of every clock
        self._now: datetime | None = None
        self._by_id: dict[int, Evaluated] = {}
        self._rows: list[Evaluated] = []
        self._derived: dict[Any, Any] = {}
        self.builds = self.refreshes = self.generation = 0

    @staticmethod
    def version(session: Session) -> tuple[Any, ...]:
        last_event = session.exec(select(sa.func.max(AuditEvent.id))).one()
        changed, count = session.exec(
            select(sa.func.max(Incident.updated_at), sa.func.count()).select_from(Incident)
        ).one()
        return last_event, changed, count

    def _fresh(self, key: tuple[Any, ...], now: datetime) -> bool:
        import time as _time

        return (
            key == self._key
            and self._now is not None
            and _time.monotonic() - self._evaluated_at < self.ttl
            and abs((now - self._now).total_seconds()) < self.ttl
        )

    def rows(self, session: Session, now: datetime) -> list[Evaluated]:
        import time as _time

        key = self.version(session)
        if self._fresh(key, now):
            return self._rows
        with self._lock:
            if self._fresh(key, now):  # refreshed by another request while this one waited
                return self._rows
            mono = _time.monotonic()
            if (
                self._key is None
                or mono - self._built_at >= self.rebuild
                or (key[2] or 0) < (self._key[2] or 0)
            ):
                incs = session.exec(
                    select(Incident).where(
                        col(Incident.merged_into_id).is_(None),
                        col(Incident.status).in_(OPEN),
                    )
                ).all()
                self._by_id = {e.id: e for e in self.evaluate(list(incs), now)}
                self._built_at = self._evaluated_at = mono
                self.builds += 1
            else:
                if key != self._key:
                    self._apply_changes(session, now)
                assert self._now is not None  # set with `_key`
                if (
                    mono - self._evaluated_at >= self.ttl
                    or abs((now - self._now).total_seconds()) >= self.ttl
                ):
                    self._by_id = {e.id: e for e in self.evaluate([e.inc for e in self._by_id.values()], now)}
                    self._evaluated_at = mono
                self.refreshes += 1
            self._rows = self.order(list(self._by_id.values()), now)
            self._key, self._now = key, now
            self._derived = {}
            self.generation += 1
            return self._rows

    def _apply_changes(self, session: Session, now: datetime) -> None:
        """Read again the incidents changed since the last look: named by a newer audit event or updated since."""
        assert self._key is not None  # called after the first build
        last_event, changed, _ = self._key
        ids = set(
            stored_ids(
                session.exec(
                    select(col(AuditEvent.incident_id)).where(
                        col(AuditEvent.id) > (last_event or 0), col(AuditEvent.incident_id).is_not(None)
                    )
                )
            )
        )
        stmt = select(col(Incident.id))
        if changed is not None:
            stmt = stmt.where(col(Incident.updated_at) >= changed)
        ids |= set(stored_ids(session.exec(stmt)))
        fresh: list[Incident] = []
        for start in range(0, len(ids), 500):
            chunk = sorted(ids)[start : start + 500]
            fresh += session.exec(select(Incident).where(col(Incident.id).in_(chunk))).all()
        for inc in fresh:
            self._by_id.pop(row_id(inc), None)
        for e in self.evaluate([i for i in fresh if i.merged_into_id is None and i.status in OPEN], now):
            self._by_id[e.id] = e

    def derive(self, key: Any, build: Any) -> Any:
        """A value computed from the current rows (e.g. the SLA counters of one scope), kept until they change."""
        with self._lock:
            if key not in self._derived:
                self._derived[key] = build()
            return self._derived[key]

    def evaluate(self, incs: list[Incident], now: datetime) -> list[Evaluated]:
        """Each incident with its clocks (all of them, and the running ones soonest first)."""
        triage_body = self.cfg.bodies.triage_body
        out = []
        for inc in incs:
            every = self.clocks.evaluate(inc, now)
            running = sorted((c for c in every.values() if c.running), key=_due_at)
            untriaged = inc.status in UNTRIAGED or inc.body_code in (None, triage_body)
            out.append(Evaluated(inc, every, running, untriaged, row_id(inc), inc.body_code))
        return out

    @staticmethod
    def order(rows: list[Evaluated], now: datetime) -> list[Evaluated]:
        """Queue order: new and unassigned first, then by the time left on the nearest running clock,
        then priority."""
        far = now + timedelta(days=36500)
        return sorted(
            rows,
            key=lambda e: (
                not e.untriaged,
                e.running[0].due_at if e.running else far,
                e.inc.priority,
                e.id,
            ),
        )


class Memo:
    """Figures of the whole region over weeks (the ratings over 30 or 90 days, the heat map), kept per
    console process for `ttl` seconds: they move with days of data, not with one assignment. The
    ratings read every incident of the period (0.3–0.5 s for 2,500): fifty people opening them need
    not read them fifty times. One request builds a figure while the others wait for it."""

    def __init__(self, ttl: float = 60.0) -> None:
        import threading

        self.ttl = ttl
        self._lock = threading.Lock()
        self._items: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any, build: Any) -> Any:
        import time as _time

        hit = self._items.get(key)
        if hit is not None and _time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and _time.monotonic() - hit[0] < self.ttl:
                return hit[1]
            value = build()
            if len(self._items) > 256:
                self._items.clear()
            self._items[key] = (_time.monotonic(), value)
            return value
