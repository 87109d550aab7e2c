"""Issue 23: our clients against what the platforms document, one test per finding.

Each test here failed on the code before issue 23 (the row of the issue's table is named):
the fakes now answer as the platforms' own descriptions say (../shared/api), not as our
clients expected.
"""

from __future__ import annotations

import httpx
import pytest

from crawlers.base import SourceStopped
from crawlers.errors import Backoff
from crawlers.ratelimit import RateLimiter
from crawlers.vk import VkClient
from incidents.services.channels import SendRejected, SendRetry, VkChannel
from tests.fakes.base import redirected_session
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
