"""VK's shared client: one token's calls through `vk_api`, paced, retried and translated.

Used by the wall and keyword-search sources (`crawlers.vk`), the Streaming API source
(`crawlers.vk_streaming`), the reply channel (`incidents.services.channels`) and `incidents
doctor`. Kept apart from the sources so that a reply or a live check does not drag in the crawl
logic, and so that no module passes the project's 600-line limit.

Pacing is ours (`crawlers.ratelimit`, 3 requests per second per token by default, shared by
every source on the token) and so is the error policy (`crawlers.errors`): vk_api's own
sleep-and-retry on error 6 is switched off, and its captcha exception (error 14) is translated
into an `ApiFailure` like any other error, so it cannot escape the policy.

Also here: a wall post's and a comment's identity and record (`post_record`, `comment_record`),
shared by the sources and the quarantine's re-parse.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
import vk_api
from jconfig import MemoryConfig

from core.interchange import PayloadError
from core.records import PostRecord
from crawlers.errors import (
    VK_POLICY,
    Action,
    ApiBug,
    ApiFailure,
    Backoff,
    SkipObject,
    TransientFailure,
    action_for,
    call_with_policy,
    require_env,
    retry_after,
)
from crawlers.ratelimit import RateLimiter, limiter_for

log = logging.getLogger(__name__)

# Network failures that say nothing about the request: retried later, by the wall crawl and the stream alike.
TRANSIENT_HTTP_ERRORS: tuple[type[Exception], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.JSONDecodeError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


API_VERSION = "5.199"
TOKEN_VAR = "VK_TOKEN"
TOKEN_PURPOSE = "a VK user access token (wall.get, wall.getComments, newsfeed.search)"
SERVICE_VAR = "VK_SERVICE_KEY"
SERVICE_PURPOSE = "the service key of your VK application (Streaming API)"
DEFAULT_RATE = 3.0
EXECUTE_LIMIT = 25  # VK allows at most 25 API calls inside one execute
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- client
class _VkApi(vk_api.VkApi):
    """vk_api with its built-in pacing and error-6 retry switched off: ours replace them."""

    RPS_DELAY = 0

    def too_many_rps_handler(self, error: Any) -> None:  # noqa: D401 - vk_api hook
        return None  # raise the ApiError: crawlers.errors backs off with an injectable sleep


def _default_timeout(session: requests.Session, timeout: float) -> None:
    """vk_api posts without a timeout: a server that accepts and never answers would hang the crawl
    for ever. Give every request of this session a default one (a timeout is retried by the policy)."""
    if getattr(session, "_incidents_timeout", None) is not None:
        return
    original = session.request

    def request(method: str, url: str, *args: Any, **kw: Any) -> requests.Response:
        if kw.get("timeout") is None:
            kw["timeout"] = timeout
        return original(method, url, *args, **kw)

    session.request = request  # type: ignore[method-assign,assignment]  # wrapped: vk_api passes no timeout
    session._incidents_timeout = timeout  # type: ignore[attr-defined]  # marks the session as wrapped


class VkClient:
    """One token's calls: paced, retried and translated by the shared policy."""

    def __init__(
        self,
        *,
        token: str,
        source_id: str,
        session: requests.Session | None = None,
        api_version: str = API_VERSION,
        limiter: RateLimiter | None = None,
        backoff: Backoff | None = None,
        token_var: str = TOKEN_VAR,
        timeout: float = 30.0,
    ) -> None:
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = "incident-monitor (+crawlers/README.md)"
        _default_timeout(session, timeout)
        self.vk = _VkApi(token=token, session=session, api_version=api_version, config=MemoryConfig)
        self.source_id = source_id
        self.limiter = limiter or limiter_for("vk", token, DEFAULT_RATE)
        self.backoff = backoff or Backoff()
        self.token_var = token_var
        self.calls = 0

    def _once(self, method: str, values: dict[str, Any], raw: bool = False) -> Any:
        self.limiter.wait()
        self.calls += 1
        try:
            return self.vk.method(method, values, raw=raw)
        except vk_api.ApiError as exc:
            err = exc.error or {}
            raise ApiFailure(
                "vk", int(exc.code), str(err.get("error_msg", "")), method=method, payload=err
            ) from exc
        except vk_api.Captcha as exc:  # error 14: vk_api raises its own class, not ApiError
            err = {"error_code": 14, "captcha_sid": exc.sid, "captcha_img": exc.url}
            raise ApiFailure("vk", 14, "Captcha needed", method=method, payload=err) from exc
        except vk_api.ApiHttpError as exc:
            status = exc.response.status_code
            if status >= 500 or status == 429:
                raise TransientFailure(
                    f"HTTP {status} from {method}", retry_after(exc.response.headers)
                ) from exc
            raise ApiBug(f"{self.source_id}: HTTP {status} from {method}") from exc
        except TRANSIENT_HTTP_ERRORS as exc:
            raise TransientFailure(f"{type(exc).__name__} on {method}: {exc}") from exc

    def call(self, method: str, values: dict[str, Any], what: str | None = None) -> Any:
        return call_with_policy(
            lambda: self._once(method, values),
            policy=VK_POLICY,
            backoff=self.backoff,
            source_id=self.source_id,
            what=what or method,
            token_var=self.token_var,
        )

    def execute(self, calls: list[tuple[str, dict[str, Any]]], what: str = "execute") -> list[Any]:
        """Up to 25 calls in one request. Each result is the call's response, or the SkipObject of a
        call that failed with a skip-class error; any other error inside execute is handled as an
        error of the whole request (retried, stopped, or raised) by the policy."""
        code = "return [" + ",".join(f"API.{m}({json.dumps(v, ensure_ascii=False)})" for m, v in calls) + "];"

        def once() -> list[Any]:
            raw = self._once("execute", {"code": code}, raw=True)
            results = raw.get("response") if isinstance(raw, dict) else None
            if not isinstance(results, list) or len(results) != len(calls):
                raise ApiBug(
                    f"{self.source_id}: execute answered {type(results).__name__} for {len(calls)} calls"
                )
            errors = iter(raw.get("execute_errors") or [])
            out: list[Any] = []
            for (method, _), res in zip(calls, results, strict=True):
                if res is not False:
                    out.append(res)
                    continue
                err: dict[str, Any] = next(
                    errors, {"error_code": 0, "error_msg": "unknown error inside execute"}
                )
                failure = ApiFailure(
                    "vk",
                    int(err.get("error_code", 0)),
                    str(err.get("error_msg", "")),
                    method=str(err.get("method", method)),
                    payload=err,
                )
                if action_for(VK_POLICY, failure.code) is not Action.SKIP:
                    raise failure
                out.append(SkipObject(method, str(failure), err))
            return out

        return call_with_policy(
            once,
            policy=VK_POLICY,
            backoff=self.backoff,
            source_id=self.source_id,
            what=what,
            token_var=self.token_var,
        )


# --------------------------------------------------------------------------- payload → record
def _require(obj: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in obj:
        raise PayloadError(f"missing field {key!r}")
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise PayloadError(f"{key}: expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value


def _count(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, dict):
        value = value.get("count", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _names(resp: dict[str, Any]) -> dict[int, str]:
    names: dict[int, str] = {}
    for p in resp.get("profiles") or []:
        if isinstance(p, dict) and isinstance(p.get("id"), int):
            names[p["id"]] = f"{p.get('first_name', '')} {p.get('last_name', '')}".strip()
    for g in resp.get("groups") or []:
        if isinstance(g, dict) and isinstance(g.get("id"), int):
            names[-g["id"]] = str(g.get("name", ""))
    return names


def _ts(value: int) -> datetime:
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise PayloadError(f"date: {value!r} is not a Unix time") from exc


def post_key(owner_id: int, post_id: int) -> str:
    return f"wall{owner_id}_{post_id}"


def comment_key(owner_id: int, comment_id: int) -> str:
    return f"comment{owner_id}_{comment_id}"


def post_record(item: Any, source_id: str, names: dict[int, str]) -> PostRecord:
    """A wall post (wall.get, newsfeed.search) as a record; raises PayloadError when malformed."""
    if not isinstance(item, dict):
        raise PayloadError(f"expected a JSON object, got {type(item).__name__}")
    owner = _require(item, "owner_id", int)
    pid = _require(item, "id", int)
    date = _require(item, "date", int)
    text = item.get("text", "")
    if not isinstance(text, str):
        raise PayloadError(f"text: expected a string, got {type(text).__name__}")
    reposts = item.get("copy_history") or []
    for repost in reposts if isinstance(reposts, list) else []:
        if isinstance(repost, dict) and isinstance(repost.get("text"), str) and repost["text"]:
            text = f"{text}\n\n{repost['text']}" if text else repost["text"]
    author = item.get("from_id", item.get("signer_id", owner))
    return PostRecord(
        network="vk",
        external_id=post_key(owner, pid),
        source_id=source_id,
        text=text,
        created_at=_ts(date),
        url=f"https://vk.com/wall{owner}_{pid}",
        author_id=str(author),
        author_name=names.get(author) if isinstance(author, int) else None,
        likes=_count(item, "likes"),
        reposts=_count(item, "reposts"),
        views=_count(item, "views"),
        raw=item,
    )


def comment_record(
    item: Any, owner_id: int, post_id: int, source_id: str, names: dict[int, str]
) -> PostRecord:
    """A comment (wall.getComments) as a record; a deleted placeholder is flagged."""
    if not isinstance(item, dict):
        raise PayloadError(f"expected a JSON object, got {type(item).__name__}")
    cid = _require(item, "id", int)
    deleted = bool(item.get("deleted"))
    date = item.get("date", 0) if deleted else _require(item, "date", int)
    text = item.get("text", "")
    if not isinstance(text, str):
        raise PayloadError(f"text: expected a string, got {type(text).__name__}")
    author = item.get("from_id")
    thread_parent = None
    stack = item.get("parents_stack") or []
    if isinstance(stack, list) and stack and isinstance(stack[-1], int) and not isinstance(stack[-1], bool):
        thread_parent = stack[-1]
    url = f"https://vk.com/wall{owner_id}_{post_id}?reply={cid}" + (
        f"&thread={thread_parent}" if thread_parent else ""
    )
    return PostRecord(
        network="vk",
        external_id=comment_key(owner_id, cid),
        source_id=source_id,
        text=text,
        created_at=_ts(date if isinstance(date, int) else 0),
        parent_id=post_key(owner_id, post_id),
        url=url,
        author_id=None if author is None else str(author),
        author_name=names.get(author) if isinstance(author, int) else None,
        likes=_count(item, "likes"),
        raw={k: v for k, v in item.items() if k != "thread"},
        deleted=deleted,
    )


def _client_from_settings(
    source_id: str, params: dict[str, Any], var: str = TOKEN_VAR, purpose: str = TOKEN_PURPOSE
) -> VkClient:
    token = require_env(var, source_id, purpose)
    return VkClient(
        token=token,
        source_id=source_id,
        api_version=str(params.get("api_version", API_VERSION)),
        limiter=limiter_for("vk", token, float(params.get("rate", DEFAULT_RATE))),
        token_var=var,
    )
