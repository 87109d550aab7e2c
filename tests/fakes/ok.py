"""A fake OK REST API (`/fb.do`) on 127.0.0.1.

Checks what the real one checks: `application_key`, the `sig` over the sorted parameters with
md5(access_token + application_secret_key), the `access_token`; answers errors as
`{"error_code", "error_msg", "error_data"}` with OK's code names. Serves only methods of the
open list (../shared/api/ok-methods.md, apiok/documentation) with their listed parameters
(`OPEN_METHODS`; tests/test_live_shapes.py checks it against the list): any other method is
error 3 METHOD, any other parameter error 100 PARAM, so our clients cannot come to rely on
something OK does not publish. Served: `group.getStatTopics` (the group's topic ids, newest
first, `anchor` paging, `has_more`), `mediatopic.getByIds` (`media_topics`, `entities`),
`discussions.getComments` (`discussionType=GROUP_TOPIC`, oldest first, anchor paging; comments
with `created_ms`, `date`, `author_ref`), `discussions.addDiscussionComment` (`entityId`,
`entityType`, `comment`, `reply_to_comment_id`, `as_admin`), `users.getCurrentUser`,
`group.getInfo`.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawlers.ok import signature
from tests.fakes.base import FakeServer, Reply, Request

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ok_kursk.json"
NAMES = {
    1: "UNKNOWN : Unknown error",
    2: "SERVICE : Service temporary unavailable",
    3: "METHOD : Method is not found",
    8: "FLOOD_BLOCKED : Flood blocked",
    9: "IP_BLOCKED : IP blocked",
    10: "PERMISSION_DENIED : Permission denied",
    11: "LIMIT_REACHED : Limit reached",
    100: "PARAM : Missing or invalid parameter",
    101: "PARAM_API_KEY : Application key is wrong",
    102: "PARAM_SESSION_EXPIRED : Session expired",
    104: "PARAM_SIGNATURE : Invalid signature",
    300: "NOT_FOUND : Resource not found",
    455: "FRIEND_RESTRICTION : Friend restriction",
}


COMMENT_METHOD = "discussions.addDiscussionComment"  # what incidents.services.channels.OkChannel calls
SIGNED = {"method", "application_key", "format", "sig", "access_token", "session_key"}
"""Parameters of every request (the signature's envelope), not of any one method."""
OPEN_METHODS: dict[str, tuple[str, ...]] = {
    "group.getStatTopics": ("gid", "start_time", "end_time", "anchor", "count", "fields"),
    "mediatopic.getByIds": ("topic_ids", "media_limit", "fields", "features"),
    "discussions.getComments": (
        "discussionId",
        "discussionType",
        "anchor",
        "direction",
        "count",
        "frmt",
        "fields",
        "fieldset",
        "mark_as_read",
        "includeRemoved",
    ),
    "discussions.addDiscussionComment": (
        "entityId",
        "entityType",
        "comment",
        "reply_to_comment_id",
        "as_admin",
        "attachments",
        "frmt",
        "fields",
        "fieldset",
    ),
    "users.getCurrentUser": ("fields",),
    "group.getInfo": ("uids", "move_to_top", "fields"),
}
"""The methods this fake serves, each with its parameters exactly as ok-methods.md lists them."""


class OkError(Exception):
    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(code)
        self.code, self.msg = (
            code,
            NAMES.get(code, "UNKNOWN : Unknown error") + (f" {detail}" if detail else ""),
        )


def _anchor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _unanchor(anchor: str) -> str:
    return base64.urlsafe_b64decode(anchor + "=" * (-len(anchor) % 4)).decode()


class FakeOk(FakeServer):
    def __init__(self, data: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.data = copy.deepcopy(
            data if data is not None else json.loads(FIXTURE.read_text(encoding="utf-8"))
        )
        self.failures: list[tuple[str, int, Any]] = []
        self.handlers: dict[str, Callable[[dict[str, str]], Any]] = {}  # more API methods, see register()

    def register(self, method: str, handler: Callable[[dict[str, str]], Any]) -> None:
        """Serve one more REST method: `handler(params)` returns the JSON answer or raises `OkError`;
        the key, the signature and the token are checked before, as for every method."""
        self.handlers[method] = handler

    def fail(self, method: str, code: int, times: int = 1, when: Any = None) -> None:
        for _ in range(times):
            self.failures.append((method, code, when))

    def api_calls(self, method: str | None = None) -> list[dict[str, str]]:
        return [r.params for r in self.requests if method is None or r.params.get("method") == method]

    def handle(self, req: Request) -> Reply:
        if req.path != "/fb.do":
            return Reply(404, "not found", "text/plain")
        params = req.params
        try:
            body = self._call(params)
            # a bare string answer (a new comment's id) is JSON text too: Reply sends str as is
            return Reply(200, json.dumps(body) if isinstance(body, str) else body)
        except OkError as exc:
            return Reply(200, {"error_code": exc.code, "error_msg": exc.msg, "error_data": None})

    def _call(self, params: dict[str, str]) -> Any:
        if params.get("application_key") != self.data["application_key"]:
            raise OkError(101)
        token = params.get("access_token", "")
        expected = signature(params, token, self.data["application_secret_key"])
        if params.get("sig", "") != expected:
            raise OkError(104, params.get("sig", ""))
        if token != self.data["access_token"]:
            raise OkError(102)
        method = params.get("method", "")
        if method not in OPEN_METHODS and method not in self.handlers:
            raise OkError(3, method)
        extra = sorted(set(params) - SIGNED - set(OPEN_METHODS.get(method, params)))
        if extra:
            raise OkError(100, f"unknown parameters {extra} for {method}")
        for i, (m, code, when) in enumerate(self.failures):
            if m == method and (when is None or when(params)):
                del self.failures[i]
                raise OkError(code)
        if method in self.handlers:
            return self.handlers[method](params)
        served: dict[str, Callable[[dict[str, str]], Any]] = {
            "group.getStatTopics": self.stat_topics,
            "mediatopic.getByIds": self.get_by_ids,
            "discussions.getComments": self.get_comments,
            COMMENT_METHOD: self.add_comment,
            "users.getCurrentUser": self.current_user,
            "group.getInfo": self.group_info,
        }
        return served[method](params)

    def _entities(self, user_ids: set[str]) -> dict[str, Any]:
        return {
            "groups": self.data["groups"],
            "users": [u for u in self.data["users"] if u["uid"] in user_ids],
        }

    def stat_topics(self, params: dict[str, str]) -> dict[str, Any]:
        """`group.getStatTopics`: the group's topics, newest first, with their ids (the group's
        statistics need an administrator's token: error 10 when `stat_denied`)."""
        gid = params.get("gid")
        if not gid:
            raise OkError(100, "Missing required parameter gid")
        if gid not in self.data["topics"]:
            raise OkError(300)
        if gid in self.data.get("stat_denied", []):
            raise OkError(10)
        topics = self.data["topics"][gid]
        count = int(params.get("count", 20))
        start = 0
        if params.get("anchor"):
            last = _unanchor(params["anchor"])
            ids = [str(t["id"]) for t in topics]
            # a stable anchor: the next page starts after the last topic returned, wherever it is now
            start = ids.index(last) + 1 if last in ids else len([t for t in topics if str(t["id"]) > last])
        page = topics[start : start + count]
        out: dict[str, Any] = {
            "topics": [{"id": str(t["id"]), "created_ms": t.get("created_ms")} for t in page],
            "has_more": start + count < len(topics),
        }
        if page:
            out["anchor"] = _anchor(str(page[-1]["id"]))
        return out

    def get_by_ids(self, params: dict[str, str]) -> dict[str, Any]:
        """`mediatopic.getByIds`: the topics asked for (`topic_ids`, comma-separated), in that order."""
        wanted = [t for t in params.get("topic_ids", "").split(",") if t]
        if not wanted:
            raise OkError(100, "Missing required parameter topic_ids")
        by_id = {str(t["id"]): t for ts in self.data["topics"].values() for t in ts}
        found = [by_id[t] for t in wanted if t in by_id]
        return {"media_topics": found, "entities": self._entities(set())}

    def current_user(self, params: dict[str, str]) -> dict[str, Any]:
        return {"uid": self.data["users"][0]["uid"], "name": self.data["users"][0]["name"]}

    def group_info(self, params: dict[str, str]) -> list[dict[str, Any]]:
        uids = set(params.get("uids", "").split(","))
        return [g for g in self.data["groups"] if g["uid"] in uids]

    def get_comments(self, params: dict[str, str]) -> dict[str, Any]:
        tid = params.get("discussionId")
        if not tid or params.get("discussionType") != "GROUP_TOPIC":
            raise OkError(100, "discussionId and discussionType=GROUP_TOPIC are required")
        if tid in self.data.get("denied_comments", []):
            raise OkError(10)
        comments = self.data["comments"].get(tid, [])
        count = min(int(params.get("count", 20)), 100)
        start = 0
        if params.get("anchor"):
            last = _unanchor(params["anchor"])
            ids = [c["id"] for c in comments]
            start = ids.index(last) + 1 if last in ids else 0
        page = comments[start : start + count]
        out: dict[str, Any] = {
            "comments": page,
            "has_more": start + count < len(comments),
            "entities": self._entities({str(c.get("author_ref", "")).split(":", 1)[-1] for c in page}),
        }
        out["anchor"] = _anchor(page[-1]["id"]) if page else params.get("anchor")
        return out

    # -- replies (issue 6, 23): discussions.addDiscussionComment
    def add_comment(self, params: dict[str, str]) -> str:
        """Adds a comment to a GROUP_TOPIC discussion (`entityId`, `entityType`, `comment`,
        optional `reply_to_comment_id`, `as_admin`); answers the new comment's id. OK has no
        idempotency key: the new comment is visible to `discussions.getComments` (`author_ref`
        `group:<gid>` when posted as the group), which is how the sender checks after a crash.
        `on_create(params)` runs after storing, before answering."""
        tid = params.get("entityId")
        if not tid or params.get("entityType") != "GROUP_TOPIC":
            raise OkError(100, "entityId and entityType=GROUP_TOPIC are required")
        if not params.get("comment", "").strip():
            raise OkError(100, "comment is required")
        if tid in self.data.get("denied_comments", []):
            raise OkError(10)
        comments = self.data["comments"].setdefault(tid, [])
        n = sum(len(v) for v in self.data["comments"].values())
        cid = _anchor(f"reply:{tid}:{n}")
        gid = self.data["groups"][0]["uid"]
        as_group = params.get("as_admin", "false") == "true"
        comment = {
            "id": cid,
            "date": "2026-11-23 12:00:00",
            "created_ms": 1795424400000,
            "author_ref": f"group:{gid}" if as_group else f"user:{self.data['users'][0]['uid']}",
            "text": params["comment"],
            "type": "ACTIVE_MESSAGE",
            "like_count": 0,
            "liked_it": False,
        }
        if params.get("reply_to_comment_id"):
            comment["reply_to_comment_id"] = params["reply_to_comment_id"]
        comments.append(comment)
        hook = getattr(self, "on_create", None)
        if hook is not None:
            hook(params)
        return cid

    def created_comments(self) -> list[dict[str, Any]]:
        return [
            c
            for v in self.data["comments"].values()
            for c in v
            if str(c.get("author_ref")).startswith("group:")
        ]
