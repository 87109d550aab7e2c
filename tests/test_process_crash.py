"""Kill processing at random points, rerun it: the same signals and incidents as a run never killed.

`process_pending` (and `incidents import`, which crawls a file and then processes it) runs in a
child process over a generated stream of realistic posts (bench/generator.py) with a few bad
lines; the test sends SIGKILL at a random point — after a random number of posts is stored or
processed, plus a random delay, so the kill lands inside a batch, inside a commit or between
batches — several times in a row, then lets a last run finish. The database must then hold:
every post once; every post processed with exactly one signal; no post in two incidents; the
same incidents (as sets of posts), with the same category, municipality, body and state, as an
uninterrupted run on the same input; each incident opened and routed once; each bad line
quarantined once.

Why it holds: a batch of posts, its signals, incident links, new incidents, their routing and
audit events are one transaction; the clustering snapshot the rerun loads from storage is the
in-memory state of the killed run at its last commit (tests prove it rather than argue it).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from bench.generator import generate_file
from core.config import RegionConfig
from crawlers.replay import ReplaySource
from incidents.services.processing import Processor, crawl_adapter, prepare
from storage.db import open_database
from storage.models import (
    Assignment,
    AuditEvent,
    Incident,
    IncidentPost,
    Post,
    QuarantineItem,
    Signal,
)
from tests.conftest import KURSK, ROOT
from tests.process_child import NOW

# Lines a real export may carry: the import quarantines them and goes on.
BAD_LINES = [
    '{"network": "vk", "external_id": "bad1", "text": "нет поля source_id", "created_at": "2026-10-02T10:00:00+03:00"}',
    '{"network": "vk", "external_id": "bad2", "source_id": "x", "text": "обрыв',
    '{"network": "myspace", "external_id": "bad3", "source_id": "x", "text": "т", "created_at": "2026-10-02T10:00:00Z"}',
    '["не", "объект"]',
    '{"network": "ok", "external_id": "bad5", "source_id": "x", "text": 42, "created_at": "2026-10-02T10:00:00Z"}',
]


def write_stream(cfg: RegionConfig, path: Path, total: int, seed: int) -> int:
    """A generated stream with the bad lines spread through it; returns the count of good lines."""
    tmp = path.with_suffix(".good")
    generate_file(cfg, tmp, total, seed=seed)
    lines = tmp.read_text(encoding="utf-8").splitlines()
    step = max(1, len(lines) // (len(BAD_LINES) + 1))
    for i, bad in enumerate(BAD_LINES):
        lines.insert((i + 1) * step + i, bad)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.unlink()
    return total


# --------------------------------------------------------------------------- the end state
@dataclass(frozen=True)
class Outcome:
    """What a processed database holds, in terms that do not depend on ids or wall-clock times."""

    posts: int
    unprocessed: int
    without_signal: int
    incidents: frozenset[tuple[frozenset[str], str, str | None, str | None, str]]
    opened_events: Counter
    assignments: Counter
    quarantine: Counter


def outcome(engine: Any) -> Outcome:
    with Session(engine) as s:
        posts = {
            pid: f"{n}:{e}" for pid, n, e in s.exec(select(Post.id, Post.network, Post.external_id)).all()
        }
        assert len(set(posts.values())) == len(posts), "a post is stored twice"
        unprocessed = s.exec(select(sa.func.count()).select_from(Post).where(Post.processed == False)).one()  # noqa: E712
        with_signal = Counter(s.exec(select(Signal.post_id)).all())
        assert not with_signal or max(with_signal.values()) == 1, "a post has two signals"
        failed = {
            q.location for q in s.exec(select(QuarantineItem).where(QuarantineItem.origin == "signals")).all()
        }
        without = sum(1 for pid, key in posts.items() if pid not in with_signal and key not in failed)
        links: dict[int, set[str]] = {}
        for pid, iid in s.exec(select(IncidentPost.post_id, IncidentPost.incident_id)).all():
            links.setdefault(iid, set()).add(posts[pid])
        incidents = []
        for inc in s.exec(select(Incident)).all():
            members = links.get(inc.id, set())  # type: ignore[arg-type]
            assert members, f"incident {inc.id} has no posts (opened by a batch that did not commit?)"
            assert inc.post_count == len(members)
            incidents.append((frozenset(members), inc.category, inc.municipality, inc.body_code, inc.status))
        opened = Counter(
            e.incident_id for e in s.exec(select(AuditEvent).where(AuditEvent.action == "opened")).all()
        )
        assigned = Counter(a.incident_id for a in s.exec(select(Assignment)).all())
        quarantine = Counter(
            (q.origin.rsplit("/", 1)[-1], q.location, q.reason) for q in s.exec(select(QuarantineItem)).all()
        )
    return Outcome(len(posts), unprocessed, without, frozenset(incidents), opened, assigned, quarantine)


def assert_same(crashed: Outcome, reference: Outcome) -> None:
    assert crashed.posts == reference.posts
    assert crashed.unprocessed == 0 and crashed.without_signal == 0
    missing = reference.incidents - crashed.incidents
    extra = crashed.incidents - reference.incidents
    assert not missing and not extra, (
        f"{len(missing)} incidents of the uninterrupted run differ after the crashes, e.g. "
        f"{sorted(missing, key=len)[:3]} vs {sorted(extra, key=len)[:3]}"
    )
    assert set(crashed.opened_events.values()) <= {1}, "an incident was opened twice"
    assert set(crashed.assignments.values()) <= {1}, "an incident was routed twice"
    assert crashed.quarantine == reference.quarantine
    assert not crashed.quarantine or max(crashed.quarantine.values()) == 1, "a bad line quarantined twice"


# --------------------------------------------------------------------------- killing
def spawn(argv: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    return subprocess.Popen(
        [sys.executable, *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def progress_of(engine: Any) -> int:
    """Stored posts plus processed posts: grows through the crawl and then through the processing."""
    with engine.connect() as c:
        stored = c.execute(sa.text("select count(*) from posts")).scalar_one()
        done = c.execute(sa.text("select count(*) from posts where processed")).scalar_one()
    return int(stored) + int(done)


def kill_at(proc: subprocess.Popen, engine: Any, target: int, delay: float, timeout: float = 120) -> bool:
    """SIGKILL the child once the progress reaches `target`, `delay` seconds later.

    Returns False when the child finished first (the kill point lay past its end)."""
    deadline = time.monotonic() + timeout
    while progress_of(engine) < target:
        if proc.poll() is not None:
            _, err = proc.communicate()
            assert proc.returncode in (0, 3), err[-3000:]
            return False
        assert time.monotonic() < deadline, "the child never reached the kill point"
        time.sleep(0.01)
    time.sleep(delay)
    if proc.poll() is not None:
        proc.communicate()
        return False
    os.killpg(proc.pid, signal.SIGKILL)  # the process group this test started
    proc.communicate(timeout=30)
    return proc.returncode == -signal.SIGKILL


def crash_then_finish(argv: list[str], engine: Any, seed: int, kills: int, lo: int, hi: int) -> list[int]:
    """`kills` SIGKILLs at random progress points in [lo, hi), then a run to the end; returns the
    progress at each kill. Each kill point lies past the progress the last one left (up to half of
    what remains), so every child does some work before it dies."""
    rng = random.Random(seed)
    killed = []
    for _ in range(kills):
        now = max(progress_of(engine), lo - 1)
        if now >= hi - 1:
            break
        target = now + rng.randint(1, max(1, (hi - now) // 2))
        if kill_at(spawn(argv), engine, target, rng.uniform(0, 0.3)):
            killed.append(progress_of(engine))
    assert killed, "no kill landed before the end of the work"
    assert killed == sorted(killed)
    proc = spawn(argv)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode in (0, 3), err[-3000:]
    return killed


# --------------------------------------------------------------------------- process_pending
@pytest.fixture(scope="module")
def stream(kursk: RegionConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "stream.jsonl"
    write_stream(kursk, path, 1200, seed=11)
    return path


def load_posts(engine: Any, cfg: RegionConfig, path: Path) -> int:
    prepare(engine, cfg)
    stats = crawl_adapter(engine, ReplaySource(source_id="stream", path=path, page_size=500), lambda: NOW)
    return stats.inserted


@pytest.fixture(scope="module")
def reference(
    kursk: RegionConfig, kursk_builder, stream: Path, tmp_path_factory: pytest.TempPathFactory
) -> Outcome:
    """The same stream processed without interruption, in batches of the same size."""
    engine = open_database(f"sqlite:///{tmp_path_factory.mktemp('ref') / 'ref.db'}")
    try:
        load_posts(engine, kursk, stream)
        Processor(engine, kursk, lambda: NOW, builder=kursk_builder, batch_size=100).run()
        return outcome(engine)
    finally:
        engine.dispose()


def run_process_crashes(
    kursk: RegionConfig, db_url: str, stream: Path, reference: Outcome, seed: int, kills: int
) -> list[int]:
    engine = open_database(db_url)
    try:
        n = load_posts(engine, kursk, stream)
        spec = {"db": db_url, "config": str(KURSK), "batch_size": 100}
        argv = ["-m", "tests.process_child", json.dumps(spec)]
        points = crash_then_finish(argv, engine, seed, kills, n + 1, 2 * n)
        assert_same(outcome(engine), reference)
        return points
    finally:
        engine.dispose()


def test_processing_killed_three_times_ends_as_an_uninterrupted_run(kursk, db_url, stream, reference):
    points = run_process_crashes(kursk, db_url, stream, reference, seed=1, kills=3)
    assert len(points) == 3


KILL_SEEDS = [int(x) for x in os.environ.get("KILL_SEEDS", "2,3,4,5").split(",")]  # more: KILL_SEEDS=6,7,…


@pytest.mark.slow
@pytest.mark.parametrize("seed", KILL_SEEDS)
def test_processing_killed_many_times(kursk, tmp_path, stream, reference, seed):
    run_process_crashes(kursk, f"sqlite:///{tmp_path / 'crash.db'}", stream, reference, seed=seed, kills=6)


# --------------------------------------------------------------------------- incidents import
def import_argv(db_url: str, path: Path) -> list[str]:
    return ["-m", "cli.main", "--config", str(KURSK), "--database", db_url, "import", str(path)]


def imported(db_url: str, path: Path) -> Outcome:
    proc = spawn(import_argv(db_url, path))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 3, err[-3000:]  # 3: bad lines were quarantined
    engine = open_database(db_url)
    try:
        return outcome(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def import_stream(kursk: RegionConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("import") / "export.jsonl"
    write_stream(kursk, path, 600, seed=12)
    return path


def run_import_crashes(db_url: str, path: Path, reference: Outcome, seed: int, kills: int) -> list[int]:
    engine = open_database(db_url)
    try:
        n = reference.posts
        points = crash_then_finish(import_argv(db_url, path), engine, seed, kills, 1, 2 * n)
        assert_same(outcome(engine), reference)
        return points
    finally:
        engine.dispose()


def test_import_killed_while_reading_and_while_processing(tmp_path, import_stream):
    reference = imported(f"sqlite:///{tmp_path / 'ref.db'}", import_stream)
    assert sum(reference.quarantine.values()) == len(BAD_LINES)
    run_import_crashes(f"sqlite:///{tmp_path / 'crash.db'}", import_stream, reference, seed=7, kills=3)


@pytest.mark.slow
@pytest.mark.postgres
def test_import_killed_on_postgres(tmp_path, import_stream, pg_url):
    from tests.conftest import _reset_pg

    reference = imported(f"sqlite:///{tmp_path / 'ref.db'}", import_stream)
    _reset_pg(pg_url)
    run_import_crashes(pg_url, import_stream, reference, seed=8, kills=4)
