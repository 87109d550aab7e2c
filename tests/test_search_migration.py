"""Migration 0002 (embedded full-text search) on SQLite and PostgreSQL: from an empty database,
from a 0001 database that already holds posts, back down and up again; and the models agree
with what the migrations build (a new column without a migration fails here)."""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import storage.models  # noqa: F401 - registers the tables on SQLModel.metadata
from incidents.services.search import fts
from storage.db import current_revision, head_revision, make_engine, upgrade

# Rows as a 0001 database holds them: written with 0001's columns only, not through today's models.
POSTS_0001 = [
    ("vk", "-570001_101", "Огромные ямы на Гагарина, никто не чинит"),
    ("ok", "5540011", "По ямам на ул. Мира, д. 6 ездить невозможно 😡"),
    ("telegram", "kursk_chat/8812", "Ёлки во дворе спилили, а пни оставили"),
    ("pos", "pos-5163798", "В подвале дома по ул. Союзная, д. 61 течёт горячая вода"),
]


def _insert_0001_posts(engine: sa.Engine) -> None:
    now = datetime(2026, 11, 20, 9, tzinfo=UTC).replace(tzinfo=None)  # stored as naive UTC
    with engine.begin() as c:
        for network, ext, text in POSTS_0001:
            c.execute(
                sa.text(
                    "INSERT INTO posts (network, external_id, source_id, text, created_at, fetched_at, updated_at, "
                    "likes, reposts, views, edited, deleted, processed) VALUES (:n, :e, 's', :t, :ts, :ts, :ts, "
                    "0, 0, 0, false, false, false)"
                ),
                {"n": network, "e": ext, "t": text, "ts": now},
            )


def _search_tables(engine: sa.Engine) -> set[str]:
    names = set(sa.inspect(engine).get_table_names())
    return {n for n in names if n.startswith("search_")}


def test_upgrade_from_empty_and_from_0001_with_posts(db_url):
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine, "0001")
        assert current_revision(engine) == "0001" and _search_tables(engine) == set()
        _insert_0001_posts(engine)
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert fts.pending(engine) == len(POSTS_0001)  # every existing post queued by the migration
        keys = {h.post_key for h in fts.search_posts(engine, "яма")}
        assert keys == {"vk:-570001_101", "ok:5540011"}  # «ямы», «ямам»
        assert [h.post_key for h in fts.search_posts(engine, "елка")] == ["telegram:kursk_chat/8812"]  # ё = е
        assert fts.pending(engine) == 0
        # Down to 0001 and up again: the index is rebuilt from the posts.
        from alembic import command

        from storage.db import _alembic_config

        command.downgrade(_alembic_config(engine), "0001")
        assert _search_tables(engine) == set()
        with engine.connect() as c:
            trig_sql = (
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
                if engine.dialect.name == "sqlite"
                else "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"
            )
            assert c.execute(sa.text(trig_sql)).scalar_one() == 0
        upgrade(engine)
        assert {h.post_key for h in fts.search_posts(engine, "ямы")} == keys
    finally:
        engine.dispose()


def test_models_agree_with_the_migrations(db_url):
    """Autogenerate finds nothing to do, apart from the hand-written search objects of 0002."""
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as c:
            diff = compare_metadata(MigrationContext.configure(c), SQLModel.metadata)
    finally:
        engine.dispose()

    def ours(d: object) -> bool:
        obj = d[1] if isinstance(d, tuple) else None
        name = getattr(obj, "name", "") or ""
        table = getattr(getattr(obj, "table", None), "name", "") or ""
        return not (
            name.startswith("search_") or table.startswith("search_") or name.startswith("ix_search_")
        )

    assert [d for d in diff if ours(d)] == []
