"""Prefect flows: they compose the plain steps in `incidents.services.processing` and add retries and logs.

`monitoring_run` is what `incidents run` executes in-process (ephemeral Prefect, no server):
crawl every enabled source → process pending posts → SLA check → search indexes → summary.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task

from core.config import RegionConfig, load_region
from core.settings import get_settings
from flows.jobs import crawl_task
from incidents.services.crawling import sources_to_crawl
from incidents.services.processing import CrawlStats, ProcessStats, prepare, process_pending, sla_check
from storage.db import open_database


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class RunSummary:
    crawls: list[dict[str, Any]] = field(default_factory=list)
    process: dict[str, Any] = field(default_factory=dict)
    sla: dict[str, int] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)


@task(name="process-posts")
def process_task(database_url: str, cfg: RegionConfig) -> ProcessStats:
    engine = open_database(database_url)
    try:
        stats = process_pending(engine, cfg, _now)
    finally:
        engine.dispose()
    get_run_logger().info(
        "processed %d posts: %d complaints, %d incidents opened",
        stats.posts,
        stats.complaints,
        stats.incidents_opened,
    )
    return stats


@task(name="sla-check")
def sla_task(database_url: str, cfg: RegionConfig) -> Counter:
    engine = open_database(database_url)
    try:
        return sla_check(engine, cfg, _now)
    finally:
        engine.dispose()


@task(name="search-index")
def search_task(database_url: str, cfg: RegionConfig) -> dict[str, Any]:
    """The embedded index always, Elasticsearch when ELASTICSEARCH_URL is set; never fails the run."""
    from incidents.services.search.sync import after_pass

    engine = open_database(database_url)
    try:
        stats = after_pass(engine, cfg, _now)
    finally:
        engine.dispose()
    logger = get_run_logger()
    for e in stats.errors:
        logger.warning("search: %s", e)
    logger.info(
        "search: %d posts indexed locally, Elasticsearch %s",
        stats.embedded_indexed,
        "synced" if stats.elasticsearch else "not configured",
    )
    return asdict(stats)


@flow(name="monitoring-run", log_prints=True)
def monitoring_run(
    config_dir: str | None = None,
    database_url: str | None = None,
    sources: list[str] | None = None,
    with_sample: bool = False,
) -> dict[str, Any]:
    """One pass: every enabled source (or the named ones) → processing → SLA check. A source
    marked `sample` (the bundled fictional posts) runs only when asked (`with_sample`: the
    default database of `make run`), so a production database never receives it."""
    settings = get_settings()
    cfg = load_region(config_dir or settings.config_dir)
    url = database_url or settings.database_url
    engine = open_database(url)
    prepare(engine, cfg)
    engine.dispose()
    summary = RunSummary()
    selected = sources_to_crawl(cfg, sources, with_sample=with_sample)
    for source in selected:
        try:  # the same task as the scheduled crawl deployments: one retry policy
            stats = crawl_task.with_options(tags=[f"network:{source.network}"])(source.id, cfg, url)
        except Exception as exc:  # one failing source never stops the others
            stats = asdict(CrawlStats(source.id, error=f"{type(exc).__name__}: {exc}"))
        summary.crawls.append(stats)
    pstats = process_task(url, cfg)
    summary.process = asdict(pstats)
    summary.process["by_category"] = dict(pstats.by_category)
    summary.sla = dict(sla_task(url, cfg))
    summary.search = search_task(url, cfg)
    return asdict(summary)
