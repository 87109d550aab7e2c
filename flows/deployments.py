"""Deployments of the jobs, derived from the region's configuration in one place.

Two consumers share `job_specs`: `incidents serve-flows` (one process serves every
deployment on its schedule — the single-machine mode) and `prefect.yaml` (a Prefect server
schedules the same deployments and workers on several machines run them), written by
`incidents prefect-yaml`. A test keeps the committed `prefect.yaml` equal to what the
default region generates, so the two never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import yaml

from core.config import RegionConfig, parse_schedule

if TYPE_CHECKING:
    from prefect import Flow

WORK_POOL = "incidents"
PREFECT_VERSION = "3.8.8"
FIRST_RUN_DELAY_S = 10


@dataclass(slots=True)
class JobSpec:
    """One deployment: which flow, with which parameters, when, and whether it is active."""

    name: str
    flow: str  # key of JOB_ENTRYPOINTS
    cron_or_every: str
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    active: bool = True
    description: str = ""

    def schedule(self, timezone: str, *, start_soon: datetime | None = None) -> Any:
        """A Prefect schedule. With `start_soon`, an interval's first run comes a few seconds
        after that moment instead of one whole interval later (a freshly served machine
        crawls at once; the runs after keep the interval)."""
        from prefect.schedules import Cron, Interval

        kind, value = parse_schedule(self.cron_or_every)
        if kind == "cron":
            return Cron(str(value), timezone=timezone, active=self.active)
        every = timedelta(seconds=int(value))
        anchor = None if start_soon is None else start_soon - every + timedelta(seconds=FIRST_RUN_DELAY_S)
        return Interval(every, anchor_date=anchor, timezone=timezone, active=self.active)


JOB_ENTRYPOINTS = {
    "crawl": "flows/jobs.py:crawl_flow",
    "process": "flows/jobs.py:process_flow",
    "sla_watch": "flows/jobs.py:sla_watch_flow",
    "publish": "flows/jobs.py:publish_flow",
    "index": "flows/jobs.py:index_flow",
    "purge": "flows/jobs.py:purge_flow",
    "report": "flows/jobs.py:report_flow",
    "routing_learn": "flows/jobs.py:routing_learn_flow",
}

JOB_DESCRIPTIONS = {
    "process": "Новые посты → сигналы → инциденты → маршрутизация",
    "sla_watch": "Сроки SLA: под угрозой, просрочено; эскалации",
    "publish": "Отправка ответов из очереди в исходные каналы",
    "index": "Синхронизация поисковых индексов",
    "purge": "Удаление персональных данных старше срока хранения (152-ФЗ)",
    "report": "Ежедневный отчёт: поступления, SLA, рейтинги (БД и CSV)",
    "routing_learn": "Переобучение таблицы маршрутизации на переназначениях диспетчеров (с аудитом)",
}


def job_specs(cfg: RegionConfig) -> list[JobSpec]:
    """A crawl deployment per source (paused when the source is disabled or unscheduled),
    then one per job of `region.yaml → schedules` that has a flow."""
    specs: list[JobSpec] = []
    for s in cfg.sources.sources:
        specs.append(
            JobSpec(
                name=f"crawl-{s.id}",
                flow="crawl",
                cron_or_every=s.schedule or "every 15m",
                parameters={"source_id": s.id},
                tags=["crawl", f"network:{s.network}"],
                active=s.enabled and s.schedule is not None and not s.sample,  # the sample: never deployed
                description=f"Сбор: {s.network}/{s.kind} ({s.id})",
            )
        )
    schedules = cfg.region.schedules
    for job in JOB_ENTRYPOINTS:
        if job == "crawl":
            continue
        specs.append(
            JobSpec(
                name=job.replace("_", "-"),
                flow=job,
                cron_or_every=getattr(schedules, job),
                tags=[job],
                description=JOB_DESCRIPTIONS.get(job, ""),
            )
        )
    return specs


def runner_deployments(
    cfg: RegionConfig, *, config_dir: str | None = None, database_url: str | None = None
) -> list[Any]:
    """RunnerDeployments for `prefect.serve` (single machine, no work pool)."""
    from flows import jobs

    flows: dict[str, Flow[..., Any]] = {"crawl": jobs.crawl_flow, **jobs.JOB_FLOWS}
    now = datetime.now(UTC)
    out = []
    for spec in job_specs(cfg):
        params = dict(spec.parameters)
        if config_dir:
            params["config_dir"] = config_dir
        if database_url:
            params["database_url"] = database_url
        out.append(
            flows[spec.flow].to_deployment(
                name=spec.name,
                parameters=params,
                tags=spec.tags,
                description=spec.description,
                paused=not spec.active,
                concurrency_limit=1,
                schedules=[spec.schedule(cfg.region.timezone, start_soon=now)],
            )
        )
    return out


def prefect_yaml(cfg: RegionConfig) -> str:
    """The `prefect.yaml` for a Prefect server with workers of the `incidents` pool.

    Workers run our image (Dockerfile) or a checkout with the project installed; the
    database and the region come from the worker's environment (DATABASE_URL,
    INCIDENTS_CONFIG), never from this file, which holds no secrets."""
    tz = cfg.region.timezone
    deployments = []
    for spec in job_specs(cfg):
        kind, value = parse_schedule(spec.cron_or_every)
        schedule: dict[str, Any] = (
            {"interval": value} if kind == "interval" else {"cron": value, "timezone": tz}
        )
        schedule["active"] = spec.active
        deployments.append(
            {
                "name": spec.name,
                "entrypoint": JOB_ENTRYPOINTS[spec.flow],
                "description": spec.description,
                "parameters": spec.parameters,
                "tags": spec.tags,
                "concurrency_limit": 1,
                "work_pool": {
                    "name": WORK_POOL,
                    "work_queue_name": "crawl" if spec.flow == "crawl" else "default",
                },
                "schedules": [schedule],
            }
        )
    doc = {
        "name": "incident-monitor",
        "prefect-version": PREFECT_VERSION,
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": "/app"}}],
        "deployments": deployments,
    }
    header = (
        "# prefect.yaml — deployments of the jobs for a Prefect server with workers (docs/deploy.md).\n"
        f"# Generated from config/regions/{cfg.region.code} by `incidents prefect-yaml -o prefect.yaml`;\n"
        "# do not edit by hand (a test compares it with the configuration).\n"
    )
    return header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)
