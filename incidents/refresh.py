"""Keep an incident's card true to its posts, and route incidents that have no body yet.

Shared by the processing step (posts join incidents) and by the administrator operations
(merge, split, move): whoever changes an incident's posts calls `refresh_incidents` in the
same transaction, so title, summary, scale, priority, reach and post times never lag behind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlmodel import Session, func, select

from incidents.assess import IncidentCard, PostFacts, card_of, reach_of
from incidents.config import RegionConfig
from incidents.models import Assignment, Incident, IncidentPost, Post, Signal
from incidents.routing import Router
from incidents.states import IncidentState
from incidents.store import audit

# A card is drawn from at most this many of an incident's latest posts; counts, reach, networks
# and post times always cover all of them (SQL aggregates). Without the bound, an incident that
# gathers thousands of posts (a district-wide outage) made every batch reread all of them, and
# the time per post grew with the length of the stream.
CARD_SAMPLE = 200


def post_facts(session: Session, incident_ids: Iterable[int], *, sample: int | None = CARD_SAMPLE,
               big: set[int] | None = None) -> dict[int, list[PostFacts]]:
    """The posts of each incident as `PostFacts`, oldest first (one query per 500 incidents);
    for the incidents in `big`, only their latest `sample` posts."""
    ids = sorted(set(incident_ids))
    big = big or set()
    out: dict[int, list[PostFacts]] = {i: [] for i in ids}
    small = [i for i in ids if i not in big]

    # Columns, not ORM rows: a post's raw payload and the ORM bookkeeping of thousands of rows
    # per batch were most of the refresh's time.
    cols = (IncidentPost.incident_id, Post.text, Post.network, Post.external_id, Post.author_id, Post.author_name,
            Post.created_at, Post.likes, Post.reposts, Post.views, Signal.municipality, Signal.street,
            Signal.subcategory, Signal.score, Signal.lemma_text, Signal.entities, Signal.id)

    def _facts(r: Any) -> PostFacts:
        has_sig = r[16] is not None
        ents = (r[15] if has_sig else None) or {}
        addr = ents.get("address") or {}
        return PostFacts(
            text=r[1], network=r[2], author_id=r[4],
            municipality=r[10], street=r[11],
            house=addr.get("house"), settlement=addr.get("settlement"),
            subcategory=r[12], score=r[13] if has_sig else 0.0,
            reach=reach_of(r[7], r[8], r[9]),
            key=f"{r[2]}:{r[3]}", created_at=r[6],
            author_name=r[5], likes=r[7], reposts=r[8], views=r[9],
            lemma_text=(r[14] or "") if has_sig else "",
            municipalities=tuple(ents.get("municipalities") or ()),
        )

    base = (select(*cols)
            .join(Post, Post.id == IncidentPost.post_id)
            .join(Signal, Signal.post_id == Post.id, isouter=True))
    for start in range(0, len(small), 500):
        chunk = small[start : start + 500]
        stmt = base.where(IncidentPost.incident_id.in_(chunk)).order_by(Post.created_at, Post.id)  # type: ignore[attr-defined]
        for r in session.exec(stmt).all():
            out[r[0]].append(_facts(r))
    for iid in sorted(big):
        stmt = base.where(IncidentPost.incident_id == iid).order_by(Post.created_at.desc(), Post.id.desc()).limit(sample)  # type: ignore[attr-defined, union-attr]
        out[iid] = [_facts(r) for r in reversed(session.exec(stmt).all())]
    return out


def _big_incidents(session: Session, ids: list[int], sample: int) -> set[int]:
    big: set[int] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.exec(
            select(IncidentPost.incident_id, func.count()).where(IncidentPost.incident_id.in_(chunk))  # type: ignore[attr-defined]
            .group_by(IncidentPost.incident_id).having(func.count() > sample)
        ).all()
        big.update(iid for iid, _ in rows)
    return big


def _whole_counts(session: Session, card: IncidentCard, incident_id: int) -> None:
    """Counts, reach, networks and post times of all the posts of a big incident."""
    rows = session.exec(
        select(Post.network, func.count(), func.sum(Post.likes), func.sum(Post.reposts), func.sum(Post.views),
               func.min(Post.created_at), func.max(Post.created_at),
               func.sum(Post.likes + Post.reposts + Post.views // 100))  # reach_of per post, as card_of sums it
        .join(IncidentPost, IncidentPost.post_id == Post.id).where(IncidentPost.incident_id == incident_id)
        .group_by(Post.network)
    ).all()
    card.by_network = {net: int(n) for net, n, *_ in rows}
    card.networks = sorted(card.by_network)
    card.post_count = sum(card.by_network.values())
    card.likes = sum(int(r[2] or 0) for r in rows)
    card.reposts = sum(int(r[3] or 0) for r in rows)
    card.views = sum(int(r[4] or 0) for r in rows)
    card.reach = sum(int(r[7] or 0) for r in rows)
    firsts = [r[5] for r in rows if r[5] is not None]
    lasts = [r[6] for r in rows if r[6] is not None]
    card.first_post_at = min(firsts) if firsts else card.first_post_at
    card.last_post_at = max(lasts) if lasts else card.last_post_at


def apply_card(inc: Incident, card: IncidentCard, addresses: list[str], ts: datetime) -> None:
    inc.scale, inc.priority = card.scale, card.priority
    inc.title, inc.summary = card.title, card.summary
    inc.post_count, inc.reach = card.post_count, card.reach
    inc.networks = ",".join(card.networks)
    inc.first_post_at, inc.last_post_at = card.first_post_at, card.last_post_at
    if not inc.street and card.street:
        inc.street = card.street
    if not inc.municipality and card.municipality:
        inc.municipality = card.municipality
    if not inc.address and addresses:
        inc.address = Counter(addresses).most_common(1)[0][0]
    inc.updated_at = ts


def refresh_incidents(session: Session, cfg: RegionConfig, incident_ids: Iterable[int], ts: datetime, *,
                      router: Router | None = None) -> list[Incident]:
    """Recompute the card of each incident from its posts; returns the incidents that have posts.
    With a router, an incident never routed yet is routed from its fresh card."""
    ids = sorted(set(incident_ids))
    if not ids:
        return []
    for start in range(0, len(ids), 500):  # into the session at once, not one `get` (one query) each
        session.exec(select(Incident).where(Incident.id.in_(ids[start : start + 500]))).all()  # type: ignore[union-attr]
    big = _big_incidents(session, ids, CARD_SAMPLE)
    facts = post_facts(session, ids, big=big)
    addresses: dict[int, list[str]] = {i: [] for i in ids}
    # the address is chosen once (the first refresh that finds one); later posts do not move it
    unaddressed = [i for i in ids if (inc := session.get(Incident, i)) is not None and not inc.address]
    for start in range(0, len(unaddressed), 500):
        chunk = unaddressed[start : start + 500]
        rows = session.exec(
            select(IncidentPost.incident_id, Signal.address).join(Signal, Signal.post_id == IncidentPost.post_id)
            .where(IncidentPost.incident_id.in_(chunk), Signal.address != None)  # type: ignore[attr-defined]  # noqa: E711
        ).all()
        for iid, address in rows:
            addresses[iid].append(address)
    out = []
    for iid in ids:
        inc = session.get(Incident, iid)
        if inc is None or not facts[iid]:
            continue
        card = card_of(cfg, inc.category, inc.subcategory, facts[iid])
        if iid in big:
            _whole_counts(session, card, iid)
        apply_card(inc, card, addresses[iid], ts)
        session.add(inc)
        if router is not None and inc.status == IncidentState.NEW.value and inc.body_code is None:
            route_incident(session, router, inc, ts, settlement=card.settlement)
        out.append(inc)
    return out


def route_incident(session: Session, router: Router, inc: Incident, ts: datetime, *,
                   settlement: str | None = None) -> None:
    """First matching routing rule → assigned; no rule → the administrator's triage queue."""
    d = router.route(category=inc.category, subcategory=inc.subcategory, fact=inc.fact,
                     municipality=inc.municipality, scale=inc.scale, settlement=settlement)
    inc.body_code = d.body
    session.add(Assignment(incident_id=inc.id, body_code=d.body, assigned_at=ts, assigned_by="system",  # type: ignore[arg-type]
                           reason=d.reason, rule=None if d.rule is None else str(d.rule)))
    if d.rule is not None:
        inc.status = IncidentState.ASSIGNED.value
        inc.assigned_at = inc.triaged_at = ts  # routed by a rule: triage done, the draft clock starts
        audit(session, actor="system", action="assigned", incident_id=inc.id, from_state="new",
              to_state=inc.status, reason=d.reason, data={"body": d.body, "rule": d.rule}, now=ts)
    else:
        audit(session, actor="system", action="queued_for_triage", incident_id=inc.id, reason=d.reason,
              data={"body": d.body}, now=ts)
    session.add(inc)
