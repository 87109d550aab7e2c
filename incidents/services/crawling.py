"""Crawling: one source adapter's pages stored as posts, its cursor moved only after they are."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.config import RegionConfig, SourceConfig
from crawlers.base import SourceAdapter, SourceNotConfigured, SourceStopped
from crawlers.registry import build_adapter
from storage.store import (
    STORING_LOCK,
    admit,
    get_cursor,
    quarantine,
    save_posts,
    set_cursor,
    writer_lock,
)

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


# --------------------------------------------------------------------------- crawl
@dataclass(slots=True)
class CrawlStats:
    source_id: str
    pages: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    error: str | None = None


def crawl_adapter(
    engine: Engine, adapter: SourceAdapter, now: Clock, *, max_pages: int | None = None
) -> CrawlStats:
    """Fetch pages until the adapter is done; posts, bad records and cursor in one transaction per page."""
    stats = CrawlStats(adapter.source_id)
    with Session(engine) as session:
        cursor = get_cursor(session, adapter.source_id)
    while max_pages is None or stats.pages < max_pages:
        result = adapter.fetch(cursor)
        posts, refused = admit(result.posts, now())  # dates beyond now + a day refused (F12)
        result.bad.extend(refused)
        with Session(engine) as session, session.begin():
            writer_lock(session, STORING_LOCK)  # two crawls of one source must not both insert a post (F9)
            ts = now()
            ins, upd, same = save_posts(session, posts, ts)
            quarantine(session, adapter.source_id, result.bad, ts)  # a record already held is not added twice
            stats.quarantined += len(result.bad)
            set_cursor(session, adapter.source_id, result.next_cursor, ts)
        for b in result.bad:
            log.warning("%s: %s: %s", adapter.source_id, b.location, b.reason)
        stats.pages += 1
        stats.inserted += ins
        stats.updated += upd
        stats.unchanged += same
        cursor = result.next_cursor
        if result.done:
            break
    return stats


def crawl_source(engine: Engine, cfg: RegionConfig, source: SourceConfig, now: Clock) -> CrawlStats:
    """Run one configured source; a missing credential or a stop is reported, not raised."""
    try:
        adapter = build_adapter(source, cfg.root)
    except SourceNotConfigured as exc:
        return CrawlStats(source.id, error=f"not configured: {exc}")
    try:
        return crawl_adapter(engine, adapter, now)
    except SourceStopped as exc:
        return CrawlStats(source.id, error=f"stopped for now: {exc}")


def sources_to_crawl(cfg: RegionConfig, named: list[str] | None, *, with_sample: bool) -> list[SourceConfig]:
    """The sources one pass crawls: the named ones, or every enabled one — but a source marked
    `sample` (the bundled fictional posts) only when asked for (`make run` on the default database),
    so that a run against a production database never loads it."""
    if named:
        return [s for s in cfg.sources.sources if s.id in named]
    return [s for s in cfg.sources.sources if s.enabled and (with_sample or not s.sample)]
