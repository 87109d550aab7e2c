"""Telegram public previews: the Scrapy spider (in a child process) against a local t.me/s fake."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawlers.base import SourceStopped
from crawlers.errors import Backoff
from crawlers.tg_preview import TgPreviewSource, html_text, parse_views
from tests.fakes.dbcheck import crawl, cursor, post, post_keys, quarantined
from tests.fakes.telegram_preview import FakeTgPreview

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
POSTS = {f"telegram:kursk_news/{i}" for i in range(2001, 2013) if i != 2006}


@pytest.fixture
def fake():
    with FakeTgPreview(page_size=5) as server:
        yield server


def source(fake: FakeTgPreview, sleeps: list[float] | None = None, **kw) -> TgPreviewSource:
    kw.setdefault("backoff", Backoff(retries=5, sleep=(sleeps if sleeps is not None else []).append))
    kw.setdefault("channels", ["kursk_news"])
    kw.setdefault("lookback_days", 7)
    kw.setdefault("max_pages", 2)
    return TgPreviewSource(source_id="tg-preview", base_url=fake.url, download_delay=0, now=lambda: NOW, **kw)


def test_views_and_text_parsing():
    assert [parse_views(v) for v in ("980", "1.2K", "15K", "3.4M", "", None)] == [
        980,
        1200,
        15000,
        3400000,
        0,
        0,
    ]
    assert (
        html_text('Объезд<br/>по улице &laquo;Карла Маркса&raquo; <a href="x">Пишите</a>')
        == "Объезд\nпо улице «Карла Маркса» Пишите"
    )


def test_preview_pages_by_before_and_resumes_from_the_newest_stored(fake, sqlite_engine, clock):
    """Also: four crawls in this one process (Scrapy's reactor cannot restart; each crawl is a child)."""
    stats = crawl(sqlite_engine, source(fake), clock)
    keys = post_keys(sqlite_engine)
    assert set(keys) == POSTS and max(keys.values()) == 1 and stats.quarantined == 1
    assert (
        quarantined(sqlite_engine)[0].reason
        == "post kursk_news/2006: no <time datetime> in the message footer"
    )
    p = post(sqlite_engine, "telegram:kursk_news/2002")
    assert (
        p.text
        == "На Сумской начали замену водопровода. Движение в сторону центра ограничено.\nОбъезд по улице Карла Маркса."
    )
    assert p.views == 4700 and p.url == "https://t.me/kursk_news/2002" and p.author_name == "Курск Новости"
    assert p.created_at == datetime(2026, 11, 19, 12, 10, tzinfo=UTC)
    assert post(sqlite_engine, "telegram:kursk_news/2004").raw["edited"] is True
    assert [r.query.get("before") for r in fake.page_requests()] == [None, "2008", "2003"]
    assert cursor(sqlite_engine, "tg-preview")["channels"]["kursk_news"] == {"min_id": 2012}
    # next run: one page, nothing new; then a new post is picked up
    fake.requests.clear()
    assert crawl(sqlite_engine, source(fake), clock).inserted == 0
    assert len(fake.page_requests()) == 1
    fake.add_post(
        "kursk_news", 2013, "2026-11-23T08:55:00+00:00", "На Школьной снова нет воды, обещали к 14:00."
    )
    assert crawl(sqlite_engine, source(fake), clock).inserted == 1
    assert (
        post(sqlite_engine, "telegram:kursk_news/2013").text == "На Школьной снова нет воды, обещали к 14:00."
    )


def test_time_window_limits_the_first_run(fake, sqlite_engine, clock):
    crawl(sqlite_engine, source(fake, lookback_days=1.5), clock)  # since 2026-11-21 21:00
    assert set(post_keys(sqlite_engine)) == {f"telegram:kursk_news/{i}" for i in range(2008, 2013)}


def test_a_429_is_retried_and_a_persistent_one_stops_the_source(fake, sqlite_engine, clock):
    sleeps: list[float] = []
    fake.throttle(1)
    crawl(sqlite_engine, source(fake, sleeps, max_pages=5), clock)
    assert set(post_keys(sqlite_engine)) == POSTS
    assert sleeps == [5.0]  # the fake's Retry-After: 5, over the back-off's first 1 s
    fake.throttle(10)
    fake.add_post("kursk_news", 2013, "2026-11-23T08:55:00+00:00", "Новый пост.")
    with pytest.raises(SourceStopped, match="t.me answered 429 .* still failing after 6 tries"):
        crawl(sqlite_engine, source(fake), clock)
    fake.throttled = 0
    assert crawl(sqlite_engine, source(fake), clock).inserted == 1


def test_unknown_channel_is_skipped_and_the_next_one_read(fake, sqlite_engine, clock):
    stats = crawl(sqlite_engine, source(fake, channels=["no_such_channel", "kursk_news"], max_pages=5), clock)
    assert stats.inserted == len(POSTS)
    assert any(
        q.reason.startswith("skipped: no public preview of 'no_such_channel'")
        for q in quarantined(sqlite_engine)
    )
