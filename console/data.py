"""What the console's pages show, read from the database: plain functions over a `Session`.

Nothing here changes anything (the workflow does that). Every list is already narrowed to
what the viewer may see: an executor gets their body's incidents only, whatever the URL
asks for — the routes pass the `Actor`, never a body taken from the query string alone.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incidents.core.config import RegionConfig
from incidents.core.roles import Actor, Role
from incidents.core.states import OPEN_STATES, IncidentState
from incidents.domain.sla_clocks import ClockState, SlaClocks
from incidents.domain.sla_report import SlaFigures, figures
from incidents.storage.models import (
    Answer,
    Assignment,
    AuditEvent,
    Incident,
    IncidentLock,
    IncidentPost,
    Post,
    Reply,
    Signal,
    User,
)

S = IncidentState
OPEN = sorted(s.value for s in OPEN_STATES)
UNTRIAGED = {S.NEW.value, S.TRIAGED.value, S.REOPENED.value}

STATUS_NAMES = {
    "new": "новый",
    "triaged": "разобран",
    "assigned": "назначен",
    "answer_drafted": "ответ подготовлен",
    "answer_approved": "ответ утверждён",
    "answered": "отвечено",
    "resolved": "решён",
    "closed": "закрыт",
    "rejected": "отклонён",
    "reopened": "открыт повторно",
}
CLOCK_NAMES = {
    "triage": "разбор",
    "draft": "черновик",
    "first_answer": "ответ жителю",
    "follow_up": "окончательный ответ",
    "resolution": "срок ПОС",
}
CLOCK_STATES = {
    "ok": "в срок",
    "at_risk": "под угрозой",
    "overdue": "просрочен",
    "met": "выполнен",
    "missed": "нарушен",
    "off": "—",
}
NETWORK_NAMES = {"vk": "ВКонтакте", "ok": "Одноклассники", "telegram": "Telegram", "pos": "ПОС"}
REPLY_STATUSES = {"queued": "в очереди", "sending": "отправляется", "sent": "отправлен", "failed": "ошибка"}
ACTION_NAMES = {
    "queued_for_triage": "в очередь на разбор",
    "assigned": "назначен",
    "reassigned": "переназначен",
    "triaged": "разобран",
    "handed_back": "возвращён «не наше»",
    "rejected": "отклонён",
    "answer_drafted": "подготовлен ответ",
    "answer_redrafted": "ответ переписан",
    "draft_returned": "ответ возвращён",
    "answer_approved": "ответ утверждён",
    "answer_published": "ответ опубликован",
    "resolved": "решён",
    "closed": "закрыт",
    "reopened": "открыт повторно",
    "merged": "объединён",
    "merged_into": "присоединён к",
    "split": "выделены посты",
    "split_from": "выделен из",
    "post_moved_in": "пост перенесён сюда",
    "post_moved_out": "пост перенесён отсюда",
    "emptied": "остался без постов",
    "auto_answer_queued": "автоответ",
    "opened": "открыт",
    "reply_sent": "ответ отправлен",
    "reply_failed": "ответ не отправлен",
}
PERIODS = {"7": 7, "30": 30, "90": 90}


class Names:
    """Russian names for the codes the database keeps."""

    def __init__(self, cfg: RegionConfig) -> None:
        self.cfg = cfg
        self.categories = {c.code: c.name for c in cfg.rubricator.categories}

    def category(self, code: str | None) -> str:
        return self.categories.get(code or "", code or "—")

    def municipality(self, code: str | None) -> str:
        m = self.cfg.municipality_by_code.get(code or "")
        return m.name if m else (code or "не определён")

    def body(self, code: str | None) -> str:
        b = self.cfg.body_by_code.get(code or "")
        return b.name if b else (code or "не назначен")

    @staticmethod
    def status(code: str | None) -> str:
        return STATUS_NAMES.get(code or "", code or "—")

    @staticmethod
    def network(code: str | None) -> str:
        return NETWORK_NAMES.get(code or "", code or "—")

    @staticmethod
    def networks(codes: str | None) -> str:
        """«ВК, ОК, ПОС» from the stored "ok,pos,vk"."""
        short = {"vk": "ВК", "ok": "ОК", "telegram": "Telegram", "pos": "ПОС"}
        return ", ".join(short.get(c, c) for c in (codes or "").split(",") if c) or "—"

    @staticmethod
    def clock(name: str) -> str:
        return CLOCK_NAMES.get(name, name)

    @staticmethod
    def action(name: str) -> str:
        return ACTION_NAMES.get(name, name)


def visible(stmt: Any, actor: Actor) -> Any:
    """Narrow an incident query to what the actor may see (an executor: their body's only)."""
    if actor.role is Role.EXECUTOR:
        return stmt.where(Incident.body_code == actor.body_code)
    return stmt


def may_see(actor: Actor, inc: Incident) -> bool:
    return actor.role is not Role.EXECUTOR or inc.body_code == actor.body_code


def left_text(left: timedelta | None) -> str:
    """«осталось 3 ч 20 мин» / «просрочено на 1 д 2 ч» — how a person reads a deadline."""
    if left is None:
        return "—"
    minutes = int(abs(left.total_seconds()) // 60)
    d, rem = divmod(minutes, 1440)
    h, m = divmod(rem, 60)
    text = f"{d} д {h} ч" if d else (f"{h} ч {m:02d} мин" if h else f"{m} мин")
    return f"просрочено на {text}" if left.total_seconds() < 0 else f"осталось {text}"


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
        return {k: v for k, v in ((n, getattr(self, n)) for n in self.__slots__) if v}  # type: ignore[attr-defined]


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


def worst_state(clocks: list[ClockState]) -> str:
    states = {c.state for c in clocks}
    return (
        "overdue" if "overdue" in states else "at_risk" if "at_risk" in states else "ok" if states else "off"
    )


@dataclass(slots=True)
class _Evaluated:
    """One open incident with its clocks, as the queue snapshot holds it (shared, read only)."""

    inc: Incident
    all_clocks: dict[str, ClockState]
    running: list[ClockState]
    untriaged: bool


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
        self._by_id: dict[int, _Evaluated] = {}
        self._rows: list[_Evaluated] = []
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

    def rows(self, session: Session, now: datetime) -> list[_Evaluated]:
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
                        Incident.status.in_(OPEN),
                    )
                ).all()  # type: ignore[attr-defined]
                self._by_id = {e.inc.id: e for e in self.evaluate(list(incs), now)}  # type: ignore[misc]
                self._built_at = self._evaluated_at = mono
                self.builds += 1
            else:
                if key != self._key:
                    self._apply_changes(session, now)
                if (
                    mono - self._evaluated_at >= self.ttl
                    or abs((now - self._now).total_seconds()) >= self.ttl
                ):  # type: ignore[operator]
                    self._by_id = {
                        e.inc.id: e for e in self.evaluate([e.inc for e in self._by_id.values()], now)
                    }  # type: ignore[misc]
                    self._evaluated_at = mono
                self.refreshes += 1
            self._rows = self.order(list(self._by_id.values()), now)
            self._key, self._now = key, now
            self._derived = {}
            self.generation += 1
            return self._rows

    def _apply_changes(self, session: Session, now: datetime) -> None:
        """Read again the incidents changed since the last look: named by a newer audit event or updated since."""
        last_event, changed, _ = self._key  # type: ignore[misc]
        ids = set(
            session.exec(
                select(AuditEvent.incident_id).where(
                    AuditEvent.id > (last_event or 0), col(AuditEvent.incident_id).is_not(None)
                )
            ).all()
        )
        stmt = select(Incident.id)
        if changed is not None:
            stmt = stmt.where(Incident.updated_at >= changed)
        ids |= set(session.exec(stmt).all())
        ids.discard(None)  # type: ignore[arg-type]
        fresh: list[Incident] = []
        for start in range(0, len(ids), 500):
            chunk = sorted(ids)[start : start + 500]  # type: ignore[type-var]
            fresh += session.exec(select(Incident).where(Incident.id.in_(chunk))).all()  # type: ignore[union-attr]
        for inc in fresh:
            self._by_id.pop(inc.id, None)  # type: ignore[arg-type]
        for e in self.evaluate([i for i in fresh if i.merged_into_id is None and i.status in OPEN], now):
            self._by_id[e.inc.id] = e  # type: ignore[index]

    def derive(self, key: Any, build: Any) -> Any:
        """A value computed from the current rows (e.g. the SLA counters of one scope), kept until they change."""
        with self._lock:
            if key not in self._derived:
                self._derived[key] = build()
            return self._derived[key]

    def evaluate(self, incs: list[Incident], now: datetime) -> list[_Evaluated]:
        """Each incident with its clocks (all of them, and the running ones soonest first)."""
        triage_body = self.cfg.bodies.triage_body
        out = []
        for inc in incs:
            every = self.clocks.evaluate(inc, now)
            running = sorted((c for c in every.values() if c.running), key=lambda c: c.due_at)  # type: ignore[arg-type, return-value]
            untriaged = inc.status in UNTRIAGED or inc.body_code in (None, triage_body)
            out.append(_Evaluated(inc, every, running, untriaged))
        return out

    @staticmethod
    def order(rows: list[_Evaluated], now: datetime) -> list[_Evaluated]:
        """Queue order: new and unassigned first, then by the time left on the nearest running clock,
        then priority."""
        far = now + timedelta(days=36500)
        return sorted(
            rows,
            key=lambda e: (
                not e.untriaged,
                e.running[0].due_at if e.running else far,
                e.inc.priority,
                e.inc.id,
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
    if f.status == "open" and snapshot is not None:
        evaluated = snapshot.rows(session, now)
    elif f.status == "open":
        incs = session.exec(
            visible(
                select(Incident).where(
                    col(Incident.merged_into_id).is_(None),
                    Incident.status.in_(OPEN),
                ),
                actor,
            )
        ).all()  # type: ignore[attr-defined]
        snap = OpenSnapshot(cfg, clocks)
        evaluated = snap.order(snap.evaluate(list(incs), now), now)
    else:
        stmt = visible(select(Incident).where(col(Incident.merged_into_id).is_(None)), actor)
        if f.status and f.status != "all":
            stmt = stmt.where(Incident.status == f.status)
        if ids is not None:
            stmt = stmt.where(Incident.id.in_(sorted(ids)))  # type: ignore[union-attr]
        snap = OpenSnapshot(cfg, clocks)
        evaluated = snap.order(snap.evaluate(list(session.exec(stmt).all()), now), now)
    chosen = [
        e for e in evaluated if (ids is None or e.inc.id in ids) and _matches(e.inc, actor, f, since, until)
    ]
    locks = active_locks(session, now)
    return [
        QueueRow(
            e.inc,
            e.running,
            e.running[0] if e.running else None,
            e.untriaged,
            locks.get(e.inc.id),  # type: ignore[arg-type]
            e.all_clocks,
        )
        for e in chosen
    ]


def search_incident_ids(engine: Engine, cfg: RegionConfig, text: str, limit: int = 2000) -> list[int]:
    """The incidents whose posts match the words, through the project's one search entry point."""
    from incidents.services.search import search

    hits = search(engine, cfg, text, None, limit=limit)
    return list(dict.fromkeys(h.incident_id for h in hits if h.incident_id is not None))


# --------------------------------------------------------------------------- locks
def active_locks(session: Session, now: datetime) -> dict[int, str]:
    """Every live "working on it" mark: one per incident someone has open, so a few dozen at most."""
    return {
        lk.incident_id: lk.login
        for lk in session.exec(select(IncidentLock).where(IncidentLock.expires_at > now)).all()
    }


def take_lock(session: Session, incident_id: int, login: str, now: datetime, minutes: float) -> IncidentLock:
    """Mark the incident as being worked on by `login`, unless someone else holds a live lock:
    then that lock is returned unchanged (the console shows who it is; nothing is taken away).

    Two people opening the same incident at the same moment both find no lock; the mark is therefore
    inserted with ON CONFLICT DO NOTHING and read back, so the second simply sees the first's (found by
    the console's load test: the plain INSERT failed the second card with a 500)."""
    until = now + timedelta(minutes=minutes)
    if session.get(IncidentLock, incident_id) is None:
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        session.execute(
            insert(IncidentLock)
            .values(incident_id=incident_id, login=login, since=now, expires_at=until)
            .on_conflict_do_nothing(index_elements=["incident_id"])
        )
    lk = session.get(IncidentLock, incident_id, populate_existing=True)
    if lk is None:  # released again in between: nothing to show
        return IncidentLock(incident_id=incident_id, login=login, since=now, expires_at=until)
    if lk.login != login and lk.expires_at > now:
        return lk
    if lk.login != login or lk.expires_at <= now:
        lk.since = now
    lk.login, lk.expires_at = login, until
    session.add(lk)
    return lk


def release_lock(session: Session, incident_id: int, login: str) -> None:
    lk = session.get(IncidentLock, incident_id)
    if lk is not None and lk.login == login:
        session.delete(lk)


# --------------------------------------------------------------------------- the card
@dataclass(slots=True)
class CardPost:
    post: Post
    signal: Signal | None
    link: IncidentPost
    replies: list[Reply] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.post.network}:{self.post.external_id}"

    @property
    def safe_url(self) -> str | None:
        """The link to the original, only when it is http(s): a resident's `javascript:` never becomes a link."""
        url = (self.post.url or "").strip()
        return url if url.lower().startswith(("https://", "http://")) else None


@dataclass(slots=True)
class Card:
    inc: Incident
    posts: list[CardPost]
    events: list[AuditEvent]
    answers: list[Answer]
    assignments: list[Assignment]
    clocks: dict[str, ClockState]
    merged_from: list[int]
    lock: IncidentLock | None


def card(session: Session, inc: Incident, now: datetime, clocks: SlaClocks) -> Card:
    rows = session.exec(
        select(IncidentPost, Post)
        .join(Post, Post.id == IncidentPost.post_id)
        .where(IncidentPost.incident_id == inc.id)
        .order_by(Post.created_at, Post.id)
    ).all()
    post_ids = [p.id for _, p in rows]
    sigs = (
        {s.post_id: s for s in session.exec(select(Signal).where(Signal.post_id.in_(post_ids))).all()}
        if post_ids
        else {}
    )  # type: ignore[attr-defined]
    replies: dict[int, list[Reply]] = defaultdict(list)
    for r in session.exec(select(Reply).where(Reply.incident_id == inc.id).order_by(Reply.id)).all():
        if r.post_id is not None:
            replies[r.post_id].append(r)
    posts = [CardPost(p, sigs.get(p.id), link, replies.get(p.id, [])) for link, p in rows]  # type: ignore[arg-type]
    merged_from = list(session.exec(select(Incident.id).where(Incident.merged_into_id == inc.id)).all())
    event_ids = [inc.id, *merged_from]
    events = list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.incident_id.in_(event_ids))  # type: ignore[attr-defined]
            .order_by(AuditEvent.at, AuditEvent.id)
        ).all()
    )
    answers = list(session.exec(select(Answer).where(Answer.incident_id == inc.id).order_by(Answer.id)).all())
    assignments = list(
        session.exec(
            select(Assignment)
            .where(Assignment.incident_id == inc.id)
            .order_by(Assignment.assigned_at, Assignment.id)
        ).all()
    )
    lock = session.get(IncidentLock, inc.id)
    if lock is not None and lock.expires_at <= now:
        lock = None
    return Card(inc, posts, events, answers, assignments, clocks.evaluate(inc, now), merged_from, lock)  # type: ignore[arg-type]


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
    if snapshot is not None:
        evaluated = snapshot.rows(session, now)
    else:
        incs = session.exec(
            visible(
                select(Incident).where(
                    col(Incident.merged_into_id).is_(None),
                    Incident.status.in_(OPEN),
                ),
                actor,
            )
        ).all()  # type: ignore[attr-defined]
        snap = OpenSnapshot(cfg, clocks)
        evaluated = snap.order(snap.evaluate(list(incs), now), now)

    def split() -> tuple[list[_Evaluated], list[_Evaluated], dict[str, int]]:
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
            .where(Incident.first_answer_at >= day_ago, col(Incident.merged_into_id).is_(None)),
            actor,
        )
    ).one()
    locks = active_locks(session, now)

    def rows(evs: list[_Evaluated]) -> list[QueueRow]:
        return [
            QueueRow(
                e.inc,
                e.running,
                e.running[0] if e.running else None,
                e.untriaged,
                locks.get(e.inc.id),  # type: ignore[arg-type]
                e.all_clocks,
            )
            for e in evs
        ]

    return Board({**counted, "answered_24h": int(answered)}, rows(overdue), rows(at_risk))


# --------------------------------------------------------------------------- the heat map
@dataclass(slots=True)
class MapCell:
    code: str | None
    name: str
    count: int
    previous: int

    @property
    def change(self) -> int:
        return self.count - self.previous


def heat(session: Session, cfg: RegionConfig, now: datetime, days: int, category: str = "") -> list[MapCell]:
    """Incidents by municipality opened in the last `days`, and in the `days` before that."""
    start, prev = now - timedelta(days=days), now - timedelta(days=2 * days)
    stmt = select(Incident.municipality, Incident.opened_at).where(
        col(Incident.merged_into_id).is_(None),
        Incident.status != S.REJECTED.value,
        Incident.opened_at >= prev,
        Incident.opened_at < now,
    )
    if category:
        stmt = stmt.where(Incident.category == category)
    cur: Counter = Counter()
    old: Counter = Counter()
    for muni, opened in session.exec(stmt).all():
        (cur if opened >= start else old)[muni] += 1
    names = Names(cfg)
    cells = [
        MapCell(m.code, m.name, cur.get(m.code, 0), old.get(m.code, 0))
        for m in cfg.territories.municipalities
    ]
    if cur.get(None) or old.get(None):
        cells.append(MapCell(None, "место не определено", cur.get(None, 0), old.get(None, 0)))
    cells.sort(key=lambda c: (-c.count, names.municipality(c.code)))
    return cells


# --------------------------------------------------------------------------- ratings
@dataclass(slots=True)
class Rating:
    key: str | None
    name: str
    fig: SlaFigures
    rereview: int
    share_24h: float | None
    red: bool = False

    @property
    def rereview_rate(self) -> float | None:
        return self.rereview / self.fig.incidents if self.fig.incidents else None


def ratings(session: Session, cfg: RegionConfig, now: datetime, days: int, by: str) -> list[Rating]:
    """Bodies or municipalities: incidents, share answered within 24 h, median hours to the first answer,
    re-review rate (incidents reopened after an answer); the worst fifth of the rated ones is the red zone."""
    from incidents.domain.sla_report import load_period

    rows = load_period(session, now - timedelta(days=days), None)
    attr = "body_code" if by == "body" else "municipality"
    minimum = cfg.sla.rating_min_incidents
    figs = figures(rows, now, by=attr, min_incidents=minimum)
    reopened = set(session.exec(select(AuditEvent.incident_id).where(AuditEvent.action == "reopened")).all())
    groups: dict[str | None, list[Incident]] = defaultdict(list)
    for inc in rows:
        groups[getattr(inc, attr)].append(inc)
    names = Names(cfg)
    out: list[Rating] = []
    for fg in figs:
        incs = groups.get(fg.key, [])
        decided = [
            i for i in incs if i.first_answer_at is not None or now - i.opened_at >= timedelta(hours=24)
        ]
        in_24 = [
            i
            for i in decided
            if i.first_answer_at is not None and i.first_answer_at - i.opened_at <= timedelta(hours=24)
        ]
        share = len(in_24) / len(decided) if decided else None
        name = names.body(fg.key) if by == "body" else names.municipality(fg.key)
        out.append(Rating(fg.key, name, fg, sum(1 for i in incs if i.id in reopened), share))
    rated = [r for r in out if r.fig.rated]
    rated.sort(
        key=lambda r: (-(r.share_24h if r.share_24h is not None else -1), r.fig.median_hours_to_answer or 1e9)
    )
    for r in rated[len(rated) - max(1, math.ceil(len(rated) / 5)) :] if rated else []:
        r.red = True
    return rated + [r for r in out if not r.fig.rated]


def median_or_none(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def users_by_login(session: Session) -> dict[str, User]:
    return {u.login: u for u in session.exec(select(User)).all()}
