"""The region-wide figures: the heat map by municipality and the ratings of bodies and municipalities.

They move with days of data, so the routes keep them in `snapshot.Memo` for a minute."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from console.data.names import Names, S
from core.config import RegionConfig
from incidents.domain.sla_report import SlaFigures, figures
from incidents.services.search.documents import coordinates_of
from storage.models import AuditEvent, Incident, IncidentPost, Post, User


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


@dataclass(slots=True)
class IncidentPoint:
    """Where an incident is, when one of its posts came with coordinates (the feedback platform's
    address point, a VK geotag): drawn on the map over the municipalities."""

    id: int
    title: str
    body_code: str | None
    municipality: str | None
    lat: float
    lon: float
    category: str | None = None


def incident_points(
    session: Session, now: datetime, days: int, category: str = "", incident_id: int | None = None
) -> list[IncidentPoint]:
    """The incidents of the last `days` (or the one `incident_id`) that have a point: the earliest
    of their posts whose payload carries coordinates (`search.documents.coordinates_of`, the same
    reading the search index uses). The incidents' few columns only, not their rows (the card's
    JSON): the map asks for every incident of 90 days (issue 18)."""
    stmt = (
        sa.select(
            col(Incident.id),
            col(Incident.title),
            col(Incident.body_code),
            col(Incident.municipality),
            col(Incident.category),
            col(Post.raw),
        )
        .join(IncidentPost, col(IncidentPost.incident_id) == col(Incident.id))
        .join(Post, col(Post.id) == col(IncidentPost.post_id))
        .where(col(Post.raw).is_not(None))
        .order_by(col(Incident.id), col(Post.created_at), col(Post.id))
    )
    if incident_id is not None:
        stmt = stmt.where(col(Incident.id) == incident_id)
    else:
        stmt = stmt.where(
            col(Incident.merged_into_id).is_(None),
            col(Incident.status) != S.REJECTED.value,
            col(Incident.opened_at) >= now - timedelta(days=days),
            col(Incident.opened_at) < now,
        )
        if category:
            stmt = stmt.where(col(Incident.category) == category)
    out: dict[int, IncidentPoint] = {}
    for iid, title, body, municipality, cat, raw in session.execute(stmt).all():
        if iid is None or iid in out:
            continue
        point = coordinates_of(raw if isinstance(raw, dict) else None)
        if point is not None:
            out[iid] = IncidentPoint(iid, title, body, municipality, *point, category=cat)
    return list(out.values())


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

    rows = load_period(session, now - timedelta(days=days), None, times_only=True)
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
