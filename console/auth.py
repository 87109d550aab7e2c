"""Sessions and CSRF for the console, with nothing but the standard library and bcrypt.

The session is a signed cookie (HMAC-SHA256 over a small JSON payload with an expiry) that
carries a random session id; the server keeps one `console_sessions` row per log-in (the id's
SHA-256, the login, the expiry, the revocation) in the database, so several console processes
share it. Every request checks the row: log-out revokes it, a new password or a disabled user
revokes all of that user's (`incidents.services.workflow.revoke_user_sessions`), and a copied cookie is
worth nothing after that. The signature keeps the payload (the CSRF token, a flash message)
from being forged; the row decides whether the session still exists. The cookie is HttpOnly and SameSite=Lax; Secure is on when the console is served over
HTTPS (`CONSOLE_SECURE_COOKIES=1`). Each session carries a random CSRF token; every form
sends it back in a hidden field (or the `X-CSRF-Token` header for the few `fetch` calls) and
a POST without the session's token is refused. The log-in form has a token too (a session
with no user yet), so nobody can log a victim in to an attacker's account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, delete

from storage.models import ConsoleSession

COOKIE = "incidents_session"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(slots=True)
class SessionData:
    login: str | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    expires: float = 0.0
    flash: str | None = None
    sid: str | None = None  # the server-side session's random id (None before log-in)


class SessionCodec:
    """Signs and checks the session cookie; a cookie that fails either check is no session at all."""

    def __init__(self, secret: bytes, max_age_seconds: int) -> None:
        if len(secret) < 16:
            raise ValueError("the console's secret key must be at least 16 bytes")
        self.secret, self.max_age = secret, max_age_seconds

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.secret, payload.encode("ascii"), hashlib.sha256).digest())

    def dumps(self, data: SessionData) -> str:
        if not data.expires:
            data.expires = time.time() + self.max_age
        body: dict[str, Any] = {"u": data.login, "c": data.csrf, "e": int(data.expires)}
        if data.flash:
            body["f"] = data.flash
        if data.sid:
            body["s"] = data.sid
        payload = _b64(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._sign(payload)}"

    def loads(self, cookie: str | None) -> SessionData | None:
        if not cookie or "." not in cookie:
            return None
        payload, sig = cookie.rsplit(".", 1)
        if not hmac.compare_digest(sig, self._sign(payload)):
            return None
        try:
            body = json.loads(_unb64(payload))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(body, dict) or float(body.get("e", 0)) < time.time():
            return None
        return SessionData(
            login=body.get("u"),
            csrf=str(body.get("c") or ""),
            expires=float(body["e"]),
            flash=body.get("f"),
            sid=body.get("s") if isinstance(body.get("s"), str) else None,
        )


# --------------------------------------------------------------------------- server-side sessions
def _id_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("ascii", errors="replace")).hexdigest()


def open_session(db: Session, login: str, now: datetime, max_age_seconds: float) -> str:
    """Record a new log-in and return its random id (for the cookie). Rows long past their expiry
    are deleted on the way, so the table holds about one row per log-in of the last session length."""
    sid = secrets.token_urlsafe(32)
    db.exec(delete(ConsoleSession).where(col(ConsoleSession.expires_at) < now - timedelta(days=1)))
    db.add(
        ConsoleSession(
            id_hash=_id_hash(sid),
            login=login,
            created_at=now,
            expires_at=now + timedelta(seconds=max_age_seconds),
        )
    )
    return sid


def session_alive(db: Session, sid: str | None, login: str, now: datetime) -> bool:
    """The session exists, belongs to `login`, has not expired and was not revoked."""
    if not sid:
        return False
    row = db.get(ConsoleSession, _id_hash(sid))
    return row is not None and row.login == login and row.revoked_at is None and row.expires_at > now


def revoke_session(db: Session, sid: str | None, now: datetime) -> bool:
    """End one session (log-out); True when there was a live one."""
    row = db.get(ConsoleSession, _id_hash(sid)) if sid else None
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    db.add(row)
    return True


class LoginThrottle:
    """Slows down password guessing without letting a stranger lock a person out.

    Failures are counted per (login, client address): after `limit` of them within `window`
    seconds that pair is refused (even with the right password) until the window has passed;
    the same login from another address is not (issue 19, F8: counted per login alone, eight
    wrong passwords from anywhere locked the person out for 15 minutes). One address is also
    refused after `address_limit` failures over all logins, so that it cannot spray guesses
    across the user list. In memory, per process."""

    def __init__(
        self, limit: int = 5, window: float = 900.0, clock: Any = time.monotonic, address_limit: int = 50
    ) -> None:
        self.limit, self.window, self.clock, self.address_limit = limit, window, clock, address_limit
        self.failures: dict[str, list[float]] = {}

    def _recent(self, key: str) -> list[float]:
        now = self.clock()
        recent = [t for t in self.failures.get(key, []) if now - t < self.window]
        self.failures[key] = recent
        return recent

    @staticmethod
    def _keys(login: str, address: str) -> tuple[str, str]:
        return f"{login.lower()}\x00{address}", f"\x00{address}"

    def blocked(self, login: str, address: str = "") -> bool:
        pair, whole = self._keys(login, address)
        return len(self._recent(pair)) >= self.limit or len(self._recent(whole)) >= self.address_limit

    def failed(self, login: str, address: str = "") -> None:
        for key in self._keys(login, address):
            self._recent(key).append(self.clock())
        if len(self.failures) > 10000:  # bounded memory under a spray of invented logins
            self.failures.clear()

    def succeeded(self, login: str, address: str = "") -> None:
        self.failures.pop(self._keys(login, address)[0], None)


def csrf_ok(session: SessionData | None, sent: str | None) -> bool:
    """The token sent with a POST is the session's own (compared in constant time)."""
    if session is None or not session.csrf or not sent:
        return False
    return hmac.compare_digest(session.csrf, sent)
