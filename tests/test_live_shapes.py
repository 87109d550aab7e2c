"""Issue 23: our clients against what the platforms document, one test per finding.

Each test here failed on the code before issue 23 (the row of the issue's table is named):
the fakes now answer as the platforms' own descriptions say (../shared/api), not as our
clients expected.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from crawlers.base import SourceStopped
from crawlers.errors import Backoff
from crawlers.ok import OkClient
from crawlers.ratelimit import RateLimiter
from crawlers.vk import VkClient
from incidents.services.channels import OkChannel, SendRejected, SendRetry, VkChannel
from tests import vk_schema
from tests.fakes.base import redirected_session
from tests.fakes.ok import OPEN_METHODS, FakeOk
from tests.fakes.telegram_bot import TOKEN as BOT_TOKEN
from tests.fakes.telegram_bot import FakeBotApi
from tests.fakes.vk import TOKEN, FakeVk


def _vk_client(vk: FakeVk, retries: int = 0) -> VkClient:
    return VkClient(
        token=TOKEN,
        source_id="replies:vk",
        session=redirected_session({"https://api.vk.ru/method/": f"{vk.url}/method/"}),
        limiter=RateLimiter(0),
        backoff=Backoff(retries=retries, sleep=lambda s: None),
    )


NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TARGET = {"owner_id": -100001, "post_id": 1011, "reply_to_comment": 2101}


# --------------------------------------------------------------------------- row 4
@pytest.mark.parametrize(
    ("listed", "code", "reason"),
    [("closed_comments", 213, "закрыло ответы"), ("no_links", 222, "ссылки")],
)
def test_vk_refusals_213_and_222_fail_for_good_with_a_reason_staff_can_read(
    listed: str, code: int, reason: str
) -> None:
    """Row 4: before, 213/222 were unknown codes, hence «a bug in the request»; now permanent
    refusals with a Russian reason (the outbox records them as failed and audits them)."""
    with FakeVk() as vk:
        vk.data.setdefault(listed, []).append("-100001_1011")
        with pytest.raises(SendRejected) as err:
            VkChannel(_vk_client(vk)).send(TARGET, "Ответ, подробности: https://example.ru", "k1")
    assert reason in str(err.value) and f"ошибка {code}" in str(err.value)
    assert "bug" not in str(err.value)


def test_vk_223_too_many_replies_is_retried_later() -> None:
    """Row 4: 223 was treated as our bug and the reply rejected for good; now it waits."""
    with FakeVk() as vk:
        vk.data["reply_flood"] = ["-100001_1011"]
        with pytest.raises(SendRetry):
            VkChannel(_vk_client(vk)).send(TARGET, "Ответ", "k1")
        vk.data["reply_flood"] = []
        assert VkChannel(_vk_client(vk)).send(TARGET, "Ответ", "k1").startswith("comment-100001_")


# --------------------------------------------------------------------------- row 5
def test_vk_a_resend_after_a_crash_is_prevented_by_reading_the_thread() -> None:
    """Row 5: VK's `guid` on a repeat is undocumented (the fake ignores it); the channel is no
    longer trusted as idempotent and finds its comment in the thread instead."""
    with FakeVk() as vk:
        channel = VkChannel(_vk_client(vk))
        assert channel.idempotent is False  # the outbox asks find_sent before any resend
        assert channel.find_sent(TARGET, "Ответ ЦУР", "k1") is None
        remote = channel.send(TARGET, "Ответ ЦУР", "k1")
        assert channel.find_sent(TARGET, "Ответ ЦУР", "k1") == remote
        assert channel.find_sent(TARGET, "Другой ответ", "k1") is None
        top = {"owner_id": -100001, "post_id": 1011}
        remote_top = channel.send(top, "Ответ под записью", "k2")
        assert channel.find_sent(top, "Ответ под записью", "k2") == remote_top


# --------------------------------------------------------------------------- row 7
def test_vk_captcha_is_translated_into_our_error_policy() -> None:
    """Row 7: vk_api raises its own `Captcha` for error 14, which escaped the policy; now the
    source stops for now (a person must act), and a reply waits."""
    with FakeVk() as vk:
        vk.fail("wall.get", 14)
        with pytest.raises(SourceStopped, match="14"):
            _vk_client(vk, retries=3).call("wall.get", {"owner_id": -100001, "count": 1})
        vk.fail("wall.createComment", 14)
        with pytest.raises(SendRetry):
            VkChannel(_vk_client(vk)).send(TARGET, "Ответ", "k1")


def test_bot_api_uses_link_preview_options() -> None:
    """Row 7: `disable_web_page_preview` is gone from the Bot API reference (the fake refuses it)."""
    from incidents.services.notify import TelegramBotNotifier

    with FakeBotApi() as bot:
        notifier = TelegramBotNotifier(token=BOT_TOKEN, base_url=bot.url, http=httpx.Client(timeout=5))
        assert notifier.send("-1002000000001", "Тема", "Текст https://example.ru") == "1"
    assert bot.bodies[0]["link_preview_options"] == {"is_disabled": True}
    assert "disable_web_page_preview" not in bot.bodies[0]


# --------------------------------------------------------------------------- OK: rows 1, 2, 6
OK_METHODS_MD = vk_schema.ROOT.parent / "shared" / "api" / "ok-methods.md"


def _ok_open_list() -> dict[str, set[str]]:
    """ok-methods.md as {method: parameters}: `- \\`name\\`(a, b, c)` lines."""
    import re

    out: dict[str, set[str]] = {}
    for m in re.finditer(r"^- `([\w.]+)`\(([^)]*)\)", OK_METHODS_MD.read_text("utf-8"), re.M):
        out.setdefault(m[1], set()).update(p.strip() for p in m[2].split(",") if p.strip())
    return out


@pytest.mark.skipif(not OK_METHODS_MD.is_file(), reason=f"OK's open method list not found at {OK_METHODS_MD}")
def test_the_ok_fake_serves_only_the_open_list() -> None:
    """The fake's methods and parameters are OK's published ones, so the clients are held to them."""
    listed = _ok_open_list()
    for method, params in OPEN_METHODS.items():
        assert method in listed, f"{method} is not on OK's open list"
        assert set(params) == listed[method], method


def _ok_client(ok: FakeOk) -> OkClient:
    d = ok.data
    return OkClient(
        application_key=d["application_key"],
        secret_key=d["application_secret_key"],
        access_token=d["access_token"],
        source_id="ok-group",
        api_url=f"{ok.url}/fb.do",
        http=httpx.Client(timeout=5),
        limiter=RateLimiter(0),
        backoff=Backoff(retries=0, sleep=lambda s: None),
    )


def test_ok_reply_uses_add_discussion_comment_with_its_documented_parameters() -> None:
    """Row 1: `discussions.comment` does not exist (error 3 from the fake, as from OK)."""
    with FakeOk() as ok:
        channel = OkChannel(_ok_client(ok))
        target = {"topic_id": "155000000000012", "reply_to": "MTU1MDAwMDAwMDAwMTI6MQ"}
        remote = channel.send(target, "Ответ ЦУР", "k1")
        [call] = ok.api_calls("discussions.addDiscussionComment")
        assert (call["entityId"], call["entityType"], call["comment"], call["as_admin"]) == (
            "155000000000012",
            "GROUP_TOPIC",
            "Ответ ЦУР",
            "true",
        )
        assert call["reply_to_comment_id"] == "MTU1MDAwMDAwMDAwMTI6MQ"
        # row 6: after a crash the group's comment is found by `author_ref`, not by author_type
        assert channel.find_sent(target, "Ответ ЦУР", "k1") == remote
        assert OkChannel(_ok_client(ok), group_id="1").find_sent(target, "Ответ ЦУР", "k1") is None


def test_ok_group_crawl_calls_only_open_methods(engine, clock) -> None:
    """Row 2: `mediatopic.getTopics` is not on the open list (the fake answers error 3)."""
    from crawlers.ok import OkGroupSource
    from tests.fakes.dbcheck import crawl, post_keys

    with FakeOk() as ok:
        src = OkGroupSource(
            source_id="ok-group", client=_ok_client(ok), gid="70000001234567", now=lambda: NOW
        )
        crawl(engine, src, clock)
        assert {p["method"] for p in ok.api_calls()} <= set(OPEN_METHODS)
        assert ok.api_calls("group.getStatTopics") and ok.api_calls("mediatopic.getByIds")
    assert "ok:topic155000000000012" in post_keys(engine)


def test_ok_comment_fields_as_documented() -> None:
    """Row 6: a comment's time is `created_ms` (or `date`), its author `author_ref`."""
    from crawlers.ok import comment_record

    rec = comment_record(
        {"id": "c1", "created_ms": 1795420200000, "author_ref": "user:580000000001", "text": "Нет воды"},
        "70000001234567",
        "155000000000012",
        "ok-group",
        {"user:580000000001": "Галина Пахомова"},
    )
    assert rec.created_at == datetime(2026, 11, 23, 7, 50, tzinfo=UTC)
    assert (rec.author_id, rec.author_name) == ("user:580000000001", "Галина Пахомова")
    by_date = comment_record(
        {"id": "c2", "date": "2026-11-23 10:50:00", "author_ref": "group:7"}, "g", "t", "s", {}
    )
    assert by_date.created_at == datetime(2026, 11, 23, 7, 50, tzinfo=UTC) and by_date.author_id == "group:7"


# --------------------------------------------------------------------------- row 3: Telegram
def test_telegram_replies_into_a_discussion_group_with_one_client_per_run() -> None:
    """Row 3: `get_entity(PeerChannel(id))` raises ValueError in a fresh session; the reply now
    finds the `c<id>` group among the account's dialogs, and two replies share one client."""
    from incidents.services.channels import TelegramChannel
    from tests.fakes.telegram import FakeTelegramClient

    tg = FakeTelegramClient()
    made: list[FakeTelegramClient] = []
    channel = TelegramChannel(lambda: made.append(tg) or tg)
    first = channel.send({"chat": "c1500000002", "reply_to": 502}, "Ответ ЦУР", "k1")
    second = channel.send({"chat": "c1500000002", "reply_to": 504}, "Ещё ответ", "k2")
    assert first.startswith("c1500000002/") and second.startswith("c1500000002/")
    assert len(made) == 1 and tg.connects == 1
    channel.close()
    assert not tg.connected


def test_telegram_a_chat_the_account_is_not_in_fails_with_the_reason() -> None:
    """Row 3: Telethon's ValueError used to escape the outbox; now a refusal saying what to do."""
    from incidents.services.channels import TelegramChannel
    from tests.fakes.telegram import FakeTelegramClient

    tg = FakeTelegramClient()
    next(e for e in tg.data["entities"] if e["id"] == 1500000002)["dialog"] = False
    channel = TelegramChannel(lambda: tg)
    with pytest.raises(SendRejected, match="не состоит"):
        channel.send({"chat": "c1500000002", "reply_to": 502}, "Ответ", "k1")
    channel.close()


def test_telegram_a_resumed_crawl_still_reads_the_discussion_group(sqlite_engine, clock) -> None:
    """Row 3: a new process (fresh session, empty cache) resumes from the cursor; the group has
    left the dialogs list, so only the access hash kept in the cursor finds it."""
    import copy

    from crawlers.telegram import TelegramSource
    from tests.fakes.dbcheck import crawl, cursor, post_keys
    from tests.fakes.telegram import FakeTelegramClient

    async def no_sleep(seconds: float) -> None:
        return None

    def source(tg: FakeTelegramClient) -> TelegramSource:
        return TelegramSource(
            source_id="tg", client_factory=lambda: tg, sleep=no_sleep, channels=["kursk_info"], chats=[]
        )

    first = FakeTelegramClient()
    crawl(sqlite_engine, source(first), clock)
    assert isinstance(cursor(sqlite_engine, "tg")["groups"]["c1500000002"].get("access_hash"), int)
    data = copy.deepcopy(first.data)
    next(e for e in data["entities"] if e["id"] == 1500000002)["dialog"] = False
    data["messages"]["1500000002"].append(
        {"id": 599, "date": "2026-11-23T09:00:00+00:00", "text": "Воды так и нет.", "from_user": 42}
    )
    crawl(sqlite_engine, source(FakeTelegramClient(data)), clock)
    assert "telegram:c1500000002/599" in post_keys(sqlite_engine)
