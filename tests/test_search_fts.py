"""Embedded full-text search on SQLite (FTS5) and PostgreSQL (tsvector): inflected forms,
filters, deleted and edited posts, triggers, the migration."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from core.records import PostRecord
from crawlers.replay import ReplaySource
from incidents.services.processing import crawl_adapter, prepare, process_pending
from incidents.services.search import fts
from incidents.services.search.query import SearchFilters
from storage.db import current_revision, upgrade
from storage.models import Incident, IncidentPost, Post, Signal
from storage.store import save_posts
from tests.conftest import KURSK, LIPETSK


def _post(ext: str, text: str, *, day: int = 20, network: str = "vk", deleted: bool = False) -> PostRecord:
    return PostRecord(
        network=network,
        external_id=ext,
        source_id="s",
        text=text,
        created_at=datetime(2026, 11, day, 9, tzinfo=UTC),
        deleted=deleted,
    )


def _save(engine, clock, *posts: PostRecord) -> None:
    with Session(engine) as s, s.begin():
        save_posts(s, list(posts), clock())


def _keys(hits) -> list[str]:
    return [h.post_key for h in hits]


@pytest.fixture
def pits(engine, clock):
    _save(
        engine,
        clock,
        _post("1", "Огромные ямы на дороге к школе"),
        _post("2", "Ямам на Гагарина уже год, никто не чинит"),
        _post("3", "Яма у подъезда, машины бьются"),
        _post("4", "Нет горячей воды третий день"),
        _post("5", "Ямища во дворе — жуть", network="telegram"),
    )
    return engine


def test_migration_0002_is_reversible(engine):
    from storage.db import head_revision

    assert current_revision(engine) == head_revision()
    names = set(sa.inspect(engine).get_table_names())
    assert "search_queue" in names
    assert ("search_posts_fts" if engine.dialect.name == "sqlite" else "search_documents") in names
    from alembic import command

    from storage.db import _alembic_config

    command.downgrade(_alembic_config(engine), "0001")
    assert current_revision(engine) == "0001"
    assert "search_queue" not in set(sa.inspect(engine).get_table_names())
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_lemma_forms_find_each_other(pits):
    assert set(_keys(fts.search_posts(pits, "яма"))) == {"vk:1", "vk:2", "vk:3"}
    assert set(_keys(fts.search_posts(pits, "ямы"))) == {"vk:1", "vk:2", "vk:3"}
    assert set(_keys(fts.search_posts(pits, "ЯМАМ"))) == {"vk:1", "vk:2", "vk:3"}
    assert _keys(fts.search_posts(pits, "ямы на Гагарина")) == ["vk:2"]  # every word, stop words dropped
    assert _keys(fts.search_posts(pits, "горячая вода")) == ["vk:4"]
    assert _keys(fts.search_posts(pits, "ёлка")) == []


def test_snippet_marks_the_matching_form(pits):
    hit = next(h for h in fts.search_posts(pits, "яма") if h.post_key == "vk:2")
    assert hit.extra["match"] == "Ямам" and "Гагарина" in hit.snippet


def test_user_input_is_never_query_syntax(pits):
    for q in [
        '"',
        "яма OR вода",
        "NEAR(яма вода)",
        "яма*",
        "-яма",
        "'; DROP TABLE posts; --",
        "яма:вода",
        "^яма",
    ]:
        fts.search_posts(pits, q)  # no syntax error on either database
    assert _keys(fts.search_posts(pits, "яма OR вода")) == []  # OR is a word here, not an operator
    assert fts.search_posts(pits, "!!!") == []


def test_deleted_posts_drop_out_and_edits_are_reindexed(pits, clock):
    assert "vk:3" in _keys(fts.search_posts(pits, "яма"))
    clock.advance(minutes=5)
    _save(pits, clock, _post("3", "Яма у подъезда", deleted=True))
    # Gone even before the queue is drained: the trigger removed the document.
    assert "vk:3" not in _keys(fts.search_posts(pits, "яма", refresh_first=False))
    assert "vk:3" not in _keys(fts.search_posts(pits, "яма"))
    _save(pits, clock, _post("4", "Починили трубу, вода есть"))
    assert _keys(fts.search_posts(pits, "горячая")) == []
    assert _keys(fts.search_posts(pits, "труба")) == ["vk:4"]
    with Session(pits) as s, s.begin():  # a post removed outright
        s.execute(sa.delete(Post.__table__).where(Post.__table__.c.external_id == "1"))
    assert "vk:1" not in _keys(fts.search_posts(pits, "яма", refresh_first=False))


def test_queue_is_drained_and_rows_added_meanwhile_stay(pits, clock):
    assert fts.pending(pits) == 5
    assert fts.catch_up(pits) == 5
    assert fts.pending(pits) == 0 and fts.catch_up(pits) == 0
    _save(pits, clock, _post("6", "Ямы и лужи"))
    assert fts.pending(pits) == 1
    assert "vk:6" in _keys(fts.search_posts(pits, "лужа"))


def test_empty_query_lists_newest_by_filters(pits):
    hits = fts.search_posts(pits, "", SearchFilters(network="telegram"))
    assert _keys(hits) == ["telegram:5"]
    assert len(fts.search_posts(pits, "", limit=2)) == 2


@pytest.fixture
def lipetsk_db(engine, lipetsk, lipetsk_builder, clock):
    prepare(engine, lipetsk)
    crawl_adapter(engine, ReplaySource(source_id="t", path=LIPETSK / "posts.jsonl"), clock)
    process_pending(engine, lipetsk, clock, builder=lipetsk_builder)
    return engine


def test_filters_by_category_municipality_network_status_dates(lipetsk_db):
    e = lipetsk_db
    water = fts.search_posts(e, "вода", SearchFilters(category="water"))
    assert water and all(h.category == "water" for h in water)
    assert {h.network for h in water} >= {"vk", "ok", "telegram"}
    assert all(h.incident_id is not None for h in water)
    only_ok = fts.search_posts(e, "вода", SearchFilters(category="water", network="ok"))
    assert {h.network for h in only_ok} == {"ok"}
    yelets = fts.search_posts(e, "", SearchFilters(municipality="yelets"))
    assert yelets and all(h.municipality == "yelets" for h in yelets)
    statuses = {h.incident_status for h in water}
    status = sorted(s for s in statuses if s)[0]
    assert all(h.incident_status == status for h in fts.search_posts(e, "вода", SearchFilters(status=status)))
    assert fts.search_posts(e, "вода", SearchFilters(status="closed")) == []
    all_water = fts.search_posts(e, "вода", limit=100)
    cut = sorted(h.created_at for h in all_water)[len(all_water) // 2]
    later = fts.search_posts(e, "вода", SearchFilters(since=cut), limit=100)
    earlier = fts.search_posts(e, "вода", SearchFilters(until=cut), limit=100)
    assert later and earlier and len(later) + len(earlier) == len(all_water)
    assert all(h.created_at >= cut for h in later) and all(h.created_at < cut for h in earlier)


def test_status_follows_merges(lipetsk_db, clock):
    e = lipetsk_db
    with Session(e) as s, s.begin():
        incs = s.exec(select(Incident).order_by(Incident.id)).all()
        a, b = incs[0], incs[1]
        b.status = "resolved"
        a.merged_into_id = b.id
        s.add_all([a, b])
        merged_posts = set(s.exec(select(IncidentPost.post_id).where(IncidentPost.incident_id == a.id)).all())
        target = b.id
    hits = fts.search_posts(e, "", SearchFilters(status="resolved"), limit=100)
    assert merged_posts <= {h.post_id for h in hits}
    assert all(h.incident_id == target for h in hits)


def test_bundled_sample_finds_inflected_forms(engine, clock):
    """The bundled Kursk sample: «яма» finds «ямы», «яму», «ямах» (stored posts; no config needed)."""
    crawl_adapter(engine, ReplaySource(source_id="sample", path=KURSK / "sample" / "posts.jsonl"), clock)
    hits = fts.search_posts(engine, "яма", limit=100)
    forms = {h.extra["match"].lower() for h in hits}
    assert {"ямы", "яму", "ямах"} <= forms
    assert len(hits) >= 10
    assert {h.post_key for h in fts.search_posts(engine, "ямах", limit=100)} == {h.post_key for h in hits}


def test_sqlite_triggers_are_repaired_after_a_table_rebuild(sqlite_engine, clock):
    _save(sqlite_engine, clock, _post("1", "яма"))
    fts.catch_up(sqlite_engine)
    with sqlite_engine.begin() as c:
        c.execute(sa.text("DROP TRIGGER search_posts_ai"))
    _save(sqlite_engine, clock, _post("2", "ещё яма"))  # not queued: the trigger is gone
    assert set(_keys(fts.search_posts(sqlite_engine, "яма"))) == {"vk:1", "vk:2"}
    with sqlite_engine.connect() as c:
        names = {r[0] for r in c.execute(sa.text("SELECT name FROM sqlite_master WHERE type='trigger'"))}
    assert set(fts.SQLITE_TRIGGERS) <= names


def test_processing_does_not_touch_the_queue_needlessly(lipetsk_db, clock):
    """Likes and processing flags do not re-queue a post; only text and deletion do."""
    fts.catch_up(lipetsk_db)
    with Session(lipetsk_db) as s, s.begin():
        p = s.exec(select(Post)).first()
        p.likes += 10
        p.processed = False
        s.add(p)
    assert fts.pending(lipetsk_db) == 0
    clock.advance(hours=1)
    assert fts.search_posts(lipetsk_db, "вода", SearchFilters(since=clock() - timedelta(days=30)))


def test_signals_are_not_needed_to_find_posts(engine, clock):
    _save(engine, clock, _post("1", "Сломанные качели во дворе"))
    with Session(engine) as s:
        assert s.exec(select(Signal)).first() is None
    assert _keys(fts.search_posts(engine, "качели сломаны")) == ["vk:1"]
