"""Read models for the CLI, exports and evaluation: rows shaped as the contracts say."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlmodel import Session, col, select

from incidents.domain.evaluate import Predicted
from storage.models import Incident, IncidentPost, Post, Signal, row_id
from storage.store import incident_post_keys


def incident_rows(
    session: Session, *, status: list[str] | None = None, batch: int = 1000, personal: bool = False
) -> Iterator[dict[str, Any]]:
    """The incidents export contract: {id, title, status, category, subcategory, municipality,
    body, priority, opened_at, due_at, posts: ["network:external_id", ...]} (plus extra fields).

    Without `personal`, post keys that embed a person's account are pseudonymised (152-ФЗ)."""
    from incidents.domain.privacy import mask_post_key, pseudonym_key

    mask_key = pseudonym_key()
    last_id = 0
    while True:
        stmt = select(Incident).where(col(Incident.id) > last_id, col(Incident.merged_into_id).is_(None))
        if status:
            stmt = stmt.where(col(Incident.status).in_(status))
        rows = list(session.exec(stmt.order_by(col(Incident.id)).limit(batch)).all())
        if not rows:
            return
        keys = incident_post_keys(session, [row_id(r) for r in rows])
        for r in rows:
            yield {
                "id": r.id,
                "title": r.title,
                "status": r.status,
                "category": r.category,
                "subcategory": r.subcategory,
                "municipality": r.municipality,
                "body": r.body_code,
                "priority": r.priority,
                "opened_at": _iso(r.opened_at),
                "due_at": _iso(r.due_at),
                "posts": [k if personal else mask_post_key(k, mask_key) for k in keys.get(row_id(r), [])],
                "address": r.address if r.street else None,
                "scale": r.scale,
                "sla_state": r.sla_state,
                "first_answer_at": _iso(r.first_answer_at),
                "closed_at": _iso(r.closed_at),
                "networks": (r.networks or "").split(",") if r.networks else [],
                "reach": r.reach,
                "lat": r.lat,
                "lon": r.lon,
            }
        last_id = row_id(rows[-1])


# (sqlmodel's `select` is typed for up to four columns)
_SIGNAL_EXPORT_COLUMNS: tuple[Any, ...] = (
    Signal,
    Post.network,
    Post.external_id,
    Post.author_id,
    Post.author_name,
    Post.lat,
    Post.lon,
    Post.address,
)


def signal_rows(session: Session, batch: int = 5000, *, personal: bool = False) -> Iterator[dict[str, Any]]:
    """The signals export contract: {post, is_complaint, in_region, category, municipality, score}.

    Without `personal` (the default) no author appears and post keys that embed a person's
    account are pseudonymised; with it, `author_id` and `author_name` are added (152-ФЗ: only
    where the role needs them — `privacy.export_personal_data` must allow it)."""
    from incidents.domain.privacy import mask_post_key, pseudonym_key

    mask_key = pseudonym_key()
    last_id = 0
    while True:
        stmt = (
            select(*_SIGNAL_EXPORT_COLUMNS)
            .join(Post, col(Post.id) == col(Signal.post_id))
            .where(col(Signal.id) > last_id)
            .order_by(Signal.id)
            .limit(batch)
        )
        rows = list(session.exec(stmt).all())
        if not rows:
            return
        for sig, net, ext, author_id, author_name, lat, lon, given in rows:
            key = f"{net}:{ext}"
            row = {
                "post": key if personal else mask_post_key(key, mask_key),
                "is_complaint": sig.is_complaint,
                "in_region": sig.in_region,
                "category": sig.category,
                "municipality": sig.municipality,
                "score": sig.score,
                "subcategory": sig.subcategory,
                "address": sig.address,
                "rules": [r["rule_id"] for r in (sig.rules or [])],
                "lat": lat,
                "lon": lon,
            }
            if personal:
                # the address as the resident gave it may name their flat («кв. 14»): personal
                row.update(author_id=author_id, author_name=author_name, post_address=given)
            yield row
        last_id = rows[-1][0].id


def predictions(session: Session) -> dict[str, Predicted]:
    out: dict[str, Predicted] = {}
    stmt = (
        select(Post.network, Post.external_id, Signal, IncidentPost.incident_id)
        .join(Signal, col(Signal.post_id) == col(Post.id), isouter=True)
        .join(IncidentPost, col(IncidentPost.post_id) == col(Post.id), isouter=True)
    )
    for net, ext, sig, inc in session.exec(stmt).all():
        p = Predicted()
        if sig is not None:
            p = Predicted(
                is_complaint=sig.is_complaint,
                in_region=sig.in_region,
                category=sig.category,
                municipality=sig.municipality,
                incident=str(inc) if inc is not None else None,
            )
        out[f"{net}:{ext}"] = p
    return out


def _iso(dt: Any) -> str | None:
    return dt.isoformat() if dt is not None else None
