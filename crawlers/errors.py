"""One error policy for the networks' API errors, shared by the VK and OK adapters.

Every API error code maps to one of five actions:

| action | VK codes | OK codes | what the adapter does |
|---|---|---|---|
| RETRY | 6 (too many requests per second), 9 (flood control), 10 (internal error), 223 (too many replies under the post) | 1 UNKNOWN, 2 SERVICE, 8 FLOOD_BLOCKED | back off (injectable sleep) and retry; after `Backoff.retries` tries: stop the source for now |
| STOP | 29 (rate limit reached), 14 (captcha: a person must act; vk_api's `Captcha` is translated) | 11 LIMIT_REACHED, 9 IP_BLOCKED | `SourceStopped`: the cursor stays where it is, the next run resumes |
| AUTH | 5 (authorization failed) | 101, 102, 103, 104, 105, 453 (key, session, signature) | `TokenInvalid` naming the variable: "token invalid" |
| SKIP | 15, 18, 30, 212, 213, 222 (access denied, deleted or banned, private, comments closed, replying closed, links forbidden) | 10 PERMISSION_DENIED, 300 NOT_FOUND, 455 FRIEND_RESTRICTION | skip that object, record why (quarantine row), go on |
| BUG | 100 (bad parameter) and anything unknown | 3 METHOD, 4 REQUEST, 100 PARAM | `ApiBug`: a bug on our side, fail loudly |

The feedback platform (ПОС) answers string codes in the same classes (`POS_POLICY`):
`rate_limited`, `unavailable` → RETRY; `daily_limit_exceeded` → STOP; `unauthorized`,
`token_expired` → AUTH; `forbidden`, `not_found` → SKIP; `bad_request` → BUG.

Transport failures (connection refused, HTTP 5xx, a proxy's HTTP 429) are RETRY as well.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from core.redact import redact, redact_obj
from crawlers.base import BadRecord, SourceNotConfigured, SourceStopped

log = logging.getLogger(__name__)
T = TypeVar("T")


class Action(enum.Enum):
    RETRY = "retry"
    STOP = "stop"
    AUTH = "auth"
    SKIP = "skip"
    BUG = "bug"


VK_POLICY: dict[int, Action] = {
    6: Action.RETRY,
    9: Action.RETRY,
    10: Action.RETRY,
    223: Action.RETRY,  # wall.createComment: too many replies by us under this post for now
    29: Action.STOP,
    14: Action.STOP,  # captcha: nobody solves it unattended; resume later (errors.json api_error_captcha)
    5: Action.AUTH,
    15: Action.SKIP,
    18: Action.SKIP,
    30: Action.SKIP,
    212: Action.SKIP,
    213: Action.SKIP,  # wall.createComment: replying to the post is closed (errors.json)
    222: Action.SKIP,  # wall.createComment: the community forbids links in comments
    100: Action.BUG,
}

OK_POLICY: dict[int, Action] = {
    1: Action.RETRY,
    2: Action.RETRY,
    8: Action.RETRY,
    11: Action.STOP,
    9: Action.STOP,
    101: Action.AUTH,
    102: Action.AUTH,
    103: Action.AUTH,
    104: Action.AUTH,
    105: Action.AUTH,
    453: Action.AUTH,
    10: Action.SKIP,
    300: Action.SKIP,
    455: Action.SKIP,
    3: Action.BUG,
    4: Action.BUG,
    100: Action.BUG,
}


POS_POLICY: dict[int | str, Action] = {
    "rate_limited": Action.RETRY,
    "unavailable": Action.RETRY,
    "daily_limit_exceeded": Action.STOP,
    "unauthorized": Action.AUTH,
    "token_expired": Action.AUTH,
    "forbidden": Action.SKIP,
    "not_found": Action.SKIP,
    "bad_request": Action.BUG,
}
"""The feedback platform's error codes (the contract in crawlers/README.md), same five actions."""


def action_for(policy: dict[Any, Action], code: int | str) -> Action:
    """The action for an error code; an unknown code is a bug until someone classifies it."""
    return policy.get(code, Action.BUG)


class ApiFailure(Exception):
    """One error answer of a network's API, with its code and message."""

    def __init__(
        self,
        network: str,
        code: int | str,
        message: str,
        *,
        method: str = "",
        payload: Any = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        # the message and payload come from the remote's answer, which may echo our credentials
        # (F4): redacted here, before anything prints, logs or quarantines them
        message, payload = redact(message, secrets), redact_obj(payload, secrets)
        super().__init__(f"{network} error {code}: {message}" + (f" (method {method})" if method else ""))
        self.network, self.code, self.message, self.method, self.payload = (
            network,
            code,
            message,
            method,
            payload,
        )


class TransientFailure(Exception):
    """A transport failure worth retrying (connection, timeout, HTTP 5xx or 429, an answer that is not JSON).

    `retry_after`: the seconds the server asked for (a 429's or 503's Retry-After header)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(redact(message))  # a transport error may quote the request URL with its token
        self.retry_after = retry_after


def retry_after(headers: Any) -> float | None:
    """The Retry-After header in seconds (the delta form; an HTTP date is ignored)."""
    value = (headers or {}).get("Retry-After") if hasattr(headers, "get") else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


class TokenInvalid(SourceNotConfigured):
    """The credential in the environment is rejected: a person must issue a new one."""


class ApiBug(RuntimeError):
    """The API says our request is wrong (bad parameter, unknown method): fail loudly."""


class SkipObject(Exception):
    """This object (a wall, a post's comments, a channel) cannot be read: record why and go on."""

    def __init__(self, what: str, reason: str, payload: Any = None) -> None:
        super().__init__(f"{what}: {reason}")
        self.what, self.reason, self.payload = what, reason, payload


@dataclass(slots=True)
class Backoff:
    """Exponential back-off with an injectable sleep, so tests never really wait."""

    retries: int = 5
    base: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int) -> float:
        return min(self.maximum, self.base * self.factor**attempt)


def call_with_policy(
    fn: Callable[[], T],
    *,
    policy: dict[Any, Action],
    backoff: Backoff,
    source_id: str,
    what: str,
    token_var: str,
) -> T:
    """Run one API call under the policy: retry transient errors, translate the others.

    Returns the call's result, or raises SourceStopped, TokenInvalid, SkipObject or ApiBug.
    """
    attempt = 0
    while True:
        asked: float | None = None
        try:
            return fn()
        except TransientFailure as exc:
            reason = str(exc)
            action = Action.RETRY
            asked = exc.retry_after
        except ApiFailure as exc:
            reason = str(exc)
            action = action_for(policy, exc.code)
            if action is Action.STOP:
                raise SourceStopped(f"{source_id}: {reason}; resume from the stored cursor later") from exc
            if action is Action.AUTH:
                raise TokenInvalid(
                    f"{source_id}: token invalid ({reason}); issue a new token and put it in {token_var}"
                ) from exc
            if action is Action.SKIP:
                raise SkipObject(what, reason, exc.payload) from exc
            if action is Action.BUG:
                raise ApiBug(
                    f"{source_id}: {what}: {reason} — a bug in the request, not a network condition"
                ) from exc
        if attempt >= backoff.retries:
            raise SourceStopped(
                f"{source_id}: {what}: still failing after {attempt + 1} tries ({reason}); resume later"
            )
        delay = backoff.delay(attempt)
        if asked is not None:  # the server said how long; never longer than the back-off's ceiling
            delay = min(backoff.maximum, max(delay, asked))
        log.warning("%s: %s: %s; retry in %.1f s", source_id, what, reason, delay)
        backoff.sleep(delay)
        attempt += 1


# --------------------------------------------------------------------------- shared helpers
def require_env(var: str, source_id: str, purpose: str) -> str:
    """The value of a credential variable, or SourceNotConfigured naming it (other sources still run)."""
    import os

    value = os.environ.get(var, "").strip()
    if not value:
        raise SourceNotConfigured(
            f"source {source_id!r}: environment variable {var} is not set ({purpose}); see crawlers/README.md"
        )
    return value


def bad_record(location: str, reason: str, payload: Any) -> BadRecord:
    """A quarantine row: where, why, and the payload as JSON text (cut at 100 kB), credentials
    redacted (an error body may echo them, F4)."""
    import json

    if isinstance(payload, str):
        text = payload
    else:
        try:
            text = json.dumps(payload, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(payload)
    return BadRecord(redact(location), redact(reason), redact(text[:100_000]))


def payload_digest(payload: Any) -> str:
    """A short fingerprint of a payload: a malformed item seen again unchanged is not quarantined twice."""
    import hashlib
    import json

    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def since_ts(params: dict[str, Any]) -> int | None:
    """`params.since` (a date, an ISO time, a Unix time) as a Unix time; None when absent."""
    from datetime import UTC, datetime

    since = params.get("since")
    if since is None:
        return None
    if isinstance(since, datetime):
        return int(since.timestamp())
    if isinstance(since, int | float):
        return int(since)
    text = str(since)
    dt = datetime.fromisoformat(text if "T" in text or " " in text else text + "T00:00:00")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())
