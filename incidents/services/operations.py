"""Administrator operations on incidents: merge, split, move a post.

The clustering is automatic and errs on the side of splitting; the regional administrator
corrects it. Each operation here:

- runs in the caller's transaction (one operation, one commit: all of it or nothing);
- writes an `AuditEvent` on every incident it touches with who (`by`), why (`reason`) and
  what (the posts and incidents, in `data`);
- marks the links it creates `manual` (`IncidentPost.manual`, `added_by` = the administrator)
  and the incidents `manual`. The processing step never moves a post that is already in an
  incident (`incidents.services.processing.Processor` skips linked posts, also when an edited post is
  re-analysed), and merged incidents never enter the clustering snapshot, so automation
  cannot undo a manual decision. New posts may still join a manual incident: that adds to
  the administrator's decision, it does not reverse it;
- recomputes the card (title, summary, scale, priority, reach) of every incident it changed.

An incident left without posts (its last post moved away) is marked merged into the
incident that received the post, so it disappears from lists and exports but its history
still says where its posts went.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.config import RegionConfig
from core.states import IncidentState
from incidents.domain.assess import is_urgent
from incidents.domain.routing import Router
from incidents.domain.sla import SlaPolicyEngine
from incidents.services.refresh import refresh_incidents
from storage.models import Incident, IncidentPost, Post, Signal, row_id
from storage.store import audit, post_key_filters


class OperationError(ValueError):
    """The operation cannot be done as asked; the message says why, in the administrator's words."""


@dataclass(slots=True)
class OperationResult:
    action: str
    incident_id: int  # the incident that holds the posts afterwards
    posts: list[str] = field(default_factory=list)
    touched: list[int] = field(default_factory=list)


def _require_actor(by: str, reason: str) -> tuple[str, str]:
    by, reason = (by or "").strip(), (reason or "").strip()
    if not by:
        raise OperationError("укажите, кто выполняет операцию (--by)")
    if not reason:
        raise OperationError("укажите причину (--reason): она остаётся в истории инцидента")
    return by, reason


def _live_incident(session: Session, incident_id: int) -> Incident:
    inc = session.get(Incident, incident_id)
    if inc is None:
        raise OperationError(f"инцидент {incident_id} не найден")
    if inc.merged_into_id is not None:
        raise OperationError(f"инцидент {incident_id} уже объединён с #{inc.merged_into_id}; работайте с ним")
    return inc


def parse_post_key(key: str) -> tuple[str, str]:
    network, sep, external_id = key.strip().partition(":")
    if not sep or not network or not external_id:
        raise OperationError(f"пост задаётся как сеть:идентификатор (vk:-123_45), а не {key!r}")
    return network, external_id


def _posts_by_key(session: Session, keys: Sequence[str]) -> dict[str, Post]:
    wanted = [parse_post_key(k) for k in keys]
    rows = [r for where in post_key_filters(wanted) for r in session.exec(select(Post).where(where)).all()]
    found = {f"{p.network}:{p.external_id}": p for p in rows}
    missing = [f"{n}:{e}" for n, e in wanted if f"{n}:{e}" not in found]
    if missing:
        raise OperationError(f"постов нет в базе: {', '.join(missing)}")
    return found


def _link(session: Session, post: Post, incident_id: int, by: str, now: datetime) -> IncidentPost:
    link = session.get(IncidentPost, post.id) or IncidentPost(
        post_id=row_id(post), incident_id=incident_id, added_at=now
    )
    link.incident_id, link.manual, link.added_by, link.added_at = incident_id, True, by, now
    session.add(link)
    return link


def _earliest_due(a: Incident, others: Sequence[Incident]) -> None:
    """Every resident of a merged incident was promised an answer: keep the earliest deadline."""
    if a.first_answer_at is not None:
        return
    dues = [x.due_at for x in (a, *others) if x.due_at is not None and x.first_answer_at is None]
    if dues:
        a.due_at = min(dues)


def _mark_emptied(
    session: Session, emptied: Incident, into: Incident, by: str, reason: str, now: datetime, action: str
) -> None:
    emptied.merged_into_id, emptied.manual, emptied.post_count, emptied.updated_at = into.id, True, 0, now
    session.add(emptied)
    audit(
        session,
        actor=by,
        action="emptied",
        incident_id=emptied.id,
        reason=reason,
        now=now,
        data={"into": into.id, "by_operation": action, "manual": True},
    )


def merge_incidents(
    session: Session,
    cfg: RegionConfig,
    target_id: int,
    source_ids: Sequence[int],
    *,
    by: str,
    reason: str,
    now: datetime,
) -> OperationResult:
    """Merge the incidents `source_ids` into `target_id`: their posts move, they point to it."""
    by, reason = _require_actor(by, reason)
    sources_unique = list(dict.fromkeys(source_ids))
    if not sources_unique:
        raise OperationError("укажите хотя бы один инцидент, который присоединить")
    if target_id in sources_unique:
        raise OperationError(f"инцидент {target_id} нельзя объединить с самим собой")
    target = _live_incident(session, target_id)
    sources = [_live_incident(session, i) for i in sources_unique]
    moved: list[str] = []
    for src in sources:
        rows = session.exec(
            select(IncidentPost, Post)
            .join(Post, col(Post.id) == col(IncidentPost.post_id))
            .where(IncidentPost.incident_id == src.id)
            .order_by(col(Post.created_at))
        ).all()
        keys = [f"{p.network}:{p.external_id}" for _, p in rows]
        for link, _post in rows:
            link.incident_id, link.manual, link.added_by, link.added_at = row_id(target), True, by, now
            session.add(link)
        src.merged_into_id, src.manual, src.post_count, src.updated_at = target.id, True, 0, now
        session.add(src)
        audit(
            session,
            actor=by,
            action="merged_into",
            incident_id=src.id,
            reason=reason,
            now=now,
            data={"into": target.id, "posts": keys, "status": src.status, "manual": True},
        )
        moved.extend(keys)
    _earliest_due(target, sources)
    target.manual = True
    session.add(target)
    audit(
        session,
        actor=by,
        action="merged",
        incident_id=target.id,
        reason=reason,
        now=now,
        data={"from": [s.id for s in sources], "posts": moved, "manual": True},
    )
    session.flush()
    refresh_incidents(session, cfg, [row_id(target)], now)
    return OperationResult("merge", row_id(target), moved, [row_id(target), *[row_id(s) for s in sources]])


def split_incident(
    session: Session,
    cfg: RegionConfig,
    incident_id: int,
    post_keys: Sequence[str],
    *,
    by: str,
    reason: str,
    now: datetime,
) -> OperationResult:
    """Take `post_keys` out of `incident_id` into a new incident (routed and with its own deadline)."""
    by, reason = _require_actor(by, reason)
    if not post_keys:
        raise OperationError("укажите посты, которые выделить (--post сеть:идентификатор)")
    old = _live_incident(session, incident_id)
    posts = _posts_by_key(session, list(dict.fromkeys(post_keys)))
    links = {
        lk.post_id: lk
        for lk in session.exec(select(IncidentPost).where(IncidentPost.incident_id == old.id)).all()
    }
    outside = [k for k, p in posts.items() if p.id not in links]
    if outside:
        raise OperationError(f"посты не входят в инцидент {old.id}: {', '.join(sorted(outside))}")
    if len(posts) >= len(links):
        raise OperationError(
            f"в инциденте {old.id} не останется постов; чтобы перенести их все, используйте merge"
        )
    sigs = session.exec(select(Signal).where(col(Signal.post_id).in_([p.id for p in posts.values()]))).all()
    category, subcategory, fact, municipality, street, address = _majority(sigs, old)
    sla = SlaPolicyEngine(cfg.sla, cfg.region.timezone)
    first = min(posts.values(), key=lambda p: p.created_at)
    new = Incident(
        title="…",
        category=category,
        subcategory=subcategory,
        fact=fact,
        municipality=municipality,
        street=street,
        address=address,
        status=IncidentState.NEW.value,
        opened_at=now,
        due_at=sla.due(
            now, category=category, network=first.network, urgent=is_urgent(category, subcategory)
        ),
        first_post_at=first.created_at,
        last_post_at=max(p.created_at for p in posts.values()),
        manual=True,
        linked_incident_id=old.id,
        updated_at=now,
    )
    session.add(new)
    session.flush()
    keys = sorted(posts, key=lambda k: (posts[k].created_at, k))
    for k in keys:
        _link(session, posts[k], row_id(new), by, now)
    old.manual, old.updated_at = True, now
    session.add(old)
    audit(
        session,
        actor=by,
        action="split",
        incident_id=old.id,
        reason=reason,
        now=now,
        data={"into": new.id, "posts": keys, "manual": True},
    )
    audit(
        session,
        actor=by,
        action="split_from",
        incident_id=new.id,
        reason=reason,
        now=now,
        to_state=new.status,
        data={"from": old.id, "posts": keys, "manual": True},
    )
    session.flush()
    refresh_incidents(session, cfg, [row_id(old), row_id(new)], now, router=Router(cfg))
    return OperationResult("split", row_id(new), keys, [row_id(old), row_id(new)])


def _majority(
    sigs: Sequence[Signal], fallback: Incident
) -> tuple[str, str | None, str | None, str | None, str | None, str | None]:
    """The category and place most of the split posts speak of (the old incident's when they are silent)."""

    def most(values: list[str | None], default: str | None) -> str | None:
        c = Counter(v for v in values if v)
        return c.most_common(1)[0][0] if c else default

    category = most([s.category for s in sigs], fallback.category) or fallback.category
    same = [s for s in sigs if s.category == category]
    return (
        category,
        most([s.subcategory for s in same], None),
        most([s.fact for s in same], None),
        most([s.municipality for s in sigs], fallback.municipality),
        most([s.street for s in sigs], None),
        most([s.address for s in sigs], None),
    )


def move_post(
    session: Session, cfg: RegionConfig, post_key: str, to_id: int, *, by: str, reason: str, now: datetime
) -> OperationResult:
    """Put one post into incident `to_id`, taking it out of the incident it was in (if any).

    A post the system did not place (not a complaint, off the region) can be moved in too:
    the administrator's judgement wins over the classifier's.
    """
    by, reason = _require_actor(by, reason)
    target = _live_incident(session, to_id)
    post = next(iter(_posts_by_key(session, [post_key]).values()))
    key = f"{post.network}:{post.external_id}"
    link = session.get(IncidentPost, post.id)
    source = session.get(Incident, link.incident_id) if link is not None else None
    if source is not None and source.id == target.id:
        raise OperationError(f"пост {key} уже в инциденте {target.id}")
    _link(session, post, row_id(target), by, now)
    target.manual = True
    session.add(target)
    audit(
        session,
        actor=by,
        action="post_moved_in",
        incident_id=target.id,
        reason=reason,
        now=now,
        data={"post": key, "from": source.id if source else None, "manual": True},
    )
    touched = [row_id(target)]
    if source is not None:
        source.manual = True
        session.add(source)
        audit(
            session,
            actor=by,
            action="post_moved_out",
            incident_id=source.id,
            reason=reason,
            now=now,
            data={"post": key, "to": target.id, "manual": True},
        )
        session.flush()
        remaining = session.exec(
            select(sa.func.count()).select_from(IncidentPost).where(IncidentPost.incident_id == source.id)
        ).one()
        if remaining == 0:
            _mark_emptied(session, source, target, by, reason, now, "move")
        else:
            touched.append(row_id(source))
    session.flush()
    refresh_incidents(session, cfg, touched, now)
    if source is not None and source.id not in touched:
        touched.append(row_id(source))  # emptied: merged into the target
    return OperationResult("move", row_id(target), [key], touched)
