"""Where an answer is published: back under each post, in the network it was written in.

One small class per network, each a thin client over the same transports the crawlers use:

* VK — `wall.createComment` under the post, `reply_to_comment` the resident's comment, as the
  community (`from_group`), with `guid`. What VK answers to a repeated `guid` is undocumented,
  so after a crash the channel reads the thread (`wall.getComments`) for the community's
  comment with the same text before sending again. Refusals (errors.json): 213 replying
  closed and 222 links forbidden fail for good with a reason staff can read; 223 too many
  replies waits and retries; 14 captcha waits.
* OK — a comment in the group topic's discussion (`discussions.addDiscussionComment`:
  `entityId` the topic, `entityType=GROUP_TOPIC`, `comment` the text, `reply_to_comment_id`
  the resident's comment, `as_admin=true` to write as the group — the method and parameters of
  OK's open list). OK has no idempotency key: after a crash the channel looks at the topic's
  comments (`discussions.getComments`) for a comment by the group (`author_ref` `group:…`) with
  the same text replying to the same comment before sending again.
* Telegram — `send_message(chat, text, reply_to=message id)` through Telethon; no key either:
  the check reads the chat's recent messages for one of ours (`out`) replying to the same
  message with the same text.
* ПОС — `POST /messages/{id}/answers` with the `Idempotency-Key` header (crawlers.pos).

A channel raises `SendRetry` for what may pass (rate limits, network trouble, 5xx),
`SendRejected` for what will not (comments closed, message gone, bad request) and
`SendUnknown` when the request may have been carried out but the answer was lost. Credentials
come from the environment only; a network without them is not built (`ChannelMissing`) and
the outbox reports that network as dry run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import httpx

from crawlers.base import SourceNotConfigured, SourceStopped
from crawlers.errors import ApiBug, Backoff, SkipObject, TransientFailure

OK_COMMENT_METHOD = "discussions.addDiscussionComment"  # on OK's open list (ok-methods.md)


class SendRetry(Exception):
    """Try again later (rate limit, network trouble, a 5xx)."""


class SendRejected(Exception):
    """The network refuses this reply for good: failed, with the reason."""


class SendUnknown(Exception):
    """The request went out but no answer came back: it may have been carried out."""


class ChannelMissing(Exception):
    """No credentials for this network: its replies wait (dry run)."""


class Channel(Protocol):
    network: str
    idempotent: bool  # the remote deduplicates by our key: a resend is safe

    def send(self, target: dict[str, Any], text: str, key: str) -> str: ...

    def find_sent(self, target: dict[str, Any], text: str, key: str) -> str | None: ...


# --------------------------------------------------------------------------- targets
_INTERCHANGE = re.compile(r"^(?P<owner>-?\d+)_(?P<post>\d+)(?:_c(?P<comment>\w+))?$")


def target_for(
    network: str, external_id: str, parent_id: str | None, author_id: str | None = None
) -> dict[str, Any]:
    """Where the answer to a stored post goes, from the post's identity as the crawlers store it
    (`wall…`, `comment…`, `topic…`) or as the interchange format writes it (`owner_post`,
    `owner_post_cCOMMENT` for VK, `group_topic`, `group_topic_cCOMMENT` for OK)."""
    m = _INTERCHANGE.match(external_id) if network in ("vk", "ok") else None
    if m is not None and network == "vk":
        out: dict[str, Any] = {"owner_id": int(m["owner"]), "post_id": int(m["post"])}
        if m["comment"]:
            out["reply_to_comment"] = int(m["comment"])
        return out
    if m is not None and network == "ok":
        out = {"topic_id": m["post"]}
        if m["comment"]:
            out["reply_to"] = m["comment"]
        return out
    if network == "vk":
        # wall{owner}_{post} or comment{owner}_{comment} with parent wall{owner}_{post}
        if external_id.startswith("comment"):
            owner, cid = external_id[len("comment") :].split("_", 1)
            if not parent_id or not parent_id.startswith("wall"):
                raise ValueError(f"vk comment {external_id} has no parent post")
            _, post = parent_id[len("wall") :].split("_", 1)
            return {"owner_id": int(owner), "post_id": int(post), "reply_to_comment": int(cid)}
        owner, post = external_id[len("wall") :].split("_", 1)
        return {"owner_id": int(owner), "post_id": int(post)}
    if network == "ok":
        if external_id.startswith("comment"):
            if not parent_id or not parent_id.startswith("topic"):
                raise ValueError(f"ok comment {external_id} has no parent topic")
            return {"topic_id": parent_id[len("topic") :], "reply_to": external_id[len("comment") :]}
        return {"topic_id": external_id[len("topic") :]}
    if network == "telegram":
        chat, msg = external_id.rsplit("/", 1)
        return {"chat": chat, "reply_to": int(msg)}
    if network == "pos":
        return {"message_id": external_id}
    raise ValueError(f"no channel for network {network!r}")


# --------------------------------------------------------------------------- VK
VK_REFUSALS: dict[int, str] = {
    212: "комментарии к записи закрыты",
    213: "сообщество закрыло ответы под записью",
    222: "сообщество запрещает ссылки в комментариях: уберите ссылку из ответа",
    15: "нет доступа к записи",
    18: "страница удалена или заблокирована",
}
"""What staff read on a reply VK refuses for good (codes from VK's errors.json)."""


class VkChannel:
    """`wall.createComment` under the post. The `guid` is sent, but what VK answers to a repeat is
    undocumented (errors.json and the method's schema say nothing), so after a crash the thread
    is read for our comment before anything is sent again (`find_sent`)."""

    network, idempotent = "vk", False
    TOKEN_VARS = ("VK_REPLY_TOKEN", "VK_TOKEN")

    def __init__(self, client: Any, *, from_group: bool = True, lookback: int = 100) -> None:
        self.client, self.from_group, self.lookback = client, from_group, lookback

    @classmethod
    def from_env(cls, session: Any = None) -> VkChannel:
        from crawlers.vk_client import VkClient

        token = next((os.environ[v] for v in cls.TOKEN_VARS if os.environ.get(v, "").strip()), None)
        if not token:
            raise ChannelMissing("VK_REPLY_TOKEN (a community token with the wall right) is not set")
        return cls(
            VkClient(
                token=token,
                source_id="replies:vk",
                session=session,
                backoff=Backoff(retries=0),
                token_var="VK_REPLY_TOKEN",
            )
        )

    def send(self, target: dict[str, Any], text: str, key: str) -> str:
        params: dict[str, Any] = {
            "owner_id": target["owner_id"],
            "post_id": target["post_id"],
            "message": text,
            "guid": key,
        }
        if target.get("reply_to_comment"):
            params["reply_to_comment"] = target["reply_to_comment"]
        if self.from_group and int(target["owner_id"]) < 0:
            params["from_group"] = abs(int(target["owner_id"]))
        try:
            resp = _translate(lambda: self.client.call("wall.createComment", params, "wall.createComment"))
        except SendRejected as exc:
            code = _error_code(exc)
            if code in VK_REFUSALS:
                raise SendRejected(f"{VK_REFUSALS[code]} (VK, ошибка {code}): {exc}") from exc
            raise
        if not isinstance(resp, dict) or "comment_id" not in resp:
            raise SendUnknown(f"wall.createComment answered {resp!r}")
        return f"comment{target['owner_id']}_{resp['comment_id']}"

    def find_sent(self, target: dict[str, Any], text: str, key: str) -> str | None:
        """Our comment with this text where the reply was going (the thread of the resident's
        comment, or the post's comments), newest first: the last `lookback` are enough, the
        check runs right after a crash."""
        owner = int(target["owner_id"])
        params: dict[str, Any] = {
            "owner_id": owner,
            "post_id": target["post_id"],
            "count": self.lookback,
            "sort": "desc",
        }
        if target.get("reply_to_comment"):
            params["comment_id"] = target["reply_to_comment"]
        resp = _translate(lambda: self.client.call("wall.getComments", params, "wall.getComments"))
        ours = owner if self.from_group and owner < 0 else None
        for c in (resp.get("items") if isinstance(resp, dict) else None) or []:
            if not isinstance(c, dict) or c.get("text") != text:
                continue
            if ours is not None and c.get("from_id") != ours:
                continue
            return f"comment{owner}_{c['id']}"
        return None


# --------------------------------------------------------------------------- OK
class OkChannel:
    network, idempotent = "ok", False

    def __init__(self, client: Any, *, group_id: str | None = None) -> None:
        self.client, self.group_id = client, group_id

    @classmethod
    def from_env(cls, api_url: str | None = None, http: httpx.Client | None = None) -> OkChannel:
        from crawlers.ok import API_URL, KEY_VAR, SECRET_VAR, TOKEN_VAR, OkClient

        values = {v: os.environ.get(v, "").strip() for v in (KEY_VAR, SECRET_VAR, TOKEN_VAR)}
        missing = [k for k, v in values.items() if not v]
        if missing:
            raise ChannelMissing(f"{', '.join(missing)} not set")
        return cls(
            OkClient(
                application_key=values[KEY_VAR],
                secret_key=values[SECRET_VAR],
                access_token=values[TOKEN_VAR],
                source_id="replies:ok",
                api_url=api_url or API_URL,
                http=http,
                backoff=Backoff(retries=0),
            )
        )

    def send(self, target: dict[str, Any], text: str, key: str) -> str:
        params = {
            "entityId": target["topic_id"],
            "entityType": "GROUP_TOPIC",
            "comment": text,
            "as_admin": "true",
        }
        if target.get("reply_to"):
            params["reply_to_comment_id"] = target["reply_to"]
        resp = _translate(lambda: self.client.call(OK_COMMENT_METHOD, params, OK_COMMENT_METHOD))
        cid = resp.get("id") if isinstance(resp, dict) else resp if isinstance(resp, str) else None
        if not cid:
            raise SendUnknown(f"{OK_COMMENT_METHOD} answered {resp!r}")
        return f"comment{cid}"

    def find_sent(self, target: dict[str, Any], text: str, key: str) -> str | None:
        anchor: str | None = None
        for _ in range(50):  # at most 5,000 comments: a bound, topics are far smaller
            params: dict[str, Any] = {
                "discussionId": target["topic_id"],
                "discussionType": "GROUP_TOPIC",
                "count": 100,
            }
            if anchor:
                params["anchor"] = anchor
            resp = _translate(
                functools.partial(
                    self.client.call, "discussions.getComments", params, "discussions.getComments"
                )
            )
            for c in resp.get("comments") or []:
                author = str(c.get("author_ref") or "")
                ours = author == f"group:{self.group_id}" if self.group_id else author.startswith("group:")
                if (
                    ours
                    and c.get("text") == text
                    and (c.get("reply_to_comment_id") or None) == (target.get("reply_to") or None)
                ):
                    return f"comment{c['id']}"
            if not resp.get("has_more"):
                return None
            anchor = resp.get("anchor")
        return None


# --------------------------------------------------------------------------- Telegram
class TelegramSender(Protocol):
    """The part of `telethon.TelegramClient` replies use (same names and arguments)."""

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def get_entity(self, entity: Any) -> Any: ...

    async def get_dialogs(self, limit: float | None = None) -> Any: ...

    async def get_messages(self, entity: Any, limit: float | None = None, **kw: Any) -> Any: ...

    async def send_message(
        self, entity: Any, message: str = "", *, reply_to: Any = None, **kw: Any
    ) -> Any: ...


class TelegramChannel:
    """Replies through Telethon. One client (one connection, one entity cache) per outbox run,
    not per reply: `close()` ends it (`Channels.close`, called by the outbox). A chat without a
    username (`c<id>`, a channel's discussion group) is resolved through the account's dialogs
    when the session has not seen it (`crawlers.telegram.resolve_entity`); a chat the account
    is not in fails with that reason instead of escaping as Telethon's `ValueError`."""

    network, idempotent = "telegram", False

    def __init__(self, client_factory: Callable[[], TelegramSender], *, lookback: int = 100) -> None:
        self.client_factory, self.lookback = client_factory, lookback
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: TelegramSender | None = None
        self._entities: dict[str, Any] = {}

    @classmethod
    def from_env(cls) -> TelegramChannel:
        from crawlers.telegram import HASH_VAR, ID_VAR, SESSION_VAR, telethon_client

        values = {v: os.environ.get(v, "").strip() for v in (ID_VAR, HASH_VAR, SESSION_VAR)}
        missing = [k for k, v in values.items() if not v]
        if missing:
            raise ChannelMissing(f"{', '.join(missing)} not set")

        def connect() -> TelegramSender:
            # the real TelegramClient: the crawler's port and this sender are two views of it
            return cast(
                TelegramSender, telethon_client(int(values[ID_VAR]), values[HASH_VAR], values[SESSION_VAR])
            )

        return cls(connect)

    def _run(self, fn: Callable[[TelegramSender], Any]) -> Any:
        from telethon import errors as tg

        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()

        async def go() -> Any:
            if self._client is None:
                client = self.client_factory()
                await client.connect()
                self._client = client
            return await fn(self._client)

        try:
            return self._loop.run_until_complete(go())
        except tg.FloodWaitError as exc:
            raise SendRetry(f"Telegram asks to wait {exc.seconds} s") from exc
        except (
            tg.ChatWriteForbiddenError,
            tg.ChannelPrivateError,
            tg.ChannelInvalidError,
            tg.MessageIdInvalidError,
            tg.UserBannedInChannelError,
            tg.MessageEmptyError,
            tg.MessageTooLongError,
        ) as exc:
            raise SendRejected(f"{type(exc).__name__}: {exc}") from exc
        except (tg.AuthKeyUnregisteredError, tg.SessionRevokedError) as exc:
            raise SendRetry(
                f"token invalid ({type(exc).__name__}): put a new StringSession in TELEGRAM_SESSION"
            ) from exc
        except (ConnectionError, TimeoutError, OSError) as exc:
            self._drop()  # the next send connects again
            raise SendUnknown(f"{type(exc).__name__}: {exc}") from exc
        except ValueError as exc:  # get_entity: the chat is unknown to this account
            raise SendRejected(str(exc)) from exc

    def _drop(self) -> None:
        self._client = None
        self._entities.clear()

    def close(self) -> None:
        """Disconnect the run's client and close its loop (the outbox calls this once per run)."""
        if self._loop is None or self._loop.is_closed():
            return
        if self._client is not None:
            with contextlib.suppress(Exception):  # closing after a failure: nothing more to do
                self._loop.run_until_complete(self._client.disconnect())
        self._drop()
        self._loop.close()

    async def _entity(self, client: TelegramSender, chat: str) -> Any:
        from crawlers.telegram import resolve_entity

        if chat not in self._entities:
            self._entities[chat] = await resolve_entity(client, chat)
        return self._entities[chat]

    def send(self, target: dict[str, Any], text: str, key: str) -> str:
        async def go(client: TelegramSender) -> str:
            entity = await self._entity(client, target["chat"])
            msg = await client.send_message(entity, text, reply_to=target.get("reply_to"))
            return f"{target['chat']}/{msg.id}"

        return self._run(go)

    def find_sent(self, target: dict[str, Any], text: str, key: str) -> str | None:
        async def go(client: TelegramSender) -> str | None:
            entity = await self._entity(client, target["chat"])
            for m in await client.get_messages(entity, limit=self.lookback) or []:
                reply = getattr(getattr(m, "reply_to", None), "reply_to_msg_id", None)
                if getattr(m, "out", False) and m.message == text and reply == target.get("reply_to"):
                    return f"{target['chat']}/{m.id}"
            return None

        return self._run(go)


# --------------------------------------------------------------------------- ПОС
class PosChannel:
    network, idempotent = "pos", True

    def __init__(self, client: Any) -> None:
        self.client = client

    @classmethod
    def from_env(cls, base_url: str | None, http: httpx.Client | None = None) -> PosChannel:
        from crawlers.pos import TOKEN_VAR, PosClient

        token = os.environ.get(TOKEN_VAR, "").strip()
        base_url = base_url or os.environ.get("POS_BASE_URL", "").strip()
        if not token or not base_url:
            raise ChannelMissing(
                f"{TOKEN_VAR} and the platform's base_url (sources.yaml or POS_BASE_URL) are needed"
            )
        return cls(
            PosClient(
                base_url=base_url, token=token, source_id="replies:pos", http=http, backoff=Backoff(retries=0)
            )
        )

    def send(self, target: dict[str, Any], text: str, key: str) -> str:
        resp = _translate(
            lambda: self.client.post_answer(
                target["message_id"], text, key, final=bool(target.get("final", True))
            )
        )
        if not isinstance(resp, dict) or not resp.get("id"):
            raise SendUnknown(f"the platform answered {resp!r}")
        return str(resp["id"])

    def find_sent(self, target: dict[str, Any], text: str, key: str) -> str | None:
        return None  # the Idempotency-Key makes a resend return the answer already published


# --------------------------------------------------------------------------- shared
def _translate(fn: Callable[[], Any]) -> Any:
    """Run a crawler-client call and turn the shared error classes into the outbox's three."""
    try:
        return fn()
    except SkipObject as exc:
        raise SendRejected(exc.reason) from exc
    except ApiBug as exc:
        raise SendRejected(str(exc)) from exc
    except SourceStopped as exc:  # the client's retries are off: one transient failure stops it
        if _lost_answer(exc):
            raise SendUnknown(str(exc)) from exc
        raise SendRetry(str(exc)) from exc
    except SourceNotConfigured as exc:  # TokenInvalid: a person must issue a new token
        raise SendRetry(str(exc)) from exc
    except TransientFailure as exc:
        if _lost_answer(exc):
            raise SendUnknown(str(exc)) from exc
        raise SendRetry(str(exc)) from exc


def _error_code(exc: BaseException) -> int | str | None:
    """The network's error code behind a translated exception (the ApiFailure's payload), if any."""
    cause: BaseException | None = exc
    while cause is not None:
        payload = getattr(cause, "payload", None)
        if isinstance(payload, dict) and "error_code" in payload:
            return payload["error_code"]
        cause = cause.__cause__
    return None


def _lost_answer(exc: BaseException) -> bool:
    """A timeout or a dropped connection after the request went out: the outcome is unknown."""
    text = str(exc)
    return any(
        w in text
        for w in (
            "ReadTimeout",
            "RemoteProtocolError",
            "ReadError",
            "ConnectionResetError",
            "RemoteDisconnected",
            "ProtocolError",
        )
    )


@dataclass(slots=True)
class Channels:
    """The networks we can publish to now, and why the others are dry run."""

    available: dict[str, Channel]
    missing: dict[str, str]

    def get(self, network: str) -> Channel | None:
        return self.available.get(network)

    def close(self) -> None:
        """End what the channels hold open for a run (the Telegram client)."""
        for channel in self.available.values():
            close = getattr(channel, "close", None)
            if callable(close):
                close()


def build_channels(cfg: Any) -> Channels:
    """Channels from the environment; the ПОС base URL from the first `pos` source in sources.yaml."""
    available: dict[str, Channel] = {}
    missing: dict[str, str] = {}
    pos_url = next(
        (
            str(s.params.get("base_url"))
            for s in cfg.sources.sources
            if s.network == "pos" and s.params.get("base_url")
        ),
        None,
    )
    builders: dict[str, Callable[[], Channel]] = {
        "vk": VkChannel.from_env,
        "ok": OkChannel.from_env,
        "telegram": TelegramChannel.from_env,
        "pos": lambda: PosChannel.from_env(pos_url),
    }
    for network, build in builders.items():
        try:
            available[network] = build()
        except ChannelMissing as exc:
            missing[network] = str(exc)
    return Channels(available, missing)
