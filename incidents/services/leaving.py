"""A post re-sent with a text that is no complaint leaves its incident (issue 19, F10).

The processing takes such a post out of the incident the clustering put it in (a person's link
and a reply that joined its thread stay: neither was placed as a complaint); this module records
why, and rejects an incident that has no complaint left, so that its SLA clocks stop and nobody
answers a complaint nobody made. Reasons are in Russian: the console shows them to the staff.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.states import IncidentState, InvalidTransition, check_transition
from storage.models import Incident, IncidentPost, Post, Signal
from storage.store import audit

CLOSED_STATES = frozenset({IncidentState.CLOSED.value, IncidentState.RESOLVED.value})


def after_leaving(session: Session, incident_id: int, gone: list[Post], ts: datetime) -> None:
    """Audit each post that left; an incident left with no complaint is rejected (its SLA
    clocks stop: it is out of the open states) — unless people already work on its answer,
    who then get the reason in its trail and decide."""
    inc = session.get(Incident, incident_id)
    if inc is None:
        return
    keys = [f"{p.network}:{p.external_id}" for p in gone]
    for key in keys:
        audit(
            session,
            actor="system",
            action="post_left",
            incident_id=incident_id,
            now=ts,
            reason=f"пост {key} прислан заново с текстом, который не является жалобой; он исключён из инцидента",
            data={"post": key},
        )
    rest = session.exec(
        select(sa.func.count())
        .select_from(IncidentPost)
        .join(Signal, col(Signal.post_id) == col(IncidentPost.post_id), isouter=True)
        .where(
            col(IncidentPost.incident_id) == incident_id,
            (col(IncidentPost.manual) == sa.true())
            | ((col(Signal.is_complaint) == sa.true()) & (col(Signal.in_region) == sa.true())),
        )
    ).one()
    if rest:
        return
    if not session.exec(
        select(col(IncidentPost.post_id)).where(col(IncidentPost.incident_id) == incident_id)
    ).first():
        inc.post_count = 0  # the card refresh skips an incident without posts
    reason = f"в инциденте не осталось жалоб: {', '.join(keys)} после правки не жалоба"
    try:
        target = check_transition(inc.status, IncidentState.REJECTED.value)
    except InvalidTransition:
        if inc.status in CLOSED_STATES:
            return
        audit(
            session,
            actor="system",
            action="no_complaint_left",
            incident_id=incident_id,
            now=ts,
            reason=reason,
        )
        return
    audit(
        session,
        actor="system",
        action="rejected",
        incident_id=incident_id,
        from_state=inc.status,
        to_state=target.value,
        now=ts,
        reason=reason,
        data={"posts": keys},
    )
    inc.status, inc.rejected_reason, inc.closed_at = target.value, reason, ts
    inc.triaged_at = inc.triaged_at or ts
    inc.updated_at = ts
    session.add(inc)
