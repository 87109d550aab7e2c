"""Passwords of the people who log in to the web console: bcrypt hashes, never the password itself.

bcrypt takes at most 72 bytes; a longer password (Cyrillic letters are two bytes each) is
first reduced with SHA-256, so every character counts and nothing is silently cut off.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

MIN_LENGTH = 8
ROUNDS = 12


class WeakPassword(ValueError):
    """The password is too short to protect an account that can answer residents in public."""


def _prepare(password: str) -> bytes:
    raw = password.encode("utf-8")
    if len(raw) <= 72:
        return raw
    return base64.b64encode(hashlib.sha256(raw).digest())


def hash_password(password: str, *, rounds: int = ROUNDS) -> str:
    import bcrypt

    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"пароль короче {MIN_LENGTH} символов")
    return bcrypt.hashpw(_prepare(password), bcrypt.gensalt(rounds)).decode("ascii")


@lru_cache(maxsize=1)
def _dummy_hash() -> bytes:
    import bcrypt

    return bcrypt.hashpw(b"no such user", bcrypt.gensalt(ROUNDS))


def verify_password(password: str, hashed: str | None) -> bool:
    """True when `password` matches; False for no hash or a malformed one (never raises).

    With no hash the same bcrypt work is done against a dummy, so the answer takes as long for
    an unknown login as for a wrong password: the time does not tell which logins exist."""
    import bcrypt

    if not hashed:
        bcrypt.checkpw(_prepare(password), _dummy_hash())
        return False
    try:
        return bcrypt.checkpw(_prepare(password), hashed.encode("ascii"))
    except ValueError:
        return False
