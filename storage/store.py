"""Storage operations the flows and the CLI share. Plain functions over a Session.

Writes are idempotent: posts are upserted on (network, external_id), a changed text keeps the
old one as a revision, cursors are written in the same transaction as the posts they cover.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import Session, col, select

from core.config import RegionConfig
from core.interchange import PayloadError, point_of
from core.records import BadRecord, PostRecord, SignalRecord
from storage.models import (
    AuditEvent,
    Body,
    CrawlCursor,
    Incident,
    IncidentPost,
    Post,
    PostRevision,
    QuarantineItem,
    Signal,
    Source,
    table_of,
)


# --------------------------------------------------------------------------- reference data
def _body_fields(b: Any) -> tuple[Any, ...]:
    return (b.name, b.level, list(b.territories), list(b.categories))


def _source_fields(s: Any) -> tuple[Any, ...]:
    return (s.network, s.kind, s.enabled, dict(s.params))


def _reference_current(session: Session, cfg: RegionConfig) -> bool:
    """Whether the stored bodies and sources already mirror the YAML: then a command that only
    reads (list, show, export…) writes nothing and takes no lock."""
    bodies = {b.code: b for b in session.exec(select(Body)).all()}
    sources = {s.id: s for s in session.exec(select(Source)).all()}
    return all(
        (row := bodies.get(b.code)) is not None
        and _body_fields(row) == _body_fields(b)
        and row.contacts == b.contacts.model_dump(exclude_none=True)
        for b in cfg.bodies.bodies
    ) and all(
        (src := sources.get(s.id)) is not None and _source_fields(src) == _source_fields(s)
        for s in cfg.sources.sources
    )


def sync_reference(session: Session, cfg: RegionConfig) -> None:
    """Bodies and sources mirror the configuration (the YAML is the source of truth); under the
    storing lock, since two commands starting at once on a new database both insert them (F9).
    When they already mirror it, nothing is written and no lock is taken."""
    if _reference_current(session, cfg):
        return
    writer_lock(session, STORING_LOCK)
    bodies = {b.code: b for b in session.exec(select(Body)).all()}
    for b in cfg.bodies.bodies:
        row = bodies.get(b.code) or Body(code=b.code, name=b.name, level=b.level)
        row.name, row.level = b.name, b.level
        row.territories, row.categories = list(b.territories), list(b.categories)
        row.contacts = b.contacts.model_dump(exclude_none=True)
        session.add(row)
    sources = {s.id: s for s in session.exec(select(Source)).all()}
    for s in cfg.sources.sources:
        src = sources.get(s.id) or Source(id=s.id, network=s.network, kind=s.kind)
        src.network, src.kind, src.enabled, src.params = s.network, s.kind, s.enabled, dict(s.params)
        session.add(src)


def prepare(engine: Engine, cfg: RegionConfig) -> None:
    """Reference data in place before a command or a flow works: one transaction."""
    with Session(engine) as session, session.begin():
        sync_reference(session, cfg)


# --------------------------------------------------------------------------- cursors
def get_cursor(session: Session, source_id: str) -> dict[str, Any] | None:
    row = session.get(CrawlCursor, source_id)
    return dict(row.cursor) if row and row.cursor is not None else None


def set_cursor(session: Session, source_id: str, cursor: dict[str, Any] | None, now: datetime) -> None:
    row = session.get(CrawlCursor, source_id) or CrawlCursor(source_id=source_id, updated_at=now)
    row.cursor, row.updated_at = cursor, now
    session.add(row)


# --------------------------------------------------------------------------- posts
def _payload(post: PostRecord) -> dict[str, Any]:
    try:
        json.dumps(post.raw, ensure_ascii=False)
        return post.raw
    except (TypeError, ValueError):
        payload: dict[str, Any] = json.loads(json.dumps(post.raw, ensure_ascii=False, default=str))
        return payload


def post_key_filters(keys: Iterable[tuple[str, str]], chunk: int = 500) -> Iterator[Any]:
    """WHERE clauses that find posts by (network, external_id) through the unique index: one
    network and up to `chunk` ids each. SQLite plans `(network, external_id) IN (VALUES …)` as
    a scan of the whole index, so each page of a crawl and each batch of the processing read
    every stored post key (the crawl's time per post grew fourfold by 5×10⁵ posts)."""
    by_net: dict[str, list[str]] = {}
    for net, ext in keys:
        by_net.setdefault(net, []).append(ext)
    for net, exts in by_net.items():
        for start in range(0, len(exts), chunk):
            yield sa.and_(col(Post.network) == net, col(Post.external_id).in_(exts[start : start + chunk]))


def save_posts(session: Session, posts: Sequence[PostRecord], now: datetime) -> tuple[int, int, int]:
    """Upsert posts; returns (inserted, updated, unchanged). Edits keep history."""
    # Two copies of one post in a page are two versions in that order: saved one round after
    # the other, so that the earlier text is kept as a revision and the later one wins. Keeping
    # only the last copy (as before) dropped the earlier text without a trace (issue 19, F12).
    rounds: list[dict[tuple[str, str], PostRecord]] = []
    for p in posts:
        key = (p.network, p.external_id)
        for r in rounds:
            if key not in r:
                r[key] = p
                break
        else:
            rounds.append({key: p})
    totals = [0, 0, 0]
    for r in rounds:
        for i, n in enumerate(_save_unique(session, r, now)):
            totals[i] += n
    return totals[0], totals[1], totals[2]


def _save_unique(
    session: Session, latest: dict[tuple[str, str], PostRecord], now: datetime
) -> tuple[int, int, int]:
    """`save_posts` for a page in which each post appears once."""
    inserted = updated = unchanged = 0
    if not latest:
        return 0, 0, 0
    keys = list(latest)
    existing: dict[tuple[str, str], Post] = {}
    for where in post_key_filters(keys):
        existing.update(
            {(r.network, r.external_id): r for r in session.exec(select(Post).where(where)).all()}
        )
    new_rows: list[dict[str, Any]] = []
    recounted: list[int] = []
    for key, p in latest.items():
        row = existing.get(key)
        if row is None:
            new_rows.append(
                dict(
                    network=p.network,
                    external_id=p.external_id,
                    source_id=p.source_id,
                    parent_id=p.parent_id,
                    url=p.url,
                    author_id=p.author_id,
                    author_name=p.author_name,
                    text=p.text,
                    created_at=p.created_at,
                    fetched_at=now,
                    updated_at=now,
                    likes=p.likes,
                    reposts=p.reposts,
                    views=p.views,
                    address=p.address,
                    lat=p.lat,
                    lon=p.lon,
                    raw=_payload(p),
                    edited=False,
                    deleted=p.deleted,
                    processed=False,
                )
            )
            inserted += 1
            continue
        assert row.id is not None  # a stored row
        changed = False
        if p.deleted and not row.deleted:
            row.deleted, changed = True, True
        was = (row.address, row.lat, row.lon)
        place = (p.address, p.lat, p.lon)
        if not p.deleted and (p.text != row.text or (place != was and was != (None, None, None))):
            # an edited text, a corrected address or a moved pin: what the resident first gave
            # is kept, and the post is placed again
            session.add(
                PostRevision(
                    post_id=row.id, text=row.text, replaced_at=now, address=was[0], lat=was[1], lon=was[2]
                )
            )
            row.text, row.edited, row.processed, changed = p.text, True, False, True
        if not p.deleted and place != was:
            # a place given for the first time (a message stored before migration 0012) replaces
            # nothing: no revision, but the post is placed again with it
            row.address, row.lat, row.lon = place
            row.processed, changed = False, True
        if p.network == "pos" and (p.raw or {}).get("pos") != (row.raw or {}).get("pos"):
            changed = True  # a new status or rating on the platform (a rating of 1–2 reopens the incident)
        counters = False
        for attr in ("likes", "reposts", "views"):
            if getattr(p, attr) != getattr(row, attr):
                setattr(row, attr, getattr(p, attr))
                changed = counters = True
        if changed:
            row.updated_at = now
            row.raw = _payload(p)
            session.add(row)
            updated += 1
            if counters and row.processed:
                recounted.append(row.id)
        else:
            unchanged += 1
    for start in range(0, len(recounted), 500):
        # New likes, reposts or views change the reach of the post's incident: its card is
        # rebuilt at the next processing (card_stale). An edited text needs no flag: the post
        # is processed again, and that rebuilds its incident's card.
        chunk = recounted[start : start + 500]
        session.execute(
            sa.update(table_of(Incident))
            .where(
                table_of(Incident).c.id.in_(
                    sa.select(col(IncidentPost.incident_id)).where(col(IncidentPost.post_id).in_(chunk))
                )
            )
            .values(card_stale=True)
        )
    if new_rows:
        # one executemany, not one validated ORM object each (a third of the crawl's time)
        session.execute(sa.insert(table_of(Post)), new_rows)
    return inserted, updated, unchanged


# --------------------------------------------------------------------------- admission
ID_MAX = 200  # posts.external_id, source_id, parent_id, author_id are VARCHAR(200) on PostgreSQL
COUNTER_MAX = 2**31 - 1  # likes, reposts, views are INTEGER
FUTURE_TOLERANCE = timedelta(days=1)  # time zones written wrong, clocks off: not weeks
EARLIEST, LATEST = (
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(2200, 1, 1, tzinfo=UTC),
)  # a post's date is in this range


def clean_text(value: str) -> str:
    """What any database stores: no NUL (PostgreSQL refuses it), no lone surrogates (not UTF-8;
    valid JSON such as "\\ud800" produces them)."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # Python's json reads NaN and Infinity; PostgreSQL's json type refuses them
    return value


def _problem(post: PostRecord, now: datetime | None = None) -> str | None:
    from core.config import NETWORKS

    if post.network not in NETWORKS:
        return f"network: {post.network!r} is not one of {', '.join(NETWORKS)}"
    for name in ("external_id", "source_id"):
        value = getattr(post, name)
        if not isinstance(value, str) or not value.strip():
            return f"{name}: missing"
    for name in ("external_id", "source_id", "parent_id", "author_id"):
        value = getattr(post, name)
        if value is not None and (not isinstance(value, str) or len(value) > ID_MAX):
            return f"{name}: not a string of at most {ID_MAX} characters"
    if not isinstance(post.text, str):
        return f"text: expected a string, got {type(post.text).__name__}"
    if post.address is not None and not isinstance(post.address, str):
        return f"address: expected a string, got {type(post.address).__name__}"
    if post.lat is not None or post.lon is not None:
        # an adapter that builds records itself gets the interchange's checks of a point
        try:
            point_of({"lat": post.lat, "lon": post.lon})
        except PayloadError as exc:
            return str(exc)
    if not isinstance(post.created_at, datetime) or post.created_at.tzinfo is None:
        return "created_at: not a date with a UTC offset"
    try:
        at = post.created_at.astimezone(UTC)
    except OverflowError:
        return f"created_at: {post.created_at.isoformat()} is out of range"
    if not EARLIEST <= at < LATEST:
        # A placeholder date («0001-01-01») would also break the clustering's time window
        return f"created_at: {at.isoformat()} is not between {EARLIEST.year} and {LATEST.year}"
    if now is not None and at > now + FUTURE_TOLERANCE:
        # a post «written» weeks ahead sits outside every clustering window of the real posts
        # about the same problem: it opened an incident of its own (issue 19, F12)
        return f"created_at: {at.isoformat()} is in the future (later than now + {FUTURE_TOLERANCE})"
    return None


def admit(
    posts: Sequence[PostRecord], now: datetime | None = None
) -> tuple[list[PostRecord], list[BadRecord]]:
    """Split a page into the posts storage can hold and the rest, each with its reason.

    The adapters and the interchange parser already refuse malformed payloads; this is the
    last guard before the database, so that one odd record (an id of 300 characters, a NUL,
    a lone surrogate, a counter beyond INTEGER) is quarantined instead of failing the page's
    transaction again on every run — a source stuck at one page. Text is cleaned, counters
    are capped. With `now`, a post dated more than `FUTURE_TOLERANCE` ahead of it is refused."""
    good: list[PostRecord] = []
    bad: list[BadRecord] = []
    for p in posts:
        for name in (
            "external_id",
            "source_id",
            "parent_id",
            "author_id",
            "url",
            "author_name",
            "text",
            "address",
        ):
            value = getattr(p, name)
            if isinstance(value, str):
                setattr(p, name, clean_text(value))
        reason = _problem(p, now)
        if reason:
            payload = json.dumps(
                _clean_json(p.raw) if p.raw else {"external_id": str(p.external_id)[:300]},
                ensure_ascii=False,
                default=str,
            )
            bad.append(BadRecord(f"{p.network}:{str(p.external_id)[:ID_MAX]}", reason, payload))
            continue
        for name in ("likes", "reposts", "views"):
            value = getattr(p, name)
            setattr(p, name, min(max(value, 0), COUNTER_MAX) if isinstance(value, int) else 0)
        p.raw = _clean_json(p.raw) if isinstance(p.raw, dict) else {}
        good.append(p)
    return good, bad


def _cap_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes of UTF-8, at a character boundary."""
    raw = text.encode("utf-8")
    return text if len(raw) <= limit else raw[:limit].decode("utf-8", "ignore")


def quarantine(session: Session, origin: str, items: Iterable[BadRecord], now: datetime) -> int:
    """Keep bad records with their reason; returns how many are new.

    A record already held (same origin, location and payload, resolved or not) is not added
    again: a rerun after a crash, or a repeated import of the same file, reads the same bad
    lines, and the operator must see each once."""
    from core.redact import environment_secrets, redact

    secrets = environment_secrets()  # the last net for credentials echoed by a remote (F4)
    n = 0
    origin = _cap_bytes(clean_text(origin), 1000)
    seen: set[tuple[str | None, str]] = set()  # this call's own records: no flush per record
    with session.no_autoflush:
        for b in items:
            # both bounded in bytes, so that a row always fits a btree entry of the look-up index
            # (`ix_quarantine_origin_location`, PostgreSQL's limit is ≈ 2.7 kB)
            location = _cap_bytes(clean_text(b.location or ""), 1000) or None
            payload = redact(clean_text(b.payload), secrets)
            if (location, payload) in seen:
                continue
            held = session.exec(  # through the index: one look-up, not a scan of the table (F7)
                select(QuarantineItem.payload).where(
                    QuarantineItem.origin == origin,
                    QuarantineItem.location == location
                    if location
                    else col(QuarantineItem.location).is_(None),
                )
            ).all()
            if payload in held:
                continue
            seen.add((location, payload))
            session.add(
                QuarantineItem(
                    origin=origin,
                    location=location,
                    reason=redact(clean_text(b.reason), secrets),
                    payload=payload,
                    created_at=now,
                )
            )
            n += 1
    session.flush()
    return n


# --------------------------------------------------------------------------- writers' locks
# PostgreSQL advisory lock keys (issue 19, F9): one per kind of writer whose transactions must
# not interleave. Arbitrary but fixed numbers; documented in docs/reliability.md.
PROCESSING_LOCK = 1_909_001
"""Held by a processing batch: the clustering is order-dependent, so batches apply one at a time."""
STORING_LOCK = 1_909_002
"""Held by a crawl's page transaction: `save_posts` reads before it inserts."""


def writer_lock(session: Session, key: int) -> None:
    """Take, for the rest of this transaction, the lock that serialises one kind of writer.

    Two `incidents run`/`import` processes (or Prefect workers) on one database otherwise both
    read the same pending posts or the same missing keys and one dies on a unique violation
    (issue 19, F9). PostgreSQL: `pg_advisory_xact_lock(key)`, released at commit, rollback or
    when a killed process's connection drops. SQLite has one writer per database anyway: a write
    that changes nothing takes its lock at the start of the transaction (waiting up to the
    connection's busy timeout), so what the transaction reads is what it writes over."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif name == "sqlite":
        session.execute(sa.text("UPDATE crawl_cursors SET source_id = source_id WHERE 0"))


def processing_mark(session: Session) -> tuple[int, int, int]:
    """What moves when any processing run commits a batch (the newest incident, the newest signal,
    the number of incident links): a run whose mark moved while it waited for the lock reloads
    its clustering view, since another run wrote in between. Index-only look-ups."""
    inc = session.execute(sa.select(sa.func.max(Incident.id))).scalar()
    sig = session.execute(sa.select(sa.func.max(Signal.id))).scalar()
    links = session.execute(sa.select(sa.func.count()).select_from(IncidentPost)).scalar()
    return int(inc or 0), int(sig or 0), int(links or 0)


def pending_posts(session: Session, limit: int, *, claim: bool = False) -> list[Post]:
    """The next unprocessed posts in time order, read through `ix_posts_pending` (processed,
    created_at, id): no scan past the processed posts, no sort of the whole backlog. The raw
    payload is left unread (deferred: loaded only if asked for): no stage of the processing
    reads it, and decoding its JSON was a tenth of the processing's time.

    `claim`: lease the rows to this transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite
    ignores it, its writer lock is the lease): a post a crawl is rewriting at this moment is left
    for the next batch instead of being waited for or processed from its old text."""
    stmt = (
        select(Post)
        .where(col(Post.processed).is_(False))
        .order_by(col(Post.created_at), col(Post.id))
        .limit(limit)
    )
    if claim:
        stmt = stmt.with_for_update(skip_locked=True)
    # a model's field is its instrumented attribute at run time; SQLModel types it as the value
    raw = cast(QueryableAttribute[Any], Post.raw)
    return list(session.exec(stmt.options(defer(raw))).all())


def post_record(row: Any) -> PostRecord:
    """The record the processing builds a signal from, of a stored post (an ORM row or a row of
    its columns), without the raw payload: the processing never reads it (`pending_posts`)."""
    return PostRecord(
        network=row.network,
        external_id=row.external_id,
        source_id=row.source_id,
        text=row.text,
        created_at=row.created_at,
        parent_id=row.parent_id,
        url=row.url,
        author_id=row.author_id,
        author_name=row.author_name,
        likes=row.likes,
        reposts=row.reposts,
        views=row.views,
        address=row.address,
        lat=row.lat,
        lon=row.lon,
        deleted=row.deleted,
    )


# --------------------------------------------------------------------------- signals
def entities_json(sig: SignalRecord) -> dict[str, Any]:
    return asdict(sig.entities)


def signal_values(post_id: int | None, sig: SignalRecord, now: datetime) -> dict[str, Any]:
    """The columns of a signal row (with `post_id` unless None): for an ORM row or a bulk insert."""
    values = dict(
        is_complaint=sig.is_complaint,
        in_region=sig.in_region,
        decision=sig.decision,
        score=sig.score,
        category=sig.category,
        subcategory=sig.subcategory,
        fact=sig.fact,
        municipality=sig.municipality,
        address=sig.address,
        street=sig.street,
        scale=sig.scale,
        rules=[asdict(h) for h in sig.rules],
        reasons=list(sig.reasons),
        entities=entities_json(sig),
        lemma_text=sig.lemma_text[:20000],
        updated_at=now,
    )
    if post_id is not None:
        values["post_id"] = post_id
    return values


def upsert_signal(
    session: Session, post_id: int, sig: SignalRecord, now: datetime, existing: Signal | None
) -> Signal:
    values = signal_values(None, sig, now)
    if existing is None:
        # One constructor call: SQLModel validates each attribute set one by one (measured:
        # a tenth of the processing time went to building new signal rows field by field).
        row = Signal(post_id=post_id, **values)
    else:
        row = existing
        for key, value in values.items():
            setattr(row, key, value)
    session.add(row)
    return row


# --------------------------------------------------------------------------- audit
def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    now: datetime,
    incident_id: int | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            incident_id=incident_id,
            actor=actor,
            action=action,
            from_state=from_state,
            to_state=to_state,
            reason=reason,
            data=data,
            at=now,
        )
    )


# --------------------------------------------------------------------------- reads
def incident_post_keys(session: Session, incident_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in incident_ids}
    for start in range(0, len(incident_ids), 500):
        chunk = list(incident_ids[start : start + 500])
        rows = session.exec(
            select(IncidentPost.incident_id, Post.network, Post.external_id)
            .join(Post, col(Post.id) == col(IncidentPost.post_id))
            .where(col(IncidentPost.incident_id).in_(chunk))
            .order_by(col(Post.created_at))
        ).all()
        for iid, net, ext in rows:
            out[iid].append(f"{net}:{ext}")
    return out


def open_incidents(session: Session) -> list[Incident]:
    from core.states import OPEN_STATES

    stmt = select(Incident).where(
        col(Incident.status).in_([s.value for s in OPEN_STATES]),
        col(Incident.merged_into_id).is_(None),
    )  # merged ones live on in their target
    return list(session.exec(stmt.order_by(col(Incident.due_at), col(Incident.priority))).all())
