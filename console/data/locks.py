"""The "working on it" marks: who has an incident open in the console right now.

A mark never takes an incident away from anyone; it only tells the others who is reading it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from storage.models import IncidentLock


# --------------------------------------------------------------------------- locks
def active_locks(session: Session, now: datetime) -> dict[int, str]:
    """Every live "working on it" mark: one per incident someone has open (a few dozen to a few hundred
    under a full shift). Two columns, not the rows: every list asks for them on every view."""
    return {
        iid: login
        for iid, login in session.exec(
            select(IncidentLock.incident_id, IncidentLock.login).where(IncidentLock.expires_at > now)
        ).all()
    }


def take_lock(session: Session, incident_id: int, login: str, now: datetime, minutes: float) -> IncidentLock:
    """Mark the incident as being worked on by `login`, unless someone else holds a live lock:
    then that lock is returned unchanged (the console shows who it is; nothing is taken away).

    Two people opening the same incident at the same moment both find no lock; the mark is therefore
    inserted with ON CONFLICT DO NOTHING and read back, so the second simply sees the first's (found by
    the console's load test: the plain INSERT failed the second card with a 500)."""
    until = now + timedelta(minutes=minutes)
    if session.get(IncidentLock, incident_id) is None:
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]  # both have on_conflict_do_nothing
        session.execute(
            insert(IncidentLock)
            .values(incident_id=incident_id, login=login, since=now, expires_at=until)
            .on_conflict_do_nothing(index_elements=["incident_id"])
        )
    lk = session.get(IncidentLock, incident_id, populate_existing=True)
    if lk is None:  # released again in between: nothing to show
        return IncidentLock(incident_id=incident_id, login=login, since=now, expires_at=until)
    if lk.login != login and lk.expires_at > now:
        return lk
    if lk.login != login or lk.expires_at <= now:
        lk.since = now
    lk.login, lk.expires_at = login, until
    session.add(lk)
    return lk


def release_lock(session: Session, incident_id: int, login: str) -> None:
    lk = session.get(IncidentLock, incident_id)
    if lk is not None and lk.login == login:
        session.delete(lk)
