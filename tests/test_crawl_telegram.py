"""Telegram adapter at Telethon's boundary: a fake client with TelegramClient's coroutines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from telethon import errors

from core.config import SourceConfig
from crawlers.base import SourceStopped
from crawlers.errors import ApiBug, TokenInvalid
from crawlers.telegram import TelegramSource
from incidents.services.processing import crawl_source
from tests.fakes.dbcheck import crawl, cursor, post, post_keys, quarantined, revisions
from tests.fakes.telegram import FakeTelegramClient

CHANNEL = {f"telegram:kursk_info/{i}" for i in (101, 102, 104, 105, 106)}
COMMENTS = {f"telegram:c1500000002/{i}" for i in (502, 504, 505, 506, 508)}
CHAT = {f"telegram:kursk_chat/{i}" for i in (7001, 7002, 7003, 7004, 7005)}


@pytest.fixture
def tg():
    return FakeTelegramClient()


def source(tg: FakeTelegramClient, sleeps: list[float] | None = None, **kw) -> TelegramSource:
    async def sleep(seconds: float) -> None:
        (sleeps if sleeps is not None else []).append(seconds)

    kw.setdefault("channels", ["kursk_info", "closed_channel"])
    kw.setdefault("chats", ["kursk_chat"])
    kw.setdefault("page_size", 2)
    return TelegramSource(source_id="tg", client_factory=lambda: tg, sleep=sleep, **kw)


def test_channels_comments_and_chats_are_read_once(tg, engine, clock):
    crawl(engine, source(tg), clock)
    keys = post_keys(engine)
    assert set(keys) == CHANNEL | COMMENTS | CHAT and max(keys.values()) == 1
    p = post(engine, "telegram:kursk_info/102")
    assert p.views == 22100 and p.reposts == 85 and p.url == "https://t.me/kursk_info/102"
    assert p.author_name == "Курск Инфо" and p.raw["_"] == "Message" and p.raw["id"] == 102
    # comments in the linked discussion group point to the channel post, also replies to replies
    assert post(engine, "telegram:c1500000002/505").parent_id == "kursk_info/102"
    assert post(engine, "telegram:c1500000002/502").parent_id == "kursk_info/101"
    assert post(engine, "telegram:c1500000002/502").url == "https://t.me/c/1500000002/502"
    assert post(engine, "telegram:kursk_chat/7002").parent_id == "kursk_chat/7001"
    assert post(engine, "telegram:kursk_chat/7004").likes == 10
    reasons = sorted(q.reason for q in quarantined(engine))
    assert reasons == [
        "message: expected a string, got int",
        "skipped: ChannelPrivateError: The channel specified "
        "is private and you lack permission to access it. Another reason may be that you were banned "
        "from it (caused by NoneType)",
    ]
    assert not tg.connected  # disconnected when the pass is done
    reads = [c[2] for c in tg.calls if c[0] == "get_messages" and c[2]["reverse"]]
    assert all(r["limit"] == 2 for r in reads)


def test_next_run_reads_from_min_id_and_catches_edits_and_deletions(tg, sqlite_engine, clock):
    crawl(sqlite_engine, source(tg), clock)
    assert cursor(sqlite_engine, "tg")["chats"]["kursk_chat"]["min_id"] == 7006
    chat = tg.messages(1500000003)
    old = next(m for m in chat if m["id"] == 7004)["text"]
    next(m for m in chat if m["id"] == 7004).update(
        text=old + " Аварийка приехала.", edit_date="2026-11-23T08:00:00+00:00"
    )
    tg.data["messages"]["1500000003"] = [m for m in chat if m["id"] != 7003]
    tg.messages(1500000003).append(
        {
            "id": 7007,
            "date": "2026-11-23T08:30:00+00:00",
            "text": "На Сумской до сих пор вода, машины буксуют.",
            "from_user": 9107,
        }
    )
    tg.calls.clear()
    stats = crawl(sqlite_engine, source(tg), clock)
    assert stats.inserted == 1 and "telegram:kursk_chat/7007" in post_keys(sqlite_engine)
    forward = [
        c[2]["min_id"] for c in tg.calls if c[0] == "get_messages" and c[2]["reverse"] and c[1] == 1500000003
    ]
    assert forward == [7006]
    assert revisions(sqlite_engine, "telegram:kursk_chat/7004") == [old]
    gone = post(sqlite_engine, "telegram:kursk_chat/7003")
    assert gone.deleted is True and gone.text.startswith("Продам")


def test_flood_wait_is_honoured(tg, sqlite_engine, clock):
    sleeps: list[float] = []
    tg.flood(7, when=lambda a: a.get("min_id") == 0 and a.get("reverse"))
    crawl(sqlite_engine, source(tg, sleeps), clock)
    assert sleeps == [7]
    assert set(post_keys(sqlite_engine)) == CHANNEL | COMMENTS | CHAT


def test_long_flood_wait_stops_the_source_and_the_next_run_resumes(tg, sqlite_engine, clock):
    tg.flood(3600, when=lambda a: a.get("reverse") and a.get("min_id") == 102)
    with pytest.raises(SourceStopped, match="wait 3600 s"):
        crawl(sqlite_engine, source(tg, flood_max_wait=300), clock)
    assert cursor(sqlite_engine, "tg")["chats"]["kursk_info"]["min_id"] == 102
    assert not tg.connected
    crawl(sqlite_engine, source(tg), clock)
    keys = post_keys(sqlite_engine)
    assert set(keys) == CHANNEL | COMMENTS | CHAT and max(keys.values()) == 1


def test_revoked_or_unauthorized_session_is_a_clear_error(tg, sqlite_engine, clock):
    tg.revoked = True
    with pytest.raises(TokenInvalid, match="AuthKeyUnregisteredError.*TELEGRAM_SESSION"):
        crawl(sqlite_engine, source(tg), clock)
    tg.revoked, tg.authorized = False, False
    with pytest.raises(TokenInvalid, match="TELEGRAM_SESSION is not authorized"):
        crawl(sqlite_engine, source(tg), clock)


def test_missing_credentials_name_the_variable(sqlite_engine, clock, lipetsk, monkeypatch):
    for var in ("TELEGRAM_API_ID", "TELEGRAM_API_HASH", "TELEGRAM_SESSION"):
        monkeypatch.delenv(var, raising=False)
    src = SourceConfig(id="tg", network="telegram", kind="channel", params={"channels": ["kursk_info"]})
    assert "TELEGRAM_API_ID" in crawl_source(sqlite_engine, lipetsk, src, clock).error
    monkeypatch.setenv("TELEGRAM_API_ID", "12345")
    monkeypatch.setenv("TELEGRAM_API_HASH", "0123456789abcdef")
    assert "TELEGRAM_SESSION" in crawl_source(sqlite_engine, lipetsk, src, clock).error


def test_real_client_is_built_without_automatic_flood_sleep():
    from telethon.sessions import StringSession

    from crawlers.telegram import telethon_client

    client = telethon_client(12345, "0123456789abcdef", StringSession().save())
    assert client.flood_sleep_threshold == 0


def test_an_unexpected_rpc_error_fails_loudly(tg, sqlite_engine, clock):
    # PEER_ID_INVALID is a 400 of Telegram that no condition of the network explains: a bug on our side
    tg.fail(errors.PeerIdInvalidError(request=None), when=lambda a: a.get("reverse"))
    with pytest.raises(ApiBug, match="PeerIdInvalidError"):
        crawl(sqlite_engine, source(tg), clock)
    assert not tg.connected


def test_since_reads_back_to_the_date_by_offset_date(tg, sqlite_engine, clock):
    since = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    crawl(sqlite_engine, source(tg, since=since, channels=["kursk_info"], chats=[]), clock)
    channel = {k for k in post_keys(sqlite_engine) if k.startswith("telegram:kursk_info/")}
    assert channel == {"telegram:kursk_info/104", "telegram:kursk_info/105", "telegram:kursk_info/106"}
    first = next(c[2] for c in tg.calls if c[0] == "get_messages" and c[2]["offset_date"])
    assert first["offset_date"] == since and first["reverse"] and first["limit"] == 1
    # `since` wins over a cursor that is past it: the run reads back to it again, and stores nothing twice
    tg.calls.clear()
    stats = crawl(sqlite_engine, source(tg, since=since, channels=["kursk_info"], chats=[]), clock)
    forward = [
        c[2]["min_id"]
        for c in tg.calls
        if c[0] == "get_messages" and c[2]["reverse"] and c[1] == 1500000001 and not c[2]["offset_date"]
    ]
    assert forward == [103, 105] and stats.inserted == 0 and max(post_keys(sqlite_engine).values()) == 1
    # without it, the next run goes on from the cursor
    tg.calls.clear()
    crawl(sqlite_engine, source(tg, channels=["kursk_info"], chats=[]), clock)
    assert [
        c[2]["min_id"] for c in tg.calls if c[0] == "get_messages" and c[2]["reverse"] and c[1] == 1500000001
    ] == [106]
