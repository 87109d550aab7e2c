"""The incident card: its posts with their signals and replies, the audit trail, the answers, the
assignments and the clocks, read in one place for the card page."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from incidents.domain.privacy import personal_link
from incidents.domain.sla_clocks import ClockState, SlaClocks
from storage.models import (
    Answer,
    Assignment,
    AuditEvent,
    Incident,
    IncidentLock,
    IncidentPost,
    Post,
    Reply,
    Signal,
    row_id,
    stored_ids,
)


# --------------------------------------------------------------------------- the card
@dataclass(slots=True)
class CardPost:
    post: Post
    signal: Signal | None
    link: IncidentPost
    replies: list[Reply] = field(default_factory=list)
    masked: bool = False
    """The viewer may not see who wrote it (`Action.SEE_AUTHORS`, issue 19 F13): no name, no account,
    no link to a person's page; the text stays — it is the complaint itself."""

    @property
    def key(self) -> str:
        return f"{self.post.network}:{self.post.external_id}"

    @property
    def author(self) -> str | None:
        """The author's name (or account) as the viewer may see it; None when the network gave none."""
        name = self.post.author_name or self.post.author_id
        if name and self.masked:
            return "житель (скрыто)"
        return name

    @property
    def safe_url(self) -> str | None:
        """The link to the original, only when it is http(s): a resident's `javascript:` never becomes a
        link; and not when it leads to a person's own page and the viewer may not see authors."""
        url = (self.post.url or "").strip()
        if self.masked and personal_link(url):
            return None
        return url if url.lower().startswith(("https://", "http://")) else None

    @property
    def personal_hidden(self) -> bool:
        """The link exists but leads to a person's page the viewer may not see."""
        return self.masked and personal_link(self.post.url)


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


def card(session: Session, inc: Incident, now: datetime, clocks: SlaClocks, *, authors: bool = True) -> Card:
    """`authors`: whether the viewer may see who wrote the posts (else `CardPost.masked`)."""
    rows = session.exec(
        select(IncidentPost, Post)
        .join(Post, col(Post.id) == col(IncidentPost.post_id))
        .where(IncidentPost.incident_id == inc.id)
        .order_by(col(Post.created_at), col(Post.id))
    ).all()
    post_ids = [p.id for _, p in rows]
    sigs = (
        {s.post_id: s for s in session.exec(select(Signal).where(col(Signal.post_id).in_(post_ids))).all()}
        if post_ids
        else {}
    )
    replies: dict[int, list[Reply]] = defaultdict(list)
    for r in session.exec(
        select(Reply).where(col(Reply.incident_id) == row_id(inc)).order_by(col(Reply.id))
    ).all():
        if r.post_id is not None:
            replies[r.post_id].append(r)
    posts = [
        CardPost(p, sigs.get(row_id(p)), link, replies.get(row_id(p), []), not authors) for link, p in rows
    ]
    merged_from = stored_ids(
        session.exec(select(col(Incident.id)).where(col(Incident.merged_into_id) == inc.id))
    )
    event_ids = [inc.id, *merged_from]
    events = list(
        session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.incident_id).in_(event_ids))
            .order_by(col(AuditEvent.at), col(AuditEvent.id))
        ).all()
    )
    answers = list(
        session.exec(
            select(Answer).where(col(Answer.incident_id) == row_id(inc)).order_by(col(Answer.id))
        ).all()
    )
    assignments = list(
        session.exec(
            select(Assignment)
            .where(Assignment.incident_id == inc.id)
            .order_by(col(Assignment.assigned_at), col(Assignment.id))
        ).all()
    )
    lock = session.get(IncidentLock, inc.id)
    if lock is not None and lock.expires_at <= now:
        lock = None
    return Card(inc, posts, events, answers, assignments, clocks.evaluate(inc, now), merged_from, lock)
