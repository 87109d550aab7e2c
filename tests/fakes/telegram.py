"""A fake Telegram client at Telethon's boundary.

MTProto cannot be faked locally, so this object stands where `telethon.TelegramClient` stands:
the same coroutine names and arguments (`connect`, `disconnect`, `is_user_authorized`,
`get_entity`, `get_messages(entity, limit, *, min_id, ids, reverse)`), answering with real
Telethon objects (`types.Channel`, `types.Message` with `MessageReplies`, `MessageReplyHeader`,
`MessageFwdHeader`, `MessageReactions`) built from `tests/fixtures/telegram_kursk.json`, and
raising Telethon's own errors (`FloodWaitError`, `ChannelPrivateError`,
`UsernameNotOccupiedError`, `AuthKeyUnregisteredError`).

Entity resolution as Telethon's (its `get_entity`/`get_input_entity` docstrings): a bare
`PeerChannel(id)` resolves only when the session has already seen that chat (`known`: by its
username, in `get_dialogs`, or by an `InputPeerChannel` with the right access hash); otherwise
`ValueError("Could not find the input entity for …")`. A fresh client (a new process with a
`StringSession`) knows nothing: a discussion group `c<id>` without a username is found only
through the account's dialogs or a stored access hash.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from telethon import errors
from telethon.tl import types

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "telegram_kursk.json"


def access_hash(chat_id: int) -> int:
    """The fake's access hash of a chat (the real one is per account; stable is all that matters)."""
    return chat_id * 7


def _entity(e: dict[str, Any]) -> types.Channel:
    return types.Channel(
        id=e["id"],
        title=e["title"],
        photo=types.ChatPhotoEmpty(),
        date=datetime.fromisoformat("2020-01-01T00:00:00+00:00"),
        broadcast=e.get("broadcast"),
        megagroup=e.get("megagroup"),
        username=e.get("username"),
        access_hash=access_hash(e["id"]),
    )


def build_message(chat: dict[str, Any], m: dict[str, Any]) -> types.Message:
    replies = None
    if chat.get("linked") and "replies" in m:
        replies = types.MessageReplies(
            replies=m["replies"], replies_pts=1, comments=True, channel_id=chat["linked"]
        )
    reply_to = None
    if m.get("reply_to"):
        reply_to = types.MessageReplyHeader(
            reply_to_msg_id=m["reply_to"]["msg"], reply_to_top_id=m["reply_to"].get("top")
        )
    fwd = None
    if m.get("fwd_channel_post"):
        src = types.PeerChannel(m.get("fwd_channel", 1500000001))
        fwd = types.MessageFwdHeader(
            date=datetime.fromisoformat(m["date"]),
            from_id=src,
            channel_post=m["fwd_channel_post"],
            saved_from_peer=src,
            saved_from_msg_id=m["fwd_channel_post"],
        )
    reactions = None
    if m.get("reactions"):
        reactions = types.MessageReactions(
            results=[
                types.ReactionCount(reaction=types.ReactionEmoji(emoticon=e), count=n)
                for e, n in m["reactions"]
            ]
        )
    return types.Message(
        id=m["id"],
        peer_id=types.PeerChannel(chat["id"]),
        date=datetime.fromisoformat(m["date"]),
        message=m["text"],
        post=bool(chat.get("broadcast")),
        from_id=types.PeerUser(m["from_user"]) if m.get("from_user") else None,
        views=m.get("views"),
        forwards=m.get("forwards"),
        replies=replies,
        reply_to=reply_to,
        fwd_from=fwd,
        reactions=reactions,
        edit_date=datetime.fromisoformat(m["edit_date"]) if m.get("edit_date") else None,
        out=bool(m.get("out")),
    )


class ProcessKilled(BaseException):
    """Stands for the process being killed: not an Exception, so no handler of ours catches it."""


class FakeTelegramClient:
    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data = data if data is not None else json.loads(FIXTURE.read_text(encoding="utf-8"))
        self.authorized = True
        self.connected = False
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []
        self.floods: list[tuple[int, Any]] = []  # (seconds, predicate on kwargs)
        self.errors: list[tuple[Exception, Any]] = []  # any Telethon error, raised once each
        self.revoked = False
        self.block_at: int | None = None  # hang on this get_messages call (kill-midway tests)
        self.block_marker: Path | None = None
        self.crash_after_send = False
        self.known: set[int] = set()  # chats this session can resolve by bare id (Telethon's entity cache)
        self.connects = 0

    # -- steering
    def flood(self, seconds: int, times: int = 1, when: Any = None) -> None:
        self.floods += [(seconds, when)] * times

    def fail(self, error: Exception, when: Any = None, times: int = 1) -> None:
        """The next `times` get_entity/get_messages calls (matching `when(kwargs)`) raise `error`: a Telethon
        RPCError, or a network fault — `ConnectionError` (the connection drops: the client is disconnected
        until `connect()`), `TimeoutError`."""
        self.errors += [(error, when)] * times

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        return self.data["messages"].setdefault(str(chat_id), [])

    def _chat(self, chat_id: int) -> dict[str, Any]:
        return next(e for e in self.data["entities"] if e["id"] == chat_id)

    # -- the TelegramClient surface
    async def connect(self) -> None:
        self.connected = True
        self.connects += 1

    async def disconnect(self) -> None:
        self.connected = False

    async def is_user_authorized(self) -> bool:
        return self.authorized

    async def get_entity(self, entity: Any) -> Any:
        self.calls.append(("get_entity", entity, {}))
        self._check()
        for e in self.data["entities"]:
            by_name = isinstance(entity, str) and e.get("username") == entity
            by_id = isinstance(entity, types.PeerChannel) and e["id"] == entity.channel_id
            by_hash = isinstance(entity, types.InputPeerChannel) and e["id"] == entity.channel_id
            if not (by_name or by_id or by_hash):
                continue
            if by_id and e["id"] not in self.known:
                break  # as Telethon: a bare id needs the session's cache
            if by_hash and entity.access_hash != access_hash(e["id"]):
                raise errors.ChannelInvalidError(request=None)
            if e.get("private"):
                raise errors.ChannelPrivateError(request=None)
            self.known.add(e["id"])
            return _entity(e)
        if isinstance(entity, str):
            raise errors.UsernameNotOccupiedError(request=None)
        raise ValueError(
            f"Could not find the input entity for {entity!r}. Please read "
            "https://docs.telethon.dev/en/stable/concepts/entities.html to find out more details."
        )

    async def get_dialogs(self, limit: float | None = None, **kw: Any) -> list[Any]:
        """The account's dialogs (every chat it is in, `dialog` not false in the fixture), each
        with its `entity`; as in Telethon, reading them fills the session's entity cache."""
        from types import SimpleNamespace

        self.calls.append(("get_dialogs", None, {"limit": limit}))
        self._check()
        out = []
        for e in self.data["entities"]:
            if e.get("private") or e.get("dialog") is False:
                continue
            self.known.add(e["id"])
            out.append(SimpleNamespace(id=-1000000000000 - e["id"], entity=_entity(e), name=e["title"]))
        return out[: int(limit) if limit else None]

    async def get_messages(
        self,
        entity: Any,
        limit: float | None = None,
        *,
        min_id: int = 0,
        offset_date: datetime | None = None,
        ids: Any = None,
        reverse: bool = False,
        **kw: Any,
    ) -> Any:
        """Telethon's semantics: newest first; `reverse=True` oldest first, and then `offset_date`
        means "after this date" (exclusive) instead of "before"."""
        args = {
            "limit": limit,
            "min_id": min_id,
            "offset_date": offset_date,
            "ids": ids,
            "reverse": reverse,
            **kw,
        }
        self.calls.append(("get_messages", getattr(entity, "id", entity), args))
        n = sum(1 for c in self.calls if c[0] == "get_messages")
        if self.block_at is not None and n >= self.block_at:
            if self.block_marker:
                self.block_marker.write_text("blocked")
            while True:  # until the process is killed
                await asyncio.sleep(0.05)
        self._check(args)
        chat = self._chat(entity.id)
        stored = sorted(self.messages(entity.id), key=lambda m: m["id"])
        if ids is not None:
            by_id = {m["id"]: m for m in stored}
            return [build_message(chat, by_id[i]) if i in by_id else None for i in ids]
        if offset_date is not None:
            after = (
                (lambda m: datetime.fromisoformat(m["date"]) > offset_date)
                if reverse
                else (lambda m: datetime.fromisoformat(m["date"]) < offset_date)
            )
            stored = [m for m in stored if after(m)]
        if reverse:
            chosen = [m for m in stored if m["id"] > min_id][: int(limit) if limit else None]
        else:
            chosen = list(reversed([m for m in stored if m["id"] > min_id]))[: int(limit) if limit else None]
        return [build_message(chat, m) for m in chosen]

    # -- replies (issue 6): send_message(entity, message, reply_to=…)
    async def send_message(self, entity: Any, message: str = "", *, reply_to: Any = None, **kw: Any) -> Any:
        """Posts `message` in the chat as our account (`out=True`), replying to message `reply_to`;
        returns the new `types.Message` as Telethon does. `crash_after_send` makes the call store the
        message and then raise `ProcessKilled` (a BaseException): the sender dies between "sent" and
        "recorded", as in a crash."""
        self.calls.append(
            ("send_message", getattr(entity, "id", entity), {"message": message, "reply_to": reply_to, **kw})
        )
        self._check({"message": message})
        if not message.strip():
            raise errors.MessageEmptyError(request=None)
        chat = self._chat(entity.id)
        stored = self.messages(entity.id)
        reply_id = getattr(reply_to, "id", reply_to)
        if reply_id is not None and not any(m["id"] == reply_id for m in stored):
            raise errors.MessageIdInvalidError(request=None)
        new = {
            "id": max([m["id"] for m in stored] or [0]) + 1,
            "date": "2026-11-23T12:00:00+03:00",
            "text": message,
            "from_user": self.data.get("me", 777000001),
            "out": True,
        }
        if reply_id is not None:
            new["reply_to"] = {"msg": reply_id}
        stored.append(new)
        if self.crash_after_send:
            self.crash_after_send = False
            raise ProcessKilled("the sending process died after Telegram accepted the message")
        return build_message(chat, new)

    def sent(self) -> list[dict[str, Any]]:
        return [m for msgs in self.data["messages"].values() for m in msgs if m.get("out")]

    def _check(self, args: dict[str, Any] | None = None) -> None:
        if not self.connected:  # as Telethon: after a dropped connection, nothing until connect()
            raise ConnectionError("Cannot send requests while disconnected")
        if self.revoked:
            raise errors.AuthKeyUnregisteredError(request=None)
        for i, (error, when) in enumerate(self.errors):
            if when is None or when(args or {}):
                del self.errors[i]
                if isinstance(error, ConnectionError):
                    self.connected = False  # the connection is gone, not just this call
                raise error
        for i, (seconds, when) in enumerate(self.floods):
            if when is None or when(args or {}):
                del self.floods[i]
                raise errors.FloodWaitError(request=None, capture=seconds)
