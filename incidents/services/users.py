"""Users of the centre: who they are, their role and body, their console sessions.

Apart from the incident workflow (which only asks `get_actor` who acts); `incidents user …` and the
console's log-in use these. Re-exported by `incidents.services.workflow` for older callers."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from core.config import RegionConfig
from core.roles import SYSTEM, Actor, PermissionDenied, Role
from incidents.services.errors import WorkflowError
from storage.models import ConsoleSession, User


def add_user(
    session: Session,
    cfg: RegionConfig,
    *,
    login: str,
    role: str,
    now: datetime,
    body: str | None = None,
    name: str | None = None,
    email: str | None = None,
    telegram_chat_id: str | None = None,
) -> User:
    """Create or update a user; an executor must belong to a configured body."""
    r = Role(role)
    if r is Role.EXECUTOR and not body:
        raise WorkflowError(f"пользователь {login!r}: исполнитель работает в одном органе (укажите --body)")
    if body is not None and body not in cfg.body_by_code:
        raise WorkflowError(f"unknown body {body!r}: нет такого органа в bodies.yaml")
    row = session.exec(select(User).where(User.login == login)).first() or User(
        login=login, role=r.value, created_at=now
    )
    row.role, row.body_code, row.name = r.value, body, name or row.name
    row.email, row.telegram_chat_id = email or row.email, telegram_chat_id or row.telegram_chat_id
    session.add(row)
    session.flush()
    return row


def revoke_user_sessions(session: Session, login: str, now: datetime) -> int:
    """End every live console session of `login` (a copied cookie included); the number ended."""
    rows = session.exec(
        select(ConsoleSession).where(ConsoleSession.login == login, col(ConsoleSession.revoked_at).is_(None))
    ).all()
    for row in rows:
        row.revoked_at = now
        session.add(row)
    return len(rows)


def set_password(session: Session, login: str, password_hash: str | None, now: datetime) -> User:
    """A new console password (or none): the user's open sessions end, so whoever had the old one is out."""
    row = session.exec(select(User).where(User.login == login)).first()
    if row is None:
        raise WorkflowError(f"no user {login!r}")
    row.password_hash = password_hash
    session.add(row)
    revoke_user_sessions(session, login, now)
    return row


def set_active(session: Session, login: str, active: bool, now: datetime) -> User:
    """Disable (or enable again) a user; disabling ends every console session of theirs."""
    row = session.exec(select(User).where(User.login == login)).first()
    if row is None:
        raise WorkflowError(f"no user {login!r}")
    row.active = active
    session.add(row)
    if not active:
        revoke_user_sessions(session, login, now)
    return row


def get_actor(session: Session, login: str) -> Actor:
    if login == SYSTEM.login:
        return SYSTEM
    row = session.exec(select(User).where(User.login == login)).first()
    if row is None or not row.active:
        raise PermissionDenied(
            f"no active user {login!r}: нет активного пользователя, добавьте его: `incidents user add`"
        )
    return Actor(row.login, Role(row.role), row.body_code)
