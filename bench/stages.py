"""One measurement per process: `python -m bench.stages STAGE FILE ...` prints one JSON object.

Why a process per stage: peak memory (RSS) is a per-process high-water mark, so measuring
each stage in its own interpreter gives each its own honest peak, and one stage's caches
never flatter the next one's timing.

Stages:
* `pipeline` — the whole job from JSONL to routed incidents: the replay crawl writes the
  posts (the database write rate), then processing turns them into signals, incidents,
  routes and SLA deadlines — the same functions `incidents run` composes.
* `signals` — normalization + keyword filter alone, then the whole signal stage (entities,
  NER on candidates, decision), in memory.
* `clustering` — the clusterer alone over the complaint signals of the file, in memory:
  signals per second, comparisons per post, and how many incidents it holds.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.config import load_region


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _cpu() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its ended children (the signal worker)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def _clock() -> datetime:
    return datetime.now(UTC)


def _children_peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the signal worker, once ended


def stage_pipeline(
    cfg_dir: Path, path: Path, database_url: str, workers: int | None = None
) -> dict[str, Any]:
    from crawlers.replay import ReplaySource
    from incidents.services.processing import crawl_adapter, prepare, process_pending, sla_check
    from storage.db import open_database

    cfg = load_region(cfg_dir)
    engine = open_database(database_url)
    prepare(engine, cfg)
    c0 = _cpu()
    t0 = time.perf_counter()
    crawl = crawl_adapter(engine, ReplaySource(source_id="bench", path=path, page_size=2000), _clock)
    t1 = time.perf_counter()
    c1 = _cpu()
    proc = process_pending(engine, cfg, _clock, workers=workers)
    t2 = time.perf_counter()
    c2 = _cpu()
    sla = sla_check(engine, cfg, _clock)
    t3 = time.perf_counter()
    engine.dispose()
    posts = crawl.inserted + crawl.updated
    return {
        "posts": posts,
        "crawl_s": round(t1 - t0, 2),
        "db_write_posts_per_s": round(posts / max(t1 - t0, 1e-9)),
        "process_s": round(t2 - t1, 2),
        "process_posts_per_s": round(proc.posts / max(t2 - t1, 1e-9)),
        "sla_s": round(t3 - t2, 2),
        "total_s": round(t3 - t0, 2),
        "posts_per_s": round(posts / max(t3 - t0, 1e-9)),
        "complaints": proc.complaints,
        "incidents": proc.incidents_opened,
        "comparisons_per_complaint": round(proc.comparisons / max(proc.complaints, 1), 2),
        "sla_states": dict(sla),
        # CPU time per post (ms): steadier than the rates on a shared machine; with the worker the
        # processing's wall clock on two free cores is about the larger of the two processes'.
        "cpu_ms_per_post": {
            "crawl": round(1000 * (c1[0] - c0[0]) / max(posts, 1), 3),
            "process": round(1000 * (c2[0] - c1[0]) / max(proc.posts, 1), 3),
            "signal_worker": round(1000 * (c2[1] - c1[1]) / max(proc.posts, 1), 3),
        },
        "peak_rss_mib": round(_peak_rss_mib()),
        "workers": cfg.signals.workers if workers is None else workers,
        "worker_peak_rss_mib": round(_children_peak_rss_mib()),
    }


def _records(path: Path):  # noqa: ANN202 - iterator of PostRecord
    from core.interchange import BadLine, read_jsonl

    with path.open("rb") as fh:
        for _, item in read_jsonl(fh, str(path)):
            if not isinstance(item, BadLine):
                yield item


def stage_signals(cfg_dir: Path, path: Path) -> dict[str, Any]:
    from incidents.services.training import signal_builder

    cfg = load_region(cfg_dir)
    builder = signal_builder(cfg)
    posts = list(_records(path))
    # Warm the lemma cache on a prefix, as a long-running worker would have it warm.
    t0 = time.perf_counter()
    candidates = 0
    for p in posts:
        norm = builder.normalize(p.text)
        if builder.rules(norm.lemmas, norm.tokens):
            candidates += 1
    t1 = time.perf_counter()
    complaints = 0
    for start in range(0, len(posts), 1000):  # the batches the processor uses
        for sig in builder.build_many(posts[start : start + 1000]):
            complaints += bool(getattr(sig, "is_complaint", False))
    t2 = time.perf_counter()
    n = len(posts)
    return {
        "posts": n,
        "filter_posts_per_s": round(n / max(t1 - t0, 1e-9)),
        "candidates_share": round(candidates / max(n, 1), 3),
        "signals_posts_per_s": round(n / max(t2 - t1, 1e-9)),
        "complaints_share": round(complaints / max(n, 1), 3),
        "peak_rss_mib": round(_peak_rss_mib()),
    }


def stage_clustering(cfg_dir: Path, path: Path) -> dict[str, Any]:
    from incidents.domain.clustering import Clusterer
    from incidents.services.training import signal_builder

    cfg = load_region(cfg_dir)
    builder = signal_builder(cfg, use_ner=False)
    sigs = []
    for p in _records(path):
        s = builder(p)
        if s.is_complaint and s.in_region:
            sigs.append((s, f"{p.network}:{p.parent_id}" if p.parent_id else None))
    clusterer = Clusterer(cfg.clustering)
    t0 = time.perf_counter()
    for s, parent in sigs:
        clusterer.assign(s, parent)
    t1 = time.perf_counter()
    n = len(sigs)
    return {
        "signals": n,
        "clustering_signals_per_s": round(n / max(t1 - t0, 1e-9)),
        "comparisons_per_signal": round(clusterer.comparisons / max(n, 1), 2),
        "incidents_in_memory": len(clusterer),
        "peak_rss_mib": round(_peak_rss_mib()),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.stages")
    p.add_argument("stage", choices=["pipeline", "signals", "clustering"])
    p.add_argument("file", type=Path)
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--database", help="database URL (pipeline stage)")
    p.add_argument(
        "--workers", type=int, help="signal workers of the processing (default: the region's setting)"
    )
    a = p.parse_args(argv)
    if a.stage == "pipeline":
        out = stage_pipeline(a.config, a.file, a.database, a.workers)
    elif a.stage == "signals":
        out = stage_signals(a.config, a.file)
    else:
        out = stage_clustering(a.config, a.file)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
