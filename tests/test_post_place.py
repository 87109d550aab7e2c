"""The place the platform gives (interchange `address`, `lat`, `lon`) in storage, on SQLite and
PostgreSQL: migration 0012 over a database that holds posts, the save path (a moved pin or a
corrected address is an edit, kept as a revision; a place given for the first time is not), an
import whose bad points are quarantined whole, and the exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlmodel import Session, select

from core.records import PostRecord
from crawlers.replay import ReplaySource
from incidents.services.processing import crawl_adapter, prepare
from storage.db import _alembic_config, current_revision, head_revision, make_engine, upgrade
from storage.models import Post, PostRevision
from storage.store import save_posts
from tests.fakes.dbcheck import quarantined

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _p(
    text: str, address: str | None = None, lat: float | None = None, lon: float | None = None
) -> PostRecord:
    return PostRecord(
        network="pos",
        external_id="POS-46-1",
        source_id="pos_kursk",
        text=text,
        created_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
        address=address,
        lat=lat,
        lon=lon,
    )


def _columns(engine: sa.Engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def test_migration_0012_adds_the_place_to_a_database_with_posts_and_goes_back(db_url):
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0011")
        ts = datetime(2026, 11, 20, 9)  # stored as naive UTC
        with engine.begin() as c:
            c.execute(
                sa.text(
                    "INSERT INTO posts (network, external_id, source_id, text, created_at, fetched_at, "
                    "updated_at, likes, reposts, views, edited, deleted, processed) VALUES ('pos', 'POS-46-1', "
                    "'pos_kursk', 'Яма', :ts, :ts, :ts, 0, 0, 0, false, false, true)"
                ),
                {"ts": ts},
            )
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert {"address", "lat", "lon"} <= _columns(engine, "posts")
        assert {"address", "lat", "lon"} <= _columns(engine, "post_revisions")
        assert {"lat", "lon"} <= _columns(engine, "incidents")
        with Session(engine) as s:
            row = s.exec(select(Post)).one()
            assert (row.text, row.address, row.lat, row.lon) == ("Яма", None, None, None)
        command.downgrade(_alembic_config(engine), "0011")
        assert "lat" not in _columns(engine, "posts") and "lat" not in _columns(engine, "incidents")
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT text FROM posts")).scalar_one() == "Яма"
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_a_moved_pin_is_an_edit_kept_as_a_revision_and_a_first_place_is_not(engine):
    with Session(engine) as s, s.begin():
        assert save_posts(s, [_p("Яма у дома")], NOW) == (1, 0, 0)
    # the place comes with the next crawl (a message stored before 0012): nothing is replaced
    first = _p("Яма у дома", "г. Курск, ул. Литовская, д. 12", 51.7399, 36.227)
    with Session(engine) as s, s.begin():
        s.exec(sa.update(Post).values(processed=True))  # type: ignore[call-overload]
        assert save_posts(s, [first], NOW) == (0, 1, 0)
    with Session(engine) as s:
        row = s.exec(select(Post)).one()
        assert (row.address, row.lat, row.lon, row.processed) == (
            "г. Курск, ул. Литовская, д. 12",
            51.7399,
            36.227,
            False,  # placed again with what the platform gives
        )
        assert s.exec(select(PostRevision)).all() == []
    with Session(engine) as s, s.begin():
        assert save_posts(s, [first], NOW) == (0, 0, 1)  # the same place again changes nothing
    moved = _p("Яма у дома", "г. Курск, ул. Литовская, д. 14", 51.7402, 36.2281)
    with Session(engine) as s, s.begin():
        assert save_posts(s, [moved], NOW) == (0, 1, 0)
    with Session(engine) as s:
        row = s.exec(select(Post)).one()
        assert (row.address, row.lat, row.lon, row.edited) == (
            "г. Курск, ул. Литовская, д. 14",
            51.7402,
            36.2281,
            True,
        )
        [rev] = s.exec(select(PostRevision)).all()
        assert (rev.text, rev.address, rev.lat, rev.lon) == (
            "Яма у дома",
            "г. Курск, ул. Литовская, д. 12",
            51.7399,
            36.227,
        )


def test_an_import_stores_the_place_and_quarantines_a_bad_point_whole(engine, kursk, tmp_path: Path):
    base = {
        "network": "pos",
        "source_id": "pos_kursk",
        "text": "Не вывозят мусор, контейнеры переполнены",
        "created_at": "2026-11-22T10:00:00+03:00",
    }
    good = {
        **base,
        "external_id": "1",
        "address": "г. Курск, ул. Союзная, д. 61",
        "lat": 51.7035,
        "lon": 36.1547,
    }
    half = {**base, "external_id": "2", "lat": 51.7035}
    far = {**base, "external_id": "3", "lat": 151.7, "lon": 36.15}
    path = tmp_path / "pos.jsonl"
    path.write_text(
        "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in (good, half, far)), encoding="utf-8"
    )
    prepare(engine, kursk)
    crawl_adapter(engine, ReplaySource(source_id="import:pos.jsonl", path=path), lambda: NOW)
    with Session(engine) as s:
        [row] = s.exec(select(Post)).all()
        assert (row.external_id, row.address, row.lat, row.lon) == ("1", good["address"], 51.7035, 36.1547)
    rows = sorted(quarantined(engine), key=lambda r: r.location)
    assert [(r.location, r.reason) for r in rows] == [
        ("line 2", "lat given without lon: a point needs both or neither"),
        ("line 3", "lat: 151.7 is not between -90 and 90"),
    ]
    assert [json.loads(r.payload) for r in rows] == [half, far]  # nothing lost: replayable after a fix


def test_admission_refuses_half_a_point_from_any_adapter():
    """An adapter that builds its records itself (not through the interchange parser) gets the
    same checks: the record is quarantined with the reason, the page goes on."""
    from storage.store import admit

    ok = _p("Яма", "г. Курск", 51.7, 36.2)
    half = PostRecord(
        **{
            **{f: getattr(ok, f) for f in ("network", "source_id", "text", "created_at")},
            "external_id": "2",
            "lat": 51.7,
        }
    )
    far = PostRecord(
        **{
            **{f: getattr(ok, f) for f in ("network", "source_id", "text", "created_at")},
            "external_id": "3",
            "lat": 51.7,
            "lon": 236.2,
        }
    )
    kept, bad = admit([ok, half, far], NOW)
    assert kept == [ok]
    assert [b.reason for b in bad] == [
        "lat given without lon: a point needs both or neither",
        "lon: 236.2 is not between -180 and 180",
    ]
