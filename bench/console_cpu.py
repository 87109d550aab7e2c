"""`python -m bench.console_cpu DIR`: CPU time per request of each console page, in-process.

Why: on the shared two-core machine the load test's latencies (`bench/console_load.py`) say as much
about the neighbours as about the console; the CPU a page costs does not. This bench opens the real
app (`console.app.create_app`) over the month database a `python -m bench.console_load --keep` run
left in DIR (its `console.db` and `plan.json`), logs in one person per role through the form (bcrypt
once per person, outside the measured requests) and asks each page `--repeat` times through
FastAPI's TestClient, measuring the process's CPU time (`time.process_time`, every thread: the
TestClient runs the app on a worker thread) and the wall time around each request. The first request
of a page fills the per-process caches (the open incidents' snapshot, the figures' memo) and is
reported on its own as "cold"; the figure of a page is the mean of the others.

Then `--mix` seconds of the load test's own mix of clicks (the same weights as
`bench/console_locustfile.py`, assignments included, so the snapshot refreshes as it does under
load) give the CPU per request of the mix. And an XLSX of `--xlsx-rows` queue rows (the open
queue repeated up to that count) is timed through `console.exports.to_xlsx` alone.

`--profile DIR2` writes a cProfile file per page (`pstats` readable) instead of timing only.
`--json FILE` writes every figure. The database is changed by the assignments of the mix; use
a kept copy, never a production database.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import random
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from core.settings import DEFAULT_REGION, PROJECT_ROOT

DEFAULT_CONFIG = PROJECT_ROOT / "config" / "regions" / DEFAULT_REGION
CSRF_FORM = re.compile(r'name="csrf" value="([^"]+)"')
CSRF_PAGE = re.compile(r'data-csrf="([^"]+)"')


def _client(app: Any, login: str, password: str, persistent: bool = True) -> tuple[Any, str]:
    """A logged-in TestClient. `persistent`: one event loop for all its requests, as a server has (not
    one started per request); the profiler needs the per-request threads, to follow them."""
    from fastapi.testclient import TestClient

    c = TestClient(app)
    if persistent:
        c.__enter__()
    token = CSRF_FORM.search(c.get("/login").text)
    r = c.post(
        "/login",
        data={"csrf": token.group(1) if token else "", "login": login, "password": password},
        follow_redirects=False,
    )
    if r.status_code != 303:
        raise RuntimeError(f"log-in of {login} refused: {r.status_code}")
    found = CSRF_PAGE.search(c.get("/sla").text)
    return c, found.group(1) if found else ""


def _measure(call: Callable[[], Any], repeat: int, profile: Path | None, name: str) -> dict[str, Any]:
    """CPU and wall ms of the first call (cold caches) and the mean and median of the next `repeat`."""
    cpu: list[float] = []
    wall: list[float] = []
    profs: list[cProfile.Profile] = []

    def start(*_: Any) -> None:  # the first event of every new thread: a profiler of its own
        prof = cProfile.Profile()
        profs.append(prof)
        prof.enable()

    for i in range(repeat + 1):
        if profile is not None and i == 1:  # the app runs on threads the TestClient starts per request
            threading.setprofile(start)
        c0, w0 = time.process_time(), time.perf_counter()
        r = call()
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{name}: HTTP {r.status_code}")
    if profile is not None:
        threading.setprofile(None)  # type: ignore[arg-type]
        for prof in profs:
            prof.disable()
        profile.mkdir(parents=True, exist_ok=True)
        if profs:
            stats = pstats.Stats(profs[0])
            for prof in profs[1:]:
                stats.add(prof)
            stats.dump_stats(str(profile / (re.sub(r"[^\w.-]+", "_", name).strip("_") + ".prof")))
    warm = cpu[1:]
    return {
        "cold_cpu_ms": round(cpu[0], 1),
        "cpu_ms": round(statistics.fmean(warm), 1),
        "cpu_ms_median": round(statistics.median(warm), 1),
        "wall_ms": round(statistics.fmean(wall[1:]), 1),
        "bytes": len(r.content),
    }


def calibrate() -> float:
    """CPU ms of a fixed piece of pure Python (dicts, strings, sorting: what rendering a page does).
    On a shared machine a core's speed moves with what the neighbours run on its sibling thread; the
    figures of two runs compare only at a similar calibration."""
    c0 = time.process_time()
    for _ in range(3):
        rows = [{"id": i, "name": f"инцидент {i}", "due": (i * 7919) % 1000} for i in range(20_000)]
        rows.sort(key=lambda r: (r["due"], r["id"]))
        "".join(f"<td>{r['name']}</td>" for r in rows)
    return round((time.process_time() - c0) * 1000 / 3, 1)


def pages(plan: dict[str, Any], rng: random.Random) -> list[tuple[str, str, str]]:
    """(name, role, url) of every page measured."""
    card_ids = plan["visible"]["all"]
    mun = next((f["municipality"] for f in plan["filters"] if "municipality" in f), "")
    return [
        ("/queue", "moderator", "/queue"),
        ("/queue?page=5", "moderator", "/queue?page=5"),
        ("/queue?category=roads", "moderator", "/queue?category=roads"),
        ("/queue?municipality=…", "moderator", "/queue?" + urlencode({"municipality": mun})),
        ("/queue?status=all&category=roads", "moderator", "/queue?status=all&category=roads"),
        ("/queue?status=assigned", "moderator", "/queue?status=assigned"),
        ("/queue?q=мусор&status=all", "moderator", "/queue?" + urlencode({"q": "мусор", "status": "all"})),
        (
            "/queue?q=яма&status=all&page=2",
            "moderator",
            "/queue?" + urlencode({"q": "яма", "status": "all", "page": 2}),
        ),
        ("/inbox", "executor", "/inbox"),
        ("/incidents/ID (moderator)", "moderator", f"/incidents/{rng.choice(card_ids)}"),
        ("/incidents/ID (observer)", "observer", f"/incidents/{rng.choice(card_ids)}"),
        (
            "/incidents/ID (executor)",
            "executor",
            f"/incidents/{rng.choice(plan['visible'][plan['bodies'][0]])}",
        ),
        ("/sla", "controller", "/sla"),
        ("/sla/counters.json", "controller", "/sla/counters.json"),
        ("/map?period=30", "observer", "/map?period=30"),
        ("/ratings?period=30&by=body", "observer", "/ratings?period=30&by=body"),
        ("/ratings?period=90&by=municipality", "observer", "/ratings?period=90&by=municipality"),
        ("export csv (queue)", "moderator", "/queue?export=csv"),
        ("export xlsx (queue)", "moderator", "/queue?export=xlsx"),
    ]


# the clicks of bench/console_locustfile.py with their weights: (weight, what)
MIX = [
    (8, "queue"),
    (6, "filtered"),
    (3, "search"),
    (10, "card"),
    (4, "sla"),
    (6, "counters"),
    (3, "map"),
    (2, "ratings"),
    (2, "assign"),
]


def mix(
    clients: dict[str, tuple[Any, str]], plan: dict[str, Any], seconds: float, rng: random.Random
) -> dict[str, Any]:
    """The load test's clicks, one after another, for `seconds`: CPU per request of the whole mix."""
    kinds = [k for w, k in MIX for _ in range(w)]
    roles = [u["role"] for u in plan["users"]]
    n, c0, w0 = 0, time.process_time(), time.perf_counter()
    per: dict[str, list[float]] = {}
    link = re.compile(r'href="/incidents/(\d+)"')
    # an executor opens what their inbox shows: the assignments of the mix move incidents to other bodies
    inbox = (
        [int(x) for x in link.findall(clients["executor"][0].get("/inbox").text)]
        if "executor" in clients
        else []
    )
    while time.perf_counter() - w0 < seconds:
        role = rng.choice(roles)
        c, csrf = clients[role]
        ids = plan["visible"]["all"] if role != "executor" else inbox or plan["visible"][plan["bodies"][0]]
        kind = rng.choice(kinds)
        k0 = time.process_time()
        if kind == "queue":
            r = c.get("/inbox" if role == "executor" else "/queue")
            if role == "executor":
                inbox = [int(x) for x in link.findall(r.text)] or inbox
        elif kind == "filtered":
            r = c.get("/queue?" + urlencode(rng.choice(plan["filters"])))
        elif kind == "search":
            r = c.get("/queue?" + urlencode({"q": rng.choice(plan["words"]), "status": "all"}))
        elif kind == "card":
            iid = rng.choice(ids)
            r = c.get(f"/incidents/{iid}")
            if role != "observer" and rng.random() < 0.4:
                c.post(f"/incidents/{iid}/lock.json", headers={"X-CSRF-Token": csrf})
                n += 1
        elif kind == "sla":
            r = c.get("/sla")
        elif kind == "counters":
            r = c.get("/sla/counters.json")
        elif kind == "map":
            r = c.get("/map?" + urlencode({"period": rng.choice(["7", "30", "90"])}))
        elif kind == "ratings":
            r = c.get(
                "/ratings?"
                + urlencode({"period": rng.choice(["30", "90"]), "by": rng.choice(["body", "municipality"])})
            )
        else:
            if role not in ("admin", "moderator"):
                continue
            r = c.post(
                f"/incidents/{rng.choice(ids)}/assign",
                data={"csrf": csrf, "body": rng.choice(plan["bodies"]), "reason": "замер: переназначение"},
                follow_redirects=False,
            )
        per.setdefault(kind, []).append((time.process_time() - k0) * 1000)
        n += 1
        if r.status_code not in (200, 303):
            raise RuntimeError(f"mix {kind}: HTTP {r.status_code}")
    cpu = time.process_time() - c0
    return {
        "seconds": round(time.perf_counter() - w0, 1),
        "requests": n,
        "cpu_ms_per_request": round(cpu * 1000 / max(1, n), 1),
        "by_kind_cpu_ms": {k: round(statistics.fmean(v), 1) for k, v in sorted(per.items())},
    }


def xlsx(app: Any, rows_wanted: int) -> dict[str, Any]:
    """`console.exports.to_xlsx` over `rows_wanted` rows of the queue's export columns."""
    from sqlmodel import Session

    from console import data, exports
    from console.routes.exports import queue_table
    from core.roles import Actor, Role

    ctx = app.state.console
    with Session(ctx.engine) as s:
        rows = data.queue(
            s,
            ctx.engine,
            ctx.cfg,
            Actor("bench", Role.ADMIN, None),
            data.ListFilters(status="all"),
            ctx.now(),
            ctx.clocks,
            ctx.snapshot,
        )
    columns, table = queue_table(ctx, rows)
    table = (table * (rows_wanted // max(1, len(table)) + 1))[:rows_wanted]
    c0, w0 = time.process_time(), time.perf_counter()
    body = exports.to_xlsx(columns, table, "queue")
    return {
        "rows": len(table),
        "cpu_ms": round((time.process_time() - c0) * 1000),
        "wall_ms": round((time.perf_counter() - w0) * 1000),
        "bytes": len(body),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.console_cpu", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "work", type=Path, help="the folder a `bench.console_load --keep` run left (console.db, plan.json)"
    )
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    p.add_argument("--repeat", type=int, default=20, help="measured requests per page (after a cold one)")
    p.add_argument("--mix", type=float, default=30.0, help="seconds of the load test's mix (0: none)")
    p.add_argument("--xlsx-rows", type=int, default=3000)
    p.add_argument("--only", help="measure only the pages whose name contains this")
    p.add_argument("--profile", type=Path, help="write a cProfile file per page into this folder")
    p.add_argument("--seed", type=int, default=18)
    p.add_argument(
        "--default-gc",
        action="store_true",
        help="keep CPython's collector defaults (the console's server tunes it: console.app.prepare_server_process)",
    )
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)

    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from console.app import create_app
    from console.settings import ConsoleSettings
    from core.config import load_region
    from storage.db import open_database

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    plan = json.loads((args.work / "plan.json").read_text(encoding="utf-8"))
    cfg = load_region(args.config)
    engine = open_database(f"sqlite:///{args.work / 'console.db'}")
    app = create_app(
        engine, cfg, ConsoleSettings(secret_key=SecretStr("замер-процессора-консоли-" + os.urandom(8).hex()))
    )
    if not args.default_gc:
        from console.app import prepare_server_process

        prepare_server_process(cfg)
    rng = random.Random(args.seed)
    first = {u["role"]: u for u in reversed(plan["users"])}  # role1 of each role
    clients = {
        role: _client(app, u["login"], plan["password"], not args.profile) for role, u in first.items()
    }
    out: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "calibration_ms": calibrate(),
        "command": "python -m bench.console_cpu " + " ".join(sys.argv[1:] if argv is None else argv),
        "gc": "defaults" if args.default_gc else "console.app.prepare_server_process",
        "incidents": plan["incidents"],
        "open": plan["open"],
        "pages": {},
    }
    print(f"{'page':36} {'cold':>7} {'cpu ms':>7} {'median':>7} {'wall ms':>8} {'kB':>6}", flush=True)
    anonymous = TestClient(app)
    if not args.profile:
        anonymous.__enter__()
    base = _measure(lambda: anonymous.get("/static/console.css"), args.repeat, None, "baseline")
    out["baseline_static_cpu_ms"] = base["cpu_ms"]
    print(
        f"{'(a static file: the harness itself)':36} {base['cold_cpu_ms']:>7} {base['cpu_ms']:>7} {base['cpu_ms_median']:>7} {base['wall_ms']:>8}"
    )
    for name, role, url in pages(plan, rng):
        if args.only and args.only not in name:
            continue
        c, _ = clients[role]
        row = _measure(lambda c=c, url=url: c.get(url), args.repeat, args.profile, name)
        out["pages"][name] = row
        print(
            f"{name:36} {row['cold_cpu_ms']:>7} {row['cpu_ms']:>7} {row['cpu_ms_median']:>7} {row['wall_ms']:>8} "
            f"{row['bytes'] // 1024:>6}",
            flush=True,
        )
    if args.mix > 0:
        out["mix"] = mix(clients, plan, args.mix, rng)
        m = out["mix"]
        print(
            f"mix of the load test's clicks, {m['seconds']} s: {m['requests']} requests, {m['cpu_ms_per_request']} ms CPU each; {m['by_kind_cpu_ms']}"
        )
    if args.xlsx_rows:
        out["xlsx"] = xlsx(app, args.xlsx_rows)
        x = out["xlsx"]
        print(
            f"XLSX of {x['rows']:,} queue rows: {x['cpu_ms']} ms CPU, {x['wall_ms']} ms, {x['bytes'] // 1024} kB"
        )
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    out["calibration_ms_after"] = calibrate()
    print(
        f"load average before/after: {out['load_average']} / {out['load_average_after']}; "
        f"calibration (fixed Python work) before/after: {out['calibration_ms']} / {out['calibration_ms_after']} ms"
    )
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=2), encoding="utf-8")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
