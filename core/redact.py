"""Credentials cut out of text that leaves the process: error messages, quarantine rows, logs.

A platform that echoes the request's `Authorization` header in its error body (seen in the
outside test of issue 19, F4: 401, 403 and 400 answers) put our token into the command's output
and, for a 403, into `quarantine.reason` and `.payload`. Everything built from a remote answer
goes through `redact` before it is raised, printed or stored.

Two nets: the shapes of a credential (an `Authorization` header, `Bearer …`, `token=…`,
`"access_token": "…"`) and the exact values of the credential variables set in this process's
environment (`*_TOKEN`, `*_SECRET`, `*_KEY`, `*_PASSWORD`), wherever they appear.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
_NAME = r"(?:access_token|refresh_token|api_key|apikey|token|secret|password|passwd|client_secret)"
_PATTERNS = (
    # Authorization: Bearer abc / "authorization": "OAuth abc" / Proxy-Authorization=Basic abc
    (
        re.compile(
            r"((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)(?:(bearer|basic|oauth)\s+)?[^\s\"',;}&]+", re.I
        ),
        lambda m: m.group(1) + (m.group(2) + " " if m.group(2) else "") + MASK,
    ),
    (re.compile(r"\b(bearer|oauth)\s+[A-Za-z0-9._~+/=\-]{6,}", re.I), lambda m: m.group(1) + " " + MASK),
    # token=abc (query strings), "access_token": "abc" (JSON), secret: abc
    (
        re.compile(r"(\b" + _NAME + r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}&]+", re.I),
        lambda m: m.group(1) + MASK,
    ),
)
_SECRET_VARS = re.compile(r"(TOKEN|SECRET|_KEY|PASSWORD)", re.I)


def environment_secrets() -> list[str]:
    """Values of the credential variables set now (8 characters or more: shorter ones are not
    credentials and would mask ordinary words)."""
    return sorted(
        {v for k, v in os.environ.items() if _SECRET_VARS.search(k) and len(v.strip()) >= 8},
        key=len,
        reverse=True,
    )


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without credentials: the known values masked, then the credential shapes."""
    if not text:
        return text
    for value in [*secrets, *environment_secrets()]:
        if value and len(value) >= 8 and value in text:
            text = text.replace(value, MASK)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def redact_obj(obj: Any, secrets: Iterable[str] = ()) -> Any:
    """A JSON-like value with every string (keys included) redacted; the shape is kept."""
    secrets = list(secrets)
    if isinstance(obj, str):
        return redact(obj, secrets)
    if isinstance(obj, dict):
        return {redact(str(k), secrets): redact_obj(v, secrets) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_obj(v, secrets) for v in obj]
    return obj
