"""A fake Telegram Bot API on 127.0.0.1: `POST /bot<token>/sendMessage` and `getMe`.

Source of the shapes: the Bot API reference, core.telegram.org/bots/api (sendMessage, getMe,
User, Message, LinkPreviewOptions). Answers as the Bot API does: `{"ok": true, "result": …}`,
or `{"ok": false, "error_code", "description"}` — 401 for a wrong token, 400 "chat not found"
for an unknown chat (when `chats` is given), 429 with `parameters.retry_after` when told to
`flood`. Stricter than the real one in one way: a sendMessage field that the reference no
longer lists (`disable_web_page_preview`, replaced by `link_preview_options` in Bot API 7.0)
is refused with 400, so that our client cannot come to depend on it.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.base import FakeServer, Reply, Request

TOKEN = "7000000001:AAtest-bot-token"
SEND_MESSAGE_FIELDS = {
    "business_connection_id",
    "chat_id",
    "message_thread_id",
    "direct_messages_topic_id",
    "text",
    "parse_mode",
    "entities",
    "link_preview_options",
    "disable_notification",
    "protect_content",
    "allow_paid_broadcast",
    "message_effect_id",
    "suggested_post_parameters",
    "reply_parameters",
    "reply_markup",
}
"""sendMessage's parameters in the Bot API reference (core.telegram.org/bots/api#sendmessage)."""


class FakeBotApi(FakeServer):
    def __init__(self, token: str = TOKEN, chats: set[str] | None = None) -> None:
        super().__init__()
        self.token, self.chats = token, chats
        self.sent: list[dict[str, Any]] = []
        self.floods = 0
        self.bodies: list[dict[str, Any]] = []  # what sendMessage received, as sent

    def flood(self, times: int = 1) -> None:
        self.floods += times

    def handle(self, req: Request) -> Reply:
        prefix = f"/bot{self.token}/"
        if not req.path.startswith("/bot"):
            return Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        if not req.path.startswith(prefix):
            return Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        method = req.path[len(prefix) :]
        if method == "getMe":
            return Reply(
                200,
                {
                    "ok": True,
                    "result": {
                        "id": int(self.token.split(":")[0]),
                        "is_bot": True,
                        "first_name": "ЦУР бот",
                        "username": "cur_test_bot",
                    },
                },
            )
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
        unknown = sorted(set(body) - SEND_MESSAGE_FIELDS)
        if unknown:
            return Reply(
                400,
                {"ok": False, "error_code": 400, "description": f"Bad Request: unknown parameters {unknown}"},
            )
        self.bodies.append(dict(body))
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
