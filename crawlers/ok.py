"""Odnoklassniki: a group's feed and the comments under its topics, through the OK REST API.

A direct HTTP client of `fb.do` (httpx): every request carries `application_key`, `format=json`,
`access_token` and `sig`, the signature

    sig = md5( "k1=v1k2=v2…" (all parameters but sig and access_token, sorted by name)
               + md5(access_token + application_secret_key) )    — hex, lower case

Errors come back as `{"error_code", "error_msg", "error_data"}` and go through the same policy
as VK's (`crawlers.errors.OK_POLICY`).

Only methods of OK's open list are called (../shared/api/ok-methods.md; the fake refuses the
others). Kind `group`: each pass reads the group's topic ids with `group.getStatTopics` (`gid`,
`anchor`, `count`; the group's statistics need an administrator's token, which a control
centre has for its own group) and the topics themselves with `mediatopic.getByIds`
(`topic_ids`), from the newest topic down to the window (`days`); the topics are stored, and
for every topic whose `discussion_summary.comments_count` changed the new comments are read
with `discussions.getComments` (`discussionType=GROUP_TOPIC`), continuing from the anchor
stored for that topic, so a comment is fetched once. A topic missing from a finished pass was
deleted: it is flagged. A comment's time is `created_ms` (or `date`, Moscow time) and its
author `author_ref` (`user:<id>`, `group:<id>`), as OK's comment objects name them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

from core.interchange import PayloadError
from core.records import PostRecord
from crawlers.base import BadRecord, FetchResult, SourceNotConfigured
from crawlers.errors import (
    OK_POLICY,
    ApiFailure,
    Backoff,
    SkipObject,
    TransientFailure,
    bad_record,
    call_with_policy,
    payload_digest,
    require_env,
    retry_after,
    since_ts,
)
from crawlers.ratelimit import RateLimiter, limiter_for

log = logging.getLogger(__name__)

API_URL = "https://api.ok.ru/fb.do"
KEY_VAR, SECRET_VAR, TOKEN_VAR = "OK_APPLICATION_KEY", "OK_APPLICATION_SECRET_KEY", "OK_ACCESS_TOKEN"
DEFAULT_RATE = 3.0
MOSCOW = timezone(timedelta(hours=3))
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def signature(params: dict[str, Any], access_token: str, secret_key: str) -> str:
    """OK's request signature (see the module docstring); values are signed as sent, unescaped."""
    session_secret = hashlib.md5((access_token + secret_key).encode("utf-8")).hexdigest()
    joined = "".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("sig", "access_token"))
    return hashlib.md5((joined + session_secret).encode("utf-8")).hexdigest().lower()


class OkClient:
    def __init__(
        self,
        *,
        application_key: str,
        secret_key: str,
        access_token: str,
        source_id: str,
        api_url: str = API_URL,
        http: httpx.Client | None = None,
        limiter: RateLimiter | None = None,
        backoff: Backoff | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.application_key, self.secret_key, self.access_token = application_key, secret_key, access_token
        self.source_id, self.api_url = source_id, api_url
        self.http = http or httpx.Client(timeout=timeout, headers={"User-Agent": "incident-monitor"})
        self.limiter = limiter or limiter_for("ok", access_token, DEFAULT_RATE)
        self.backoff = backoff or Backoff()

    def signed(self, method: str, params: dict[str, Any]) -> dict[str, str]:
        out = {k: str(v) for k, v in params.items() if v is not None}
        out.update(method=method, application_key=self.application_key, format="json")
        out["sig"] = signature(out, self.access_token, self.secret_key)
        out["access_token"] = self.access_token
        return out

    def _once(self, method: str, params: dict[str, Any]) -> Any:
        self.limiter.wait()
        try:
            resp = self.http.post(self.api_url, data=self.signed(method, params))
        except httpx.TransportError as exc:
            raise TransientFailure(f"{type(exc).__name__} on {method}: {exc}") from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            raise TransientFailure(f"HTTP {resp.status_code} from {method}", retry_after(resp.headers))
        try:
            body = resp.json()
        except ValueError as exc:
            raise TransientFailure(f"{method}: the answer is not JSON") from exc
        if isinstance(body, dict) and "error_code" in body:
            raise ApiFailure(
                "ok", int(body["error_code"]), str(body.get("error_msg", "")), method=method, payload=body
            )
        return body

    def call(self, method: str, params: dict[str, Any], what: str | None = None) -> Any:
        return call_with_policy(
            lambda: self._once(method, params),
            policy=OK_POLICY,
            backoff=self.backoff,
            source_id=self.source_id,
            what=what or method,
            token_var=f"{TOKEN_VAR} (with {KEY_VAR} and {SECRET_VAR})",
        )


# --------------------------------------------------------------------------- payload → record
def _str_id(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise PayloadError(f"missing or invalid field {key!r}")
    return str(value)


def _ms(value: Any, field: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{field}: expected milliseconds since 1970, got {type(value).__name__}")
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise PayloadError(f"{field}: {value!r} is not a time") from exc


def _opt_str(value: Any) -> str | None:
    """An optional text field: anything but a string is treated as absent."""
    return value if isinstance(value, str) and value else None


def _count(obj: Any, key: str) -> int:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _entity_names(resp: dict[str, Any]) -> dict[str, str]:
    names: dict[str, str] = {}
    ents = resp.get("entities") or {}
    for g in ents.get("groups") or []:
        if isinstance(g, dict) and g.get("uid"):
            names[f"group:{g['uid']}"] = str(g.get("name", ""))
    for u in ents.get("users") or []:
        if isinstance(u, dict) and u.get("uid"):
            names[f"user:{u['uid']}"] = str(
                u.get("name") or f"{u.get('first_name', '')} {u.get('last_name', '')}"
            ).strip()
    return names


def topic_text(topic: dict[str, Any]) -> str:
    media = topic.get("media") or []
    if not isinstance(media, list):
        raise PayloadError(f"media: expected a list, got {type(media).__name__}")
    parts = [m.get("text", "") for m in media if isinstance(m, dict) and m.get("type") == "text"]
    if any(not isinstance(p, str) for p in parts):
        raise PayloadError("media text: expected a string")
    return "\n\n".join(p for p in parts if p)


def topic_record(topic: Any, gid: str, source_id: str, names: dict[str, str]) -> PostRecord:
    if not isinstance(topic, dict):
        raise PayloadError(f"expected a JSON object, got {type(topic).__name__}")
    tid = _str_id(topic, "id")
    created = _ms(topic.get("created_ms"), "created_ms")
    author = topic.get("author_ref")
    return PostRecord(
        network="ok",
        external_id=f"topic{tid}",
        source_id=source_id,
        text=topic_text(topic),
        created_at=created,
        url=f"https://ok.ru/group/{gid}/topic/{tid}",
        author_id=author if isinstance(author, str) else None,
        author_name=names.get(author) if isinstance(author, str) else None,
        likes=_count(topic.get("like_summary"), "count"),
        reposts=_count(topic.get("reshare_summary"), "count"),
        views=_count(topic.get("views_summary"), "count"),
        raw=topic,
        deleted=bool(topic.get("is_deleted")),
    )


def comment_record(
    comment: Any, gid: str, topic_id: str, source_id: str, names: dict[str, str]
) -> PostRecord:
    if not isinstance(comment, dict):
        raise PayloadError(f"expected a JSON object, got {type(comment).__name__}")
    cid = _str_id(comment, "id")
    if "created_ms" in comment:
        created = _ms(comment["created_ms"], "created_ms")
    else:
        try:
            created = datetime.strptime(str(comment.get("date")), "%Y-%m-%d %H:%M:%S").replace(tzinfo=MOSCOW)
        except ValueError as exc:
            raise PayloadError(f"date: unparseable {comment.get('date')!r}") from exc
    text = comment.get("text", "")
    if not isinstance(text, str):
        raise PayloadError(f"text: expected a string, got {type(text).__name__}")
    ref = _opt_str(comment.get("author_ref"))  # "user:<id>" or "group:<id>", as OK writes it
    return PostRecord(
        network="ok",
        external_id=f"comment{cid}",
        source_id=source_id,
        text=text,
        created_at=created.astimezone(UTC),
        parent_id=f"topic{topic_id}",
        url=f"https://ok.ru/group/{gid}/topic/{topic_id}",
        author_id=ref,
        author_name=_opt_str(comment.get("author_name")) or (names.get(ref) if ref else None),
        likes=_count(comment, "like_count"),
        raw=comment,
        deleted=bool(comment.get("deleted")),
    )


# --------------------------------------------------------------------------- the adapter
class OkGroupSource:
    """A group's topics and the comments under them; resumable by anchor."""

    def __init__(
        self,
        *,
        source_id: str,
        client: OkClient,
        gid: str,
        days: float = 7,
        since: int | None = None,
        page_size: int = 20,
        comments_page_size: int = 100,
        comments: bool = True,
        now: Clock = _now,
    ) -> None:
        self.source_id, self.client, self.gid = source_id, client, str(gid)
        self.days, self.since = days, since
        self.page_size, self.comments_page_size = page_size, comments_page_size
        self.comments, self.now = comments, now

    @classmethod
    def from_settings(cls, source_id: str, params: dict[str, Any], root: Path) -> OkGroupSource:
        gid = params.get("gid") or params.get("group_id")
        if not gid:
            raise SourceNotConfigured(f"ok source {source_id!r}: params.gid is not set")
        key = require_env(KEY_VAR, source_id, "the public key of your OK application")
        secret = require_env(SECRET_VAR, source_id, "the secret key of your OK application")
        token = require_env(TOKEN_VAR, source_id, "an OK access token with GROUP_CONTENT and VALUABLE_ACCESS")
        client = OkClient(
            application_key=key,
            secret_key=secret,
            access_token=token,
            source_id=source_id,
            api_url=str(params.get("api_url", API_URL)),
            limiter=limiter_for("ok", token, float(params.get("rate", DEFAULT_RATE))),
        )
        return cls(
            source_id=source_id,
            client=client,
            gid=str(gid),
            days=float(params.get("days", 7)),
            since=since_ts(params),
            page_size=int(params.get("page_size", 20)),
            comments=bool(params.get("comments", True)),
        )

    def fetch(self, cursor: dict[str, Any] | None) -> FetchResult:
        cur: dict[str, Any] = json.loads(json.dumps(cursor or {}))
        cur.setdefault("watch", {})
        if not cur.get("pass"):
            now = int(self.now().timestamp())
            cutoff = self.since if self.since is not None else now - int(self.days * 86400)
            cur["pass"] = {
                "cutoff": cutoff,
                "anchor": None,
                "scanned": False,
                "seen": [],
                "queue": [],
                "target": {},
            }
        p = cur["pass"]
        if not p["scanned"]:
            return self._scan_page(cur, p)
        if p["queue"]:
            return self._comments_page(cur, p)
        return self._finish(cur, p)

    def _scan_page(self, cur: dict[str, Any], p: dict[str, Any]) -> FetchResult:
        params: dict[str, Any] = {"gid": self.gid, "count": self.page_size}
        if p["anchor"]:
            params["anchor"] = p["anchor"]
        where = f"group.getStatTopics gid {self.gid}" + (f" anchor {p['anchor']}" if p["anchor"] else "")
        try:
            stat = self.client.call("group.getStatTopics", params, what=where)
            listed = stat.get("topics") if isinstance(stat, dict) else None
            if not isinstance(listed, list):
                p["scanned"], p["broken"] = True, True
                return FetchResult([], cur, [bad_record(where, "answer has no topics list", stat)])
            ids = [str(t["id"]) for t in listed if isinstance(t, dict) and t.get("id")]
            resp: Any = {"media_topics": []}
            if ids:
                resp = self.client.call(
                    "mediatopic.getByIds",
                    {"topic_ids": ",".join(ids), "fields": "media_topic.*,group.*,user.*"},
                    what=f"mediatopic.getByIds {len(ids)} topics of gid {self.gid}",
                )
        except SkipObject as exc:
            p["scanned"], p["broken"] = True, True  # an unread group: nothing was deleted
            return FetchResult([], cur, [bad_record(exc.what, f"skipped: {exc.reason}", exc.payload)])
        if isinstance(resp, dict):
            resp = {**resp, "anchor": stat.get("anchor"), "has_more": stat.get("has_more")}
        topics = resp.get("media_topics") if isinstance(resp, dict) else None
        if not isinstance(topics, list):
            p["scanned"], p["broken"] = True, True
            return FetchResult([], cur, [bad_record(where, "answer has no media_topics list", resp)])
        names = _entity_names(resp)
        posts: list[PostRecord] = []
        bad: list[BadRecord] = []
        reached_end = not topics
        for topic in topics:
            tid = topic.get("id") if isinstance(topic, dict) else None
            try:
                rec = topic_record(topic, self.gid, self.source_id, names)
            except PayloadError as exc:
                if tid is not None:
                    p["seen"].append(str(tid))
                    digest = payload_digest(topic)
                    if cur.setdefault("quarantined", {}).get(str(tid)) == digest:
                        continue  # quarantined on an earlier pass, unchanged since
                    cur["quarantined"][str(tid)] = digest
                bad.append(bad_record(where, str(exc), topic))
                continue
            created = int(rec.created_at.timestamp())
            if created < p["cutoff"]:
                if not topic.get("is_pinned") and not topic.get("pinned"):
                    reached_end = True
                continue
            key = str(tid)
            posts.append(rec)
            if key in p["seen"]:
                continue
            p["seen"].append(key)
            watched = cur["watch"].get(key) or [created, 0, None]
            watched[0] = created
            cur["watch"][key] = watched
            count = _count(topic.get("discussion_summary"), "comments_count")
            if self.comments and count != watched[1] and key not in p["target"]:
                p["target"][key] = count
                if count > watched[1]:
                    p["queue"].append(key)
        p["anchor"] = resp.get("anchor") or p["anchor"]
        if reached_end or not resp.get("has_more"):
            p["scanned"] = True
        return FetchResult(posts, cur, bad)

    def _comments_page(self, cur: dict[str, Any], p: dict[str, Any]) -> FetchResult:
        tid = p["queue"][0]
        watched = cur["watch"][tid]
        params: dict[str, Any] = {
            "discussionId": tid,
            "discussionType": "GROUP_TOPIC",
            "count": self.comments_page_size,
            "fields": "comment.*,user.*",
        }
        if watched[2]:
            params.update(anchor=watched[2], direction="FORWARD")
        where = f"discussions.getComments topic {tid}" + (f" anchor {watched[2]}" if watched[2] else "")
        posts: list[PostRecord] = []
        bad: list[BadRecord] = []
        try:
            resp = self.client.call("discussions.getComments", params, what=where)
        except SkipObject as exc:
            bad.append(bad_record(where, f"skipped: {exc.reason}", exc.payload))
            resp = {"comments": [], "has_more": False}
        comments = resp.get("comments") if isinstance(resp, dict) else None
        if not isinstance(comments, list):
            bad.append(bad_record(where, "answer has no comments list", resp))
            comments, resp = [], {"has_more": False}
        names = _entity_names(resp)
        for comment in comments:
            try:
                posts.append(comment_record(comment, self.gid, tid, self.source_id, names))
            except PayloadError as exc:
                bad.append(bad_record(where, str(exc), comment))
        if resp.get("anchor") and comments:
            watched[2] = resp["anchor"]
        if not resp.get("has_more") or not comments:
            p["queue"].pop(0)
            watched[1] = p["target"].pop(tid, watched[1])
        return FetchResult(posts, cur, bad)

    def _finish(self, cur: dict[str, Any], p: dict[str, Any]) -> FetchResult:
        seen = set(p["seen"])
        for key, count in p["target"].items():  # counts that went down: nothing to read
            if key in cur["watch"]:
                cur["watch"][key][1] = count
        deleted = [
            PostRecord(
                network="ok",
                external_id=f"topic{key}",
                source_id=self.source_id,
                text="",
                created_at=datetime.fromtimestamp(v[0], UTC),
                deleted=True,
                raw={"deleted": True, "detected": "missing from group.getStatTopics"},
            )
            for key, v in sorted(cur["watch"].items())
            if v[0] >= p["cutoff"]
            and key not in seen
            and not p.get("broken")  # a partial pass proves no deletion
        ]
        # topics are watched for the whole window this pass read: `days` back, or further back
        # when `since` asks for it (a watch cut at `days` re-read every older topic's comments
        # on the next pass and counted its malformed records again)
        keep_from = min(p["cutoff"], int(self.now().timestamp()) - int(self.days * 86400))
        watch = {
            k: v for k, v in cur["watch"].items() if v[0] >= keep_from and (k in seen or p.get("broken"))
        }
        out: dict[str, Any] = {"watch": watch}
        quarantined = {
            k: v for k, v in (cur.get("quarantined") or {}).items() if k in seen or p.get("broken")
        }
        if quarantined:
            out["quarantined"] = quarantined
        return FetchResult(deleted, out, [], done=True)
