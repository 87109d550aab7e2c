"""`incidents doctor`: one harmless read per configured source and reply channel, with the real
credentials, before anyone relies on them.

Our adapters are tested against fakes; the first contact with the live services should not be
the first crawl or the first reply to a resident. Each check makes one read that changes
nothing (VK `wall.get count=1`, `newsfeed.search count=1`, `streaming.getServerUrl`,
`groups.getTokenPermissions`; OK `group.getStatTopics count=1`, `users.getCurrentUser`;
Telegram `connect` + `is_user_authorized` + each chat's entity; the platform's
`GET /messages?limit=1`; SMTP `EHLO` (+ `LOGIN`); Bot API `getMe`) and says, in Russian, what
works, what is missing and which environment variable or right fixes it.

A check is `ok`, `missing` (no credentials: the source or channel is simply off), `off` (a
disabled source, its credentials not needed) or `broken` (credentials present but refused,
a right missing, the service unreachable). A disabled source with credentials is still
checked: the person deploying wants to know before enabling it. Endpoints are injectable
(`Endpoints`) so that the tests point every check at the fakes.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from core.config import RegionConfig
from crawlers.base import SourceNotConfigured, SourceStopped
from crawlers.errors import ApiBug, Backoff, SkipObject, TokenInvalid
from crawlers.ratelimit import RateLimiter

OK, MISSING, OFF, BROKEN = "ok", "missing", "off", "broken"
LABELS = {OK: "работает", MISSING: "не настроено", OFF: "выключено", BROKEN: "НЕ РАБОТАЕТ"}


@dataclass(slots=True)
class Check:
    """One line of the report: what was checked, its state, what was seen and how to fix it."""

    name: str
    status: str
    detail: str = ""
    fix: str = ""


@dataclass(slots=True)
class Endpoints:
    """Where the services are: the real ones by default, the fakes in tests."""

    vk_session: Any = None  # a requests.Session (vk_api's base URL is fixed; tests redirect it)
    ok_api_url: str | None = None
    pos_base_url: str | None = None
    bot_api_url: str | None = None
    telegram_client: Callable[[], Any] | None = None
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(slots=True)
class Report:
    checks: list[Check]

    @property
    def broken(self) -> list[Check]:
        return [c for c in self.checks if c.status == BROKEN]


def _fix_for(exc: BaseException, var: str) -> str:
    if isinstance(exc, TokenInvalid):
        return f"выпустите новый ключ и положите его в {var}"
    if isinstance(exc, SourceStopped):
        return "сервис не отвечает или ограничил запросы: повторите позже, проверьте сеть и прокси"
    return ""


def _api_check(name: str, var: str, fn: Callable[[], str], *, right: str = "") -> Check:
    """Run one read through our clients and turn the shared error classes into a report line."""
    try:
        return Check(name, OK, fn())
    except TokenInvalid as exc:
        return Check(name, BROKEN, f"ключ отклонён: {exc}", _fix_for(exc, var))
    except SkipObject as exc:
        return Check(name, BROKEN, f"нет доступа: {exc.reason}", right or f"проверьте права ключа {var}")
    except SourceStopped as exc:
        return Check(name, BROKEN, str(exc), _fix_for(exc, var))
    except ApiBug as exc:
        return Check(name, BROKEN, f"метод отвергнут: {exc}", right or "сообщите разработчикам")
    except (SourceNotConfigured, ValueError) as exc:
        return Check(name, BROKEN, str(exc), right)


# --------------------------------------------------------------------------- VK
def _vk_client(token: str, var: str, ep: Endpoints) -> Any:
    from crawlers.vk_client import VkClient

    return VkClient(
        token=token,
        source_id="doctor:vk",
        session=ep.vk_session,
        limiter=RateLimiter(0),
        backoff=Backoff(retries=0),
        token_var=var,
    )


def _vk_source(source: Any, ep: Endpoints) -> Check:
    from crawlers.vk_client import SERVICE_VAR, TOKEN_VAR

    kind, params = source.kind, source.params
    var = SERVICE_VAR if kind == "streaming" else TOKEN_VAR
    name = f"источник {source.id} (VK, {kind})"
    token = ep.env.get(var, "").strip()
    if not token:
        return Check(name, BROKEN if source.enabled else MISSING, f"{var} не задан", f"задайте {var}")
    client = _vk_client(token, var, ep)
    if kind == "wall":
        where = {"owner_id": params["owner_id"]} if "owner_id" in params else {"domain": params.get("domain")}

        def read() -> str:
            resp = client.call("wall.get", {**where, "count": 1}, "wall.get")
            return f"стена {where} доступна, записей: {resp.get('count', '?')}"

        return _api_check(name, var, read, right="стена закрыта для этого ключа: нужен доступ к сообществу")
    if kind == "newsfeed":
        q = params.get("q") or (params.get("queries") or [""])[0]
        return _api_check(
            name,
            var,
            lambda: (
                f"поиск работает, найдено {client.call('newsfeed.search', {'q': q, 'count': 1}).get('total_count', '?')}"
            ),
        )
    return _api_check(
        name,
        var,
        lambda: f"сервер потока: {client.call('streaming.getServerUrl', {}).get('endpoint', '?')}",
        right=f"в {var} нужен сервисный ключ приложения VK",
    )


def _vk_channel(ep: Endpoints) -> Check:
    name = "ответы VK (wall.createComment)"
    var = next((v for v in ("VK_REPLY_TOKEN", "VK_TOKEN") if ep.env.get(v, "").strip()), None)
    if var is None:
        return Check(
            name, MISSING, "VK_REPLY_TOKEN не задан: ответы в VK не отправляются", "задайте VK_REPLY_TOKEN"
        )
    client = _vk_client(ep.env[var].strip(), var, ep)

    def read() -> str:
        resp = client.call("groups.getTokenPermissions", {}, "groups.getTokenPermissions")
        rights = {p.get("name") for p in resp.get("permissions") or []}
        if "wall" not in rights:
            raise ValueError(
                f"у ключа нет права wall (есть: {', '.join(sorted(map(str, rights))) or 'никаких'})"
            )
        return f"ключ сообщества, права: {', '.join(sorted(map(str, rights)))}"

    return _api_check(
        name,
        var,
        read,
        right=f"нужен ключ доступа сообщества с правом «стена» (wall) в {var}",
    )


# --------------------------------------------------------------------------- OK
def _ok_client(ep: Endpoints, api_url: str | None) -> tuple[Any, list[str]]:
    from crawlers.ok import API_URL, KEY_VAR, SECRET_VAR, TOKEN_VAR, OkClient

    values = {v: ep.env.get(v, "").strip() for v in (KEY_VAR, SECRET_VAR, TOKEN_VAR)}
    missing = [k for k, v in values.items() if not v]
    if missing:
        return None, missing
    client = OkClient(
        application_key=values[KEY_VAR],
        secret_key=values[SECRET_VAR],
        access_token=values[TOKEN_VAR],
        source_id="doctor:ok",
        api_url=ep.ok_api_url or api_url or API_URL,
        http=httpx.Client(timeout=15),
        limiter=RateLimiter(0),
        backoff=Backoff(retries=0),
    )
    return client, []


def _ok_source(source: Any, ep: Endpoints) -> Check:
    name = f"источник {source.id} (ОК, группа)"
    client, missing = _ok_client(ep, source.params.get("api_url"))
    if client is None:
        return Check(
            name,
            BROKEN if source.enabled else MISSING,
            f"не заданы: {', '.join(missing)}",
            "задайте ключи приложения ОК",
        )
    gid = str(source.params.get("gid") or source.params.get("group_id"))

    def read() -> str:
        resp = client.call("group.getStatTopics", {"gid": gid, "count": 1}, "group.getStatTopics")
        return f"подпись верна, темы группы {gid} читаются ({len(resp.get('topics') or [])} на пробу)"

    return _api_check(
        name,
        "OK_ACCESS_TOKEN",
        read,
        right=f"нужен токен администратора группы {gid} с правами GROUP_CONTENT и VALUABLE_ACCESS",
    )


def _ok_channel(ep: Endpoints) -> Check:
    name = "ответы ОК (discussions.addDiscussionComment)"
    client, missing = _ok_client(ep, None)
    if client is None:
        return Check(name, MISSING, f"не заданы: {', '.join(missing)}", "задайте ключи приложения ОК")
    return _api_check(
        name,
        "OK_ACCESS_TOKEN",
        lambda: f"подпись верна, аккаунт {client.call('users.getCurrentUser', {}).get('uid', '?')}",
        right="проверьте OK_APPLICATION_KEY, OK_APPLICATION_SECRET_KEY и OK_ACCESS_TOKEN",
    )


# --------------------------------------------------------------------------- Telegram
def _telegram(sources: list[Any], ep: Endpoints) -> list[Check]:
    """The session once, then each configured chat's entity (by username, or `c<id>` through
    the dialogs as the crawler and the replies resolve it)."""
    from telethon import errors as tg

    from crawlers.telegram import HASH_VAR, ID_VAR, SESSION_VAR, resolve_entity, telethon_client

    values = {v: ep.env.get(v, "").strip() for v in (ID_VAR, HASH_VAR, SESSION_VAR)}
    missing = [k for k, v in values.items() if not v]
    name = "Telegram: сессия (чтение и ответы)"
    if missing and ep.telegram_client is None:
        status = BROKEN if any(s.enabled for s in sources) else MISSING
        return [
            Check(
                name,
                status,
                f"не заданы: {', '.join(missing)}",
                "войдите в Telethon и сохраните StringSession",
            )
        ]
    factory = ep.telegram_client or (
        lambda: telethon_client(int(values[ID_VAR]), values[HASH_VAR], values[SESSION_VAR])
    )
    chats = [
        (s.id, str(ref))
        for s in sources
        for ref in (s.params.get("channels") or []) + (s.params.get("chats") or [])
    ]

    async def go() -> list[Check]:
        client = factory()
        out: list[Check] = []
        try:
            await client.connect()
            if not await client.is_user_authorized():
                return [
                    Check(
                        name,
                        BROKEN,
                        "сессия не авторизована",
                        f"войдите заново и положите StringSession в {SESSION_VAR}",
                    )
                ]
            out.append(Check(name, OK, "сессия авторизована"))
            for source_id, ref in chats:
                chat = f"источник {source_id}: чат {ref}"
                try:
                    entity = await resolve_entity(client, ref)
                    out.append(Check(chat, OK, f"найден: {getattr(entity, 'title', ref)}"))
                except (ValueError, tg.RPCError) as exc:
                    out.append(
                        Check(
                            chat,
                            BROKEN,
                            f"{type(exc).__name__}: {exc}",
                            "добавьте аккаунт сессии в этот чат или исправьте имя",
                        )
                    )
        except (tg.AuthKeyUnregisteredError, tg.SessionRevokedError) as exc:
            return [
                Check(
                    name,
                    BROKEN,
                    f"сессия отозвана ({type(exc).__name__})",
                    f"войдите заново и положите StringSession в {SESSION_VAR}",
                )
            ]
        except (ConnectionError, OSError, TimeoutError) as exc:
            return [Check(name, BROKEN, f"нет связи с Telegram: {exc}", "проверьте сеть")]
        finally:
            await client.disconnect()
        return out

    return asyncio.run(go())


# --------------------------------------------------------------------------- ПОС, SMTP, Bot API
def _pos(cfg: RegionConfig, sources: list[Any], ep: Endpoints) -> Check:
    from crawlers.pos import TOKEN_VAR, PosClient

    name = "платформа обратной связи (ПОС): источник и ответы"
    base = ep.pos_base_url or next(
        (str(s.params["base_url"]) for s in sources if s.params.get("base_url")), None
    )
    base = base or ep.env.get("POS_BASE_URL", "").strip() or None
    token = ep.env.get(TOKEN_VAR, "").strip()
    if not token or not base:
        need = [
            n for n, v in ((TOKEN_VAR, token), ("base_url (sources.yaml) или POS_BASE_URL", base)) if not v
        ]
        status = BROKEN if any(s.enabled for s in sources) else MISSING
        return Check(name, status, f"не заданы: {', '.join(need)}", f"задайте {' и '.join(need)}")
    client = PosClient(
        base_url=base,
        token=token,
        source_id="doctor:pos",
        http=httpx.Client(timeout=15),
        limiter=RateLimiter(0),
        backoff=Backoff(retries=0),
    )
    return _api_check(
        name,
        TOKEN_VAR,
        lambda: (
            f"токен принят, сообщения читаются ({len((client.messages({'limit': 1}) or {}).get('items') or [])} на пробу)"
        ),
        right=f"токену в {TOKEN_VAR} нужны права на чтение сообщений региона",
    )


def _smtp(ep: Endpoints) -> Check:
    name = "почта (SMTP) для уведомлений"
    host, sender = ep.env.get("SMTP_HOST", "").strip(), ep.env.get("SMTP_FROM", "").strip()
    if not host or not sender:
        return Check(
            name,
            MISSING,
            "SMTP_HOST и SMTP_FROM не заданы",
            "задайте SMTP_HOST, SMTP_FROM (и SMTP_USER/SMTP_PASSWORD)",
        )
    port = int(ep.env.get("SMTP_PORT") or 25)
    try:
        with smtplib.SMTP(host, port, timeout=15) as smtp:
            smtp.ehlo()
            if ep.env.get("SMTP_STARTTLS", "0") == "1":
                smtp.starttls()
            if ep.env.get("SMTP_USER"):
                smtp.login(ep.env["SMTP_USER"], ep.env.get("SMTP_PASSWORD", ""))
            smtp.noop()
    except smtplib.SMTPAuthenticationError as exc:
        return Check(name, BROKEN, f"вход отклонён: {exc}", "проверьте SMTP_USER и SMTP_PASSWORD")
    except (OSError, smtplib.SMTPException) as exc:
        return Check(
            name, BROKEN, f"{host}:{port}: {type(exc).__name__}: {exc}", "проверьте SMTP_HOST и SMTP_PORT"
        )
    return Check(name, OK, f"{host}:{port} отвечает")


def _bot(ep: Endpoints) -> Check:
    name = "Telegram-бот для уведомлений (getMe)"
    token = ep.env.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        return Check(
            name,
            MISSING,
            "TELEGRAM_BOT_TOKEN не задан",
            "создайте бота у @BotFather и задайте TELEGRAM_BOT_TOKEN",
        )
    base = (ep.bot_api_url or ep.env.get("TELEGRAM_BOT_API_URL") or "https://api.telegram.org").rstrip("/")
    try:
        body = httpx.get(f"{base}/bot{token}/getMe", timeout=15).json()
    except (httpx.HTTPError, ValueError) as exc:
        return Check(name, BROKEN, f"Bot API недоступен: {exc}", "проверьте сеть или TELEGRAM_BOT_API_URL")
    if not body.get("ok"):
        return Check(
            name,
            BROKEN,
            f"ошибка {body.get('error_code')}: {body.get('description')}",
            "выпустите новый токен у @BotFather и задайте TELEGRAM_BOT_TOKEN",
        )
    return Check(name, OK, f"бот @{body['result'].get('username')}")


# --------------------------------------------------------------------------- all
def run_doctor(cfg: RegionConfig, ep: Endpoints | None = None) -> Report:
    """Every network source of the region (enabled or not) and every reply and notice channel."""
    ep = ep or Endpoints()
    checks: list[Check] = []
    network_sources = [s for s in cfg.sources.sources if s.network != "replay"]
    telegram = [s for s in network_sources if s.network == "telegram" and s.kind in ("channel", "chat")]
    pos = [s for s in network_sources if s.network == "pos"]
    for s in network_sources:
        if s.network == "vk":
            checks.append(_vk_source(s, ep))
        elif s.network == "ok":
            checks.append(_ok_source(s, ep))
        elif s.network == "telegram" and s.kind == "preview":
            checks.append(Check(f"источник {s.id} (t.me/s)", OK if s.enabled else OFF, "ключи не нужны"))
    for c in checks:
        if c.status == MISSING:
            source_id = c.name.split()[1]
            if not any(s.id == source_id and s.enabled for s in network_sources):
                c.status = OFF
    checks += _telegram(telegram, ep)
    checks.append(_pos(cfg, pos, ep))
    checks += [_vk_channel(ep), _ok_channel(ep), _smtp(ep), _bot(ep)]
    return Report(checks)
