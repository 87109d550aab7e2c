"""VK adapters driven over HTTP against the local fake VK API (vk_api underneath, unmodified)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.config import SourceConfig
from crawlers.base import SourceNotConfigured, SourceStopped
from crawlers.errors import ApiBug, Backoff, TokenInvalid
from crawlers.ratelimit import RateLimiter
from crawlers.vk import VkClient, VkNewsfeedSource, VkStreamingSource, VkWallSource, rules_from_rubricator
from incidents.services.processing import crawl_source
from tests.conftest import LIPETSK
from tests.fakes.base import redirected_session
from tests.fakes.dbcheck import crawl, cursor, post, post_keys, quarantined, revisions
from tests.fakes.vk import TOKEN, FakeVk

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WALL_POSTS = {f"vk:wall-100001_{i}" for i in (1003, 1004, 1005, 1006, 1008, 1009, 1010, 1011, 1012)}
COMMENTS = {
    f"vk:comment-100001_{i}"
    for i in [
        2101,
        2102,
        2001,
        2002,
        2003,
        2004,
        2005,
        2201,
        2202,
        2301,
        2302,
        2401,
        2501,
        *range(2010, 2022),
    ]
}


@pytest.fixture
def fake():
    with FakeVk() as server:
        yield server


def client(fake: FakeVk, sleeps: list[float] | None = None, token: str = TOKEN) -> VkClient:
    session = redirected_session(
        {
            "https://api.vk.ru/method/": f"{fake.url}/method/",
            f"https://127.0.0.1:{fake.port}/": f"{fake.url}/",
        }
    )
    return VkClient(
        token=token,
        source_id="vk-wall",
        session=session,
        limiter=RateLimiter(0),
        backoff=Backoff(retries=3, base=1.0, sleep=(sleeps if sleeps is not None else []).append),
    )


def wall(fake: FakeVk, sleeps: list[float] | None = None, **kw) -> VkWallSource:
    kw.setdefault("page_size", 3)
    return VkWallSource(
        source_id="vk-wall", client=client(fake, sleeps), owner_id=-100001, now=lambda: NOW, **kw
    )


def test_wall_pass_reads_posts_comments_and_threads_once(fake, engine, clock):
    stats = crawl(engine, wall(fake), clock)
    keys = post_keys(engine)
    assert set(keys) == WALL_POSTS | COMMENTS
    assert max(keys.values()) == 1
    assert stats.inserted == len(WALL_POSTS | COMMENTS)
    # the posts keep their raw payload, counters and authors
    p = post(engine, "vk:wall-100001_1010")
    assert (
        p.raw["id"] == 1010
        and p.likes == 88
        and p.views == 12800
        and p.url == "https://vk.com/wall-100001_1010"
    )
    assert p.author_name == "Администрация города Курска"
    c = post(engine, "vk:comment-100001_2001")
    assert c.parent_id == "wall-100001_1010" and c.author_name == "Ирина Соколова" and "Союзная, 61" in c.text
    reply = post(
        engine, "vk:comment-100001_2021"
    )  # 12th reply: beyond thread_items_count, read by comment_id
    assert reply.parent_id == "wall-100001_1010" and "thread=2001" in reply.url
    assert post(engine, "vk:comment-100001_2301").deleted is True
    # the malformed post and comment are quarantined with the reason; the closed comments are skipped, with why
    reasons = sorted(q.reason for q in quarantined(engine))
    assert reasons == [
        "date: expected int, got str",
        "skipped: vk error 212: Access to post comments denied (method wall.getComments)",
        "text: expected a string, got int",
    ]
    # comments of several posts came in one execute; every call carried the API version
    assert fake.api_calls("execute")
    assert all(c["v"] == "5.199" for c in fake.api_calls())
    assert all(int(c["count"]) <= 100 for c in fake.api_calls("wall.get"))
    # the old post below the window is not read, nor its comments
    assert "vk:wall-100001_1002" not in keys and "vk:comment-100001_2601" not in keys


def test_second_pass_reads_only_what_changed(fake, sqlite_engine, clock):
    crawl(sqlite_engine, wall(fake), clock)
    before = len(fake.requests)
    stats = crawl(sqlite_engine, wall(fake), clock)
    assert stats.inserted == 0 and stats.quarantined == 0
    assert not [r for r in fake.requests[before:] if r.path.endswith(("wall.getComments", "execute"))]
    # a new comment under one post: only that post's comments are read again
    fake.data["comments"]["-100001_1011"].append(
        {
            "id": 2103,
            "from_id": 503,
            "post_id": 1011,
            "owner_id": -100001,
            "parents_stack": [],
            "date": 1795420000,
            "text": "И освещение на Карла Маркса не работает после ремонта.",
            "likes": {"count": 0, "user_likes": 0, "can_like": 1},
        }
    )
    next(i for i in fake.data["walls"]["-100001"] if i["id"] == 1011)["comments"]["count"] = 3
    before = len(fake.requests)
    stats = crawl(sqlite_engine, wall(fake), clock)
    assert stats.inserted == 1 and "vk:comment-100001_2103" in post_keys(sqlite_engine)
    comment_calls = [r.params for r in fake.requests[before:] if r.path.endswith("wall.getComments")]
    assert [c["post_id"] for c in comment_calls] == ["1011"]


def test_a_pass_since_an_older_date_watches_what_it_read(fake, sqlite_engine, clock):
    """`since` further back than `days` (the same window as at NOW, read 30 days later): the
    posts it read stay watched, so the next pass reads no comment again and quarantines nothing."""
    from datetime import timedelta

    since = int((NOW - timedelta(days=7)).timestamp())
    later = NOW + timedelta(days=30)

    def source() -> VkWallSource:
        return VkWallSource(
            source_id="vk-wall",
            client=client(fake),
            owner_id=-100001,
            now=lambda: later,
            since=since,
            page_size=3,
        )

    first = crawl(sqlite_engine, source(), clock)
    assert first.inserted == len(WALL_POSTS | COMMENTS)
    before = len(fake.requests)
    again = crawl(sqlite_engine, source(), clock)
    assert (again.inserted, again.quarantined) == (0, 0)
    assert not [r for r in fake.requests[before:] if r.path.endswith(("wall.getComments", "execute"))]


def test_edited_post_keeps_history_and_deleted_post_is_flagged(fake, sqlite_engine, clock):
    crawl(sqlite_engine, wall(fake), clock)
    posts = fake.data["walls"]["-100001"]
    edited = next(i for i in posts if i["id"] == 1012)
    old_text = edited["text"]
    edited["text"] = old_text + " Уточнение: промывка перенесена на 25 ноября."
    edited["edited"] = 1795424000
    fake.data["walls"]["-100001"] = [i for i in posts if i["id"] != 1008]
    clock.advance(hours=1)
    crawl(sqlite_engine, wall(fake), clock)
    row = post(sqlite_engine, "vk:wall-100001_1012")
    assert row.text.endswith("перенесена на 25 ноября.") and row.edited
    assert revisions(sqlite_engine, "vk:wall-100001_1012") == [old_text]
    gone = post(sqlite_engine, "vk:wall-100001_1008")
    assert gone.deleted is True and gone.text.startswith("На улице Энгельса")  # flagged, not removed
    assert len(post_keys(sqlite_engine)) == len(WALL_POSTS | COMMENTS)


@pytest.mark.parametrize("code", [6, 9])
def test_flood_errors_back_off_and_retry(fake, sqlite_engine, clock, code):
    sleeps: list[float] = []
    fake.fail("wall.get", code, times=2)
    fake.fail("execute", code, times=1)
    crawl(sqlite_engine, wall(fake, sleeps), clock)
    assert sleeps == [1.0, 2.0, 1.0]  # exponential back-off, injected sleep
    assert set(post_keys(sqlite_engine)) == WALL_POSTS | COMMENTS


def test_flood_that_persists_stops_the_source_without_losing_the_cursor(fake, sqlite_engine, clock):
    fake.fail("wall.get", 9, times=10, when=lambda p: p.get("offset") == "4")
    with pytest.raises(SourceStopped, match="still failing after 4 tries"):
        crawl(sqlite_engine, wall(fake, []), clock)
    assert cursor(sqlite_engine, "vk-wall")["pass"]["offset"] == 4
    fake.failures.clear()
    crawl(sqlite_engine, wall(fake), clock)
    assert set(post_keys(sqlite_engine)) == WALL_POSTS | COMMENTS


def test_rate_limit_reached_stops_and_resumes_where_it_stopped(fake, sqlite_engine, clock):
    fake.fail("execute", 29)
    with pytest.raises(SourceStopped, match="error 29: Rate limit reached"):
        crawl(sqlite_engine, wall(fake), clock)
    stored = post_keys(sqlite_engine)
    assert set(stored) == WALL_POSTS  # the scan is stored; the comments wait
    saved = cursor(sqlite_engine, "vk-wall")
    assert saved["pass"]["scanned"] and saved["pass"]["tasks"]
    wall_calls = len(fake.api_calls("wall.get"))
    crawl(sqlite_engine, wall(fake), clock)  # "later": resumes with the comments, no rescan
    assert len(fake.api_calls("wall.get")) == wall_calls
    keys = post_keys(sqlite_engine)
    assert set(keys) == WALL_POSTS | COMMENTS and max(keys.values()) == 1


def test_invalid_token_is_a_clear_error_naming_the_variable(fake, sqlite_engine, clock):
    src = VkWallSource(
        source_id="vk-wall", client=client(fake, token="expired"), owner_id=-100001, now=lambda: NOW
    )
    with pytest.raises(TokenInvalid, match="token invalid .*error 5: User authorization failed.*VK_TOKEN"):
        crawl(sqlite_engine, src, clock)
    assert isinstance(TokenInvalid("x"), SourceNotConfigured)  # reported per source; the others still run


def test_bad_parameter_fails_loudly(fake, sqlite_engine, clock):
    fake.fail("wall.get", 100)
    with pytest.raises(ApiBug, match="error 100: One of the parameters"):
        crawl(sqlite_engine, wall(fake), clock)


@pytest.mark.parametrize("code", [15, 18, 30])
def test_inaccessible_objects_are_skipped_with_the_reason(fake, sqlite_engine, clock, code):
    fake.fail("wall.getComments", code, when=lambda p: p.get("post_id") == "1011")
    crawl(sqlite_engine, wall(fake), clock)
    skipped = [q for q in quarantined(sqlite_engine) if q.reason.startswith("skipped: vk error")]
    assert {q.reason.split(":")[1].strip() for q in skipped} == {f"vk error {code}", "vk error 212"}
    assert any("wall-100001_1011" in q.location for q in skipped)
    keys = set(post_keys(sqlite_engine))
    assert "vk:comment-100001_2101" not in keys and "vk:comment-100001_2001" in keys


def test_private_wall_is_skipped_not_fatal(fake, sqlite_engine, clock):
    fake.data["private_walls"] = ["-100001"]
    stats = crawl(sqlite_engine, wall(fake), clock)
    assert stats.inserted == 0
    assert quarantined(sqlite_engine)[0].reason.startswith("skipped: vk error 15: Access denied")


def test_without_execute_and_with_small_comment_pages(fake, sqlite_engine, clock):
    crawl(sqlite_engine, wall(fake, use_execute=False, comments_page_size=2), clock)
    assert set(post_keys(sqlite_engine)) == WALL_POSTS | COMMENTS
    assert not fake.api_calls("execute")
    offsets = [
        (c["post_id"], c["offset"]) for c in fake.api_calls("wall.getComments") if not c.get("comment_id")
    ]
    assert ("1010", "4") in offsets  # five top-level comments, two per page


def test_rate_limiter_spaces_calls_per_token():
    t = [0.0]
    slept: list[float] = []

    def sleep(d: float) -> None:
        slept.append(round(d, 3))
        t[0] += d

    lim = RateLimiter(3.0, clock=lambda: t[0], sleep=sleep)
    for _ in range(4):
        lim.wait()
    assert slept == [0.333, 0.333, 0.333]
    from crawlers.ratelimit import limiter_for

    assert limiter_for("vk", "tok", 3) is limiter_for("vk", "tok", 3)
    assert limiter_for("vk", "tok", 3) is not limiter_for("vk", "other", 3)


def test_newsfeed_search_pages_by_next_from_and_resumes_from_the_window_end(fake, sqlite_engine, clock):
    src = VkNewsfeedSource(
        source_id="vk-search",
        client=client(fake),
        queries=["нет", "яма"],
        latitude=51.73,
        longitude=36.19,
        lookback_hours=24,
        page_size=2,
        now=lambda: NOW,
    )
    crawl(sqlite_engine, src, clock)
    keys = set(post_keys(sqlite_engine))
    assert keys == {"vk:wall505_311", "vk:wall502_977", "vk:wall503_455", "vk:wall-200002_88120"}
    calls = fake.api_calls("newsfeed.search")
    assert [c.get("start_from") for c in calls if c["q"] == "нет"] == [None, "2/502_977"]
    assert all(
        c["start_time"] == str(int(NOW.timestamp()) - 86400)
        and c["end_time"] == str(int(NOW.timestamp()))
        and c["latitude"] == "51.73"
        for c in calls
    )
    assert cursor(sqlite_engine, "vk-search") == {"since": int(NOW.timestamp()) - 60}
    later = VkNewsfeedSource(
        source_id="vk-search", client=client(fake), queries=["нет"], now=lambda: NOW.replace(hour=10)
    )
    crawl(sqlite_engine, later, clock)
    assert fake.api_calls("newsfeed.search")[-1]["start_time"] == str(int(NOW.timestamp()) - 60)


def test_the_same_post_found_by_search_and_on_the_wall_is_stored_once(fake, sqlite_engine, clock):
    crawl(sqlite_engine, wall(fake), clock)
    src = VkNewsfeedSource(source_id="vk-search", client=client(fake), queries=["мусора"], now=lambda: NOW)
    stats = crawl(sqlite_engine, src, clock)
    assert stats.inserted == 0 and stats.updated + stats.unchanged == 1
    assert len(post_keys(sqlite_engine)) == len(WALL_POSTS | COMMENTS)


def test_streaming_syncs_rules_from_the_rubricator_and_reads_events(fake, sqlite_engine, clock):
    rules = rules_from_rubricator(LIPETSK)
    assert {"tag": "roads_pothole_0", "value": "яма -продать"} in rules
    fake.rules = {"stale_rule": "старое правило", "water_no_water_0": "нет вода"}
    src = VkStreamingSource(
        source_id="vk-stream",
        client=client(fake),
        rules=rules,
        listen_seconds=0.6,
        ws_scheme="ws",
        recv_timeout=0.1,
    )
    stats = crawl(sqlite_engine, src, clock)
    assert fake.rules == {r["tag"]: r["value"] for r in rules}
    assert src.rules_synced == {"kept": 1, "added": len(rules) - 1, "deleted": 1}
    keys = post_keys(sqlite_engine)
    assert set(keys) == {"vk:wall506_71", "vk:comment-200002_88133", "vk:wall507_12"}
    assert post(sqlite_engine, "vk:comment-200002_88133").parent_id == "wall-200002_88120"
    assert post(sqlite_engine, "vk:wall507_12").deleted is True
    assert stats.quarantined == 1 and "post_id" in quarantined(sqlite_engine)[0].reason


def test_missing_token_names_the_variable_and_other_sources_still_run(
    sqlite_engine, clock, lipetsk, monkeypatch
):
    monkeypatch.delenv("VK_TOKEN", raising=False)
    vk = SourceConfig(id="vk-adm", network="vk", kind="wall", params={"owner_id": -100001})
    stats = crawl_source(sqlite_engine, lipetsk, vk, clock)
    assert "VK_TOKEN" in stats.error and stats.error.startswith("not configured")
    replay = SourceConfig(id="sample", network="replay", kind="replay", params={"path": "posts.jsonl"})
    assert crawl_source(sqlite_engine, lipetsk, replay, clock).inserted > 0


def test_streaming_rules_the_endpoint_refuses_are_recorded_and_the_others_work(fake, sqlite_engine, clock):
    fake.max_rules = 2
    rules = [
        {"tag": "water", "value": "нет воды"},
        {"tag": "roads", "value": "яма"},
        {"tag": "waste", "value": "мусор не вывозят"},
    ]
    src = VkStreamingSource(
        source_id="vk-stream",
        client=client(fake),
        rules=rules,
        listen_seconds=0.3,
        ws_scheme="ws",
        recv_timeout=0.1,
    )
    stats = crawl(sqlite_engine, src, clock)
    assert fake.rules == {"water": "нет воды", "roads": "яма"}
    assert src.rules_synced == {"kept": 0, "added": 2, "deleted": 0, "refused": 1}
    refused = [q for q in quarantined(sqlite_engine) if q.location == "streaming rule waste"]
    assert refused and refused[0].reason == "skipped: rule refused: [2003] Too many rules"
    assert stats.inserted == 3  # the events still came


def test_execute_saves_requests(fake, sqlite_engine, tmp_path, clock):
    crawl(sqlite_engine, wall(fake), clock)
    with_execute = len(fake.requests)
    from storage.db import open_database

    other = open_database(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        fake.requests.clear()
        crawl(other, wall(fake, use_execute=False), clock)
        without = len(fake.requests)
        assert set(post_keys(other)) == set(post_keys(sqlite_engine))
    finally:
        other.dispose()
    assert with_execute < without, (with_execute, without)


def test_a_wall_that_cannot_be_read_for_a_pass_flags_nothing_deleted(fake, sqlite_engine, clock):
    crawl(sqlite_engine, wall(fake), clock)
    fake.data["private_walls"] = ["-100001"]  # closed for a while (error 15)
    crawl(sqlite_engine, wall(fake), clock)
    assert not any(post(sqlite_engine, k).deleted for k in WALL_POSTS)
    fake.data["private_walls"] = []
    fake.data["walls"]["-100001"] = [i for i in fake.data["walls"]["-100001"] if i["id"] != 1008]
    crawl(sqlite_engine, wall(fake), clock)  # the watch list survived the skipped pass
    assert post(sqlite_engine, "vk:wall-100001_1008").deleted is True
    assert [k for k in WALL_POSTS if post(sqlite_engine, k).deleted] == ["vk:wall-100001_1008"]
