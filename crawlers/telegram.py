"""Telegram through Telethon: channels and chats from config, and the comments of channel posts.

The adapter talks to Telegram only through `TelegramPort`, the handful of `TelegramClient`
coroutines it uses, with their real names and signatures; production passes a real
`TelegramClient` (a `StringSession` from the environment), tests a fake object with the same
methods that returns real Telethon `Message` objects.

Each configured channel or chat is read forward from the last message id stored
(`get_messages(entity, min_id=…, reverse=True)`), page by page. Channel posts whose
`replies.comments` point to a linked discussion group add that group to the work: its messages
are the comments; the group's automatic copy of a channel post is not stored again but maps the
comments under it to the channel post (`parent_id`). After the new messages, the last
`recheck` messages of each chat are read again by id: a changed text updates the stored one
(history kept), a message that is gone is flagged deleted.

`FloodWaitError` is honoured: the adapter sleeps the asked seconds (injectable sleep) when they
are at most `flood_max_wait`, otherwise the source stops for now and resumes from its cursor.
The client's own automatic flood sleep is off (`flood_sleep_threshold=0`), so every wait is ours.

Network faults — a dropped connection (`ConnectionError`, `OSError`), a timeout, Telegram's own
transient answers (`ServerError` and its kind: `RpcCallFailError`, `WorkerBusyTooLongRetryError`;
`TimedOutError`) — are retried with exponential back-off (`crawlers.errors.Backoff`, the shared
policy; the client is asked to reconnect first) and after `backoff.retries` tries the source
stops (`SourceStopped`) with its cursor at the last stored page, as for every network.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from telethon import errors as tg_errors
from telethon.tl import types

from core.interchange import PayloadError
from core.records import PostRecord
from crawlers.base import BadRecord, FetchResult, SourceNotConfigured, SourceStopped
from crawlers.errors import ApiBug, Backoff, SkipObject, TokenInvalid, bad_record, require_env, since_ts

log = logging.getLogger(__name__)

ID_VAR, HASH_VAR, SESSION_VAR = "TELEGRAM_API_ID", "TELEGRAM_API_HASH", "TELEGRAM_SESSION"
Sleep = Callable[[float], Awaitable[None]]
# Transient: worth retrying with back-off. ServerError covers RpcCallFailError, RpcMcgetFailError and
# WorkerBusyTooLongRetryError (Telegram's 500s); TimedOutError is its -503 "Timeout"; the builtin
# ConnectionError/OSError/TimeoutError are what Telethon raises when the connection drops or hangs.
TRANSIENT = (
    ConnectionError,
    TimeoutError,
    asyncio.TimeoutError,
    OSError,
    tg_errors.ServerError,
    tg_errors.TimedOutError,
)


class TelegramPort(Protocol):
    """The part of `telethon.TelegramClient` the adapter uses (same names, same arguments)."""

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def is_user_authorized(self) -> bool: ...

    async def get_entity(self, entity: Any) -> Any: ...

    async def get_dialogs(self, limit: float | None = None) -> Any: ...

    async def get_messages(
        self,
        entity: Any,
        limit: float | None = None,
        *,
        min_id: int = 0,
        offset_date: datetime | None = None,
        ids: Sequence[int] | None = None,
        reverse: bool = False,
    ) -> Any: ...


def telethon_client(api_id: int, api_hash: str, session: str) -> TelegramPort:
    """The real client: StringSession, no automatic flood sleeps (the adapter decides)."""
    from telethon import TelegramClient
    from telethon.sessions import StringSession

    return TelegramClient(
        StringSession(session),
        api_id,
        api_hash,
        flood_sleep_threshold=0,
        receive_updates=False,
    )


async def resolve_entity(client: Any, ref: str, access_hash: int | None = None) -> Any:
    """A chat by its reference: a username, or `c<id>` for a chat without one (a channel's
    discussion group).

    Telethon resolves a bare `PeerChannel(id)` only from its session's entity cache, and a
    fresh `StringSession` has none: `ValueError`. So a `c<id>` chat is tried with the access
    hash stored from an earlier run, then from the cache, then from the account's dialogs
    (which carry every chat it is in, with its hash). A chat in none of them raises
    `ValueError` naming what to do; callers translate it (the crawler skips the chat, a reply
    fails with the reason)."""
    if not (ref.startswith("c") and ref[1:].isdigit()):
        return await client.get_entity(ref)
    chat_id = int(ref[1:])
    if access_hash is not None:
        try:
            return await client.get_entity(types.InputPeerChannel(chat_id, access_hash))
        except (ValueError, tg_errors.ChannelInvalidError):
            log.info("%s: the stored access hash no longer works; looking the chat up again", ref)
    try:
        return await client.get_entity(types.PeerChannel(chat_id))
    except ValueError:
        pass
    for dialog in await client.get_dialogs() or []:
        entity = getattr(dialog, "entity", None)
        if getattr(entity, "id", None) == chat_id:
            return entity
    raise ValueError(
        f"чат {ref} не найден: аккаунт из TELEGRAM_SESSION в нём не состоит (нет среди диалогов) — "
        "добавьте аккаунт в чат"
    )


# --------------------------------------------------------------------------- message → record
def chat_key(entity: Any) -> str:
    username = getattr(entity, "username", None)
    return username.lower() if username else f"c{entity.id}"


def chat_url(entity: Any, msg_id: int) -> str:
    username = getattr(entity, "username", None)
    return f"https://t.me/{username}/{msg_id}" if username else f"https://t.me/c/{entity.id}/{msg_id}"


def _jsonable(msg: Any) -> dict[str, Any]:
    return json.loads(json.dumps(msg.to_dict(), ensure_ascii=False, default=str))


def message_record(msg: Any, entity: Any, source_id: str, parent_id: str | None = None) -> PostRecord:
    if not isinstance(msg, types.Message):
        raise PayloadError(f"expected a Message, got {type(msg).__name__}")
    if msg.date is None or not isinstance(msg.id, int):
        raise PayloadError("message without id or date")
    text = msg.message or ""
    if not isinstance(text, str):
        raise PayloadError(f"message: expected a string, got {type(text).__name__}")
    key = chat_key(entity)
    author: str | None = key
    if isinstance(msg.from_id, types.PeerUser):
        author = f"user{msg.from_id.user_id}"
    elif isinstance(msg.from_id, types.PeerChannel):
        author = f"c{msg.from_id.channel_id}"
    likes = sum(r.count for r in (msg.reactions.results if msg.reactions else []))
    return PostRecord(
        network="telegram",
        external_id=f"{key}/{msg.id}",
        source_id=source_id,
        text=text,
        created_at=msg.date.astimezone(UTC),
        parent_id=parent_id,
        url=chat_url(entity, msg.id),
        author_id=author,
        author_name=msg.post_author or getattr(entity, "title", None) if author == key else msg.post_author,
        likes=likes,
        reposts=msg.forwards or 0,
        views=msg.views or 0,
        raw=_jsonable(msg),
    )


# --------------------------------------------------------------------------- the adapter
class TelegramSource:
    def __init__(
        self,
        *,
        source_id: str,
        client_factory: Callable[[], TelegramPort],
        channels: Sequence[str] = (),
        chats: Sequence[str] = (),
        comments: bool = True,
        page_size: int = 100,
        recheck: int = 20,
        first_run_limit: int = 200,
        flood_max_wait: float = 300,
        since: datetime | None = None,
        sleep: Sleep | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.source_id, self.client_factory = source_id, client_factory
        self.since = since
        self.targets = [("channel", c) for c in channels] + [("chat", c) for c in chats]
        self.comments, self.page_size, self.recheck = comments, page_size, recheck
        self.first_run_limit, self.flood_max_wait = first_run_limit, flood_max_wait
        self.sleep: Sleep = sleep or asyncio.sleep
        self.backoff = backoff or Backoff()  # its delays; the waiting is `sleep` (async)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: TelegramPort | None = None
        self._entities: dict[str, Any] = {}

    @classmethod
    def from_settings(cls, source_id: str, params: dict[str, Any], root: Path) -> TelegramSource:
        channels, chats = list(params.get("channels") or []), list(params.get("chats") or [])
        if not channels and not chats:
            raise SourceNotConfigured(
                f"telegram source {source_id!r}: params.channels and params.chats are empty"
            )
        api_id_text = require_env(ID_VAR, source_id, "the api_id of your application at my.telegram.org")
        api_hash = require_env(HASH_VAR, source_id, "the api_hash of your application at my.telegram.org")
        session = require_env(SESSION_VAR, source_id, "a Telethon StringSession of the reading account")
        try:
            api_id = int(api_id_text)
        except ValueError as exc:
            raise SourceNotConfigured(f"source {source_id!r}: {ID_VAR} must be a number") from exc
        return cls(
            source_id=source_id,
            client_factory=lambda: telethon_client(api_id, api_hash, session),
            channels=channels,
            chats=chats,
            comments=bool(params.get("comments", params.get("include_comments", True))),
            page_size=int(params.get("page_size", params.get("limit", 100))),
            recheck=int(params.get("recheck", 20)),
            first_run_limit=int(params.get("first_run_limit", 200)),
            flood_max_wait=float(params.get("flood_max_wait", 300)),
            since=datetime.fromtimestamp(ts, UTC)
            if params.get("since") and (ts := since_ts(params)) is not None
            else None,
        )

    # -- sync facade over the async client
    def fetch(self, cursor: dict[str, Any] | None) -> FetchResult:
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        try:
            result = self._loop.run_until_complete(self._fetch(json.loads(json.dumps(cursor or {}))))
        except BaseException:
            self.close()
            raise
        if result.done:
            self.close()
        return result

    def close(self) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        if self._client is not None:
            try:
                self._loop.run_until_complete(self._client.disconnect())
            except Exception:  # closing after a failure: nothing more to do
                log.debug("disconnect failed", exc_info=True)
        self._client = None
        self._entities.clear()
        self._loop.close()

    async def _call(self, what: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        """One Telegram call: flood waits honoured, network faults retried with back-off (bounded),
        errors translated to the shared classes."""
        floods = faults = 0
        while True:
            try:
                return await fn()
            except tg_errors.FloodWaitError as exc:
                if exc.seconds > self.flood_max_wait:
                    raise SourceStopped(
                        f"{self.source_id}: {what}: Telegram asks to wait {exc.seconds} s "
                        f"(more than {self.flood_max_wait:g}); resume later"
                    ) from exc
                floods += 1
                if floods > 5:
                    raise SourceStopped(
                        f"{self.source_id}: {what}: flood waits keep coming; resume later"
                    ) from exc
                log.warning("%s: %s: flood wait %d s", self.source_id, what, exc.seconds)
                await self.sleep(exc.seconds)
            except (
                tg_errors.AuthKeyUnregisteredError,
                tg_errors.SessionRevokedError,
                tg_errors.AuthKeyDuplicatedError,
                tg_errors.UserDeactivatedError,
            ) as exc:
                raise TokenInvalid(
                    f"{self.source_id}: token invalid ({type(exc).__name__}); log in again and put "
                    f"the new StringSession in {SESSION_VAR}"
                ) from exc
            except (
                tg_errors.ChannelPrivateError,
                tg_errors.ChannelInvalidError,
                tg_errors.UsernameNotOccupiedError,
                tg_errors.UsernameInvalidError,
                tg_errors.ChatAdminRequiredError,
            ) as exc:
                raise SkipObject(what, f"{type(exc).__name__}: {exc}") from exc
            except TRANSIENT as exc:  # before ValueError/RPCError: ServerError is an RPCError
                reason = f"{type(exc).__name__}: {exc}"
                if faults >= self.backoff.retries:
                    raise SourceStopped(
                        f"{self.source_id}: {what}: still failing after {faults + 1} tries ({reason}); "
                        "resume later"
                    ) from exc
                delay = self.backoff.delay(faults)
                faults += 1
                log.warning("%s: %s: %s; retry in %.1f s", self.source_id, what, reason, delay)
                await self.sleep(delay)
                await self._reconnect()
            except ValueError as exc:  # get_entity: "No user has … as username"
                raise SkipObject(what, f"ValueError: {exc}") from exc
            except tg_errors.RPCError as exc:
                raise ApiBug(f"{self.source_id}: {what}: {type(exc).__name__}: {exc}") from exc

    async def _reconnect(self) -> None:
        """After a dropped connection: connect again (a no-op for a connected client); a failure here
        is left to the retried call to meet."""
        if self._client is None:
            return
        try:
            await self._client.connect()
        except TRANSIENT:
            log.debug("reconnect failed", exc_info=True)

    async def _client_ready(self) -> TelegramPort:
        if self._client is None:
            client = self.client_factory()
            await self._call("connect", client.connect)
            if not await self._call("is_user_authorized", client.is_user_authorized):
                raise TokenInvalid(
                    f"{self.source_id}: the session in {SESSION_VAR} is not authorized: log in "
                    "once with Telethon and save the StringSession"
                )
            self._client = client
        return self._client

    async def _entity(self, client: TelegramPort, ref: str, state: dict[str, Any] | None = None) -> Any:
        """The chat's entity, once per run; a `c<id>` chat's access hash is kept in the cursor so
        that a resumed crawl (a fresh session with an empty cache) still finds it."""
        if ref not in self._entities:
            stored = (state or {}).get("access_hash")
            self._entities[ref] = await self._call(
                f"get_entity {ref}", lambda: resolve_entity(client, ref, stored)
            )
            hash_ = getattr(self._entities[ref], "access_hash", None)
            if state is not None and ref.startswith("c") and isinstance(hash_, int):
                state["access_hash"] = hash_
        return self._entities[ref]

    def _work(self, cur: dict[str, Any]) -> list[tuple[str, str]]:
        groups = [("group", g) for g in sorted(cur.get("groups", {}))]
        return self.targets + groups

    async def _fetch(self, cur: dict[str, Any]) -> FetchResult:
        client = await self._client_ready()
        cur.setdefault("chats", {})
        cur.setdefault("groups", {})
        work = self._work(cur)
        pos = int(cur.get("pos", 0))
        if pos >= len(work):
            cur.pop("pos", None)
            return FetchResult([], cur, [], done=True)
        kind, ref = work[pos]
        state = (cur["groups"] if kind == "group" else cur["chats"]).setdefault(
            ref, {"min_id": 0, "recent": []}
        )
        try:
            entity = await self._entity(client, ref, state)
        except SkipObject as exc:
            cur["pos"] = pos + 1
            return FetchResult([], cur, [bad_record(exc.what, f"skipped: {exc.reason}", {"chat": ref})])
        if state.get("phase") == "recheck":
            result = await self._recheck(client, cur, kind, ref, entity, state)
            state.pop("phase", None)
            state.pop("since_applied", None)
            cur["pos"] = pos + 1
            return result
        return await self._page(client, cur, kind, ref, entity, state)

    async def _page(
        self,
        client: TelegramPort,
        cur: dict[str, Any],
        kind: str,
        ref: str,
        entity: Any,
        state: dict[str, Any],
    ) -> FetchResult:
        what = f"get_messages {ref} after {state['min_id']}"
        if self.since is not None and not state.get("since_applied"):
            # read back to `since`: start before the first message after it (reverse=True makes
            # offset_date mean "after this date", exclusive), unless the cursor is already earlier
            first = await self._call(
                f"get_messages {ref} after {self.since:%Y-%m-%d %H:%M}",
                lambda: client.get_messages(entity, limit=1, offset_date=self.since, reverse=True),
            )
            state["since_applied"] = True  # once per pass: the pages after this one go on from min_id
            if first:
                start = max(0, first[0].id - 1)
                state["min_id"] = start if state["min_id"] == 0 else min(state["min_id"], start)
            elif state["min_id"] == 0:  # nothing since then: start after the latest message
                latest = await self._call(what, lambda: client.get_messages(entity, limit=1))
                state["min_id"] = latest[0].id if latest else 0
        if state["min_id"] == 0:
            # first run: start from the latest `first_run_limit` messages, not from the beginning of time
            latest = await self._call(what, lambda: client.get_messages(entity, limit=1))
            if latest:
                state["min_id"] = max(0, latest[0].id - self.first_run_limit)
        try:
            msgs = await self._call(
                what,
                lambda: client.get_messages(
                    entity, limit=self.page_size, min_id=state["min_id"], reverse=True
                ),
            )
        except SkipObject as exc:
            state["phase"] = "recheck"
            return FetchResult([], cur, [bad_record(exc.what, f"skipped: {exc.reason}", {"chat": ref})])
        posts, bad = await self._records(client, cur, kind, ref, entity, list(msgs))
        for m in msgs:
            if isinstance(getattr(m, "id", None), int):
                state["min_id"] = max(state["min_id"], m.id)
        stored = [[int(p.external_id.rsplit("/", 1)[1]), int(p.created_at.timestamp())] for p in posts]
        state["recent"] = (state["recent"] + stored)[-self.recheck :] if self.recheck else []
        if len(msgs) < self.page_size:
            state["phase"] = "recheck"
        return FetchResult(posts, cur, bad)

    async def _records(
        self, client: TelegramPort, cur: dict[str, Any], kind: str, ref: str, entity: Any, msgs: list[Any]
    ) -> tuple[list[PostRecord], list[BadRecord]]:
        posts: list[PostRecord] = []
        bad: list[BadRecord] = []
        roots: dict[str, str] = {}
        if kind == "group":
            roots = await self._learn_roots(client, cur, ref, entity, msgs)
        for m in msgs:
            where = f"{ref}/{getattr(m, 'id', '?')}"
            if m is None or isinstance(m, types.MessageService):
                continue
            if not isinstance(m, types.Message):
                bad.append(bad_record(where, f"expected a Message, got {type(m).__name__}", repr(m)))
                continue
            if (
                kind != "group"
                and self.comments
                and m.replies
                and m.replies.comments
                and m.replies.channel_id
            ):
                cur["groups"].setdefault(f"c{m.replies.channel_id}", {"min_id": 0, "recent": [], "of": ref})
            parent = None
            if kind == "group":
                if m.fwd_from and m.fwd_from.channel_post:
                    continue  # the group's copy of a channel post: stored from the channel
                top = m.reply_to.reply_to_top_id or m.reply_to.reply_to_msg_id if m.reply_to else None
                if top is not None:
                    parent = roots.get(str(top)) or f"{chat_key(entity)}/{top}"
            elif kind == "chat" and m.reply_to and m.reply_to.reply_to_msg_id:
                parent = f"{chat_key(entity)}/{m.reply_to.reply_to_msg_id}"
            if m.message is None or (isinstance(m.message, str) and not m.message.strip()):
                continue  # media without a caption: nothing to read
            try:
                posts.append(message_record(m, entity, self.source_id, parent))
            except PayloadError as exc:
                bad.append(bad_record(where, str(exc), _jsonable(m)))
        return posts, bad

    async def _learn_roots(
        self, client: TelegramPort, cur: dict[str, Any], ref: str, entity: Any, msgs: list[Any]
    ) -> dict[str, str]:
        """Map the discussion group's copies of channel posts to the posts (for parent_id)."""
        state = cur["groups"][ref]
        roots: dict[str, str] = state.setdefault("roots", {})
        channel = state.get("of")

        def learn(m: Any) -> None:
            if isinstance(m, types.Message) and m.fwd_from and m.fwd_from.channel_post and channel:
                roots[str(m.id)] = f"{channel.lower()}/{m.fwd_from.channel_post}"

        for m in msgs:
            learn(m)
        wanted = sorted(
            {
                (m.reply_to.reply_to_top_id or m.reply_to.reply_to_msg_id)
                for m in msgs
                if isinstance(m, types.Message) and m.reply_to
            }
            - {int(k) for k in roots}
        )
        if wanted:
            found = await self._call(
                f"get_messages {ref} ids", lambda: client.get_messages(entity, ids=wanted)
            )
            for m in found or []:
                learn(m)
        if len(roots) > 500:
            for k in sorted(roots, key=int)[:-500]:
                del roots[k]
        return roots

    async def _recheck(
        self,
        client: TelegramPort,
        cur: dict[str, Any],
        kind: str,
        ref: str,
        entity: Any,
        state: dict[str, Any],
    ) -> FetchResult:
        """Read the last messages again: edits update the text, messages gone are flagged deleted."""
        recent = [tuple(r) for r in state.get("recent") or []]
        if not recent:
            return FetchResult([], cur, [])
        ids = [r[0] for r in recent]
        try:
            found = await self._call(
                f"get_messages {ref} recheck", lambda: client.get_messages(entity, ids=ids)
            )
        except SkipObject as exc:
            return FetchResult([], cur, [bad_record(exc.what, f"skipped: {exc.reason}", {"chat": ref})])
        found = list(found or [])
        posts, bad = await self._records(client, cur, kind, ref, entity, [m for m in found if m is not None])
        alive = []
        for (msg_id, date), m in zip(recent, found, strict=False):
            if m is None:
                posts.append(
                    PostRecord(
                        network="telegram",
                        external_id=f"{chat_key(entity)}/{msg_id}",
                        source_id=self.source_id,
                        text="",
                        created_at=datetime.fromtimestamp(date, UTC),
                        deleted=True,
                        raw={"deleted": True, "detected": "get_messages(ids) found nothing"},
                    )
                )
            else:
                alive.append([msg_id, date])
        state["recent"] = alive
        return FetchResult(posts, cur, bad)
