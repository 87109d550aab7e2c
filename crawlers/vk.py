"""VK adapters: official community walls with their comments, keyword search, and the Streaming API.

All three are real clients of the VK API through `vk_api` (one `requests.Session`, the
version pinned by `api_version`). Pacing is ours (`crawlers.ratelimit`, 3 requests per second
per token by default, shared by every source on the token) and so is the error policy
(`crawlers.errors`): vk_api's own sleep-and-retry on error 6 is switched off.

Identity of a post across the three (so that a post found by search, by the stream and on the
wall is stored once): `wall{owner_id}_{post_id}` for posts, `comment{owner_id}_{comment_id}`
for comments, whose `parent_id` is the post.

* `wall` — a community or user wall (`owner_id` or `domain`). Each pass reads `wall.get` from
  the top down to the window (`days`), stores the posts, and for every post whose comment
  count changed reads its comments with `wall.getComments` (threads included), batching up to
  25 calls in one `execute`. The cursor holds the pass in progress (offset, the calls still to
  make) and, between passes, the watched posts with the comment count already stored. A
  watched post missing from a finished pass was deleted: it is flagged.
* `newsfeed` — `newsfeed.search` for `q` (or each of `queries`) over a time window
  (`start_time`..`end_time`), paged by `start_from`/`next_from`; optional `latitude`/`longitude`.
  The cursor is the end of the last finished window.
* `streaming` — the keyword Streaming API: rules built from the rubricator's phrases (or
  `rules` in the params), kept in sync by tag; events read from the websocket for
  `listen_seconds`. The stream has no replay: what arrives while nobody listens is lost, so
  run a `newsfeed` source with the same keywords to fill gaps.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import vk_api
from jconfig import MemoryConfig
from vk_api.streaming import VkStreaming, VkStreamingError

from crawlers.base import BadRecord, FetchResult
from crawlers.errors import (
    VK_POLICY,
    Action,
    ApiBug,
    ApiFailure,
    Backoff,
    SkipObject,
    TransientFailure,
    action_for,
    bad_record,
    call_with_policy,
    payload_digest,
    require_env,
    retry_after,
    since_ts,
)
from crawlers.ratelimit import RateLimiter, limiter_for
from incidents.core.interchange import PayloadError
from incidents.core.records import PostRecord

log = logging.getLogger(__name__)

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
        except vk_api.ApiHttpError as exc:
            status = exc.response.status_code
            if status >= 500 or status == 429:
                raise TransientFailure(
                    f"HTTP {status} from {method}", retry_after(exc.response.headers)
                ) from exc
            raise ApiBug(f"{self.source_id}: HTTP {status} from {method}") from exc
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.JSONDecodeError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
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


# --------------------------------------------------------------------------- wall + comments
class VkWallSource:
    """A community wall and the residents' comments under its posts."""

    def __init__(
        self,
        *,
        source_id: str,
        client: VkClient,
        owner_id: int | None = None,
        domain: str | None = None,
        days: float = 7,
        since: int | None = None,
        page_size: int = 100,
        comments: bool = True,
        thread_items: int = 10,
        use_execute: bool = True,
        execute_batch: int = EXECUTE_LIMIT,
        comments_page_size: int = 100,
        now: Clock = _now,
    ) -> None:
        if owner_id is None and not domain:
            raise ValueError("owner_id or domain is required")
        self.source_id, self.client = source_id, client
        self.owner_id, self.domain = owner_id, domain
        self.days, self.since = days, since
        self.page_size = max(1, min(100, page_size))
        self.comments, self.thread_items = comments, max(0, min(10, thread_items))
        self.use_execute = use_execute
        self.execute_batch = max(1, min(EXECUTE_LIMIT, execute_batch))
        self.comments_page_size = max(1, min(100, comments_page_size))
        self.now = now

    @classmethod
    def from_settings(cls, source_id: str, params: dict[str, Any], root: Path) -> VkWallSource:
        owner, domain = params.get("owner_id"), params.get("domain")
        if owner is None and not domain:
            from crawlers.base import SourceNotConfigured

            raise SourceNotConfigured(
                f"vk source {source_id!r}: params.owner_id (or params.domain) is not set"
            )
        return cls(
            source_id=source_id,
            client=_client_from_settings(source_id, params),
            owner_id=None if owner is None else int(owner),
            domain=domain,
            days=float(params.get("days", 7)),
            since=since_ts(params),
            page_size=int(params.get("page_size", 100)),
            comments=bool(params.get("comments", True)),
            thread_items=int(params.get("thread_items", 10)),
            use_execute=bool(params.get("execute", True)),
        )

    # -- pass bookkeeping
    def _new_pass(self, cursor: dict[str, Any]) -> dict[str, Any]:
        now = int(self.now().timestamp())
        cutoff = now - int(self.days * 86400)
        if self.since is not None:
            cutoff = self.since
        return {
            "cutoff": cutoff,
            "offset": 0,
            "last_id": None,
            "seen": [],
            "tasks": [],
            "target": {},
            "scanned": False,
            "owner": self.owner_id,
        }

    def fetch(self, cursor: dict[str, Any] | None) -> FetchResult:
        cur: dict[str, Any] = json.loads(json.dumps(cursor or {}))  # never mutate the caller's dict
        cur.setdefault("watch", {})
        if not cur.get("pass"):
            cur["pass"] = self._new_pass(cur)
        p = cur["pass"]
        if not p["scanned"]:
            return self._scan_page(cur, p)
        if p["tasks"]:
            return self._comments_page(cur, p)
        return self._finish(cur, p)

    def _scan_page(self, cur: dict[str, Any], p: dict[str, Any]) -> FetchResult:
        values: dict[str, Any] = {"count": self.page_size, "extended": 1, "filter": "all"}
        if p["owner"] is not None:
            values["owner_id"] = p["owner"]
        else:
            values["domain"] = self.domain
        offset = p["offset"]
        items: list[Any] = []
        for _ in range(20):  # step back while posts deleted above us shifted the list up
            values["offset"] = offset
            try:
                resp = self.client.call("wall.get", values, what=f"wall {p['owner'] or self.domain}")
            except SkipObject as exc:
                p["scanned"], p["tasks"], p["broken"] = True, [], True  # unread wall: nothing was deleted
                return FetchResult([], cur, [bad_record(exc.what, f"skipped: {exc.reason}", exc.payload)])
            got = resp.get("items") if isinstance(resp, dict) else None
            if not isinstance(got, list):
                p["scanned"], p["broken"] = True, True
                return FetchResult(
                    [], cur, [bad_record(f"wall.get offset {offset}", "answer has no items list", resp)]
                )
            items = got
            regular = [i for i in items if isinstance(i, dict) and not i.get("is_pinned")]
            first = regular[0].get("id") if regular else None
            if p["last_id"] is None or offset == 0 or not isinstance(first, int) or first >= p["last_id"]:
                break
            offset = max(0, offset - self.page_size // 2)
        names = _names(resp)
        posts: list[PostRecord] = []
        bad: list[BadRecord] = []
        reached_end = not items
        for item in items:
            item_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(item_id, int) and item_id in p["seen"]:
                continue  # the overlap item, or one pushed down by a new post: already taken
            try:
                rec = post_record(item, self.source_id, names)
            except PayloadError as exc:
                if isinstance(item_id, int):
                    p["seen"].append(item_id)
                    digest = payload_digest(item)
                    if cur.setdefault("quarantined", {}).get(str(item_id)) == digest:
                        continue  # quarantined on an earlier pass, unchanged since
                    cur["quarantined"][str(item_id)] = digest
                bad.append(
                    bad_record(f"wall.get {p['owner'] or self.domain} offset {offset}", str(exc), item)
                )
                continue
            owner, pid, date = item["owner_id"], item["id"], item["date"]
            if p["owner"] is None:
                p["owner"] = owner
            if date < p["cutoff"]:
                if not item.get("is_pinned"):
                    reached_end = True
                continue
            posts.append(rec)
            p["seen"].append(pid)
            key = str(pid)
            watched = cur["watch"].get(key)
            done = watched[1] if watched else 0
            cur["watch"][key] = [date, done]
            count = _count(item, "comments")
            can_view = not isinstance(item.get("comments"), dict) or item["comments"].get("can_view", 1) != 0
            if self.comments and can_view and count != done and key not in p["target"]:
                p["target"][key] = count
                if count > 0:
                    p["tasks"].append([pid, 0, 0])
        if regular:
            p["last_id"] = regular[-1].get("id") if isinstance(regular[-1].get("id"), int) else p["last_id"]
        p["offset"] = offset + max(len(items) - 1, 1)  # overlap one item with the next page
        if reached_end or len(items) < values["count"]:
            p["scanned"] = True
        return FetchResult(posts, cur, bad)

    def _comment_call(self, owner: int, task: list[int]) -> dict[str, Any]:
        pid, cid, offset = task
        values: dict[str, Any] = {
            "owner_id": owner,
            "post_id": pid,
            "offset": offset,
            "count": self.comments_page_size,
            "sort": "asc",
            "need_likes": 1,
            "extended": 1,
            "preview_length": 0,
        }
        if cid:
            values["comment_id"] = cid
        elif self.thread_items:
            values["thread_items_count"] = self.thread_items
        return values

    def _comments_page(self, cur: dict[str, Any], p: dict[str, Any]) -> FetchResult:
        owner = p["owner"]
        batch = p["tasks"][: self.execute_batch if self.use_execute else 1]
        calls = [("wall.getComments", self._comment_call(owner, t)) for t in batch]
        if len(calls) == 1:
            try:
                results: list[Any] = [
                    self.client.call(*calls[0], what=f"comments of wall{owner}_{batch[0][0]}")
                ]
            except SkipObject as exc:
                results = [exc]
        else:
            results = self.client.execute(
                calls, what=f"execute: {len(calls)} × wall.getComments of wall{owner}"
            )
        posts: list[PostRecord] = []
        bad: list[BadRecord] = []
        new_tasks: list[list[int]] = []
        failed_posts: set[int] = set()
        for task, res in zip(batch, results, strict=True):
            pid, cid, offset = task
            where = (
                f"wall.getComments wall{owner}_{pid}"
                + (f" thread {cid}" if cid else "")
                + f" offset {offset}"
            )
            if isinstance(res, SkipObject):
                bad.append(bad_record(where, f"skipped: {res.reason}", res.payload))
                failed_posts.add(pid)
                continue
            items = res.get("items") if isinstance(res, dict) else None
            if not isinstance(items, list):
                bad.append(bad_record(where, "answer has no items list", res))
                continue
            names = _names(res)
            for item in items:
                for rec_item in [
                    item,
                    *((item.get("thread") or {}).get("items") or [] if isinstance(item, dict) else []),
                ]:
                    try:
                        posts.append(comment_record(rec_item, owner, pid, self.source_id, names))
                    except PayloadError as exc:
                        bad.append(bad_record(where, str(exc), rec_item))
                if not cid and isinstance(item, dict) and isinstance(item.get("id"), int):
                    thread = item.get("thread") or {}
                    if _count(thread, "count") > len(thread.get("items") or []):
                        new_tasks.append([pid, item["id"], 0])
            total = res.get("current_level_count", res.get("count", 0)) if not cid else res.get("count", 0)
            if isinstance(total, int) and offset + len(items) < total and items:
                new_tasks.append([pid, cid, offset + len(items)])
        rest = [t for t in p["tasks"][len(batch) :] if t[0] not in failed_posts]
        p["tasks"] = new_tasks + rest
        pending = {t[0] for t in p["tasks"]}
        for key in list(p["target"]):
            if int(key) not in pending:
                watched = cur["watch"].get(key)
                if watched:
                    watched[1] = p["target"][key]
                del p["target"][key]
        return FetchResult(posts, cur, bad)

    def _finish(self, cur: dict[str, Any], p: dict[str, Any]) -> FetchResult:
        seen = set(p["seen"])
        for key in list(p["target"]):  # posts with no comments left to read
            if key in cur["watch"]:
                cur["watch"][key][1] = p["target"][key]
        deleted: list[PostRecord] = []
        owner = p["owner"]
        for key, (date, _count_done) in sorted(cur["watch"].items()):
            if p.get("broken"):
                break  # the pass did not read the whole window: a post missing from it is not a deletion
            if date >= p["cutoff"] and int(key) not in seen and owner is not None:
                deleted.append(
                    PostRecord(
                        network="vk",
                        external_id=post_key(owner, int(key)),
                        source_id=self.source_id,
                        text="",
                        created_at=_ts(date),
                        deleted=True,
                        raw={"deleted": True, "detected": "missing from wall.get"},
                    )
                )
        # the whole window this pass read stays watched: `days` back, or further when `since` asks
        keep_from = min(p["cutoff"], int(self.now().timestamp()) - int(self.days * 86400))
        watch = {
            k: v for k, v in cur["watch"].items() if v[0] >= keep_from and (int(k) in seen or p.get("broken"))
        }
        top = max(seen) if seen else cur.get("top")
        out: dict[str, Any] = {"top": top, "owner": owner, "watch": watch}
        quarantined = {
            k: v for k, v in (cur.get("quarantined") or {}).items() if int(k) in seen or p.get("broken")
        }
        if quarantined:
            out["quarantined"] = quarantined  # malformed posts still in the window: not quarantined twice
        return FetchResult(deleted, out, [], done=True)


# --------------------------------------------------------------------------- keyword search
class VkNewsfeedSource:
    """newsfeed.search over a time window; the cursor is the end of the last finished window."""

    def __init__(
        self,
        *,
        source_id: str,
        client: VkClient,
        queries: list[str],
        latitude: float | None = None,
        longitude: float | None = None,
        lookback_hours: float = 24,
        since: int | None = None,
        page_size: int = 200,
        overlap_seconds: int = 60,
        now: Clock = _now,
    ) -> None:
        if not queries:
            raise ValueError("at least one query is required")
        self.source_id, self.client, self.queries = source_id, client, queries
        self.latitude, self.longitude = latitude, longitude
        self.lookback_hours, self.since = lookback_hours, since
        self.page_size = max(1, min(200, page_size))
        self.overlap, self.now = overlap_seconds, now

    @classmethod
    def from_settings(cls, source_id: str, params: dict[str, Any], root: Path) -> VkNewsfeedSource:
        queries = params.get("queries") or ([params["q"]] if params.get("q") else [])
        if isinstance(queries, str):
            queries = [queries]
        if not queries:
            from crawlers.base import SourceNotConfigured

            raise SourceNotConfigured(f"vk source {source_id!r}: params.q (or params.queries) is not set")
        return cls(
            source_id=source_id,
            client=_client_from_settings(source_id, params),
            queries=list(queries),
            latitude=params.get("latitude"),
            longitude=params.get("longitude"),
            lookback_hours=float(params.get("lookback_hours", 24)),
            since=since_ts(params),
            page_size=int(params.get("page_size", 200)),
        )

    def fetch(self, cursor: dict[str, Any] | None) -> FetchResult:
        cur = dict(cursor or {})
        win = cur.get("window")
        if not win:
            now = int(self.now().timestamp())
            start = cur.get("since")
            if self.since is not None:
                start = self.since
            if start is None:
                start = now - int(self.lookback_hours * 3600)
            win = {"start": int(start), "end": now, "q": 0, "next_from": None}
        q = self.queries[win["q"]]
        values: dict[str, Any] = {
            "q": q,
            "start_time": win["start"],
            "end_time": win["end"],
            "count": self.page_size,
            "extended": 1,
        }
        if self.latitude is not None and self.longitude is not None:
            values["latitude"], values["longitude"] = self.latitude, self.longitude
        if win["next_from"]:
            values["start_from"] = win["next_from"]
        where = f"newsfeed.search {q!r}" + (f" from {win['next_from']}" if win["next_from"] else "")
        skipped: BadRecord | None = None
        try:
            resp = self.client.call("newsfeed.search", values, what=where)
        except SkipObject as exc:
            resp, skipped = {"items": []}, bad_record(where, f"skipped: {exc.reason}", exc.payload)
        items = resp.get("items") if isinstance(resp, dict) else None
        bad: list[BadRecord] = [skipped] if skipped else []
        posts: list[PostRecord] = []
        if not isinstance(items, list):
            bad.append(bad_record(where, "answer has no items list", resp))
            items = []
        names = _names(resp) if isinstance(resp, dict) else {}
        for item in items:
            try:
                posts.append(post_record(item, self.source_id, names))
            except PayloadError as exc:
                bad.append(bad_record(where, str(exc), item))
        next_from = resp.get("next_from") if isinstance(resp, dict) else None
        if next_from and items:
            win = {**win, "next_from": next_from}
        elif win["q"] + 1 < len(self.queries):
            win = {**win, "q": win["q"] + 1, "next_from": None}
        else:
            return FetchResult(posts, {"since": max(win["start"], win["end"] - self.overlap)}, bad, done=True)
        return FetchResult(posts, {"since": cur.get("since"), "window": win}, bad)


# --------------------------------------------------------------------------- streaming
_TAG_RE = re.compile(r"[^A-Za-z0-9_]")


def rules_from_rubricator(root: Path, max_rules: int = 300) -> list[dict[str, str]]:
    """One streaming rule per rubricator phrase (words = AND, forbidden words as minus-words)."""
    import yaml

    from incidents.core.config import Rubricator, _all_rules

    path = root / "rubricator.yaml"
    if not path.is_file():
        return []
    rub = Rubricator.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    rules: list[dict[str, str]] = []
    seen_values: set[str] = set()
    for cat in rub.categories:
        for rule in sorted(_all_rules(cat), key=lambda r: -r.weight):
            minus = " ".join(f"-{w}" for w in rule.forbid if " " not in w)
            for i, phrase in enumerate(rule.phrases):
                value = " ".join(phrase.lower().split()) + (f" {minus}" if minus else "")
                if value in seen_values:
                    continue
                seen_values.add(value)
                rules.append({"tag": _TAG_RE.sub("_", f"{rule.id}_{i}")[:256], "value": value})
    return rules[:max_rules]


class VkStreamingSource:
    """The keyword Streaming API: rules kept in sync, events read from the websocket."""

    def __init__(
        self,
        *,
        source_id: str,
        client: VkClient,
        rules: list[dict[str, str]],
        listen_seconds: float = 60,
        page_size: int = 500,
        ws_scheme: str = "wss",
        recv_timeout: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source_id, self.client, self.rules = source_id, client, rules
        self.listen_seconds, self.page_size = listen_seconds, page_size
        self.ws_scheme, self.recv_timeout, self.monotonic = ws_scheme, recv_timeout, monotonic
        self._stream: VkStreaming | None = None
        self._ws: Any = None
        self._deadline: float | None = None
        self.rules_synced: dict[str, int] = {}
        self._pending_bad: list[BadRecord] = []  # rules refused while syncing, reported with the next page

    @classmethod
    def from_settings(cls, source_id: str, params: dict[str, Any], root: Path) -> VkStreamingSource:
        rules = params.get("rules") or rules_from_rubricator(root, int(params.get("max_rules", 300)))
        if not rules:
            from crawlers.base import SourceNotConfigured

            raise SourceNotConfigured(
                f"vk source {source_id!r}: no rules (params.rules empty and no rubricator.yaml)"
            )
        client = _client_from_settings(source_id, params, SERVICE_VAR, SERVICE_PURPOSE)
        return cls(
            source_id=source_id,
            client=client,
            rules=list(rules),
            listen_seconds=float(params.get("listen_seconds", 60)),
        )

    def _ensure_stream(self) -> VkStreaming:
        if self._stream is None:
            self._stream = call_with_policy(
                lambda: self._streaming_once(),
                policy=VK_POLICY,
                backoff=self.client.backoff,
                source_id=self.source_id,
                what="streaming.getServerUrl",
                token_var=self.client.token_var,
            )
            self._sync_rules(self._stream)
        return self._stream

    def _streaming_once(self) -> VkStreaming:
        self.client.limiter.wait()
        try:
            return VkStreaming(self.client.vk)
        except vk_api.ApiError as exc:
            err = exc.error or {}
            raise ApiFailure(
                "vk",
                int(exc.code),
                str(err.get("error_msg", "")),
                method="streaming.getServerUrl",
                payload=err,
            ) from exc
        except requests.RequestException as exc:
            raise TransientFailure(str(exc)) from exc

    def _sync_rules(self, stream: VkStreaming) -> None:
        """Make the server's rules equal to ours, by tag: delete stale ones, add missing ones.

        A rule the endpoint refuses (too many rules, a malformed value) is skipped and recorded
        with the endpoint's `[error_code] message`; the other rules still work.
        """
        wanted = {r["tag"]: r["value"] for r in self.rules}
        have = {r["tag"]: r["value"] for r in self._rules_call("get rules", stream.get_rules)}
        deleted = added = refused = 0
        for tag, value in have.items():
            if wanted.get(tag) != value:
                self._rules_call(f"delete rule {tag}", functools.partial(stream.delete_rule, tag))
                deleted += 1
        for tag, value in wanted.items():
            if have.get(tag) != value:
                try:
                    self._rules_call(f"add rule {tag}", functools.partial(stream.add_rule, value, tag))
                except VkStreamingError as exc:
                    self._pending_bad.append(
                        bad_record(
                            f"streaming rule {tag}",
                            f"skipped: rule refused: {exc}",
                            {"tag": tag, "value": value},
                        )
                    )
                    refused += 1
                    continue
                added += 1
        self.rules_synced = {"kept": len(wanted) - added - refused, "added": added, "deleted": deleted}
        if refused:
            self.rules_synced["refused"] = refused
        log.info("%s: streaming rules: %s", self.source_id, self.rules_synced)

    def _rules_call(self, what: str, fn: Callable[[], Any]) -> Any:
        """One call to the rules endpoint: paced; connection trouble retried under the policy."""

        def once() -> Any:
            self.client.limiter.wait()
            try:
                return fn()
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.JSONDecodeError,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as exc:
                raise TransientFailure(f"{type(exc).__name__} on {what}: {exc}") from exc

        return call_with_policy(
            once,
            policy=VK_POLICY,
            backoff=self.client.backoff,
            source_id=self.source_id,
            what=what,
            token_var=self.client.token_var,
        )

    def _connect(self, stream: VkStreaming) -> Any:
        import websocket

        url = f"{self.ws_scheme}://{stream.server}/stream?key={stream.key}"
        return websocket.create_connection(url, timeout=self.recv_timeout)

    def close(self) -> None:
        if self._ws is not None:
            try:
                self._ws.close()
            finally:
                self._ws = None

    def fetch(self, cursor: dict[str, Any] | None) -> FetchResult:
        import websocket

        stream = self._ensure_stream()
        if self._ws is None:
            self._ws = self._connect(stream)
        if self._deadline is None:
            self._deadline = self.monotonic() + self.listen_seconds
        posts: list[PostRecord] = []
        bad, self._pending_bad = self._pending_bad, []
        done = False
        last = dict(cursor or {})
        while len(posts) + len(bad) < self.page_size:
            if self.monotonic() >= self._deadline:
                done = True
                break
            try:
                frame = self._ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
                done = True
                break
            try:
                msg = json.loads(frame)
            except (TypeError, ValueError) as exc:
                bad.append(bad_record("streaming", f"broken JSON: {exc}", frame))
                continue
            code = msg.get("code") if isinstance(msg, dict) else None
            if code == 300:
                log.warning("%s: streaming service message: %s", self.source_id, msg.get("service_message"))
                done = True
                break
            if code != 100:
                bad.append(bad_record("streaming", f"unknown message code {code!r}", msg))
                continue
            try:
                rec = event_record(msg.get("event"), self.source_id)
            except PayloadError as exc:
                bad.append(bad_record("streaming event", str(exc), msg))
                continue
            if rec is not None:
                posts.append(rec)
                last = {"last_event_time": rec.raw.get("action_time"), "last_event": rec.external_id}
        if done:
            self.close()
            self._deadline = None
        return FetchResult(posts, last or None, bad, done=done)


def event_record(event: Any, source_id: str) -> PostRecord | None:
    """A Streaming API event (post, comment, share) as a record; `delete` flags it."""
    if not isinstance(event, dict):
        raise PayloadError(f"event: expected a JSON object, got {type(event).__name__}")
    kind = _require(event, "event_type", str)
    ids = _require(event, "event_id", dict)
    owner = _require(ids, "post_owner_id", int)
    action = event.get("action", "new")
    created = event.get("creation_time", event.get("action_time"))
    if not isinstance(created, int):
        raise PayloadError("creation_time: missing or not a Unix time")
    text = event.get("text", "")
    if not isinstance(text, str):
        raise PayloadError(f"text: expected a string, got {type(text).__name__}")
    author_obj = event.get("author")
    author = author_obj.get("id") if isinstance(author_obj, dict) else None
    if author is not None and (isinstance(author, bool) or not isinstance(author, int | str)):
        author = None
    if kind == "comment":
        cid = _require(ids, "comment_id", int)
        post_id = _require(ids, "post_id", int)
        key, parent = comment_key(owner, cid), post_key(owner, post_id)
    elif kind in ("post", "share"):
        key, parent = post_key(owner, _require(ids, "post_id", int)), None
    else:
        return None  # topic posts and others are not read
    return PostRecord(
        network="vk",
        external_id=key,
        source_id=source_id,
        text=text,
        created_at=_ts(created),
        parent_id=parent,
        url=url if isinstance(url := event.get("event_url"), str) else None,
        author_id=None if author is None else str(author),
        raw=event,
        deleted=action == "delete",
    )
