"""A fake VK API (https://api.vk.ru/method/…) and Streaming API, on 127.0.0.1.

Follows the published shapes of API version 5.199: `POST /method/{name}` with form
parameters, `{"response": …}` or `{"error": {"error_code", "error_msg", "request_params"}}`;
`wall.get` (offset/count ≤ 100, pinned post first, `extended` profiles/groups),
`wall.getComments` (threads with `thread_items_count`, `comment_id`, `current_level_count`,
deleted placeholders, error 212 on closed comments), `newsfeed.search` (`start_time`,
`end_time`, `start_from`/`next_from`, count ≤ 200), `execute` (a list of `API.method({...})`
calls, `false` plus `execute_errors` for a failed call, at most 25 calls),
`streaming.getServerUrl`, and the streaming endpoint's `/rules` (GET/POST/DELETE) and
`/stream` websocket (`{"code": 100, "event": …}` frames).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fakes.base import FakeServer, Reply, Request

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "vk_kursk.json"
TOKEN = "vk1.a.test-token"
MESSAGES = {
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    8: "Invalid request: v (version) is required",
    9: "Flood control",
    10: "Internal server error",
    13: "Runtime error occurred during code invocation: too many API calls",
    15: "Access denied",
    18: "User was deleted or banned",
    29: "Rate limit reached",
    30: "This profile is private",
    100: "One of the parameters specified was missing or invalid",
    14: "Captcha needed",
    212: "Access to post comments denied",
    213: "Access to status replies denied",
    222: "Hyperlinks are forbidden",
    223: "Too many replies",
}
"""Codes and messages as VK's errors.json names them (../shared/api/vk-api-schema)."""


SCHEMA_CHECK: Callable[[str, dict[str, Any], Any, list[tuple[Any, ...]]], list[str]] | None = None
"""Set by tests/conftest.py to `tests.vk_schema.check` when VK's schema is at ../shared/api."""
SCHEMA_PROBLEMS: list[str] = []
"""What the check found; conftest fails the test that produced any."""


class VkError(Exception):
    def __init__(self, code: int, msg: str | None = None) -> None:
        super().__init__(code)
        self.code, self.msg = code, msg or MESSAGES.get(code, "Unknown error")


class FakeVk(FakeServer):
    def __init__(self, data: dict[str, Any] | None = None, token: str = TOKEN) -> None:
        super().__init__()
        self.data = copy.deepcopy(
            data if data is not None else json.loads(FIXTURE.read_text(encoding="utf-8"))
        )
        self.token = token
        self.failures: list[tuple[str, int, Any]] = []  # (method, code, predicate on params) served once each
        self.stream_key = "streamkey-1"
        self.rules: dict[str, str] = {}
        self.stream_events: list[dict[str, Any]] = list(self.data.get("stream", []))
        self.max_rules = 300
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {}  # more API methods, see register()

    # -- steering
    def fail(self, method: str, code: int, times: int = 1, when: Any = None) -> None:
        """The next `times` calls of `method` (matching `when(params)`) answer error `code`."""
        for _ in range(times):
            self.failures.append((method, code, when))

    def api_calls(self, method: str | None = None) -> list[dict[str, str]]:
        out = []
        for r in self.requests:
            if r.path.startswith("/method/") and (method is None or r.path == f"/method/{method}"):
                out.append(r.params)
        return out

    # -- wire
    def handle(self, req: Request) -> Reply:
        if req.path.startswith("/method/"):
            return self._method(req.path[len("/method/") :], req.params)
        if req.path == "/rules":
            return self._rules(req)
        return Reply(404, {"error": "not found"})

    def _error(self, code: int, msg: str, method: str, params: dict[str, str]) -> Reply:
        shown = [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
        shown += [{"key": k, "value": v} for k, v in params.items() if k not in ("access_token", "code")]
        error: dict[str, Any] = {"error_code": code, "error_msg": msg, "request_params": shown}
        if code == 14:  # as VK sends it: what a person needs to solve the captcha
            error.update(captcha_sid="238627", captcha_img="https://api.vk.ru/captcha.php?sid=238627")
        return Reply(200, {"error": error})

    def _method(self, method: str, params: dict[str, str]) -> Reply:
        reply = self._answer(method, params)
        reply.body, tolerated = _strip_malformed(reply.body)
        if SCHEMA_CHECK is not None:  # every answer against VK's own schema (tests/vk_schema.py)
            SCHEMA_PROBLEMS.extend(SCHEMA_CHECK(method, params, reply.body, tolerated))
        return reply

    def _answer(self, method: str, params: dict[str, str]) -> Reply:
        if params.get("access_token") != self.token:
            return self._error(5, MESSAGES[5], method, params)
        if not params.get("v"):
            return self._error(8, MESSAGES[8], method, params)
        try:
            self._injected(method, params)
            if method == "execute":
                return Reply(200, self._execute(params.get("code", "")))
            return Reply(200, {"response": self._dispatch(method, params)})
        except VkError as exc:
            return self._error(exc.code, exc.msg, method, params)

    def _injected(self, method: str, params: dict[str, Any]) -> None:
        for i, (m, code, when) in enumerate(self.failures):
            if m == method and (when is None or when(params)):
                del self.failures[i]
                raise VkError(code)

    def register(self, method: str, handler: Callable[[dict[str, Any]], Any]) -> None:
        """Serve one more API method: `handler(params)` returns the `response` or raises `VkError`;
        it is reachable directly and inside `execute`, with the same token, version and failure checks."""
        self.handlers[method] = handler

    def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        if method in self.handlers:
            return self.handlers[method](params)
        handler = {
            "wall.get": self.wall_get,
            "wall.getComments": self.wall_get_comments,
            "newsfeed.search": self.newsfeed_search,
            "streaming.getServerUrl": self.streaming_url,
            "wall.createComment": self.wall_create_comment,
            "groups.getTokenPermissions": self.token_permissions,
        }.get(method)
        if handler is None:
            raise VkError(3, "Unknown method passed")
        return handler(params)

    def _execute(self, code: str) -> dict[str, Any]:
        calls = parse_vkscript(code)
        if calls is None:
            raise VkError(12, "Unable to compile code")
        if len(calls) > 25:
            raise VkError(13)
        results: list[Any] = []
        errors: list[dict[str, Any]] = []
        for method, args in calls:
            try:
                self._injected(method, args)
                results.append(self._dispatch(method, args))
            except VkError as exc:
                results.append(False)
                errors.append({"method": method, "error_code": exc.code, "error_msg": exc.msg})
        out: dict[str, Any] = {"response": results}
        if errors:
            out["execute_errors"] = errors
        return out

    # -- methods
    def _extended(
        self, out: dict[str, Any], items: list[dict[str, Any]], params: dict[str, Any]
    ) -> dict[str, Any]:
        if str(params.get("extended", "0")) == "1":
            ids = {i.get("from_id") for i in items} | {i.get("owner_id") for i in items}
            out["profiles"] = [p for p in self.data["profiles"] if p["id"] in ids]
            out["groups"] = [g for g in self.data["groups"] if -g["id"] in ids]
        return out

    def _owner(self, params: dict[str, Any]) -> str:
        if "owner_id" in params:
            return str(params["owner_id"])
        domain = params.get("domain")
        for g in self.data["groups"]:
            if g["screen_name"] == domain:
                return str(-g["id"])
        raise VkError(100, "One of the parameters specified was missing or invalid: owner_id is undefined")

    def wall_get(self, params: dict[str, Any]) -> dict[str, Any]:
        count, offset = int(params.get("count", 20)), int(params.get("offset", 0))
        if count > 100:
            raise VkError(
                100,
                "One of the parameters specified was missing or invalid: count should be less or equal to 100",
            )
        owner = self._owner(params)
        if owner in self.data.get("private_walls", []):
            raise VkError(15, "Access denied: this wall available only for community members")
        wall = self.data["walls"].get(owner, [])
        items = wall[offset : offset + count]
        return self._extended({"count": len(wall), "items": items}, items, params)

    def wall_get_comments(self, params: dict[str, Any]) -> dict[str, Any]:
        owner, post_id = str(params["owner_id"]), int(params["post_id"])
        if f"{owner}_{post_id}" in self.data.get("closed_comments", []):
            raise VkError(212)
        count, offset = int(params.get("count", 10)), int(params.get("offset", 0))
        if count > 100:
            raise VkError(
                100,
                "One of the parameters specified was missing or invalid: count should be less or equal to 100",
            )
        if params.get("comment_id"):
            level = self.data["threads"].get(f"{owner}_{params['comment_id']}", [])
        else:
            level = self.data["comments"].get(f"{owner}_{post_id}", [])
        if params.get("sort", "asc") == "desc":
            level = list(reversed(level))
        page = [copy.deepcopy(c) for c in level[offset : offset + count]]
        tic = min(10, int(params.get("thread_items_count", 0)))
        total = len(level)
        for c in page:
            if params.get("comment_id"):
                continue
            replies = self.data["threads"].get(f"{owner}_{c['id']}", [])
            total += len(replies)
            c["thread"] = {
                "count": len(replies),
                "items": copy.deepcopy(replies[:tic]) if tic else [],
                "can_post": True,
                "show_reply_button": True,
                "groups_can_post": True,
            }
        out = {
            "count": total,
            "current_level_count": len(level),
            "can_post": True,
            "show_reply_button": True,
            "groups_can_post": True,
            "items": page,
        }
        flat = page + [r for c in page for r in c.get("thread", {}).get("items", [])]
        return self._extended(out, flat, params)

    def newsfeed_search(self, params: dict[str, Any]) -> dict[str, Any]:
        count = int(params.get("count", 30))
        if count > 200:
            raise VkError(
                100,
                "One of the parameters specified was missing or invalid: count should be less or equal to 200",
            )
        words = [w[:4] for w in str(params.get("q", "")).lower().split()]
        start, end = int(params.get("start_time", 0)), int(params.get("end_time", 2**31))
        hits = [
            i
            for i in self.data["newsfeed"]
            if start <= i["date"] <= end and all(w in i["text"].lower() for w in words)
        ]
        hits.sort(key=lambda i: -i["date"])
        offset = int(str(params.get("start_from", "0")).split("/")[0] or 0)
        page = hits[offset : offset + count]
        out: dict[str, Any] = {"items": page, "count": len(page), "total_count": len(hits)}
        if offset + count < len(hits):
            last = page[-1]
            out["next_from"] = f"{offset + count}/{last['owner_id']}_{last['id']}"
        return self._extended(out, page, params)

    # -- replies (issue 6, 23): wall.createComment
    def wall_create_comment(self, params: dict[str, Any]) -> dict[str, Any]:
        """`wall.createComment`: a comment under a post, optionally replying to a comment, as the
        community (`from_group`). Errors as errors.json lists them for this method: 213 when
        replying is closed (`closed_comments`), 222 when the text has a link and the post is in
        `no_links`, 223 when the post is in `reply_flood`. `guid` is accepted but what VK does with
        a repeat is undocumented, so this fake does nothing with it: a resend makes a second
        comment, and only a look at the thread prevents that. The comment is visible at once to
        `wall.getComments` (in the thread of the comment it replies to). `on_create(params)` runs
        after the comment is stored and before the answer goes back (the crash tests kill the
        sender there)."""
        owner, post_id = str(params.get("owner_id", "")), params.get("post_id")
        if not owner or not post_id:
            raise VkError(100, "One of the parameters specified was missing or invalid: post_id is undefined")
        text = str(params.get("message", ""))
        if not text.strip():
            raise VkError(100, "One of the parameters specified was missing or invalid: message is empty")
        post = f"{owner}_{post_id}"
        if post in self.data.get("closed_comments", []):
            raise VkError(213)
        if post in self.data.get("no_links", []) and ("http://" in text or "https://" in text):
            raise VkError(222)
        if post in self.data.get("reply_flood", []):
            raise VkError(223)
        created = self.data.setdefault("created_comments", [])
        cid = 900000 + len(created) + 1
        reply_to = int(params["reply_to_comment"]) if params.get("reply_to_comment") else None
        root = reply_to
        for key, replies in self.data["threads"].items():  # a reply to a reply joins the root's thread
            if (
                reply_to is not None
                and key.startswith(f"{owner}_")
                and any(r["id"] == reply_to for r in replies)
            ):
                root = int(key.split("_", 1)[1])
        from_id = -abs(int(params["from_group"])) if params.get("from_group") else 1
        item: dict[str, Any] = {
            "id": cid,
            "from_id": from_id,
            "post_id": int(post_id),
            "owner_id": int(owner),
            "parents_stack": [root] if root else [],
            "date": int(self.data.get("now", 1795424400)),
            "text": text,
            "likes": {"count": 0, "user_likes": 0, "can_like": 1},
        }
        if reply_to:
            item["reply_to_comment"] = reply_to
        where = self.data["threads"] if root else self.data["comments"]
        where.setdefault(f"{owner}_{root}" if root else post, []).append(item)
        created.append({**item, "reply_to_comment": reply_to, "guid": params.get("guid")})
        hook = getattr(self, "on_create", None)
        if hook is not None:
            hook(params)
        return {"comment_id": cid, "parents_stack": item["parents_stack"]}

    def token_permissions(self, params: dict[str, Any]) -> dict[str, Any]:
        """`groups.getTokenPermissions` of a community token: the rights in `token_rights`
        (default: wall and manage), as VK lists them (groups_token_permission_setting)."""
        bits = {"manage": 262144, "messages": 4096, "photos": 4, "docs": 131072, "wall": 8192}
        rights = self.data.get("token_rights", ["manage", "wall"])
        return {
            "mask": sum(bits.get(r, 0) for r in rights),
            "permissions": [{"name": r, "setting": bits.get(r, 0)} for r in rights],
        }

    def streaming_url(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"endpoint": f"127.0.0.1:{self.port}", "key": self.stream_key}

    # -- streaming endpoint
    def _rules(self, req: Request) -> Reply:
        if req.query.get("key") != self.stream_key:
            return Reply(200, {"code": 400, "error": {"message": "Invalid key", "error_code": 1001}})
        if req.method == "GET":
            rules = [{"value": v, "tag": t} for t, v in self.rules.items()]
            return Reply(200, {"code": 200, "rules": rules or None})
        body = req.json() or {}
        if req.method == "POST":
            rule = body.get("rule") or {}
            tag, value = rule.get("tag"), rule.get("value")
            if tag in self.rules:
                return Reply(
                    200, {"code": 400, "error": {"message": "Tag already exist", "error_code": 2001}}
                )
            if len(self.rules) >= self.max_rules:
                return Reply(200, {"code": 400, "error": {"message": "Too many rules", "error_code": 2003}})
            self.rules[tag] = value
            return Reply(200, {"code": 200})
        if req.method == "DELETE":
            if self.rules.pop(body.get("tag"), None) is None:
                return Reply(
                    200, {"code": 400, "error": {"message": "Tag doesn't exist", "error_code": 2002}}
                )
            return Reply(200, {"code": 200})
        return Reply(405, {"code": 400})

    def upgrade(self, handler: Any, req: Request) -> None:
        if req.path != "/stream" or req.query.get("key") != self.stream_key:
            handler.send_error(401, "Invalid key")
            return
        accept = base64.b64encode(
            hashlib.sha1(
                (req.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()
            ).digest()
        ).decode()
        handler.send_response(101, "Switching Protocols")
        handler.send_header("Upgrade", "websocket")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("Sec-WebSocket-Accept", accept)
        handler.end_headers()
        handler.wfile.flush()
        sock: socket.socket = handler.connection
        for event in self.stream_events:
            sock.sendall(ws_frame(json.dumps(event, ensure_ascii=False).encode("utf-8")))
        sock.settimeout(0.05)
        while not self.stopping.is_set():  # hold the stream open until the client closes it
            try:
                if not sock.recv(1024):
                    return
            except TimeoutError:
                continue
            except OSError:
                return
            return  # a close frame (or anything) from the client ends the stream


def _strip_malformed(body: Any) -> tuple[Any, list[tuple[Any, ...]]]:
    """The answer without the fixture's `_malformed` markers, and where they were: items a test
    breaks on purpose (to see the crawler quarantine them) are the only places allowed to fail
    VK's schema."""
    found: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> Any:
        if isinstance(node, dict):
            if "_malformed" in node:
                found.append(path)
            return {k: walk(v, (*path, k)) for k, v in node.items() if k != "_malformed"}
        if isinstance(node, list):
            return [walk(v, (*path, i)) for i, v in enumerate(node)]
        return node

    return walk(body, ()), found


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack(">H", n)
    else:
        head += bytes([127]) + struct.pack(">Q", n)
    return head + payload


def parse_vkscript(code: str) -> list[tuple[str, dict[str, Any]]] | None:
    """The subset of VKScript our adapter sends: `return [API.a.b({...}),API.c.d({...})];`."""
    code = code.strip()
    if not (code.startswith("return [") and code.endswith("];")):
        return None
    body, pos, calls = code[len("return [") : -2], 0, []
    decoder = json.JSONDecoder()
    while pos < len(body):
        if not body.startswith("API.", pos):
            return None
        paren = body.index("(", pos)
        method = body[pos + 4 : paren]
        args, end = decoder.raw_decode(body, paren + 1)
        if body[end] != ")":
            return None
        calls.append((method, {k: str(v) if not isinstance(v, str) else v for k, v in args.items()}))
        pos = end + 1
        if pos < len(body):
            if body[pos] != ",":
                return None
            pos += 1
    return calls
