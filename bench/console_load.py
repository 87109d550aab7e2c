"""`python -m bench.console_load`: the web console under 50 concurrent users on loopback.

Why: a control centre's shift — moderators triaging, executors of several bodies, controllers
and observers watching the SLA board — works the console at once; every page must stay quick
while they do. This bench builds a database as a centre would have it after a month (a seeded
stream of the region's posts, `bench/generator.py`, through the production crawl and processing
steps: thousands of incidents, some already assigned), adds users of every role, starts the real
console in its own process the production way (`incidents serve`: uvicorn, one process, on
127.0.0.1) and runs locust headless against it (`bench/console_locustfile.py`): `--users`
people log in through the form (CSRF token, session cookie) and click through the queue with and
without filters, the search, incident cards (each takes its "working on it" lock), the SLA board
and its live counters, the map, the ratings and the exports, and assign incidents, with a think
time of 1–3 s between clicks, for `--run-time` seconds.

It reports requests per second, p50 / p95 / p99 and the maximum per page, and every error (an
HTTP status that is not the page, a lost session, a refused connection). Page figures start once
every user has logged in: the log-in storm of the ramp-up (bcrypt, on purpose slow) is reported
on its own line. `--json FILE` writes every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.settings import DEFAULT_REGION, PROJECT_ROOT

DEFAULT_CONFIG = PROJECT_ROOT / "config" / "regions" / DEFAULT_REGION
PASSWORD = "нагрузка-консоли-2026"
LOCUSTFILE = Path(__file__).resolve().parent / "console_locustfile.py"
# a shift of 50: who logs in (role, how many); executors spread over the bodies with most incidents
ROLES = [("admin", 3), ("moderator", 14), ("controller", 7), ("observer", 8), ("executor", 18)]
WORDS = [
    "мусор",
    "яма",
    "вода",
    "свет",
    "отопление",
    "дорога",
    "подъезд",
    "контейнер",
    "канализация",
    "автобус",
]


def _say(msg: str) -> None:
    print(msg, flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- the database
def seed(
    url: str,
    cfg: Any,
    posts: int,
    seed_no: int,
    work: Path,
    users: int,
    assign_share: float,
    rounds: int | None = None,
) -> dict[str, Any]:
    """A month of the region's stream through the production steps, some incidents assigned, and users.
    Returns the plan for the locust users (logins, what each may open, filters, bodies)."""
    from sqlmodel import Session, col, select

    from bench.generator import StreamGenerator
    from core.roles import Actor, Role
    from core.states import OPEN_STATES
    from crawlers.replay import ReplaySource
    from incidents.domain.passwords import hash_password
    from incidents.services.processing import crawl_adapter, prepare, process_pending
    from incidents.services.search import fts
    from incidents.services.training import signal_builder
    from incidents.services.workflow import Workflow, WorkflowError, add_user
    from storage.db import open_database
    from storage.models import Incident

    now = datetime.now(UTC)
    engine = open_database(url)
    prepare(engine, cfg)
    path = work / "stream.jsonl"
    gen = StreamGenerator(cfg, seed=seed_no, start=now - timedelta(days=30, hours=1))
    with path.open("w", encoding="utf-8") as fh:
        gen.write(posts, fh)
    t0 = time.perf_counter()
    crawl_adapter(engine, ReplaySource(source_id="bench_console", path=path), lambda: now)
    # NER only names persons and organisations in a card; the incidents are the same without it
    stats = process_pending(engine, cfg, lambda: now, builder=signal_builder(cfg, use_ner=False))
    fts.catch_up(engine)
    _say(
        f"seeded: {posts:,} posts → {stats.incidents_opened:,} "
        f"incidents opened, in {time.perf_counter() - t0:.0f} s"
    )
    rng = random.Random(seed_no)
    open_values = {s.value for s in OPEN_STATES}
    with Session(engine) as s:
        incs = s.exec(
            select(Incident.id, Incident.body_code, Incident.status).where(
                col(Incident.merged_into_id).is_(None)
            )
        ).all()
    body_counts = Counter(b for _, b, st in incs if b and st in open_values and b != cfg.bodies.triage_body)
    bodies = [b for b, _ in body_counts.most_common(6)] or [cfg.bodies.bodies[0].code]
    # the shift has been working: a share of the open incidents is already assigned (audited, as always)
    admin = Actor("admin1", Role.ADMIN, None)
    # production cost by default: the log-ins are bcrypt at the default rounds
    hashed = hash_password(PASSWORD) if rounds is None else hash_password(PASSWORD, rounds=rounds)
    with Session(engine) as s, s.begin():
        plan_users: list[dict[str, Any]] = []
        made = 0
        for role, count in ROLES:
            count = max(1, round(count * users / 50))
            for i in range(count):
                body = bodies[i % len(bodies)] if role == "executor" else None
                login = f"{role}{i + 1}"
                row = add_user(s, cfg, login=login, role=role, body=body, name=f"{role} {i + 1}", now=now)
                row.password_hash = hashed
                s.add(row)
                plan_users.append({"login": login, "role": role, "scope": body or "all"})
                made += 1
    chosen = [iid for iid, _, st in incs if st in open_values and rng.random() < assign_share]
    t0 = time.perf_counter()
    for iid in chosen:
        with contextlib.suppress(WorkflowError, ValueError), Session(engine) as s, s.begin():
            Workflow(s, cfg, lambda: now).assign(admin, iid, rng.choice(bodies), "разбор смены")
    _say(f"assigned {len(chosen):,} incidents in {time.perf_counter() - t0:.1f} s; {made} users")
    with Session(engine) as s:
        rows = s.exec(
            select(Incident.id, Incident.body_code, Incident.status).where(
                col(Incident.merged_into_id).is_(None)
            )
        ).all()
    visible: dict[str, list[int]] = defaultdict(list)
    for iid, body, _ in rows:
        visible["all"].append(iid)
        if body:
            visible[body].append(iid)
    open_count = sum(1 for _, _, st in rows if st in open_values)
    munis = [m.code for m in cfg.territories.municipalities[:8]]
    cats = sorted({c.code for c in cfg.rubricator.categories})
    filters = (
        [{"category": c} for c in ["roads", "water", "waste", "energy", "housing_utilities"] if c in cats]
        + [{"municipality": m} for m in munis[:5]]
        + [{"network": n} for n in ("vk", "telegram", "pos")]
        + [
            {"status": "assigned"},
            {"status": "all", "category": "roads"},
            {"body": bodies[0]},
            {"since": (now - timedelta(days=7)).date().isoformat()},
        ]
    )
    engine.dispose()
    return {
        "users": plan_users,
        "visible": {k: v for k, v in visible.items()},
        "bodies": bodies,
        "password": PASSWORD,
        "filters": filters,
        "words": WORDS,
        "categories": cats,
        "incidents": len(rows),
        "open": open_count,
        "posts": posts,
    }


# --------------------------------------------------------------------------- the server
def _env() -> dict[str, str]:
    """This checkout's code in the children too (an editable install may point at another checkout)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def start_console(url: str, data_dir: Path, port: int, workers: int = 1) -> subprocess.Popen[str]:
    env = {
        **_env(),
        "DATABASE_URL": url,
        "INCIDENTS_DATA_DIR": str(data_dir),
        "CONSOLE_SECRET_KEY": "нагрузочный-тест-консоли-" + os.urandom(8).hex(),
    }
    exe = shutil.which("incidents", path=str(Path(sys.executable).parent)) or ""
    cmd = [exe] if exe else [sys.executable, "-m", "cli.main"]
    proc = subprocess.Popen(
        [*cmd, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    import httpx

    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("incidents serve exited: " + (proc.stdout.read() if proc.stdout else ""))
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("incidents serve did not answer within 120 s")
        time.sleep(0.3)


def stop(proc: subprocess.Popen[str]) -> str:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, 15)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, _ = proc.communicate()
    return out or ""


class CpuSampler:
    """The console's processes' CPU time (the server and its workers), sampled every second, and the
    machine's load average: on a shared machine the latencies say as much about the neighbours as about
    the console, the CPU per request does not."""

    def __init__(self, pid: int) -> None:
        import threading

        self.pid, self.samples = pid, []  # (time, cpu seconds, load average)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _cpu(self) -> float:
        import psutil

        try:
            root = psutil.Process(self.pid)
            total = 0.0
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    total += t.user + t.system
            return total
        except psutil.Error:
            return self.samples[-1][1] if self.samples else 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self._cpu(), os.getloadavg()[0]))
            self._stop.wait(1.0)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _at(self, t: float) -> float:
        before = [s for s in self.samples if s[0] <= t]
        return (before[-1] if before else self.samples[0])[1] if self.samples else 0.0

    def per_request(self, start: float, end: float, requests: int) -> float | None:
        return (
            round((self._at(end) - self._at(start)) * 1000 / requests, 1)
            if requests and self.samples
            else None
        )

    def load_average(self, start: float, end: float) -> float | None:
        inside = [s[2] for s in self.samples if start <= s[0] <= end]
        return round(statistics.fmean(inside), 1) if inside else None


# --------------------------------------------------------------------------- the figures
def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def figures(samples: list[dict[str, Any]], started: float, ended: float) -> dict[str, Any]:
    """Per page: count, rate, p50/p95/p99/max (ms), errors; from the requests started in [started, ended)."""
    pages: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, Counter] = defaultdict(Counter)
    window = [x for x in samples if started <= x["t"] < ended]
    for x in window:
        pages[x["name"]].append(x["ms"])
        if x["error"]:
            errors[x["name"]][x["error"]] += 1
    seconds = max(1e-9, ended - started)
    rows = {}
    for name in sorted(pages):
        ms = pages[name]
        rows[name] = {
            "requests": len(ms),
            "per_s": round(len(ms) / seconds, 2),
            "p50": round(_pct(ms, 50)),
            "p95": round(_pct(ms, 95)),
            "p99": round(_pct(ms, 99)),
            "max": round(max(ms)),
            "mean": round(statistics.fmean(ms)),
            "errors": sum(errors[name].values()),
        }
    every = [x["ms"] for x in window]
    return {
        "seconds": round(seconds, 1),
        "requests": len(window),
        "per_s": round(len(window) / seconds, 2),
        "p50": round(_pct(every, 50)) if every else None,
        "p95": round(_pct(every, 95)) if every else None,
        "p99": round(_pct(every, 99)) if every else None,
        "errors": sum(sum(c.values()) for c in errors.values()),
        "pages": rows,
        "error_kinds": {n: dict(c.most_common(5)) for n, c in errors.items() if c},
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from core.config import load_region

    cfg = load_region(args.config)
    work = args.reuse or Path(tempfile.mkdtemp(prefix="console-load-"))
    url = args.database or f"sqlite:///{work / 'console.db'}"
    plan_path, samples_path = work / "plan.json", work / "samples.jsonl"
    try:
        if args.reuse:  # the database and plan of a kept run (--keep): no seeding
            plan = json.loads(plan_path.read_text(encoding="utf-8"))
            samples_path.unlink(missing_ok=True)
        else:
            _say(f"seeding {args.posts:,} posts into {url} …")
            plan = seed(url, cfg, args.posts, args.seed, work, args.users, args.assigned, args.bcrypt_rounds)
            plan_path.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
        port = _free_port()
        server = start_console(url, work, port, args.workers)
        _say(
            f"console up on 127.0.0.1:{port}: {plan['incidents']:,} incidents ({plan['open']:,} open), "
            f"{len(plan['users'])} users; locust: {args.users} users, spawn rate {args.spawn_rate}/s, "
            f"{args.run_time} s"
        )
        env = {
            **_env(),
            "LOAD_PLAN": str(plan_path),
            "LOAD_SAMPLES": str(samples_path),
            "LOAD_THINK": args.think,
        }
        locust = shutil.which("locust", path=str(Path(sys.executable).parent)) or "locust"
        cmd = [
            locust,
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--host",
            f"http://127.0.0.1:{port}",
            "--users",
            str(args.users),
            "--spawn-rate",
            str(args.spawn_rate),
            "--run-time",
            f"{args.run_time}s",
            "--stop-timeout",
            "10",
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--csv",
            str(work / "locust"),
        ]
        started = time.time()
        cpu = CpuSampler(server.pid)
        cpu.start()
        try:
            done = subprocess.run(
                cmd, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=args.run_time + 180
            )
        finally:
            cpu.stop()
            server_log = stop(server)
            (work / "server.log").write_text(server_log, encoding="utf-8")
        ended = time.time()
        samples = [
            json.loads(line) for line in samples_path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
        logins = [x for x in samples if x["name"] == "login"]
        ramp_end = max((x["t"] + x["ms"] / 1000 for x in logins), default=started)
        measured_end = min(ended, max((x["t"] for x in samples), default=ended) + 1e-6)
        pages = [x for x in samples if not x["name"].startswith("login")]
        out = {
            "date": datetime.now(UTC).date().isoformat(),
            "machine": f"{platform.system()} {platform.machine()}, {mp.cpu_count()} cores, Python {platform.python_version()}",
            "database": "PostgreSQL" if url.startswith("postgres") else "SQLite",
            "command": "python -m bench.console_load " + " ".join(sys.argv[1:]),
            "posts": plan["posts"],
            "incidents": plan["incidents"],
            "open": plan["open"],
            "users": args.users,
            "think_seconds": args.think,
            "run_time": args.run_time,
            "workers": args.workers,
            "login": figures(logins, started, ended)["pages"].get("login"),
            "ramp_up_seconds": round(ramp_end - started, 1),
            "steady": figures(pages, ramp_end, measured_end),
            "whole_run": figures(samples, started, measured_end),
            "locust_exit": done.returncode,
            "server_cpu_ms_per_request": cpu.per_request(
                ramp_end, measured_end, sum(1 for x in pages if ramp_end <= x["t"] < measured_end)
            ),
            "load_average": cpu.load_average(ramp_end, measured_end),
            "server_errors": [
                line
                for line in server_log.splitlines()
                if line.startswith(("ERROR", "sqlalchemy.", "sqlite3.", "psycopg."))
                or "Error:" in line.split(" ", 1)[0]
            ][:10],
        }
        if done.returncode not in (0, 1):  # 1: locust ran but some requests failed (reported above)
            out["locust_stderr"] = done.stderr[-3000:]
        return out
    finally:
        if args.keep or args.reuse:
            _say(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(out: dict[str, Any]) -> None:
    s = out["steady"]
    _say(
        f"\n{out['date']} · {out['machine']} · {out['database']} · {out['incidents']:,} incidents "
        f"({out['open']:,} open) from {out['posts']:,} posts · {out['users']} users, think {out['think_seconds']} s · "
        f"{out['workers']} console process(es)"
    )
    lg = out.get("login") or {}
    _say(
        f"log-in (ramp-up, {out['ramp_up_seconds']} s): {lg.get('requests', 0)} log-ins, p50 {lg.get('p50')} ms, "
        f"p95 {lg.get('p95')} ms, errors {lg.get('errors', 0)}"
    )
    _say(
        f"after the ramp-up, {s['seconds']} s: {s['requests']:,} requests, {s['per_s']} req/s, "
        f"p50 {s['p50']} ms, p95 {s['p95']} ms, p99 {s['p99']} ms, errors {s['errors']}"
    )
    _say(
        f"console CPU per request (all its processes, after the ramp-up): {out['server_cpu_ms_per_request']} ms; "
        f"machine load average meanwhile: {out['load_average']} (2 cores = 2.0 when only this runs)"
    )
    _say(
        f"{'page':28} {'requests':>8} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>6} {'errors':>6}"
    )
    for name, r in sorted(s["pages"].items(), key=lambda kv: -kv[1]["requests"]):
        _say(
            f"{name:28} {r['requests']:>8} {r['per_s']:>7} {r['p50']:>6} {r['p95']:>6} {r['p99']:>6} {r['max']:>6} "
            f"{r['errors']:>6}"
        )
    for name, kinds in s["error_kinds"].items():
        _say(f"  errors on {name}: {kinds}")
    if out["server_errors"]:
        _say("server log: " + " | ".join(out["server_errors"]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.console_load", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    p.add_argument(
        "--database",
        help="database URL (default: a temporary SQLite file); it is filled, so use a throw-away one",
    )
    p.add_argument(
        "--posts", type=int, default=20_000, help="posts in the seeded month (≈ one incident per 7)"
    )
    p.add_argument(
        "--assigned", type=float, default=0.35, help="share of the open incidents assigned beforehand"
    )
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--workers", type=int, default=1, help="console processes (incidents serve --workers)")
    p.add_argument("--spawn-rate", type=float, default=10.0)
    p.add_argument("--run-time", type=int, default=60, help="seconds")
    p.add_argument("--think", default="1,3", help="seconds between a user's clicks: MIN,MAX")
    p.add_argument("--seed", type=int, default=46)
    p.add_argument(
        "--bcrypt-rounds",
        type=int,
        help="the users' password hashes (default: production's 12; the "
        "smoke test uses 4 so its few seconds are not all log-in)",
    )
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument(
        "--keep", action="store_true", help="keep the work folder (database, locust CSV, raw timings)"
    )
    p.add_argument(
        "--reuse", type=Path, metavar="DIR", help="run again on the database and plan a --keep run left"
    )
    args = p.parse_args(argv)
    out = run(args)
    report(out)
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0 if out["steady"]["errors"] == 0 and (out.get("login") or {}).get("errors", 1) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
