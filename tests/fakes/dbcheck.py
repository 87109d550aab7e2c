"""What the crawler tests read back from the database."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlmodel import Session, select

from crawlers.base import SourceAdapter
from incidents.services.processing import CrawlStats, crawl_adapter
from storage.models import Post, PostRevision, QuarantineItem
from storage.store import get_cursor


def post_keys(engine: Any, network: str | None = None) -> Counter:
    """Every stored post's 'network:external_id', counted (each count must be 1)."""
    with Session(engine) as s:
        stmt = select(Post.network, Post.external_id)
        if network:
            stmt = stmt.where(Post.network == network)
        return Counter(f"{n}:{e}" for n, e in s.exec(stmt).all())


def post(engine: Any, key: str) -> Post | None:
    network, ext = key.split(":", 1)
    with Session(engine) as s:
        return s.exec(select(Post).where(Post.network == network, Post.external_id == ext)).first()


def revisions(engine: Any, key: str) -> list[str]:
    row = post(engine, key)
    if row is None:
        return []
    with Session(engine) as s:
        return [r.text for r in s.exec(select(PostRevision).where(PostRevision.post_id == row.id)).all()]


def quarantined(engine: Any, origin: str | None = None) -> list[QuarantineItem]:
    with Session(engine) as s:
        stmt = select(QuarantineItem).order_by(QuarantineItem.id)
        if origin:
            stmt = stmt.where(QuarantineItem.origin == origin)
        return list(s.exec(stmt).all())


def cursor(engine: Any, source_id: str) -> dict[str, Any] | None:
    with Session(engine) as s:
        return get_cursor(s, source_id)


def crawl(engine: Any, adapter: SourceAdapter, clock: Any, max_pages: int | None = None) -> CrawlStats:
    return crawl_adapter(engine, adapter, clock, max_pages=max_pages)
