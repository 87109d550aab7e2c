"""Network faults against the fake servers: retried with back-off, bounded, reported; never a silent gap.

Each HTTP network's real client (VK through vk_api over requests, OK and the feedback
platform through httpx) reads its fake API while the fake plays a fault on cue
(`FakeServer.inject`): a dropped connection, a 503, an answer cut mid-body, a proxy's HTML
page instead of JSON, an answer slower than the client's timeout, a 429 with Retry-After.
The crawl is interrupted after its first page, so every fault hits the middle of a pass:

- a passing fault is retried with exponential back-off (the injected sleep records the
  delays; Retry-After is honoured up to the ceiling) and the crawl completes: every post,
  each once;
- a fault that persists stops the source after `retries` tries (`SourceStopped`, which
  `incidents crawl` reports and exits 3 for), with the stored cursor and posts exactly as
  before the failing page — the next run reads what was not read;
- a slow answer within the timeout is simply waited for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from crawlers.base import SourceAdapter, SourceStopped
from crawlers.errors import Backoff
from crawlers.ok import OkClient, OkGroupSource
from crawlers.pos import PosClient, PosMessagesSource
from crawlers.ratelimit import RateLimiter
from crawlers.vk import VkClient, VkWallSource
from tests.fakes.base import FakeServer, redirected_session
from tests.fakes.dbcheck import crawl, cursor, post_keys
from tests.fakes.ok import FakeOk
from tests.fakes.pos import FakePos
from tests.fakes.vk import TOKEN as VK_TOKEN
from tests.fakes.vk import FakeVk
from tests.test_crawl_ok import COMMENTS as OK_COMMENTS
from tests.test_crawl_ok import GID
from tests.test_crawl_ok import TOPICS as OK_TOPICS
from tests.test_crawl_pos import ALL as POS_ALL
from tests.test_crawl_vk import COMMENTS as VK_COMMENTS
from tests.test_crawl_vk import NOW
from tests.test_crawl_vk import WALL_POSTS as VK_POSTS

TIMEOUT = 1.5  # the clients' timeout in these tests; the "slow" fault waits longer (0.5 s let a loaded CI machine time out a normal answer too)
RETRIES = 3


@dataclass
class Network:
    name: str
    fake: type[FakeServer]
    expected: set[str]
    source_id: str
    build: Callable[[FakeServer, Backoff], SourceAdapter]


def _vk(fake: FakeServer, backoff: Backoff) -> SourceAdapter:
    session = redirected_session({"https://api.vk.ru/method/": f"{fake.url}/method/"})
    client = VkClient(
        token=VK_TOKEN,
        source_id="vk-wall",
        session=session,
        limiter=RateLimiter(0),
        backoff=backoff,
        timeout=TIMEOUT,
    )
    return VkWallSource(source_id="vk-wall", client=client, owner_id=-100001, page_size=3, now=lambda: NOW)


def _ok(fake: FakeServer, backoff: Backoff) -> SourceAdapter:
    d = fake.data  # type: ignore[attr-defined]
    client = OkClient(
        application_key=d["application_key"],
        secret_key=d["application_secret_key"],
        access_token=d["access_token"],
        source_id="ok-group",
        api_url=f"{fake.url}/fb.do",
        http=httpx.Client(timeout=TIMEOUT),
        limiter=RateLimiter(0),
        backoff=backoff,
    )
    return OkGroupSource(
        source_id="ok-group", client=client, gid=GID, page_size=2, comments_page_size=2, now=lambda: NOW
    )


def _pos(fake: FakeServer, backoff: Backoff) -> SourceAdapter:
    client = PosClient(
        base_url=fake.url,
        token=fake.data["token"],
        source_id="pos",  # type: ignore[attr-defined]
        http=httpx.Client(timeout=TIMEOUT),
        limiter=RateLimiter(0),
        backoff=backoff,
    )
    return PosMessagesSource(source_id="pos", client=client, region_code="46", page_size=3, now=lambda: NOW)


NETWORKS = [
    Network("vk", FakeVk, VK_POSTS | VK_COMMENTS, "vk-wall", _vk),
    Network("ok", FakeOk, OK_TOPICS | OK_COMMENTS, "ok-group", _ok),
    Network("pos", FakePos, POS_ALL, "pos", _pos),
]
FAULTS: dict[str, dict[str, Any]] = {
    "reset": {"kind": "reset"},
    "503": {"kind": "status", "status": 503},
    "502": {"kind": "status", "status": 502},
    "truncated": {"kind": "truncated"},
    "html_instead_of_json": {"kind": "garbage"},
    "timeout": {"kind": "slow", "delay": TIMEOUT * 3},
}


def _backoff(sleeps: list[float]) -> Backoff:
    return Backoff(retries=RETRIES, base=1.0, factor=2.0, maximum=30.0, sleep=sleeps.append)


@pytest.mark.parametrize("net", NETWORKS, ids=lambda n: n.name)
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_passing_fault_mid_pass_is_retried_and_nothing_is_lost(
    net: Network, fault: str, sqlite_engine, clock
):
    sleeps: list[float] = []
    with net.fake() as fake:
        crawl(sqlite_engine, net.build(fake, _backoff(sleeps)), clock, max_pages=1)  # the pass is under way
        assert 0 < len(post_keys(sqlite_engine)) < len(net.expected)
        injected = fake.inject(times=2, **FAULTS[fault])
        crawl(sqlite_engine, net.build(fake, _backoff(sleeps)), clock)
    assert injected.hits == 2
    assert sleeps == [1.0, 2.0]  # two failures, two back-offs, doubling
    keys = post_keys(sqlite_engine)
    assert set(keys) == net.expected and max(keys.values()) == 1


@pytest.mark.parametrize("net", NETWORKS, ids=lambda n: n.name)
def test_a_rate_limit_with_retry_after_is_waited_for(net: Network, sqlite_engine, clock):
    sleeps: list[float] = []
    with net.fake() as fake:
        fake.inject("status", status=429, headers={"Retry-After": "7"}, times=2)
        crawl(sqlite_engine, net.build(fake, _backoff(sleeps)), clock)
        fake.inject("status", status=429, headers={"Retry-After": "3600"}, times=1)
        crawl(sqlite_engine, net.build(fake, _backoff(sleeps)), clock)
    assert sleeps[:2] == [7.0, 7.0]  # the server's word, over the 1 s and 2 s of the back-off
    assert sleeps[2] == 30.0  # an hour is asked; the back-off's ceiling bounds the wait
    assert set(post_keys(sqlite_engine)) == net.expected


@pytest.mark.parametrize("net", NETWORKS, ids=lambda n: n.name)
@pytest.mark.parametrize("fault", ["reset", "503", "timeout"])
def test_a_fault_that_persists_stops_the_source_where_it_was(net: Network, fault: str, sqlite_engine, clock):
    """Bounded: RETRIES back-offs, then SourceStopped with what failed; the cursor and the stored posts
    are those of the last good page, so the next run reads the rest (no gap, no double)."""
    sleeps: list[float] = []
    with net.fake() as fake:
        crawl(sqlite_engine, net.build(fake, _backoff(sleeps)), clock, max_pages=1)
        before_keys, before_cursor = post_keys(sqlite_engine), cursor(sqlite_engine, net.source_id)
        fault_spec = fake.inject(times=1000, **FAULTS[fault])
        with pytest.raises(SourceStopped, match=f"still failing after {RETRIES + 1} tries"):
            crawl(sqlite_engine, net.build(fake, _backoff(sleeps)), clock)
        assert sleeps == [1.0, 2.0, 4.0]
        assert fault_spec.hits == RETRIES + 1
        assert (
            post_keys(sqlite_engine) == before_keys and cursor(sqlite_engine, net.source_id) == before_cursor
        )
        fake.faults.clear()  # the network is back
        crawl(sqlite_engine, net.build(fake, _backoff(sleeps)), clock)
    keys = post_keys(sqlite_engine)
    assert set(keys) == net.expected and max(keys.values()) == 1


@pytest.mark.parametrize("net", NETWORKS, ids=lambda n: n.name)
def test_a_slow_answer_within_the_timeout_is_waited_for(net: Network, sqlite_engine, clock):
    sleeps: list[float] = []
    with net.fake() as fake:
        slow = fake.inject("slow", delay=TIMEOUT / 3, times=3)
        crawl(sqlite_engine, net.build(fake, _backoff(sleeps)), clock)
    assert slow.hits == 3 and sleeps == []
    assert set(post_keys(sqlite_engine)) == net.expected


# --------------------------------------------------------------------------- Telegram at Telethon's boundary
# MTProto cannot be served locally: the fake client (tests/fakes/telegram.py) stands where
# `telethon.TelegramClient` stands and raises what Telethon raises when the network fails — the
# builtin ConnectionError (and the client stays disconnected until `connect()`), TimeoutError,
# Telegram's ServerError family (RPC_CALL_FAIL, WORKER_BUSY_TOO_LONG_RETRY) and TimedOutError (-503).
def _tg_faults() -> dict[str, Callable[[], Exception]]:
    from telethon import errors

    return {
        "connection_dropped": lambda: ConnectionError("Connection reset by peer"),
        "timeout": lambda: TimeoutError(),
        "rpc_call_fail": lambda: errors.RpcCallFailError(request=None),
        "worker_busy": lambda: errors.WorkerBusyTooLongRetryError(request=None),
        "server_error": lambda: errors.ServerError(request=None, message="INTERNAL", code=500),
        "timed_out": lambda: errors.TimedOutError(request=None, message="Timeout", code=-503),
    }


TG_FAULTS = sorted(_tg_faults())


def _tg_source(tg: Any, sleeps: list[float]) -> SourceAdapter:
    from crawlers.telegram import TelegramSource

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return TelegramSource(
        source_id="tg",
        client_factory=lambda: tg,
        channels=["kursk_info", "closed_channel"],
        chats=["kursk_chat"],
        page_size=2,
        sleep=sleep,
        backoff=Backoff(retries=RETRIES, base=1.0, factor=2.0, maximum=30.0),
    )


def _tg_expected() -> set[str]:
    from tests.test_crawl_telegram import CHANNEL, CHAT
    from tests.test_crawl_telegram import COMMENTS as TG_COMMENTS

    return CHANNEL | TG_COMMENTS | CHAT


def _second_channel_page(args: dict[str, Any]) -> bool:
    return bool(args.get("reverse")) and args.get("min_id") == 102  # kursk_info after its first page


@pytest.mark.parametrize("fault", TG_FAULTS)
def test_telegram_a_passing_fault_mid_pass_is_retried_and_nothing_is_lost(fault: str, sqlite_engine, clock):
    from tests.fakes.telegram import FakeTelegramClient

    tg, sleeps = FakeTelegramClient(), []
    crawl(sqlite_engine, _tg_source(tg, sleeps), clock, max_pages=1)  # the pass is under way
    assert cursor(sqlite_engine, "tg")["chats"]["kursk_info"]["min_id"] == 102
    tg.fail(_tg_faults()[fault](), when=_second_channel_page, times=2)
    crawl(sqlite_engine, _tg_source(tg, sleeps), clock)
    assert not tg.errors  # both played
    assert sleeps == [1.0, 2.0]  # two failures, two back-offs, doubling
    keys = post_keys(sqlite_engine)
    assert set(keys) == _tg_expected() and max(keys.values()) == 1
    assert not tg.connected


def test_telegram_a_fault_while_learning_comment_roots_is_retried(sqlite_engine, clock):
    """The discussion group's page is read, then the channel posts its comments hang under are looked up
    by id (a second call inside the same page): that call fails — the page is stored whole, once."""
    from tests.fakes.telegram import FakeTelegramClient

    tg, sleeps = FakeTelegramClient(), []
    tg.fail(
        ConnectionError("Connection reset by peer"),
        when=lambda a: a.get("ids") is not None and not a.get("reverse"),
        times=2,
    )
    crawl(sqlite_engine, _tg_source(tg, sleeps), clock)
    assert sleeps == [1.0, 2.0]
    keys = post_keys(sqlite_engine)
    assert set(keys) == _tg_expected() and max(keys.values()) == 1
    from tests.fakes.dbcheck import post

    assert post(sqlite_engine, "telegram:c1500000002/505").parent_id == "kursk_info/102"


@pytest.mark.parametrize("fault", ["connection_dropped", "timeout", "rpc_call_fail", "timed_out"])
def test_telegram_a_fault_that_persists_stops_the_source_where_it_was(fault: str, sqlite_engine, clock):
    from tests.fakes.telegram import FakeTelegramClient

    tg, sleeps = FakeTelegramClient(), []
    crawl(sqlite_engine, _tg_source(tg, sleeps), clock, max_pages=1)
    before_keys, before_cursor = post_keys(sqlite_engine), cursor(sqlite_engine, "tg")
    tg.fail(_tg_faults()[fault](), when=_second_channel_page, times=1000)
    with pytest.raises(SourceStopped, match=f"still failing after {RETRIES + 1} tries"):
        crawl(sqlite_engine, _tg_source(tg, sleeps), clock)
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(tg.errors) == 1000 - (RETRIES + 1)
    assert post_keys(sqlite_engine) == before_keys and cursor(sqlite_engine, "tg") == before_cursor
    assert not tg.connected  # the client is closed after the stop
    tg.errors.clear()  # the network is back
    crawl(sqlite_engine, _tg_source(tg, sleeps), clock)
    keys = post_keys(sqlite_engine)
    assert set(keys) == _tg_expected() and max(keys.values()) == 1


def test_telegram_a_fault_while_connecting_is_retried(sqlite_engine, clock):
    from tests.fakes.telegram import FakeTelegramClient

    tg, sleeps = FakeTelegramClient(), []
    real_connect, failures = tg.connect, [OSError("Network is unreachable"), TimeoutError()]

    async def flaky_connect() -> None:
        if failures:
            raise failures.pop(0)
        await real_connect()

    tg.connect = flaky_connect  # type: ignore[method-assign]
    crawl(sqlite_engine, _tg_source(tg, sleeps), clock)
    assert sleeps == [1.0, 2.0]
    assert set(post_keys(sqlite_engine)) == _tg_expected()


# --------------------------------------------------------------------------- Telegram previews (Scrapy)
# The real spider, in its child process, against the local t.me/s/ fake; one page per crawl, so the
# fault lands between pages of a pass (the first crawl reads the newest page, the fault hits the next).
PREVIEW_TIMEOUT = 1.0
PREVIEW_FAULTS: dict[str, dict[str, Any]] = {
    "reset": {"kind": "reset"},
    "503": {"kind": "status", "status": 503},
    "502": {"kind": "status", "status": 502},
    "cut_mid_body": {"kind": "truncated"},
    "proxy_page": {"kind": "garbage"},
    "timeout": {"kind": "slow", "delay": PREVIEW_TIMEOUT * 2.5},
}


def _preview_source(fake: Any, sleeps: list[float], max_pages: int = 1) -> SourceAdapter:
    from crawlers.tg_preview import TgPreviewSource
    from tests.test_crawl_tg_preview import NOW as PREVIEW_NOW

    return TgPreviewSource(
        source_id="tg-preview",
        channels=["kursk_news"],
        base_url=fake.url,
        lookback_days=7,
        max_pages=max_pages,
        download_delay=0,
        timeout=PREVIEW_TIMEOUT,
        now=lambda: PREVIEW_NOW,
        backoff=_backoff(sleeps),
    )


def _pages(req: Any) -> bool:
    return req.path.startswith("/s/")


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(f, marks=pytest.mark.slow) if f in ("reset", "502", "cut_mid_body", "timeout") else f
        for f in [*sorted(PREVIEW_FAULTS), "cut_html"]
    ],
)
def test_preview_a_passing_fault_mid_pass_is_retried_and_nothing_is_lost(fault: str, sqlite_engine, clock):
    from tests.fakes.telegram_preview import FakeTgPreview
    from tests.test_crawl_tg_preview import POSTS

    sleeps: list[float] = []
    with FakeTgPreview(page_size=5) as fake:
        crawl(sqlite_engine, _preview_source(fake, sleeps), clock, max_pages=1)
        assert cursor(sqlite_engine, "tg-preview")["channels"]["kursk_news"] == {
            "min_id": 0,
            "pass": {"before": 2008, "top": 2012},
        }
        if fault == "cut_html":
            fake.cut(2)  # a whole, well-framed answer whose HTML stops inside a post
        else:
            injected = fake.inject(times=2, match=_pages, **PREVIEW_FAULTS[fault])
        crawl(sqlite_engine, _preview_source(fake, sleeps), clock)
        if fault != "cut_html":
            assert injected.hits == 2
        assert fake.cuts == 0
    if fault == "reset":  # Twisted resends a GET once by itself when a reused keep-alive connection drops
        assert sleeps in ([1.0], [1.0, 2.0])
    else:
        assert sleeps == [1.0, 2.0]
    keys = post_keys(sqlite_engine)
    assert set(keys) == POSTS and max(keys.values()) == 1
    assert cursor(sqlite_engine, "tg-preview")["channels"]["kursk_news"] == {"min_id": 2012}
    assert (
        len(quarantined_rows(sqlite_engine)) == 1
    )  # only the fixture's post without a date: no half post held


def test_preview_the_first_page_cut_is_not_taken_for_the_channel(sqlite_engine, clock):
    """The newest page cut inside its newest post: before the fix that post was quarantined (no date) and
    the cursor moved past it; now the page is fetched again."""
    from tests.fakes.telegram_preview import FakeTgPreview
    from tests.test_crawl_tg_preview import POSTS

    sleeps: list[float] = []
    with FakeTgPreview(page_size=5) as fake:
        fake.cut(1)
        crawl(sqlite_engine, _preview_source(fake, sleeps, max_pages=5), clock)
    assert sleeps == [1.0]
    assert set(post_keys(sqlite_engine)) == POSTS and len(quarantined_rows(sqlite_engine)) == 1


def test_preview_a_failure_after_a_page_keeps_that_page_and_resumes_at_the_next(sqlite_engine, clock):
    """Two pages per crawl: the first is read, the second fails — the first is stored and the cursor points
    at the second (never past it); the retry reads from there, nothing twice."""
    from tests.fakes.telegram_preview import FakeTgPreview
    from tests.test_crawl_tg_preview import POSTS

    sleeps: list[float] = []
    with FakeTgPreview(page_size=5) as fake:
        fake.inject("status", status=503, times=1, match=lambda r: r.query.get("before") == "2008")
        crawl(sqlite_engine, _preview_source(fake, sleeps, max_pages=2), clock, max_pages=1)
        assert set(post_keys(sqlite_engine)) == {f"telegram:kursk_news/{i}" for i in range(2008, 2013)}
        assert cursor(sqlite_engine, "tg-preview")["channels"]["kursk_news"]["pass"] == {
            "before": 2008,
            "top": 2012,
        }
        assert sleeps == []  # pages were read: stored at once, the next fetch retries
        crawl(sqlite_engine, _preview_source(fake, sleeps, max_pages=2), clock)
    keys = post_keys(sqlite_engine)
    assert set(keys) == POSTS and max(keys.values()) == 1


def test_preview_a_fault_that_persists_stops_the_source_where_it_was(sqlite_engine, clock):
    from tests.fakes.telegram_preview import FakeTgPreview
    from tests.test_crawl_tg_preview import POSTS

    sleeps: list[float] = []
    with FakeTgPreview(page_size=5) as fake:
        crawl(sqlite_engine, _preview_source(fake, sleeps), clock, max_pages=1)
        before_keys, before_cursor = post_keys(sqlite_engine), cursor(sqlite_engine, "tg-preview")
        fault = fake.inject("status", status=503, times=1000, match=_pages)
        with pytest.raises(
            SourceStopped, match=f"t.me answered 503 .* still failing after {RETRIES + 1} tries"
        ):
            crawl(sqlite_engine, _preview_source(fake, sleeps), clock)
        assert sleeps == [1.0, 2.0, 4.0] and fault.hits == RETRIES + 1
        assert (
            post_keys(sqlite_engine) == before_keys and cursor(sqlite_engine, "tg-preview") == before_cursor
        )
        fake.faults.clear()
        crawl(sqlite_engine, _preview_source(fake, sleeps), clock)
    keys = post_keys(sqlite_engine)
    assert set(keys) == POSTS and max(keys.values()) == 1


def test_preview_a_rate_limit_with_retry_after_is_waited_for(sqlite_engine, clock):
    from tests.fakes.telegram_preview import FakeTgPreview
    from tests.test_crawl_tg_preview import POSTS

    sleeps: list[float] = []
    with FakeTgPreview(page_size=5) as fake:
        fake.inject("status", status=429, headers={"Retry-After": "7"}, times=2, match=_pages)
        crawl(sqlite_engine, _preview_source(fake, sleeps, max_pages=5), clock)
        fake.add_post("kursk_news", 2013, "2026-11-23T08:55:00+00:00", "На Школьной снова нет воды.")
        fake.inject("status", status=429, headers={"Retry-After": "3600"}, times=1, match=_pages)
        crawl(sqlite_engine, _preview_source(fake, sleeps, max_pages=5), clock)
    assert sleeps == [7.0, 7.0, 30.0]  # the server's word over 1 s and 2 s; an hour capped at the ceiling
    assert set(post_keys(sqlite_engine)) == POSTS | {"telegram:kursk_news/2013"}


def quarantined_rows(engine: Any) -> list[Any]:
    from tests.fakes.dbcheck import quarantined

    return quarantined(engine)
