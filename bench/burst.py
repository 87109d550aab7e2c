"""`python -m bench.burst`: the pipeline under a burst of 10× its usual rate — backlog, drain, no loss.

Why: a storm, a burst main or an outage brings ten times the usual posts in an hour; the
centre must not lose one, and must know how far behind the processing falls and how soon it
catches up. This bench plays a seeded stream (bench/generator.py) into the database at the
usual rate, then at `--factor` × that rate for `--burst` seconds, then at the usual rate again,
the way the crawls store pages (one transaction per page, `incidents.services.processing.crawl_adapter`), while
the processing job (`incidents.services.processing.process_pending`) runs every `--interval` seconds in another
process, as the scheduled `process` job does. Every second it samples the backlog (stored,
not yet processed posts) and the age of the oldest unprocessed post.

It reports: posts offered, stored and processed; posts without a signal (must be 0); posts
stored twice (must be 0); the peak backlog and the largest lag; the time to drain the backlog
after the burst ends; the processing rate. `--json FILE` writes the figures.

The usual rate defaults to 60,000 posts a day (the Nizhny Novgorod centre's figure, seed 001,
≈ 0.7 posts/s); `--rate` sets another.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.generator import StreamGenerator
from core.settings import DEFAULT_REGION, PROJECT_ROOT

DEFAULT_CONFIG = PROJECT_ROOT / "config" / "regions" / DEFAULT_REGION
USUAL_PER_DAY = 60_000


def _now() -> datetime:
    return datetime.now(UTC)


class PacedSource:
    """An adapter that hands out the stream at a rate schedule: each `fetch` is one second's posts."""

    source_id = "burst"

    def __init__(
        self, records: Iterator[dict[str, Any]], phases: list[tuple[float, float]], t0: float
    ) -> None:
        from core.interchange import post_from_dict

        self.parse = post_from_dict
        self.records, self.phases, self.t0 = records, phases, t0
        self.second, self.owed = 0, 0.0
        self.total = sum(rate * seconds for rate, seconds in phases)
        self.offered = 0

    def _rate_at(self, second: int) -> float | None:
        start = 0.0
        for rate, seconds in self.phases:
            if second < start + seconds:
                return rate
            start += seconds
        return None

    def fetch(self, cursor: dict[str, Any] | None) -> Any:
        from crawlers.base import FetchResult

        rate = self._rate_at(self.second)
        if rate is None:
            return FetchResult([], {"second": self.second}, done=True)
        delay = self.t0 + self.second - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self.owed += rate
        n, self.owed = int(self.owed), self.owed - int(self.owed)
        posts = [self.parse(next(self.records)) for _ in range(n)]
        self.offered += n
        self.second += 1
        return FetchResult(posts, {"second": self.second}, done=False)


def produce(
    url: str, cfg_dir: str, phases: list[tuple[float, float]], seed: int, t0: float, out: Any
) -> None:
    """The crawls: one page (one transaction) per second of arrivals."""
    from core.config import load_region
    from incidents.services.processing import crawl_adapter
    from storage.db import make_engine

    cfg = load_region(Path(cfg_dir))
    total = int(sum(r * s for r, s in phases)) + 10
    source = PacedSource(StreamGenerator(cfg, seed=seed).records(total), phases, t0)
    engine = make_engine(url)
    stats = crawl_adapter(engine, source, _now)
    engine.dispose()
    out.put(
        {
            "offered": source.offered,
            "inserted": stats.inserted,
            "pages": stats.pages,
            "finished_at": time.monotonic(),
        }
    )


def consume(url: str, cfg_dir: str, interval: float, stop: Any, out: Any) -> None:
    """The scheduled `process` job, every `interval` seconds, until told to stop and nothing is pending."""
    from core.config import load_region
    from incidents.services.processing import process_pending
    from incidents.services.training import signal_builder
    from storage.db import make_engine

    cfg = load_region(Path(cfg_dir))
    builder = signal_builder(cfg)
    engine = make_engine(url)
    runs, processed, busy = 0, 0, 0.0
    out.put({"ready": True})
    while True:
        t = time.monotonic()
        stats = process_pending(engine, cfg, _now, builder=builder)
        busy += time.monotonic() - t
        runs += 1
        processed += stats.posts + stats.failed
        if stop.is_set() and stats.posts + stats.failed == 0:
            break
        time.sleep(max(0.0, interval - (time.monotonic() - t)))
    engine.dispose()
    out.put({"runs": runs, "processed": processed, "busy_s": round(busy, 2)})


def sample(engine: Any, t0: float, samples: list[dict[str, Any]], done: threading.Event) -> None:
    while not done.is_set():
        with engine.connect() as c:
            pending = c.execute(
                sa.text("select count(*), min(fetched_at) from posts where not processed")
            ).one()
            stored = c.execute(sa.text("select count(*) from posts")).scalar_one()
        oldest = pending[1]
        if isinstance(oldest, str):
            oldest = datetime.fromisoformat(oldest)
        lag = (_now().replace(tzinfo=None) - oldest).total_seconds() if oldest is not None else 0.0
        samples.append(
            {
                "t": round(time.monotonic() - t0, 1),
                "stored": int(stored),
                "backlog": int(pending[0]),
                "lag_s": round(max(lag, 0.0), 1),
            }
        )
        time.sleep(1.0)


def drained_at_s(samples: list[dict[str, Any]], before: float, burst_end: float) -> float | None:
    """When the backlog is back to what the usual rate leaves between two processing runs: the
    first sample after the burst at or under the largest backlog seen before it (arrivals never
    stop, so the backlog is rarely exactly zero)."""
    usual = max((s["backlog"] for s in samples if s["t"] < before), default=0)
    return next((s["t"] for s in samples if s["t"] >= burst_end and s["backlog"] <= usual), None)


def run(
    url: str,
    cfg_dir: Path,
    *,
    rate: float,
    factor: float,
    before: float,
    burst: float,
    after: float,
    interval: float,
    seed: int,
) -> dict[str, Any]:
    from core.config import load_region
    from incidents.services.processing import prepare
    from storage.db import open_database

    cfg = load_region(cfg_dir)
    engine = open_database(url)
    prepare(engine, cfg)
    phases = [(rate, before), (rate * factor, burst), (rate, after)]
    ctx = mp.get_context("spawn")
    q_prod, q_cons, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    consumer = ctx.Process(target=consume, args=(url, str(cfg_dir), interval, stop, q_cons))
    consumer.start()
    q_cons.get(timeout=300)  # the rules are compiled: start the clock
    t0 = time.monotonic() + 1.0
    producer = ctx.Process(target=produce, args=(url, str(cfg_dir), phases, seed, t0, q_prod))
    producer.start()
    samples: list[dict[str, Any]] = []
    done = threading.Event()
    sampler = threading.Thread(target=sample, args=(engine, t0, samples, done), daemon=True)
    sampler.start()
    prod = q_prod.get(timeout=before + burst + after + 600)
    producer.join()
    stop.set()
    cons = q_cons.get(timeout=3600)
    consumer.join()
    drained_at = time.monotonic() - t0
    done.set()
    sampler.join()
    with engine.connect() as c:
        posts = c.execute(sa.text("select count(*) from posts")).scalar_one()
        distinct = c.execute(
            sa.text("select count(*) from (select distinct network, external_id from posts) d")
        ).scalar_one()
        unprocessed = c.execute(sa.text("select count(*) from posts where not processed")).scalar_one()
        without_signal = c.execute(
            sa.text(
                "select count(*) from posts p where not exists (select 1 from signals s where s.post_id = p.id) "
                "and not exists (select 1 from quarantine q where q.origin = 'signals' "
                "and q.location = p.network || ':' || p.external_id)"
            )
        ).scalar_one()
        incidents = c.execute(sa.text("select count(*) from incidents")).scalar_one()
    engine.dispose()
    burst_end = before + burst
    drained = drained_at_s(samples, before, burst_end)
    in_burst = [s for s in samples if before <= s["t"] <= burst_end + interval]
    return {
        "database": url.split(":", 1)[0],
        "usual_rate_per_s": rate,
        "burst_rate_per_s": rate * factor,
        "phases_s": {"before": before, "burst": burst, "after": after},
        "process_interval_s": interval,
        "offered": prod["offered"],
        "stored": posts,
        "stored_twice": posts - distinct,
        "unprocessed": unprocessed,
        "without_signal": without_signal,
        "incidents": incidents,
        "peak_backlog": max((s["backlog"] for s in samples), default=0),
        "peak_backlog_in_burst": max((s["backlog"] for s in in_burst), default=0),
        "max_lag_s": max((s["lag_s"] for s in samples), default=0.0),
        "usual_backlog": max((s["backlog"] for s in samples if s["t"] < before), default=0),
        "drained_s_after_burst": None if drained is None else round(max(drained - burst_end, 0.0), 1),
        "process_runs": cons["runs"],
        "processed": cons["processed"],
        "process_busy_s": cons["busy_s"],
        "process_posts_per_busy_s": round(cons["processed"] / max(cons["busy_s"], 1e-9)),
        "finished_s": round(drained_at, 1),
        "timeline": samples,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    p.add_argument("--database", help="database URL (default: a temporary SQLite file)")
    p.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        help="measure on PostgreSQL in a throw-away database created through this server URL",
    )
    p.add_argument("--rate", type=float, default=USUAL_PER_DAY / 86400, help="usual posts per second")
    p.add_argument("--factor", type=float, default=10.0, help="the burst's multiple of the usual rate")
    p.add_argument("--before", type=float, default=30.0, help="seconds at the usual rate before the burst")
    p.add_argument("--burst", type=float, default=60.0, help="seconds of burst")
    p.add_argument("--after", type=float, default=30.0, help="seconds at the usual rate after the burst")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between processing runs")
    p.add_argument("--seed", type=int, default=46)
    p.add_argument("--json", type=Path, help="write the figures (and the backlog timeline) here")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="burst-") as tmp, contextlib.ExitStack() as stack:
        url = a.database or f"sqlite:///{tmp}/burst.db"
        if a.postgres:
            from bench.__main__ import _ThrowawayPostgres

            url = stack.enter_context(_ThrowawayPostgres(a.postgres))
        out = run(
            url,
            a.config,
            rate=a.rate,
            factor=a.factor,
            before=a.before,
            burst=a.burst,
            after=a.after,
            interval=a.interval,
            seed=a.seed,
        )
    out["machine"] = f"{platform.system()} {platform.machine()}, {mp.cpu_count()} cores"
    out["measured"] = datetime.now(UTC).strftime("%Y-%m-%d")
    timeline = out.pop("timeline")
    for k, v in out.items():
        print(f"{k:28} {v}")
    ok = (
        out["stored"] == out["offered"]
        and out["stored_twice"] == 0
        and out["without_signal"] == 0
        and out["unprocessed"] == 0
    )
    print("no post lost, none doubled" if ok else "DATA LOST OR DOUBLED")
    if a.json:
        a.json.write_text(
            json.dumps({**out, "timeline": timeline}, ensure_ascii=False, indent=1), encoding="utf-8"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
