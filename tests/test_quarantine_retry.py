"""`incidents quarantine retry`: quarantined records replayed after a fix, then marked resolved.

Three kinds of rows: interchange lines (an import), network payloads (a VK crawl against the
fake API, which serves a malformed post, a malformed comment and a wall whose comments are
closed) and posts the signal stage failed on. The fix is a corrected payload for one row
(`--payload-file`), the way an operator repairs an export; a fixed parser would be picked up
by the same replay.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, select

from cli.main import main
from crawlers.replay import ReplaySource
from incidents.services.processing import crawl_adapter, prepare, process_pending
from incidents.services.quarantine import retry
from storage.models import Post, QuarantineItem, Signal
from tests.conftest import KURSK
from tests.fakes.dbcheck import crawl, quarantined
from tests.fakes.vk import FakeVk
from tests.test_crawl_vk import wall

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
GOOD = {
    "network": "vk",
    "external_id": "wall-1_1",
    "source_id": "vk_kursk",
    "text": "На ул. Ленина, д. 5 в Курске второй день нет горячей воды!",
    "created_at": "2026-11-22T10:00:00+03:00",
}


def _import(engine, kursk, tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prepare(engine, kursk)
    crawl_adapter(engine, ReplaySource(source_id="import:export.jsonl", path=path), lambda: NOW)
    return path


def test_a_corrected_interchange_line_is_stored_processed_and_resolved(
    engine, kursk, kursk_builder, tmp_path
):
    broken = {**GOOD, "external_id": "wall-1_2", "created_at": "вчера"}
    _import(
        engine,
        kursk,
        tmp_path,
        [json.dumps(GOOD, ensure_ascii=False), json.dumps(broken, ensure_ascii=False)],
    )
    [row] = quarantined(engine)
    assert row.location == "line 2" and "unparseable date" in row.reason
    assert json.loads(row.payload) == broken  # the whole line is kept, so it can be replayed

    # without a fix it fails again, with its reason, and stays
    [out] = retry(engine, kursk, lambda: NOW, builder=kursk_builder)
    assert out.status == "failed" and "unparseable date" in out.detail
    [row] = quarantined(engine)
    assert row.attempts == 1 and row.resolved_at is None

    fixed = json.dumps({**broken, "created_at": "2026-11-22T11:00:00+03:00"}, ensure_ascii=False)
    [out] = retry(engine, kursk, lambda: NOW, ids=[row.id], payload=fixed, builder=kursk_builder)
    assert out.status == "resolved" and out.detail == "stored as vk:wall-1_2"
    with Session(engine) as s:
        post = s.exec(select(Post).where(Post.external_id == "wall-1_2")).one()
        assert post.processed and s.exec(select(Signal).where(Signal.post_id == post.id)).one().is_complaint
        row = s.get(QuarantineItem, row.id)
        assert row.resolved_at is not None and json.loads(row.payload)["created_at"].startswith(
            "2026-11-22T11"
        )
    assert retry(engine, kursk, lambda: NOW, builder=kursk_builder) == []  # nothing left to replay


def test_network_payloads_replay_through_their_adapter_parser(sqlite_engine, kursk, kursk_builder, clock):
    with FakeVk() as fake:
        crawl(sqlite_engine, wall(fake), clock)
    rows = {q.reason: q for q in quarantined(sqlite_engine)}
    post_row, comment_row = rows["date: expected int, got str"], rows["text: expected a string, got int"]
    skipped = next(q for r, q in rows.items() if r.startswith("skipped:"))

    outcomes = {o.id: o for o in retry(sqlite_engine, kursk, clock, builder=kursk_builder)}
    assert outcomes[post_row.id].status == outcomes[comment_row.id].status == "failed"
    assert outcomes[skipped.id].status == "not_replayable" and "next crawl" in outcomes[skipped.id].detail

    item = json.loads(post_row.payload)
    item["date"] = 1763800000
    [out] = retry(
        sqlite_engine, kursk, clock, ids=[post_row.id], payload=json.dumps(item), builder=kursk_builder
    )
    assert out.status == "resolved" and out.detail == f"stored as vk:wall{item['owner_id']}_{item['id']}"
    comment = json.loads(comment_row.payload)
    comment["text"] = "У нас во дворе на Союзной, 61 не вывозят мусор"
    [out] = retry(
        sqlite_engine,
        kursk,
        clock,
        ids=[comment_row.id],
        payload=json.dumps(comment, ensure_ascii=False),
        builder=kursk_builder,
    )
    assert out.status == "resolved"
    with Session(sqlite_engine) as s:
        stored = s.exec(select(Post).where(Post.external_id == f"comment-100001_{comment['id']}")).one()
    assert stored.parent_id.startswith("wall-100001_") and stored.processed
    assert {q.id for q in quarantined(sqlite_engine) if q.resolved_at is None} == {skipped.id}


def test_a_post_the_signal_stage_failed_on_is_processed_again(engine, kursk, kursk_builder, tmp_path):
    _import(engine, kursk, tmp_path, [json.dumps(GOOD, ensure_ascii=False)])
    process_pending(engine, kursk, lambda: NOW, builder=kursk_builder)
    # what a failure in the signal stage leaves: the post marked processed, no signal, a quarantine row
    with Session(engine) as s, s.begin():
        post = s.exec(select(Post)).one()
        s.delete(s.exec(select(Signal).where(Signal.post_id == post.id)).one())
        s.add(
            QuarantineItem(
                origin="signals",
                location="vk:wall-1_1",
                reason="ValueError: a bug, since fixed",
                payload=post.text,
                created_at=NOW,
            )
        )
    [out] = retry(engine, kursk, lambda: NOW, origin="signals", builder=kursk_builder)
    assert out.status == "resolved" and out.detail == "signal built"
    with Session(engine) as s:
        assert s.exec(select(Signal)).one().is_complaint
    assert all(q.resolved_at is not None for q in quarantined(engine))


def test_cli_retry_reports_and_exits_3_while_something_still_fails(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps(GOOD, ensure_ascii=False) + "\n{broken\n", encoding="utf-8")
    assert main(["--config", str(KURSK), "--database", db, "import", str(path)]) == 3
    capsys.readouterr()
    assert main(["--config", str(KURSK), "--database", db, "quarantine", "retry"]) == 3
    assert "снова ошибка" in capsys.readouterr().out
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({**GOOD, "external_id": "wall-1_9"}, ensure_ascii=False), encoding="utf-8")
    assert (
        main(
            [
                "--config",
                str(KURSK),
                "--database",
                db,
                "quarantine",
                "retry",
                "1",
                "--payload-file",
                str(fixed),
            ]
        )
        == 0
    )
    assert "принято" in capsys.readouterr().out
    assert main(["--config", str(KURSK), "--database", db, "quarantine", "list"]) == 0
    assert "Карантин: 0" in capsys.readouterr().out
