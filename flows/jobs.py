"""The around-the-clock jobs as Prefect flows: one flow per job, each safe to rerun.

`incidents serve-flows` serves them on their schedules from one process (flows/deployments.py);
on several machines a Prefect server schedules the deployments of `prefect.yaml` and
workers run them. Every flow only composes the plain steps of `incidents.services.processing` (and of the
search and workflow modules): a run that dies midway leaves cursors, flags and outbox
statuses from which the next run continues.

Retries: a crawl is retried with back-off on transient failures (network, 5xx, 429); a
missing credential or a daily limit is reported, not retried (retrying cannot help).
Concurrency: crawl tasks carry the tag `network:<name>`, so a tag concurrency limit
(`prefect concurrency-limit create network:vk 2`) caps the calls per token; each
deployment also runs at most one flow run at a time.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from prefect import Flow, flow, get_run_logger, task
from prefect.tasks import exponential_backoff

from core.config import RegionConfig, load_region
from core.settings import get_settings
from crawlers.base import SourceNotConfigured
from crawlers.errors import ApiBug
from incidents.services.processing import CrawlStats, crawl_source, prepare, process_pending, sla_check
from storage.db import open_database


def _now() -> datetime:
    return datetime.now(UTC)


def _context(config_dir: str | None, database_url: str | None) -> tuple[RegionConfig, str]:
    settings = get_settings()
    return load_region(config_dir or settings.config_dir), database_url or settings.database_url


def retry_unless_bug(task: Any, task_run: Any, state: Any) -> bool:
    """Retry what can succeed later (the network or the database back again); never a bug in
    our request (`ApiBug`) or a credential a person must fix (`SourceNotConfigured`, which
    `TokenInvalid` is): retrying those only delays the loud failure."""
    if not (state.is_failed() or state.is_crashed()):
        return False
    try:
        state.result(raise_on_failure=True)
    except (ApiBug, SourceNotConfigured):
        return False
    except Exception:
        return True
    return False


@task(
    name="crawl",
    task_run_name="crawl {source_id}",
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=10),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_unless_bug,
    timeout_seconds=1800,
)
def crawl_task(source_id: str, cfg: RegionConfig, database_url: str) -> dict[str, Any]:
    source = next((s for s in cfg.sources.sources if s.id == source_id), None)
    if source is None:
        return asdict(CrawlStats(source_id, error=f"no source {source_id!r} in {cfg.root / 'sources.yaml'}"))
    engine = open_database(database_url)
    try:
        stats = crawl_source(engine, cfg, source, _now)
    finally:
        engine.dispose()
    logger = get_run_logger()
    if stats.error:
        logger.warning("source %s: %s", source_id, stats.error)
    else:
        logger.info(
            "source %s: %d pages, %d new, %d updated, %d quarantined",
            source_id,
            stats.pages,
            stats.inserted,
            stats.updated,
            stats.quarantined,
        )
    return asdict(stats)


@flow(name="crawl", flow_run_name="crawl-{source_id}", log_prints=True)
def crawl_flow(
    source_id: str, config_dir: str | None = None, database_url: str | None = None
) -> dict[str, Any]:
    """Crawl one source from its saved cursor (one deployment per source, own schedule)."""
    cfg, url = _context(config_dir, database_url)
    engine = open_database(url)
    try:
        prepare(engine, cfg)  # bodies and sources in the database before the first page
    finally:
        engine.dispose()
    source = next((s for s in cfg.sources.sources if s.id == source_id), None)
    tags = [f"network:{source.network}"] if source else []
    return crawl_task.with_options(tags=tags)(source_id, cfg, url)


@flow(name="process", log_prints=True)
def process_flow(config_dir: str | None = None, database_url: str | None = None) -> dict[str, Any]:
    """New posts → signals → incidents → routing → SLA deadlines."""
    cfg, url = _context(config_dir, database_url)
    engine = open_database(url)
    try:
        prepare(engine, cfg)
        stats = process_pending(engine, cfg, _now)
    finally:
        engine.dispose()
    get_run_logger().info(
        "processed %d posts: %d complaints, %d incidents opened, %d joined, %d failed",
        stats.posts,
        stats.complaints,
        stats.incidents_opened,
        stats.incidents_joined,
        stats.failed,
    )
    out = asdict(stats)
    out["by_category"] = dict(stats.by_category)
    return out


@flow(name="sla-watch", log_prints=True)
def sla_watch_flow(config_dir: str | None = None, database_url: str | None = None) -> dict[str, Any]:
    """The scheduled SLA watch (e.g. every 10 minutes): low feedback-platform ratings reopen their
    incidents, then every clock at risk or overdue is escalated once per step (incidents.services.sla_watch)."""
    from sqlmodel import Session

    from incidents.services.notify import build_notifiers
    from incidents.services.sla_watch import sla_watch
    from incidents.services.workflow import Workflow

    cfg, url = _context(config_dir, database_url)
    engine = open_database(url)
    try:
        states = sla_check(engine, cfg, _now)
        with Session(engine) as session, session.begin():
            reopened = Workflow(session, cfg, _now).apply_ratings()
        notifiers, missing = build_notifiers()
        report = sla_watch(engine, cfg, _now, notifiers, missing)
    finally:
        engine.dispose()
    logger = get_run_logger()
    for channel, reason in report.dry_run_reasons.items():
        logger.warning("notifications by %s are a dry run: %s", channel, reason)
    logger.info(
        "SLA watch: %d incidents, %d notifications sent, %d failed",
        report.checked,
        report.sent,
        report.failed,
    )
    return {
        "states": dict(states),
        "reopened": reopened,
        "checked": report.checked,
        "sent": report.sent,
        "failed": report.failed,
        "dry_run": dict(report.dry_run),
    }


@flow(name="publish-replies", log_prints=True)
def publish_flow(config_dir: str | None = None, database_url: str | None = None) -> dict[str, Any]:
    """The scheduled outbox run: auto-answers for posts joining answered incidents, then every due reply."""
    from sqlmodel import Session

    from incidents.services.channels import build_channels
    from incidents.services.outbox import Outbox
    from incidents.services.workflow import Workflow

    cfg, url = _context(config_dir, database_url)
    engine = open_database(url)
    try:
        with Session(engine) as session, session.begin():
            auto = Workflow(session, cfg, _now).auto_answer_new_posts()
        channels = build_channels(cfg)
        report = Outbox(engine, cfg, channels, _now).run()
    finally:
        engine.dispose()
    logger = get_run_logger()
    for network, reason in report.dry_run_reasons.items():
        logger.warning("replies to %s are a dry run: %s", network, reason)
    return {
        "auto": auto,
        "sent": report.sent,
        "recovered": report.recovered,
        "retry": report.retry,
        "failed": report.failed,
        "dry_run": dict(report.dry_run),
    }


@flow(name="index", log_prints=True)
def index_flow(
    full: bool = False, config_dir: str | None = None, database_url: str | None = None
) -> dict[str, Any]:
    """Sync the embedded full-text index, and Elasticsearch when ELASTICSEARCH_URL is set."""
    from incidents.services.search import fts
    from incidents.services.search.es import run_sync

    cfg, url = _context(config_dir, database_url)
    engine = open_database(url)
    try:
        embedded = fts.rebuild(engine) if full else fts.catch_up(engine)
        es = [asdict(s) for s in run_sync(engine, cfg, _now, full=full)]
    finally:
        engine.dispose()
    get_run_logger().info(
        "embedded index: %d posts refreshed; Elasticsearch: %s",
        embedded,
        "not configured" if not es else ", ".join(f"{s['kind']} {s['indexed']}" for s in es),
    )
    return {"embedded": embedded, "elasticsearch": es}


@flow(name="purge", log_prints=True)
def purge_flow(config_dir: str | None = None, database_url: str | None = None) -> dict[str, Any]:
    """Personal data past its retention (region.yaml → privacy): raw payloads emptied, resolved
    quarantine rows deleted (incidents.domain.privacy.purge; resumable, one transaction per batch)."""
    from incidents.services.purge import purge, stats_dict

    cfg, url = _context(config_dir, database_url)
    engine = open_database(url)
    try:
        stats = purge(engine, cfg, _now)
    finally:
        engine.dispose()
    get_run_logger().info(
        "purge: %d raw payloads emptied, %d resolved quarantine rows deleted",
        stats.raw_emptied,
        stats.quarantine_deleted,
    )
    return stats_dict(stats)


@flow(name="daily-report", log_prints=True)
def report_flow(
    day: str | None = None, config_dir: str | None = None, database_url: str | None = None
) -> dict[str, Any]:
    """The daily report of a region-local day (yesterday by default): database row and CSV files."""
    from datetime import date

    from incidents.services.daily_report import run_report, yesterday

    cfg, url = _context(config_dir, database_url)
    when = date.fromisoformat(day) if day else yesterday(cfg.region.timezone, _now())
    engine = open_database(url)
    try:
        rep, files = run_report(engine, cfg, when, get_settings().data_dir / "reports", _now())
    finally:
        engine.dispose()
    get_run_logger().info("report %s: %s; files %s", when, rep.summary, ", ".join(str(f) for f in files))
    return {"day": when.isoformat(), "summary": rep.summary, "files": [str(f) for f in files]}


@flow(name="routing-learn", log_prints=True)
def routing_learn_flow(config_dir: str | None = None, database_url: str | None = None) -> dict[str, Any]:
    """The dispatchers' reassignments since the last run folded into learned_routing.yaml and the
    desk step's current desk; the change is audited (incidents.services.routing_refresh). Nightly: routing should not shift
    under a dispatcher during a shift."""
    from sqlmodel import Session

    from incidents.services.routing_refresh import refresh_desk_state, refresh_learned_routing

    cfg, url = _context(config_dir, database_url)
    engine = open_database(url)
    try:
        with Session(engine) as session, session.begin():
            out = refresh_learned_routing(session, cfg, _now())
            out["desk"] = refresh_desk_state(session, cfg, _now())
    finally:
        engine.dispose()
    get_run_logger().info("routing-learn: %s", out)
    return out


# The jobs that `serve-flows` and `prefect.yaml` schedule, by the key of `region.yaml → schedules`.
JOB_FLOWS: dict[str, Flow[..., Any]] = {
    "process": process_flow,
    "sla_watch": sla_watch_flow,
    "publish": publish_flow,
    "index": index_flow,
    "purge": purge_flow,
    "report": report_flow,
    "routing_learn": routing_learn_flow,
}
