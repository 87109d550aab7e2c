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
from sqlmodel import Session, select

from incidents.config import RegionConfig
from incidents.models import (
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
from incidents.roles import Actor, Role
from incidents.sla_clocks import ClockState, SlaClocks
from incidents.sla_report import SlaFigures, figures
from incidents.states import OPEN_STATES, IncidentState

S = IncidentState
OPEN = sorted(s.value for s in OPEN_STATES)
UNTRIAGED = {S.NEW.value, S.TRIAGED.value, S.REOPENED.value}

STATUS_NAMES = {
    "new": "новый", "triaged": "разобран", "assigned": "назначен", "answer_drafted": "ответ подготовлен",
    "answer_approved": "ответ утверждён", "answered": "отвечено", "resolved": "решён", "closed": "закрыт",
    "rejected": "отклонён", "reopened": "открыт повторно",
}
CLOCK_NAMES = {"triage": "разбор", "draft": "черновик", "first_answer": "ответ жителю", "follow_up": "окончательный ответ",
               "resolution": "срок ПОС"}
CLOCK_STATES = {"ok": "в срок", "at_risk": "под угрозой", "overdue": "просрочен", "met": "выполнен", "missed": "нарушен",
                "off": "—"}
NETWORK_NAMES = {"vk": "ВКонтакте", "ok": "Одноклассники", "telegram": "Telegram", "pos": "ПОС"}
REPLY_STATUSES = {"queued": "в очереди", "sending": "отправляется", "sent": "отправлен", "failed": "ошибка"}
ACTION_NAMES = {
    "queued_for_triage": "в очередь на разбор", "assigned": "назначен", "reassigned": "переназначен",
    "triaged": "разобран", "handed_back": "возвращён «не наше»", "rejected": "отклонён",
    "answer_drafted": "подготовлен ответ", "answer_redrafted": "ответ переписан", "draft_returned": "ответ возвращён",
    "answer_approved": "ответ утверждён", "answer_published": "ответ опубликован", "resolved": "решён",
    "closed": "закрыт", "reopened": "открыт повторно", "merged": "объединён", "merged_into": "присоединён к",
    "split": "выделены посты", "split_from": "выделен из", "post_moved_in": "пост перенесён сюда",
    "post_moved_out": "пост перенесён отсюда", "emptied": "остался без постов", "auto_answer_queued": "автоответ",
    "opened": "открыт", "reply_sent": "ответ отправлен", "reply_failed": "ответ не отправлен",
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

    @property
    def worst(self) -> str:
        states = {c.state for c in self.clocks}
        return "overdue" if "overdue" in states else "at_risk" if "at_risk" in states else "ok" if states else "off"


def queue(session: Session, engine: Engine, cfg: RegionConfig, actor: Actor, f: ListFilters, now: datetime,
          clocks: SlaClocks) -> list[QueueRow]:
    """New and unassigned first, then by the time left on the nearest running clock, then priority."""
    stmt = visible(select(Incident).where(Incident.merged_into_id == None), actor)  # noqa: E711
    if f.status == "open":
        stmt = stmt.where(Incident.status.in_(OPEN))  # type: ignore[attr-defined]
    elif f.status and f.status != "all":
        stmt = stmt.where(Incident.status == f.status)
    if f.category:
        stmt = stmt.where(Incident.category == f.category)
    if f.municipality:
        stmt = stmt.where(Incident.municipality == f.municipality)
    if f.body:
        stmt = stmt.where(Incident.body_code == f.body)
    if f.network:
        stmt = stmt.where(Incident.networks.contains(f.network))  # type: ignore[union-attr]
    tz = cfg.region.timezone
    if f.since and (since := _day(f.since, tz)):
        stmt = stmt.where(Incident.opened_at >= since)
    if f.until and (until := _day(f.until, tz)):
        stmt = stmt.where(Incident.opened_at < until + timedelta(days=1))
    if f.q:
        ids = search_incident_ids(engine, cfg, f.q)
        if not ids:
            return []
        stmt = stmt.where(Incident.id.in_(ids))  # type: ignore[union-attr]
    rows = list(session.exec(stmt).all())
    locks = active_locks(session, [i.id for i in rows], now)  # type: ignore[misc]
    out: list[QueueRow] = []
    triage_body = cfg.bodies.triage_body
    for inc in rows:
        running = sorted((c for c in clocks.evaluate(inc, now).values() if c.running),
                         key=lambda c: c.due_at)  # type: ignore[arg-type, return-value]
        untriaged = inc.status in UNTRIAGED or inc.body_code in (None, triage_body)
        out.append(QueueRow(inc, running, running[0] if running else None, untriaged, locks.get(inc.id)))  # type: ignore[arg-type]
    far = now + timedelta(days=36500)
    out.sort(key=lambda r: (not r.untriaged, r.first.due_at if r.first else far, r.inc.priority, r.inc.id))
    return out


def search_incident_ids(engine: Engine, cfg: RegionConfig, text: str, limit: int = 2000) -> list[int]:
    """The incidents whose posts match the words, through the project's one search entry point."""
    from incidents.search import search

    hits = search(engine, cfg, text, None, limit=limit)
    return list(dict.fromkeys(h.incident_id for h in hits if h.incident_id is not None))


# --------------------------------------------------------------------------- locks
def active_locks(session: Session, ids: list[int], now: datetime) -> dict[int, str]:
    if not ids:
        return {}
    out: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for lk in session.exec(select(IncidentLock).where(IncidentLock.incident_id.in_(chunk),  # type: ignore[attr-defined]
                                                          IncidentLock.expires_at > now)).all():
            out[lk.incident_id] = lk.login

    return out


def take_lock(session: Session, incident_id: int, login: str, now: datetime, minutes: float) -> IncidentLock:
    """Mark the incident as being worked on by `login`, unless someone else holds a live lock:
    then that lock is returned unchanged (the console shows who it is; nothing is taken away)."""
    lk = session.get(IncidentLock, incident_id)
    until = now + timedelta(minutes=minutes)
    if lk is not None and lk.login != login and lk.expires_at > now:
        return lk
    if lk is None:
        lk = IncidentLock(incident_id=incident_id, login=login, since=now, expires_at=until)
    else:
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
    rows = session.exec(select(IncidentPost, Post).join(Post, Post.id == IncidentPost.post_id)
                        .where(IncidentPost.incident_id == inc.id).order_by(Post.created_at, Post.id)).all()
    post_ids = [p.id for _, p in rows]
    sigs = {s.post_id: s for s in session.exec(select(Signal).where(Signal.post_id.in_(post_ids))).all()} if post_ids else {}  # type: ignore[attr-defined]
    replies: dict[int, list[Reply]] = defaultdict(list)
    for r in session.exec(select(Reply).where(Reply.incident_id == inc.id).order_by(Reply.id)).all():
        if r.post_id is not None:
            replies[r.post_id].append(r)
    posts = [CardPost(p, sigs.get(p.id), link, replies.get(p.id, [])) for link, p in rows]  # type: ignore[arg-type]
    merged_from = list(session.exec(select(Incident.id).where(Incident.merged_into_id == inc.id)).all())
    event_ids = [inc.id, *merged_from]
    events = list(session.exec(select(AuditEvent).where(AuditEvent.incident_id.in_(event_ids))  # type: ignore[attr-defined]
                               .order_by(AuditEvent.at, AuditEvent.id)).all())
    answers = list(session.exec(select(Answer).where(Answer.incident_id == inc.id).order_by(Answer.id)).all())
    assignments = list(session.exec(select(Assignment).where(Assignment.incident_id == inc.id)
                                    .order_by(Assignment.assigned_at, Assignment.id)).all())
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


def board(session: Session, engine: Engine, cfg: RegionConfig, actor: Actor, now: datetime, clocks: SlaClocks) -> Board:
    """Open incidents with a clock overdue or at risk, and the counters the board refreshes live."""
    rows = queue(session, engine, cfg, actor, ListFilters(), now, clocks)
    overdue = [r for r in rows if r.worst == "overdue"]
    at_risk = [r for r in rows if r.worst == "at_risk"]
    first = Counter(clocks.evaluate(r.inc, now)["first_answer"].state for r in rows)
    day_ago = now - timedelta(hours=24)
    answered = session.exec(visible(select(sa.func.count()).select_from(Incident)
                                    .where(Incident.first_answer_at >= day_ago, Incident.merged_into_id == None),  # noqa: E711
                                    actor)).one()
    counters = {
        "open": len(rows),
        "overdue": len(overdue),
        "at_risk": len(at_risk),
        "answer_overdue": first.get("overdue", 0),
        "answer_at_risk": first.get("at_risk", 0),
        "untriaged": sum(1 for r in rows if r.untriaged),
        "answered_24h": int(answered),
    }
    return Board(counters, overdue, at_risk)


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
        Incident.merged_into_id == None, Incident.status != S.REJECTED.value, Incident.opened_at >= prev,  # noqa: E711
        Incident.opened_at < now)
    if category:
        stmt = stmt.where(Incident.category == category)
    cur: Counter = Counter()
    old: Counter = Counter()
    for muni, opened in session.exec(stmt).all():
        (cur if opened >= start else old)[muni] += 1
    names = Names(cfg)
    cells = [MapCell(m.code, m.name, cur.get(m.code, 0), old.get(m.code, 0)) for m in cfg.territories.municipalities]
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
    from incidents.sla_report import load_period

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
        decided = [i for i in incs if i.first_answer_at is not None or now - i.opened_at >= timedelta(hours=24)]
        in_24 = [i for i in decided if i.first_answer_at is not None
                 and i.first_answer_at - i.opened_at <= timedelta(hours=24)]
        share = len(in_24) / len(decided) if decided else None
        name = names.body(fg.key) if by == "body" else names.municipality(fg.key)
        out.append(Rating(fg.key, name, fg, sum(1 for i in incs if i.id in reopened), share))
    rated = [r for r in out if r.fig.rated]
    rated.sort(key=lambda r: (-(r.share_24h if r.share_24h is not None else -1), r.fig.median_hours_to_answer or 1e9))
    for r in rated[len(rated) - max(1, math.ceil(len(rated) / 5)):] if rated else []:
        r.red = True
    return rated + [r for r in out if not r.fig.rated]


def median_or_none(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def users_by_login(session: Session) -> dict[str, User]:
    return {u.login: u for u in session.exec(select(User)).all()}
