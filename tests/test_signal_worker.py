"""The signal worker (incidents/services/signal_worker.py) changes nothing but the time: the same signals,
incidents and cards as the processing in one process."""

from __future__ import annotations

import io
import random
from pathlib import Path

import sqlalchemy as sa

from bench.generator import StreamGenerator
from core.interchange import BadLine, read_jsonl
from crawlers.replay import ReplaySource
from incidents.services.processing import Processor, crawl_adapter, prepare
from storage.db import open_database
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


def test_rethread_is_the_decision_with_the_threads_category(kursk, kursk_builder):
    """A reply on which no problem rule fired takes its thread's category, built either way."""
    posts, _ = _posts(kursk, 800)
    cats = ["water", "roads", "energy"]
    rng = random.Random(4)
    taken = 0
    for post in posts:
        cat, place = rng.choice(cats), rng.choice([None, "kursk"])
        bare = kursk_builder(post)
        want = kursk_builder(post, thread_municipality=place, thread_category=cat)
        assert kursk_builder.rethread(post, bare, place, cat) == want, post.text
        if not bare.rules:
            assert want.category == cat and want.is_complaint == bare.is_complaint
            taken += 1
        else:
            assert want.category == bare.category
    assert taken > 50


def _processed(cfg, builder, stream: Path, db: Path, workers: int):
    engine = open_database(f"sqlite:///{db}")
    try:
        prepare(engine, cfg)
        crawl_adapter(engine, ReplaySource(source_id="s", path=stream, page_size=500), lambda: NOW)
        Processor(engine, cfg, lambda: NOW, builder=builder, batch_size=100, workers=workers).run()
        with engine.connect() as c:
            signals = c.execute(
                sa.text(
                    "select p.network, p.external_id, s.is_complaint, s.score, s.category, s.municipality, s.address,"
                    " s.rules, s.reasons, s.entities, s.lemma_text from signals s join posts p on p.id = s.post_id"
                    " order by p.id"
                )
            ).all()
            cards = c.execute(
                sa.text(
                    "select title, summary, post_count, reach, networks, scale, priority, status, body_code"
                    " from incidents order by id"
                )
            ).all()
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


def test_a_reply_in_the_same_batch_as_its_post_gets_the_threads_place_and_category(
    kursk, kursk_builder, tmp_path
):
    """A post and its comments are mostly crawled together: the reply that names neither place
    nor problem is placed and filed as the post it answers, in one batch as across batches."""
    import json
    from datetime import timedelta

    from core.interchange import post_to_dict
    from core.records import PostRecord

    t0 = NOW - timedelta(hours=2)
    post = PostRecord(
        network="vk",
        external_id="-1_10",
        source_id="s",
        created_at=t0,
        author_id="a1",
        text="В Льгове на улице Красной третий день нет воды, водоканал трубку не берёт!",
    )
    reply = PostRecord(
        network="vk",
        external_id="-1_10_c1",
        source_id="s",
        created_at=t0 + timedelta(minutes=5),
        parent_id="-1_10",
        author_id="a2",
        text="У соседей через дом то же самое, подтверждаю",
    )
    stream = tmp_path / "thread.jsonl"
    stream.write_text(
        "".join(json.dumps(post_to_dict(p), ensure_ascii=False, default=str) + "\n" for p in (post, reply)),
        encoding="utf-8",
    )
    for workers in (0, 1):
        _, signals, _ = _processed(kursk, kursk_builder, stream, tmp_path / f"t{workers}.db", workers)
        by_id = {s.external_id: s for s in signals}
        assert by_id["-1_10"].category == "water" and by_id["-1_10"].municipality == "lgov"
        assert (by_id["-1_10_c1"].category, by_id["-1_10_c1"].municipality) == ("water", "lgov")
