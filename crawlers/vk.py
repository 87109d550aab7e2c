"""VK adapters: official community walls with their comments, and keyword search.

Both are real clients of the VK API through `crawlers.vk_client.VkClient` (`vk_api`, one
`requests.Session`, the version pinned by `api_version`, pacing and error policy ours). The
Streaming API source lives in `crawlers.vk_streaming`; its names are re-exported here so that
`crawlers.vk` stays the one import for VK sources.

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
* `streaming` — see `crawlers.vk_streaming`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from core.interchange import PayloadError
from core.records import PostRecord
from crawlers.base import BadRecord, FetchResult
from crawlers.errors import SkipObject, bad_record, payload_digest, since_ts
from crawlers.vk_client import (
    API_VERSION,
    DEFAULT_RATE,
    EXECUTE_LIMIT,
    SERVICE_PURPOSE,
    SERVICE_VAR,
    TOKEN_PURPOSE,
    TOKEN_VAR,
    Clock,
    VkClient,
    _client_from_settings,
    _count,
    _names,
    _now,
    _ts,
    comment_key,
    comment_record,
    post_key,
    post_record,
)
from crawlers.vk_streaming import VkStreamingSource, event_record, rules_from_rubricator

__all__ = [
    "API_VERSION",
    "DEFAULT_RATE",
    "EXECUTE_LIMIT",
    "SERVICE_PURPOSE",
    "SERVICE_VAR",
    "TOKEN_PURPOSE",
    "TOKEN_VAR",
    "VkClient",
    "VkNewsfeedSource",
    "VkStreamingSource",
    "VkWallSource",
    "comment_key",
    "comment_record",
    "event_record",
    "post_key",
    "post_record",
    "rules_from_rubricator",
]

log = logging.getLogger(__name__)


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
        else:
            skipped = None
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
