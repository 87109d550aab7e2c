"""Storage on both databases: the same code on SQLite (default) and PostgreSQL (production)."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from core.records import PostRecord
from crawlers.replay import ReplaySource
from incidents.services.processing import crawl_adapter, prepare, process_pending
from storage.db import current_revision, head_revision, upgrade
from storage.models import Incident, IncidentPost, Post, PostRevision, QuarantineItem, Signal
from storage.store import get_cursor, save_posts, set_cursor
from tests.conftest import LIPETSK


def _p(ext: str, text: str, likes: int = 0) -> PostRecord:
    return PostRecord(
        network="vk",
        external_id=ext,
        source_id="s",
        text=text,
        created_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
        likes=likes,
        raw={"x": ext},
    )


def _count(engine, model) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def test_migrations_are_current_and_rerunnable(engine):
    assert current_revision(engine) == head_revision()
    upgrade(engine)  # a second upgrade is a no-op
    names = set(sa.inspect(engine).get_table_names())
    assert {
        "posts",
        "signals",
        "incidents",
        "incident_posts",
        "bodies",
        "assignments",
        "replies",
        "audit_events",
        "crawl_cursors",
        "quarantine",
        "sources",
        "post_revisions",
    } <= names


def test_upsert_keeps_edit_history(engine, clock):
    with Session(engine) as s, s.begin():
        assert save_posts(s, [_p("1", "Нет воды"), _p("2", "Яма")], clock()) == (2, 0, 0)
    with Session(engine) as s, s.begin():
        assert save_posts(s, [_p("1", "Нет воды на Катукова 12"), _p("2", "Яма", likes=5)], clock()) == (
            0,
            2,
            0,
        )
    with Session(engine) as s, s.begin():
        assert save_posts(s, [_p("1", "Нет воды на Катукова 12"), _p("2", "Яма", likes=5)], clock()) == (
            0,
            0,
            2,
        )
    with Session(engine) as s:
        post = s.exec(select(Post).where(Post.external_id == "1")).one()
        assert post.edited and post.text.endswith("12")
        assert [r.text for r in s.exec(select(PostRevision)).all()] == ["Нет воды"]
        assert post.created_at.tzinfo is not None


def test_unique_on_network_and_external_id(engine, clock):
    with Session(engine) as s, s.begin():
        save_posts(s, [_p("1", "a")], clock())
    with pytest.raises(sa.exc.IntegrityError), Session(engine) as s, s.begin():
        s.add(
            Post(
                network="vk",
                external_id="1",
                source_id="s",
                text="b",
                created_at=clock(),
                fetched_at=clock(),
                updated_at=clock(),
            )
        )


def test_cursor_roundtrip(engine, clock):
    with Session(engine) as s, s.begin():
        set_cursor(s, "vk_wall", {"offset": 100, "last_id": "-1_5"}, clock())
    with Session(engine) as s:
        assert get_cursor(s, "vk_wall") == {"offset": 100, "last_id": "-1_5"}


def test_import_and_process_is_idempotent(engine, lipetsk, lipetsk_builder, clock, tmp_path):
    src = tmp_path / "posts.jsonl"
    good = (LIPETSK / "posts.jsonl").read_text(encoding="utf-8").splitlines()
    src.write_text(
        "\n".join(good[:3] + ['{"network": "vk", "text": "обрыв', *good[3:]]) + "\n", encoding="utf-8"
    )
    prepare(engine, lipetsk)
    stats = crawl_adapter(engine, ReplaySource(source_id="t", path=src, page_size=4), clock)
    assert (stats.inserted, stats.quarantined) == (14, 1)
    p1 = process_pending(engine, lipetsk, clock, builder=lipetsk_builder)
    assert p1.posts == 14 and p1.incidents_opened >= 4
    counts = [_count(engine, m) for m in (Post, Signal, Incident, IncidentPost)]
    # A rerun from the start changes nothing.
    with Session(engine) as s, s.begin():
        set_cursor(s, "t", None, clock())
    again = crawl_adapter(engine, ReplaySource(source_id="t", path=src), clock)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 14)
    assert process_pending(engine, lipetsk, clock, builder=lipetsk_builder).posts == 0
    assert [_count(engine, m) for m in (Post, Signal, Incident, IncidentPost)] == counts
    with Session(engine) as s:
        q = s.exec(select(QuarantineItem)).all()
        assert any(x.location == "line 4" and "broken JSON" in x.reason for x in q)
