"""`python -m bench --posts N [N …] [--json FILE]`: throughput and memory of the pipeline.

For each size: generate a seeded stream for the region (bench/generator.py), then measure
in separate processes (bench/stages.py) the signal stage, the clustering stage and the
whole pipeline from JSONL to routed incidents on SQLite (and on PostgreSQL with
`--postgres URL`, in a throw-away database). Prints a table; `--json FILE` writes every
figure, the whole pipeline's rate under `posts_per_s` (of the largest size, SQLite).
`--real [DATA]`: the stream is real text instead (appeals of Kursk and St Petersburg, Telegram
news from ../shared/data, bench/real_stream.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.generator import generate_file
from bench.real_stream import write_real_stream
from core.config import load_region
from core.settings import DEFAULT_REGION, PROJECT_ROOT

DEFAULT_CONFIG = PROJECT_ROOT / "config" / "regions" / DEFAULT_REGION

STAGES = ("signals", "clustering", "pipeline")


def _run_stage(
    stage: str, path: Path, cfg_dir: Path, database: str | None = None, workers: int | None = None
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.stages", stage, str(path), "--config", str(cfg_dir)]
    if database:
        cmd += ["--database", database]
    if workers is not None and stage == "pipeline":
        cmd += ["--workers", str(workers)]
    env = dict(os.environ, PREFECT_LOGGING_LEVEL="WARNING")
    out = subprocess.run(
        cmd, check=True, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


class _ThrowawayPostgres:
    """A fresh database on the given server for one measurement, dropped afterwards."""

    def __init__(self, admin_url: str) -> None:
        import sqlalchemy as sa

        self.sa = sa
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.name = f"bench_{uuid.uuid4().hex[:10]}"
        base = admin_url.rsplit("/", 1)[0]
        self.url = f"{base}/{self.name}"

    def __enter__(self) -> str:
        with self.admin.connect() as c:
            c.execute(self.sa.text(f'CREATE DATABASE "{self.name}"'))
        return self.url

    def __exit__(self, *exc: object) -> None:
        with self.admin.connect() as c:
            c.execute(self.sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def measure(
    sizes: list[int],
    cfg_dir: Path,
    *,
    postgres: str | None,
    stages: tuple[str, ...],
    seed: int,
    work: Path,
    workers: int | None = None,
    real: Path | None = None,
) -> dict[str, Any]:
    cfg = load_region(cfg_dir)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "region": cfg.region.code,
        "stream": f"real text from {real}" if real else "synthetic (bench/generator.py)",
        "sizes": {},
    }
    for n in sizes:
        path = work / f"stream_{n}.jsonl"
        t = time.perf_counter()
        if real is not None:
            write_real_stream(real, path, n, seed=seed)
        else:
            generate_file(cfg, path, n, seed=seed)
        row: dict[str, Any] = {"generate_s": round(time.perf_counter() - t, 2)}
        for stage in stages:
            if stage == "pipeline":
                db = work / f"bench_{n}.db"
                db.unlink(missing_ok=True)
                row["sqlite"] = _run_stage("pipeline", path, cfg_dir, f"sqlite:///{db}", workers)
                db.unlink(missing_ok=True)
                if postgres:
                    with _ThrowawayPostgres(postgres) as url:
                        row["postgresql"] = _run_stage("pipeline", path, cfg_dir, url, workers)
            else:
                row[stage] = _run_stage(stage, path, cfg_dir)
        results["sizes"][str(n)] = row
        print(_format_row(n, row), flush=True)
        path.unlink(missing_ok=True)
    largest = results["sizes"][str(max(sizes))]
    if "sqlite" in largest:
        results["posts_per_s"] = largest["sqlite"]["posts_per_s"]
    return results


def _format_row(n: int, row: dict[str, Any]) -> str:
    parts = [f"{n:>9,} posts"]
    if "signals" in row:
        s = row["signals"]
        parts.append(
            f"filter {s['filter_posts_per_s']:,}/s, signals {s['signals_posts_per_s']:,}/s "
            f"({s['peak_rss_mib']} MiB)"
        )
    if "clustering" in row:
        c = row["clustering"]
        parts.append(
            f"clustering {c['clustering_signals_per_s']:,} signals/s, "
            f"{c['comparisons_per_signal']} cmp/signal, {c['incidents_in_memory']:,} incidents "
            f"({c['peak_rss_mib']} MiB)"
        )
    for db in ("sqlite", "postgresql"):
        if db in row:
            p = row[db]
            parts.append(
                f"pipeline[{db}] {p['posts_per_s']:,} posts/s (write {p['db_write_posts_per_s']:,}/s, "
                f"process {p['process_posts_per_s']:,}/s, {p['peak_rss_mib']} MiB"
                + (f" + worker {p['worker_peak_rss_mib']} MiB" if p.get("worker_peak_rss_mib") else "")
                + ")"
            )
    return " | ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, nargs="+", default=[10_000], metavar="N")
    ap.add_argument("--json", type=Path, metavar="FILE", help="write all figures as JSON")
    ap.add_argument("--config", type=Path, default=Path(os.environ.get("INCIDENTS_CONFIG", DEFAULT_CONFIG)))
    ap.add_argument(
        "--postgres",
        metavar="URL",
        nargs="?",
        const="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="also measure the pipeline on PostgreSQL (admin URL; a throw-away database is created)",
    )
    ap.add_argument(
        "--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}"
    )
    ap.add_argument("--seed", type=int, default=46)
    ap.add_argument(
        "--real",
        type=Path,
        nargs="?",
        const=PROJECT_ROOT.parent / "shared" / "data",
        metavar="DATA",
        help="a stream of real text (appeals and news of ../shared/data) instead of the synthetic one",
    )
    ap.add_argument(
        "--workers",
        type=int,
        choices=[0, 1],
        help="signal workers of the processing (default: the region's `signals.workers`)",
    )
    a = ap.parse_args(argv)
    stages = tuple(s for s in a.stages.split(",") if s)
    bad = set(stages) - set(STAGES)
    if bad:
        ap.error(f"unknown stages: {', '.join(sorted(bad))}")
    with tempfile.TemporaryDirectory(prefix="incidents-bench-") as tmp:
        results = measure(
            sorted(a.posts),
            a.config,
            postgres=a.postgres,
            stages=stages,
            seed=a.seed,
            work=Path(tmp),
            workers=a.workers,
            real=a.real,
        )
    if a.json:
        a.json.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
