"""A fake OK REST API (`/fb.do`) on 127.0.0.1.

Checks what the real one checks: `application_key`, the `sig` over the sorted parameters with
md5(access_token + application_secret_key), the `access_token`; answers errors as
`{"error_code", "error_msg", "error_data"}` with OK's code names; serves
`mediatopic.getTopics` (newest first, `anchor` + `direction=FORWARD`, `has_more`, `entities`) and
`discussions.getComments` (`discussionType=GROUP_TOPIC`, oldest first, anchor paging).
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


COMMENT_METHOD = "discussions.comment"  # the method incidents.services.channels.OkChannel calls (see there)


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
            return Reply(200, self._call(params))
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
        for i, (m, code, when) in enumerate(self.failures):
            if m == method and (when is None or when(params)):
                del self.failures[i]
                raise OkError(code)
        if method in self.handlers:
            return self.handlers[method](params)
        if method == "mediatopic.getTopics":
            return self.get_topics(params)
        if method == "discussions.getComments":
            return self.get_comments(params)
        if method == COMMENT_METHOD:
            return self.add_comment(params)
        raise OkError(3)

    def _entities(self, user_ids: set[str]) -> dict[str, Any]:
        return {
            "groups": self.data["groups"],
            "users": [u for u in self.data["users"] if u["uid"] in user_ids],
        }

    def get_topics(self, params: dict[str, str]) -> dict[str, Any]:
        gid = params.get("gid")
        if not gid:
            raise OkError(100, "Missing required parameter gid")
        if gid not in self.data["topics"]:
            raise OkError(300)
        topics = self.data["topics"][gid]
        count = int(params.get("count", 20))
        start = 0
        if params.get("anchor"):
            if params.get("direction", "AROUND") != "FORWARD":
                raise OkError(100, "only FORWARD is served by this fake")
            last = _unanchor(params["anchor"])
            ids = [str(t["id"]) for t in topics]
            # a stable anchor: the next page starts after the last topic returned, wherever it is now
            start = ids.index(last) + 1 if last in ids else len([t for t in topics if str(t["id"]) > last])
        page = topics[start : start + count]
        out: dict[str, Any] = {
            "media_topics": page,
            "has_more": start + count < len(topics),
            "entities": self._entities(set()),
        }
        if page:
            out["anchor"] = _anchor(str(page[-1]["id"]))
        return out

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
            "entities": self._entities({c.get("author_id") for c in page}),
        }
        out["anchor"] = _anchor(page[-1]["id"]) if page else params.get("anchor")
        return out

    # -- replies (issue 6): a comment under a group topic, as the group
    def add_comment(self, params: dict[str, str]) -> dict[str, Any]:
        """Adds a comment to a GROUP_TOPIC discussion (`discussionId`, `text`, optional `replyTo`
        comment id, `asGroup`); answers `{"id": <comment id>}`. OK has no idempotency key: the new
        comment is visible to `discussions.getComments` (author_type GROUP), which is how the
        sender checks after a crash. `on_create(params)` runs after storing, before answering."""
        tid = params.get("discussionId")
        if not tid or params.get("discussionType") != "GROUP_TOPIC":
            raise OkError(100, "discussionId and discussionType=GROUP_TOPIC are required")
        if not params.get("text", "").strip():
            raise OkError(100, "text is required")
        if tid in self.data.get("denied_comments", []):
            raise OkError(10)
        comments = self.data["comments"].setdefault(tid, [])
        n = sum(len(v) for v in self.data["comments"].values())
        cid = _anchor(f"reply:{tid}:{n}")
        gid = self.data["groups"][0]["uid"]
        comment = {
            "id": cid,
            "date": "2026-11-23 12:00:00",
            "date_ms": 1795424400000,
            "author_id": gid if params.get("asGroup", "true") == "true" else self.data["users"][0]["uid"],
            "author_type": "GROUP" if params.get("asGroup", "true") == "true" else "USER",
            "text": params["text"],
            "type": "ACTIVE_MESSAGE",
            "like_count": 0,
            "liked_it": False,
        }
        if params.get("replyTo"):
            comment["reply_to_comment_id"] = params["replyTo"]
        comments.append(comment)
        hook = getattr(self, "on_create", None)
        if hook is not None:
            hook(params)
        return {"id": cid}

    def created_comments(self) -> list[dict[str, Any]]:
        return [c for v in self.data["comments"].values() for c in v if c.get("author_type") == "GROUP"]
