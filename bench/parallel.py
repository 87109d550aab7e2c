"""`python -m bench.parallel --postgres URL`: one processing worker against two on one database.

Why (issue 19, F9): `incidents run`, `incidents import` and the Prefect workers may run at once
on one PostgreSQL; batches are leased (`storage.store.writer_lock`, `FOR UPDATE SKIP
LOCKED`), so they never fail nor double. This measures what a second worker buys: a seeded
stream (bench/generator.py) is stored once, copied to a throw-away database per case, and
`process_pending` runs in `--workers` processes started together; the rate is the posts over
the wall time until the last one ends. Each case checks that every post was processed once.
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

import sqlalchemy as sa

from core.settings import DEFAULT_REGION, PROJECT_ROOT

DEFAULT_CONFIG = PROJECT_ROOT / "config" / "regions" / DEFAULT_REGION
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _child(url: str, config: str, batch: int) -> None:
    """One worker: what `incidents run` does after its crawls."""
    from core.config import load_region
    from incidents.services.processing import process_pending
    from storage.db import make_engine

    cfg = load_region(Path(config))
    stats = process_pending(make_engine(url), cfg, lambda: NOW, batch_size=batch)
    print(json.dumps({"posts": stats.posts}), flush=True)


def _database(admin: str, template: str | None) -> str:
    name = f"bench_parallel_{uuid.uuid4().hex[:8]}"
    eng = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    eng.dispose()
    return name


def _drop(admin: str, name: str) -> None:
    eng = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--config", default=str(DEFAULT_CONFIG))
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    from bench.generator import generate_file
    from core.config import load_region
    from crawlers.replay import ReplaySource
    from incidents.services.processing import crawl_adapter, prepare
    from storage.db import open_database

    admin = args.postgres.replace("postgresql://", "postgresql+psycopg://", 1)
    base = admin.rsplit("/", 1)[0]
    cfg = load_region(Path(args.config))
    seed_db = _database(admin, None)
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "stream.jsonl"
            generate_file(cfg, path, args.posts, seed=46)
            engine = open_database(f"{base}/{seed_db}")
            prepare(engine, cfg)
            stored = crawl_adapter(engine, ReplaySource(source_id="bench", path=path), lambda: NOW).inserted
            engine.dispose()
        for n in args.workers:
            name = _database(admin, seed_db)
            url = f"{base}/{name}"
            try:
                env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
                argv_child = [
                    sys.executable,
                    "-m",
                    "bench.parallel",
                    "--child",
                    url,
                    args.config,
                    str(args.batch),
                ]
                t0 = time.perf_counter()
                procs = [
                    subprocess.Popen(argv_child, env=env, stdout=subprocess.PIPE, text=True) for _ in range(n)
                ]
                outs = [p.communicate()[0] for p in procs]
                wall = time.perf_counter() - t0
                assert all(p.returncode == 0 for p in procs), "a worker failed"
                done = [json.loads(o.strip().splitlines()[-1])["posts"] for o in outs]
                eng = sa.create_engine(url)
                with eng.connect() as c:
                    left = c.execute(sa.text("select count(*) from posts where not processed")).scalar_one()
                    sigs = c.execute(sa.text("select count(*) from signals")).scalar_one()
                    incs = c.execute(sa.text("select count(*) from incidents")).scalar_one()
                eng.dispose()
                row = {
                    "workers": n,
                    "posts": stored,
                    "per_worker": done,
                    "unprocessed": left,
                    "signals": sigs,
                    "incidents": incs,
                    "wall_s": round(wall, 1),
                    "posts_per_s": round(stored / wall, 1),
                }
                results.append(row)
                print(json.dumps(row, ensure_ascii=False), flush=True)
            finally:
                _drop(admin, name)
    finally:
        _drop(admin, seed_db)
    print(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
