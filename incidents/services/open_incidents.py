"""The clusterer's view of the open incidents: what new posts may join, loaded from the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from sys import intern
from typing import Any

from sqlmodel import Session, col, select

from core.config import RegionConfig
from core.states import IncidentState
from incidents.domain.clustering import (
    MAX_VOCABULARY,
    Clusterer,
    IncidentView,
    content_tokens,
    ignored_place_stems,
    place_stems,
    street_key,
)
from storage.models import Incident, IncidentPost, Post, Signal, row_id

CLOSED_STATES = frozenset({IncidentState.CLOSED.value, IncidentState.RESOLVED.value})


def _view_from(
    inc: Incident, texts: list[str], keys: list[str], houses: set[str], streets: set[str], places: set[str]
) -> IncidentView:
    v = IncidentView(
        ref=row_id(inc),
        category=inc.category,
        subcategory=inc.subcategory,
        municipality=inc.municipality,
        street=street_key(inc.street),
        house=next(iter(sorted(houses)), None),
        first_at=inc.first_post_at or inc.opened_at,
        last_at=inc.last_post_at or inc.opened_at,
        closed_at=(inc.closed_at or inc.updated_at) if inc.status in CLOSED_STATES else None,
        status=inc.status,
        region_wide=inc.scale == "region" and inc.municipality is None,
    )
    v.texts.extend(texts[-5:])
    v.post_keys.update(keys)
    v.houses.update(houses)
    v.streets.update(s for s in streets if s)
    if v.street:
        v.streets.add(v.street)
    v.places.update(places)
    for t in texts:  # every post's, in the order they joined: what the run's memory grew (F2)
        if len(v.vocabulary) >= MAX_VOCABULARY:
            break
        v.vocabulary.update(intern(w[:5]) for w in t.split())
    return v


# (sqlmodel's `select` is typed for up to four columns)
_SNAPSHOT_COLUMNS: tuple[Any, ...] = (
    IncidentPost.incident_id,
    Post.network,
    Post.external_id,
    Signal.post_id,
    Signal.lemma_text,
    Signal.entities,
    Signal.street,
)


def load_clusterer(session: Session, cfg: RegionConfig, since: datetime) -> Clusterer:
    """Snapshot of the incidents a new post could join: active since `since`, or closed recently
    enough to be reopened (or continued by a linked incident)."""
    clusterer = Clusterer(cfg.clustering, ignore_places=ignored_place_stems(cfg.territories))
    window = timedelta(hours=cfg.clustering.window_hours)
    closed_horizon = since - clusterer.link_window
    stmt = select(Incident).where(
        col(Incident.merged_into_id).is_(None),
        Incident.status != IncidentState.REJECTED.value,
        (col(Incident.last_post_at) >= since - window)
        | (col(Incident.status).in_(sorted(CLOSED_STATES)) & (col(Incident.updated_at) >= closed_horizon)),
    )
    # In id order, which is the order they were opened in: the candidate lists a reloaded snapshot
    # builds are then those of the run that was killed (at most `max_candidates` are compared).
    incidents = list(session.exec(stmt.order_by(col(Incident.id))).all())
    if not incidents:
        return clusterer
    ids = [row_id(i) for i in incidents]
    texts: dict[int, list[str]] = {i: [] for i in ids}
    keys: dict[int, list[str]] = {i: [] for i in ids}
    houses: dict[int, set[str]] = {i: set() for i in ids}
    streets: dict[int, set[str]] = {i: set() for i in ids}
    places: dict[int, set[str]] = {i: set() for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.exec(
            select(*_SNAPSHOT_COLUMNS)
            .join(Post, col(Post.id) == col(IncidentPost.post_id))
            .join(Signal, col(Signal.post_id) == col(Post.id), isouter=True)
            .where(col(IncidentPost.incident_id).in_(chunk))
            .order_by(col(Post.created_at), col(Post.id))
        ).all()
        for iid, net, ext, signal_of, lemma_text, ents, street in rows:
            keys[iid].append(f"{net}:{ext}")
            if signal_of is not None:  # an empty text too: the run's memory holds it among the last five
                texts[iid].append(" ".join(content_tokens(lemma_text or "")))
            address = (ents or {}).get("address") or {}
            if address.get("house"):
                houses[iid].add(address["house"])
            if street and (key := street_key(street)) is not None:
                streets[iid].add(key)
            for loc in (ents or {}).get("locations") or []:
                places[iid] |= place_stems(loc) - clusterer.ignore_places
            if address.get("settlement"):  # as `Clusterer._post_view` counts it
                places[iid] |= place_stems(address["settlement"]) - clusterer.ignore_places
    for inc in incidents:
        if inc.status in CLOSED_STATES and (inc.closed_at or inc.updated_at) < closed_horizon:
            continue
        iid = row_id(inc)
        clusterer.load(_view_from(inc, texts[iid], keys[iid], houses[iid], streets[iid], places[iid]))
    return clusterer
