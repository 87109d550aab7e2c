"""When an incident counts as answered: only once a reply reached the resident (issue 18).

`Workflow.publish` only queues the answer («ответ поставлен в очередь»); the incident stays
«ответ утверждён». It becomes «отвечено», with «ответ опубликован» in its history, when

- a channel confirms a reply of that answer as sent (`incidents.services.outbox` calls
  `confirm_answered`), or
- a person marks it as published by hand (`mark_published`: the answer was posted another way,
  e.g. from the body's own account) — the queued replies are then withdrawn so the outbox does
  not post the same answer twice.

A dry run (no credentials: 0 replies sent) leaves the incident approved, so it cannot be
resolved and closed as answered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from core.roles import Action, Actor, authorize
from core.states import IncidentState, check_transition
from storage.models import Answer, Incident, Reply
from storage.store import audit

S = IncidentState
WAITING = (S.ASSIGNED.value, S.ANSWER_DRAFTED.value, S.ANSWER_APPROVED.value)


class NotPublished(ValueError):
    """Nothing to mark as published: the incident has no answer released for publishing."""


def confirm_answered(
    session: Session, inc: Incident, answer_id: int | None, by: str, now: datetime, how: str
) -> bool:
    """Move the incident to «отвечено» if it is still waiting for its answer to go out; `how` is
    recorded («reply_sent», «by_hand»). Returns whether it moved."""
    if inc.status not in WAITING:
        return False  # answered already (a second post's reply) or moved on meanwhile
    check_transition(inc.status, S.ANSWERED.value)
    data: dict[str, Any] = {"answer": answer_id, "confirmed": how}
    if answer_id is not None and (answer := session.get(Answer, answer_id)) is not None:
        data["interim"] = answer.interim
        data["posts"] = list(
            session.exec(
                select(Reply.post_id).where(Reply.answer_id == answer_id).order_by(col(Reply.id))
            ).all()
        )
    audit(
        session,
        actor=by,
        action="answer_published",
        incident_id=inc.id,
        from_state=inc.status,
        to_state=S.ANSWERED.value,
        data=data,
        now=now,
    )
    inc.status, inc.updated_at = S.ANSWERED.value, now
    session.add(inc)
    return True


def mark_published(
    session: Session, actor: Actor, inc: Incident, now: datetime, note: str | None = None
) -> Answer:
    """A person says the released answer was published by hand: the incident is answered, its
    clocks stop as for a sent reply, and the replies still queued are withdrawn."""
    authorize(actor, Action.PUBLISH, inc.body_code, incident_id=inc.id)
    rows = session.exec(
        select(Answer)
        .where(Answer.incident_id == inc.id, Answer.status == "published")
        .order_by(col(Answer.id))
    ).all()
    if not rows:
        raise NotPublished(f"у инцидента {inc.id} нет ответа, отправленного на публикацию")
    answer = rows[-1]
    for r in session.exec(
        select(Reply).where(Reply.answer_id == answer.id, col(Reply.status).in_(("queued", "failed")))
    ).all():
        r.status, r.error = "manual", f"опубликован вручную: {actor.login}"
        session.add(r)
    if inc.first_answer_at is None:
        inc.first_answer_at = now
    if answer.interim:
        inc.interim_answer_at = inc.interim_answer_at or now
    else:
        inc.final_answer_at = inc.final_answer_at or now
    confirm_answered(session, inc, answer.id, actor.login, now, "by_hand")
    audit(
        session,
        actor=actor.login,
        action="answer_marked_published",
        incident_id=inc.id,
        reason=note,
        data={"answer": answer.id},
        now=now,
    )
    return answer
