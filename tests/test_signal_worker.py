"""The signal worker (flows/signal_worker.py) changes nothing but the time: the same signals,
incidents and cards as the processing in one process."""

from __future__ import annotations

import io
import random
from pathlib import Path

import sqlalchemy as sa

from bench.generator import StreamGenerator
from crawlers.replay import ReplaySource
from flows.steps import Processor, crawl_adapter, prepare
from incidents.db import open_database
from incidents.interchange import BadLine, read_jsonl
from tests.process_child import NOW
from tests.test_process_crash import outcome


def _posts(cfg, n: int, seed: int = 5):
    buf = io.StringIO()
    StreamGenerator(cfg, seed=seed).write(n, buf)
    data = buf.getvalue().encode()
    return [p for _, p in read_jsonl(io.BytesIO(data), "gen") if not isinstance(p, BadLine)], data


def test_rethread_is_the_decision_with_the_threads_place(kursk, kursk_builder):
    """Built without the thread's place and given it afterwards = built with it."""
    posts, _ = _posts(kursk, 1500)
    rng = random.Random(3)
    places = [m.code for m in kursk.territories.municipalities[:6]]
    changed = 0
    for post in posts:
        place = rng.choice(places)
        bare = kursk_builder(post)
        want = kursk_builder(post, thread_municipality=place)
        got = kursk_builder.rethread(post, bare, place)
        assert got == want, post.text
        changed += want != bare
        assert kursk_builder.rethread(post, bare, None) == bare
    assert changed > 50  # the thread's place decided something for many posts


def _processed(cfg, builder, stream: Path, db: Path, workers: int):
    engine = open_database(f"sqlite:///{db}")
    try:
        prepare(engine, cfg)
        crawl_adapter(engine, ReplaySource(source_id="s", path=stream, page_size=500), lambda: NOW)
        Processor(engine, cfg, lambda: NOW, builder=builder, batch_size=100, workers=workers).run()
        with engine.connect() as c:
            signals = c.execute(sa.text(
                "select p.network, p.external_id, s.is_complaint, s.score, s.category, s.municipality, s.address,"
                " s.rules, s.reasons, s.entities, s.lemma_text from signals s join posts p on p.id = s.post_id"
                " order by p.id")).all()
            cards = c.execute(sa.text(
                "select title, summary, post_count, reach, networks, scale, priority, status, body_code"
                " from incidents order by id")).all()
        return outcome(engine), signals, cards
    finally:
        engine.dispose()


def test_worker_gives_what_one_process_gives(kursk, kursk_builder, tmp_path):
    _, data = _posts(kursk, 800, seed=9)
    stream = tmp_path / "stream.jsonl"
    stream.write_bytes(data)
    one = _processed(kursk, kursk_builder, stream, tmp_path / "one.db", workers=0)
    two = _processed(kursk, kursk_builder, stream, tmp_path / "two.db", workers=1)
    assert one[0] == two[0]
    assert one[1] == two[1]
    assert one[2] == two[2]
    assert len(one[2]) > 20
