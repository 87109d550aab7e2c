"""A fake Telegram Bot API on 127.0.0.1: `POST /bot<token>/sendMessage`.

Answers as the Bot API does: `{"ok": true, "result": <Message>}`, or `{"ok": false,
"error_code", "description"}` — 401 for a wrong token, 400 "chat not found" for an unknown chat
(when `chats` is given), 429 with `parameters.retry_after` when told to `flood`.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.base import FakeServer, Reply, Request

TOKEN = "7000000001:AAtest-bot-token"


class FakeBotApi(FakeServer):
    def __init__(self, token: str = TOKEN, chats: set[str] | None = None) -> None:
        super().__init__()
        self.token, self.chats = token, chats
        self.sent: list[dict[str, Any]] = []
        self.floods = 0

    def flood(self, times: int = 1) -> None:
        self.floods += times

    def handle(self, req: Request) -> Reply:
        prefix = f"/bot{self.token}/"
        if not req.path.startswith("/bot"):
            return Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        if not req.path.startswith(prefix):
            return Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        method = req.path[len(prefix) :]
        if method != "sendMessage":
            return Reply(404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"})
        body = req.json() if "json" in req.headers.get("content-type", "") else req.params
        if self.floods:
            self.floods -= 1
            return Reply(
                429,
                {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 3",
                    "parameters": {"retry_after": 3},
                },
            )
        chat, text = str(body.get("chat_id", "")), body.get("text")
        if not text:
            return Reply(
                400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
            )
        if not chat or (self.chats is not None and chat not in self.chats):
            return Reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
        message = {
            "message_id": len(self.sent) + 1,
            "date": 1795424400,
            "chat": {"id": int(chat), "type": "group"},
            "text": text,
        }
        self.sent.append(message)
        return Reply(200, {"ok": True, "result": message})
