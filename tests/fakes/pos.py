"""A fake feedback platform (ПОС) integration API on 127.0.0.1, following the contract in crawlers/README.md.

`GET /messages?region&status&updated_since&cursor&limit` (bearer token; ordered by
(`updated_at`, `id`); keyset `next_cursor`; `limit` ≤ 100), `POST /messages/{id}/answers` with an
`Idempotency-Key` (201 first, 200 with the same answer on a repeat), errors as
`{"error": {"code", "message"}}` with the contract's codes and HTTP statuses.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.fakes.base import FakeServer, Reply, Request

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pos_kursk.json"
STATUS = {
    "rate_limited": 429,
    "daily_limit_exceeded": 429,
    "unauthorized": 401,
    "token_expired": 401,
    "forbidden": 403,
    "not_found": 404,
    "bad_request": 400,
    "unavailable": 503,
}


def _err(code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(STATUS[code], {"error": {"code": code, "message": message}}, headers=headers or {})


def _key(m: dict[str, Any]) -> tuple[datetime, str]:
    return datetime.fromisoformat(m["updated_at"]), m["id"]


class FakePos(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.data = copy.deepcopy(json.loads(FIXTURE.read_text(encoding="utf-8")))
        self.failures: list[tuple[str, str]] = []  # (path prefix, code)
        self.answers: dict[str, dict[str, Any]] = {}  # idempotency key → answer
        self.routes: dict[tuple[str, str], Callable[[Request], Reply]] = {}  # more endpoints, see register()

    def register(self, method: str, path: str, handler: Callable[[Request], Reply]) -> None:
        """Serve one more endpoint (exact `path`): the bearer token and injected failures are checked first."""
        self.routes[(method, path)] = handler

    def fail(self, path: str, code: str, times: int = 1) -> None:
        self.failures += [(path, code)] * times

    def handle(self, req: Request) -> Reply:
        if req.headers.get("authorization") != f"Bearer {self.data['token']}":
            return _err("unauthorized", "invalid or expired token")
        for i, (path, code) in enumerate(self.failures):
            if req.path.startswith(path):
                del self.failures[i]
                return _err(
                    code, code.replace("_", " "), {"Retry-After": "1"} if code == "rate_limited" else None
                )
        if (req.method, req.path) in self.routes:
            return self.routes[(req.method, req.path)](req)
        if req.method == "GET" and req.path == "/messages":
            return self.list_messages(req.query)
        parts = req.path.strip("/").split("/")
        if req.method == "POST" and len(parts) == 3 and parts[0] == "messages" and parts[2] == "answers":
            return self.answer(parts[1], req)
        return _err("not_found", f"no route {req.method} {req.path}")

    def list_messages(self, q: dict[str, str]) -> Reply:
        limit = int(q.get("limit", 50))
        if limit > 100:
            return _err("bad_request", "limit must be at most 100")
        items = sorted(self.data["messages"], key=_key)
        if q.get("region"):
            items = [m for m in items if m.get("region") == q["region"]]
        if q.get("status"):
            wanted = set(q["status"].split(","))
            items = [m for m in items if m["status"] in wanted]
        if q.get("updated_since"):
            since = datetime.fromisoformat(q["updated_since"])
            items = [m for m in items if datetime.fromisoformat(m["updated_at"]) >= since]
        if q.get("cursor"):
            at, mid = base64.urlsafe_b64decode(q["cursor"].encode()).decode().split("|")
            after = (datetime.fromisoformat(at), mid)
            items = [m for m in items if _key(m) > after]
        page = items[:limit]
        nxt = None
        if len(items) > limit:
            last = page[-1]
            nxt = base64.urlsafe_b64encode(f"{last['updated_at']}|{last['id']}".encode()).decode()
        return Reply(200, {"items": page, "next_cursor": nxt})

    def answer(self, message_id: str, req: Request) -> Reply:
        if not any(m["id"] == message_id for m in self.data["messages"]):
            return _err("not_found", f"message {message_id} not found")
        key = req.headers.get("idempotency-key")
        if not key:
            return _err("bad_request", "Idempotency-Key header is required")
        if key in self.answers:
            return Reply(200, self.answers[key])
        body = req.json() or {}
        if not isinstance(body.get("text"), str) or not body["text"].strip():
            return _err("bad_request", "text is required")
        answer = {
            "id": f"ANS-{len(self.answers) + 1:05d}",
            "message_id": message_id,
            "text": body["text"],
            "final": bool(body.get("final", True)),
            "created_at": "2026-11-23T12:00:00+03:00",
        }
        self.answers[key] = answer
        hook = getattr(self, "on_create", None)
        if hook is not None:  # the crash tests kill the sender here: stored, not yet answered
            hook(req)
        return Reply(201, answer)
