"""Kill a crawl midway, rerun it: every post is stored exactly once, none is missing.

The crawl runs in a child process (`tests/crash_child.py`, the real adapter and
`incidents.services.processing.crawl_adapter`) against the fake network; the fake holds the child's N-th request
and the test sends SIGKILL while the child waits for the answer — a crash between two stored
pages, with a page fetched and not yet stored. The rerun continues from the cursor that was
stored with the last page. Two kills at different points per adapter, every adapter on SQLite;
VK walls on PostgreSQL too (OK groups and Telegram on PostgreSQL are `slow` variants: the storage
path they take is the VK wall's).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.fakes.dbcheck import cursor, post_keys
from tests.fakes.ok import FakeOk
from tests.fakes.pos import FakePos
from tests.fakes.telegram_preview import FakeTgPreview
from tests.fakes.vk import FakeVk
from tests.test_crawl_ok import COMMENTS as OK_COMMENTS
from tests.test_crawl_ok import TOPICS as OK_TOPICS
from tests.test_crawl_pos import ALL as POS_ALL
from tests.test_crawl_telegram import CHANNEL as TG_CHANNEL
from tests.test_crawl_telegram import CHAT as TG_CHAT
from tests.test_crawl_telegram import COMMENTS as TG_COMMENTS
from tests.test_crawl_tg_preview import POSTS as PREVIEW_POSTS
from tests.test_crawl_vk import COMMENTS as VK_COMMENTS
from tests.test_crawl_vk import WALL_POSTS as VK_POSTS

# SQLite by default; PostgreSQL as a `slow` variant (test_vk_wall_… keeps PostgreSQL in the default run).
SQLITE_DEFAULT_PG_SLOW = pytest.mark.parametrize(
    "db_url",
    ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])],
    indirect=True,
)


def spawn(spec: dict[str, Any]) -> subprocess.Popen:
    """The child leads a process group of its own: the kill takes its children (Scrapy's) with it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.crash_child", json.dumps(spec)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = 60) -> None:
    """SIGKILL the child as soon as `ready()` (it is waiting on the held request)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the crawl ended (exit {proc.returncode}) before the kill point: {err[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the crawl never reached the kill point")
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the group this test started: the child and its children
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def finish(proc: subprocess.Popen) -> dict[str, Any]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def crash_twice_then_finish(
    fake: Any,
    spec: dict[str, Any],
    kill_at: list[int],
    engine: Any,
    source_id: str,
    expected: set[str],
    counted: Callable[[Any], bool] = lambda req: True,
) -> None:
    """Hold the child's k-th `counted` request and kill it there, for each k; then a full rerun."""
    stored_after_kill: list[int] = []
    for k in kill_at:
        start = sum(1 for r in list(fake.requests) if counted(r))
        fake.blocked.clear()
        fake.block_on(
            lambda req, n, start=start, k=k: (
                counted(req) and sum(1 for r in list(fake.requests) if counted(r)) == start + k
            )
        )
        proc = spawn(spec)
        kill_when(proc, fake.blocked.is_set)
        fake.release_all()
        keys = post_keys(engine)
        assert not keys or max(keys.values()) == 1
        assert set(keys) < expected  # the crawl really stopped midway
        assert cursor(engine, source_id) is not None or not keys
        stored_after_kill.append(len(keys))
    assert (
        0 < stored_after_kill[0] < stored_after_kill[1]
    )  # the second crawl went on from the first one's cursor
    finish(spawn(spec))
    keys = post_keys(engine)
    assert set(keys) == expected and max(keys.values()) == 1


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """For the adapters whose storage path is the same as the others': SQLite only, to keep the suite short."""
    return f"sqlite:///{tmp_path / 'crash.db'}"


@pytest.fixture
def sqlite_child_engine(sqlite_url: str):
    from storage.db import open_database

    eng = open_database(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def child_engine(db_url: str):
    from storage.db import open_database

    eng = open_database(db_url)  # migrated here; the child opens the same database
    yield eng
    eng.dispose()


def test_vk_wall_killed_during_the_scan_and_during_the_comments(child_engine, db_url):
    with FakeVk() as fake:
        spec = {"network": "vk", "url": fake.url, "db": db_url, "execute_batch": 2}
        # the third wall.get page (two pages stored); then, on the rerun, the first execute with comments
        crash_twice_then_finish(fake, spec, [3, 5], child_engine, "vk-wall", VK_POSTS | VK_COMMENTS)
        calls = [r.path.rsplit("/", 1)[1] for r in fake.requests]
    assert "execute" in calls and calls.count("wall.get") >= 4


@SQLITE_DEFAULT_PG_SLOW
def test_ok_group_killed_between_topic_pages_and_comment_pages(child_engine, db_url):
    with FakeOk() as fake:
        spec = {"network": "ok", "url": fake.url, "db": db_url}
        # the second page of topics (each page: group.getStatTopics + mediatopic.getByIds); then, on
        # the rerun, a page of comments
        crash_twice_then_finish(fake, spec, [3, 7], child_engine, "ok-group", OK_TOPICS | OK_COMMENTS)
        methods = [r.params.get("method") for r in fake.requests]
    assert methods.count("discussions.getComments") >= 4


@SQLITE_DEFAULT_PG_SLOW
def test_telegram_killed_while_reading_the_channel_and_the_chat(child_engine, db_url, tmp_path: Path):
    expected = TG_CHANNEL | TG_COMMENTS | TG_CHAT
    stored = []
    for block_at in (3, 5):  # the child's n-th get_messages call hangs until the kill
        marker = tmp_path / f"blocked-{block_at}"
        proc = spawn({"network": "telegram", "db": db_url, "block_at": block_at, "marker": str(marker)})
        kill_when(proc, marker.exists)
        keys = post_keys(child_engine)
        assert set(keys) < expected and (not keys or max(keys.values()) == 1)
        stored.append(len(keys))
    assert 0 < stored[0] < stored[1]
    finish(spawn({"network": "telegram", "db": db_url}))
    keys = post_keys(child_engine)
    assert set(keys) == expected and max(keys.values()) == 1


def test_vk_search_killed_between_pages_and_between_queries(sqlite_child_engine, sqlite_url):
    with FakeVk() as fake:
        spec = {"network": "vk-search", "url": fake.url, "db": sqlite_url}
        crash_twice_then_finish(
            fake,
            spec,
            [2, 2],
            sqlite_child_engine,
            "vk-search",
            {"vk:wall505_311", "vk:wall502_977", "vk:wall503_455", "vk:wall-200002_88120"},
        )


def test_pos_killed_between_pages(sqlite_child_engine, sqlite_url):
    with FakePos() as fake:
        spec = {"network": "pos", "url": fake.url, "db": sqlite_url}
        crash_twice_then_finish(fake, spec, [2, 2], sqlite_child_engine, "pos", POS_ALL)


def test_telegram_preview_killed_while_scrapy_waits_for_a_page(sqlite_child_engine, sqlite_url):
    with FakeTgPreview(page_size=5) as fake:
        spec = {"network": "tg-preview", "url": fake.url, "db": sqlite_url}
        crash_twice_then_finish(
            fake,
            spec,
            [2, 2],
            sqlite_child_engine,
            "tg-preview",
            PREVIEW_POSTS,
            counted=lambda req: req.path.startswith("/s/"),
        )
