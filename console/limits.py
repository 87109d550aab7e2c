"""A request body size limit, enforced before the body is read.

An unauthenticated 300 MB `POST /login` grew the server from 145 MB to 1.3 GB before it
answered 403 (issue 19, F5): the form was read whole before anything looked at it. The console
takes forms of a few kilobytes (a reply text is the largest), so anything over `MAX_BODY_BYTES`
is refused with 413: at once when `Content-Length` says so, otherwise (chunked) as soon as the
bytes received pass the limit — never more than the limit is held.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 1024 * 1024
_MESSAGE = "Запрос слишком большой.".encode()


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware: 413 for a request body over `max_bytes`, before the app reads it."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        try:
            too_long = declared is not None and int(declared) > self.max_bytes
        except ValueError:
            too_long = True  # a Content-Length that is not a number: not a request we serve
        if too_long:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    @staticmethod
    async def _refuse(send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(_MESSAGE)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _MESSAGE})
