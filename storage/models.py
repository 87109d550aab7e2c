"""Storage schema (SQLModel). The same tables on SQLite and PostgreSQL; Alembic migrates them.

Times are stored as naive UTC and always come back as aware UTC (`UTCDateTime`), so the
code never compares naive and aware datetimes, whichever database is underneath.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import class_mapper
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Stored(Protocol):
    @property
    def id(self) -> int | None: ...


def row_id(row: _Stored) -> int:
    """The primary key of a stored row (typed `int | None`: it is None only before the insert)."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id: not stored yet")
    return row.id


def stored_ids(values: Iterable[int | None]) -> list[int]:
    """Primary keys read from the database: typed `int | None` like the field, never None there."""
    return [v for v in values if v is not None]


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a table model (SQLModel does not declare `__table__` to type checkers)."""
    table = class_mapper(model).local_table
    assert isinstance(table, sa.Table)
    return table


def _dt(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


def _json() -> Any:
    return Field(default=None, sa_column=sa.Column(sa.JSON(), nullable=True))


class Source(SQLModel, table=True):
    __tablename__ = "sources"
    id: str = Field(primary_key=True, max_length=100)
    network: str = Field(max_length=20)
    kind: str = Field(max_length=30)
    enabled: bool = True
    params: dict[str, Any] | None = _json()
    last_run_at: datetime | None = _dt()
    last_error: str | None = None


class Post(SQLModel, table=True):
    __tablename__ = "posts"
    __table_args__ = (
        sa.UniqueConstraint("network", "external_id", name="uq_posts_network_external_id"),
        # The processing queue: the next unprocessed posts in time order without scanning the
        # processed ones (with only `processed` indexed, each batch read past all of them).
        sa.Index("ix_posts_pending", "processed", "created_at", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    network: str = Field(max_length=20, index=True)
    external_id: str = Field(max_length=200)
    source_id: str = Field(max_length=200, index=True)
    parent_id: str | None = Field(default=None, max_length=200)
    url: str | None = None
    author_id: str | None = Field(default=None, max_length=200)
    author_name: str | None = None
    text: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    created_at: datetime = _dt(nullable=False, index=True)
    fetched_at: datetime = _dt(nullable=False)
    updated_at: datetime = _dt(nullable=False, index=True)
    likes: int = 0
    reposts: int = 0
    views: int = 0
    raw: dict[str, Any] | None = _json()
    edited: bool = False
    deleted: bool = False
    processed: bool = Field(default=False, index=True)
    # the place the platform gives beside the text (interchange `address`, `lat`, `lon`; migration 0012)
    address: str | None = None
    lat: float | None = None
    lon: float | None = None


class PostRevision(SQLModel, table=True):
    """Earlier texts of an edited post: edits never lose what a resident first wrote."""

    __tablename__ = "post_revisions"
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="posts.id", index=True)
    text: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    replaced_at: datetime = _dt(nullable=False)
    # the place the post had before the edit (migration 0012): a moved pin or a corrected
    # address is an edit too, and the first one the resident gave is kept like the first text
    address: str | None = None
    lat: float | None = None
    lon: float | None = None


class Signal(SQLModel, table=True):
    __tablename__ = "signals"
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="posts.id", unique=True)
    is_complaint: bool = Field(index=True)
    in_region: bool
    decision: str = Field(max_length=20)
    score: float
    category: str | None = Field(default=None, max_length=40, index=True)
    subcategory: str | None = Field(default=None, max_length=80)
    fact: str | None = Field(default=None, max_length=80)
    municipality: str | None = Field(default=None, max_length=60, index=True)
    address: str | None = None
    street: str | None = None
    scale: str | None = Field(default=None, max_length=20)
    rules: list[Any] | None = _json()
    reasons: list[Any] | None = _json()
    entities: dict[str, Any] | None = _json()
    lemma_text: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    updated_at: datetime = _dt(nullable=False, index=True)  # the search sync's cursor (migration 0002)


class Incident(SQLModel, table=True):
    __tablename__ = "incidents"
    id: int | None = Field(default=None, primary_key=True)
    title: str
    summary: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    category: str = Field(max_length=40, index=True)
    subcategory: str | None = Field(default=None, max_length=80)
    fact: str | None = Field(default=None, max_length=80)
    municipality: str | None = Field(default=None, max_length=60, index=True)
    address: str | None = None
    street: str | None = None
    scale: str | None = Field(default=None, max_length=20)
    status: str = Field(default="new", max_length=30, index=True)
    priority: int = 3
    body_code: str | None = Field(default=None, max_length=80, index=True)
    opened_at: datetime = _dt(nullable=False, index=True)
    due_at: datetime | None = _dt()
    first_answer_at: datetime | None = _dt(index=True)  # the SLA board: answered in the last 24 h
    closed_at: datetime | None = _dt()
    first_post_at: datetime | None = _dt()
    last_post_at: datetime | None = _dt(index=True)
    post_count: int = 0
    reach: int = 0
    networks: str | None = None
    lemma_text: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    manual: bool = Field(
        default=False, description="An administrator changed its posts: automation keeps off."
    )
    linked_incident_id: int | None = Field(default=None, foreign_key="incidents.id")
    merged_into_id: int | None = Field(default=None, foreign_key="incidents.id", index=True)
    sla_state: str | None = Field(default=None, max_length=20)
    updated_at: datetime = _dt(nullable=False, index=True)
    # workflow (issue 6): when each SLA clock stopped, and the deadlines that are not the first answer's
    urgent: bool = Field(default=False, description="Danger to life or health: the stricter clocks apply.")
    triaged_at: datetime | None = _dt()
    assigned_at: datetime | None = _dt()
    drafted_at: datetime | None = _dt()
    interim_answer_at: datetime | None = _dt()
    final_answer_at: datetime | None = _dt()
    follow_up_due_at: datetime | None = _dt()
    resolution_due_at: datetime | None = _dt()
    resolved_at: datetime | None = _dt()
    rejected_reason: str | None = None
    # the card kept incrementally (incidents/services/refresh.py: CardState); stale: rebuild it from all posts
    card_state: dict[str, Any] | None = _json()
    card_stale: bool = Field(
        default=False,
        sa_column=sa.Column(sa.Boolean(), nullable=False, server_default=sa.false(), index=True),
    )
    # where the incident is on a map (WGS84), when one of its posts came with a point (migration 0012)
    lat: float | None = None
    lon: float | None = None


class IncidentPost(SQLModel, table=True):
    """A post belongs to at most one incident; `manual` links are never moved automatically."""

    __tablename__ = "incident_posts"
    post_id: int = Field(foreign_key="posts.id", primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    added_at: datetime = _dt(nullable=False, index=True)  # the search sync's cursor (migration 0002)
    added_by: str = Field(default="auto", max_length=100)
    manual: bool = False
    similarity: float | None = None


class Body(SQLModel, table=True):
    __tablename__ = "bodies"
    code: str = Field(primary_key=True, max_length=80)
    name: str
    level: str = Field(max_length=20)
    territories: list[Any] | None = _json()
    categories: list[Any] | None = _json()
    contacts: dict[str, Any] | None = _json()


class Assignment(SQLModel, table=True):
    __tablename__ = "assignments"
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    body_code: str = Field(max_length=80)
    assigned_at: datetime = _dt(nullable=False)
    assigned_by: str = Field(max_length=100)
    reason: str | None = None
    rule: str | None = None
    ended_at: datetime | None = _dt()


class Reply(SQLModel, table=True):
    """The outbox: one row per (incident, post) answer; the key makes sending idempotent."""

    __tablename__ = "replies"
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    post_id: int | None = Field(default=None, foreign_key="posts.id")
    text: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    status: str = Field(default="queued", max_length=20, index=True)
    idempotency_key: str = Field(max_length=100, unique=True)
    remote_id: str | None = None
    error: str | None = None
    attempts: int = 0
    interim: bool = False
    created_by: str = Field(default="system", max_length=100)
    created_at: datetime = _dt(nullable=False)
    sent_at: datetime | None = _dt()
    # outbox (issue 6): which answer, where exactly, and when to try again
    answer_id: int | None = Field(default=None, index=True)
    network: str | None = Field(default=None, max_length=20)
    target: dict[str, Any] | None = _json()
    next_attempt_at: datetime | None = _dt()
    last_attempt_at: datetime | None = _dt()
    dry_run: bool = False


class Answer(SQLModel, table=True):
    """An answer to an incident: drafted by the executor, approved by a controller, then published
    to the incident's posts through the outbox (`replies`, one row per post)."""

    __tablename__ = "answers"
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    text: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    template: str | None = Field(default=None, max_length=100)
    interim: bool = False
    auto: bool = Field(
        default=False, description="Sent automatically to a post that joined an answered incident."
    )
    status: str = Field(default="draft", max_length=20, index=True)  # draft | approved | returned | published
    created_by: str = Field(max_length=100)
    created_at: datetime = _dt(nullable=False)
    approved_by: str | None = Field(default=None, max_length=100)
    approved_at: datetime | None = _dt()
    published_at: datetime | None = _dt()
    note: str | None = None


class User(SQLModel, table=True):
    """A person who works incidents: one role, and for an executor the one body they belong to."""

    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=100, unique=True)
    name: str | None = None
    role: str = Field(max_length=20)  # admin | moderator | executor | controller | observer
    body_code: str | None = Field(default=None, max_length=80, index=True)
    email: str | None = None
    telegram_chat_id: str | None = Field(default=None, max_length=50)
    active: bool = True
    created_at: datetime = _dt(nullable=False)
    # console (issue 9): a bcrypt hash; NULL = the user cannot log in to the web console
    password_hash: str | None = Field(default=None, max_length=200)


class ConsoleSession(SQLModel, table=True):
    """One log-in to the web console. The cookie carries a random id; the row is looked up on every
    request, so a session ends for good when it is revoked here (log-out, a new password, the user
    disabled) even if someone kept a copy of the cookie. Only the id's SHA-256 is stored: the table
    holds nothing a cookie could be made from."""

    __tablename__ = "console_sessions"
    id_hash: str = Field(primary_key=True, max_length=64)
    login: str = Field(max_length=100, index=True)
    created_at: datetime = _dt(nullable=False)
    expires_at: datetime = _dt(nullable=False, index=True)
    revoked_at: datetime | None = _dt()


class IncidentLock(SQLModel, table=True):
    """Who has an incident open in the console right now, so two people do not answer the same one.

    A soft lock: it only shows who; it expires by itself when its holder stops renewing it.
    """

    __tablename__ = "incident_locks"
    incident_id: int = Field(foreign_key="incidents.id", primary_key=True)
    login: str = Field(max_length=100)
    since: datetime = _dt(nullable=False)
    expires_at: datetime = _dt(nullable=False, index=True)


class Notification(SQLModel, table=True):
    """An escalation message sent (or tried): the unique key makes each step go out once."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint(
            "incident_id", "clock", "step", "channel", "recipient", "due_at", name="uq_notifications_step"
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    clock: str = Field(max_length=20)  # triage | draft | first_answer | follow_up | resolution
    step: str = Field(max_length=20)  # at_risk | overdue
    channel: str = Field(max_length=20)  # email | telegram
    recipient: str = Field(max_length=200)
    due_at: datetime = _dt(nullable=False)
    status: str = Field(default="sent", max_length=20)  # sent | failed | dry_run
    error: str | None = None
    attempts: int = 0
    sent_at: datetime | None = _dt()


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, foreign_key="incidents.id", index=True)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=40)
    from_state: str | None = Field(default=None, max_length=30)
    to_state: str | None = Field(default=None, max_length=30)
    reason: str | None = None
    data: dict[str, Any] | None = _json()
    at: datetime = _dt(nullable=False, index=True)


class CrawlCursor(SQLModel, table=True):
    """Where a source stopped; written in the same transaction as the posts it covers."""

    __tablename__ = "crawl_cursors"
    source_id: str = Field(primary_key=True, max_length=200)
    cursor: dict[str, Any] | None = _json()
    updated_at: datetime = _dt(nullable=False)


class QuarantineItem(SQLModel, table=True):
    __tablename__ = "quarantine"
    # "is this record already held?" (`store.quarantine`) for every bad record: without it a scan
    # of the whole table each time, quadratic in the number of bad lines (migration 0011)
    __table_args__ = (sa.Index("ix_quarantine_origin_location", "origin", "location"),)
    id: int | None = Field(default=None, primary_key=True)
    origin: str = Field(description="File, source id or stage that produced it.")
    location: str | None = Field(default=None, description="Line number, object id…")
    reason: str
    payload: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    created_at: datetime = _dt(nullable=False)
    resolved_at: datetime | None = _dt()
    attempts: int = 0


class DailyReport(SQLModel, table=True):
    """The daily report of one region-local day (counts, SLA figures, ratings), as JSON."""

    __tablename__ = "daily_reports"
    day: date = Field(primary_key=True)
    generated_at: datetime = _dt(nullable=False)
    data: dict[str, Any] | None = _json()
