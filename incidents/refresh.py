"""Keep an incident's card true to its posts, and route incidents that have no body yet.

Shared by the processing step (posts join incidents) and by the administrator operations
(merge, split, move): whoever changes an incident's posts calls `refresh_incidents` in the
same transaction, so title, summary, scale, priority, reach and post times never lag behind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, select

from incidents.assess import IncidentCard, PostFacts, card_of, reach_of
from incidents.config import RegionConfig
from incidents.models import Assignment, Incident, IncidentPost, Post, Signal
from incidents.routing import Router
from incidents.states import IncidentState
from incidents.store import audit


def post_facts(session: Session, incident_ids: Iterable[int]) -> dict[int, list[PostFacts]]:
    """The posts of each incident as `PostFacts`, oldest first (one query per 500 incidents)."""
    ids = sorted(set(incident_ids))
    out: dict[int, list[PostFacts]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = (
            select(IncidentPost.incident_id, Post, Signal)
            .join(Post, Post.id == IncidentPost.post_id)
            .join(Signal, Signal.post_id == Post.id, isouter=True)
            .where(IncidentPost.incident_id.in_(chunk))  # type: ignore[attr-defined]
            .order_by(Post.created_at, Post.id)
        )
        for iid, post, sig in session.exec(stmt).all():
            addr = ((sig.entities if sig else None) or {}).get("address") or {}
            out[iid].append(PostFacts(
                text=post.text, network=post.network, author_id=post.author_id,
                municipality=sig.municipality if sig else None, street=sig.street if sig else None,
                house=addr.get("house"), settlement=addr.get("settlement"),
                subcategory=sig.subcategory if sig else None, score=sig.score if sig else 0.0,
                reach=reach_of(post.likes, post.reposts, post.views),
                key=f"{post.network}:{post.external_id}", created_at=post.created_at,
                author_name=post.author_name, likes=post.likes, reposts=post.reposts, views=post.views,
                lemma_text=(sig.lemma_text or "") if sig else "",
                municipalities=tuple(((sig.entities if sig else None) or {}).get("municipalities") or ()),
            ))
    return out


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


def refresh_incidents(session: Session, cfg: RegionConfig, incident_ids: Iterable[int], ts: datetime) -> list[Incident]:
    """Recompute the card of each incident from its posts; returns the incidents that have posts."""
    ids = sorted(set(incident_ids))
    if not ids:
        return []
    facts = post_facts(session, ids)
    addresses: dict[int, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
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
        apply_card(inc, card_of(cfg, inc.category, inc.subcategory, facts[iid]), addresses[iid], ts)
        session.add(inc)
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
