"""Administrator operations: merge, split, move — audited, and never undone by automation.

The posts go through the real pipeline (signals, clustering, routing) on SQLite and
PostgreSQL; the operations then correct what the clustering did, and the tests reprocess
everything (as after edits) and feed new posts to check that the manual decisions stand.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from core.records import PostRecord
from incidents.services.operations import OperationError, merge_incidents, move_post, split_incident
from incidents.services.processing import prepare, process_pending
from incidents.services.queries import incident_rows
from storage.models import AuditEvent, Incident, IncidentPost, Post
from storage.store import open_incidents, save_posts
from tests.conftest import KURSK

T0 = datetime(2026, 11, 20, 6, tzinfo=UTC)

# network, external_id, text, hours after T0, likes, reposts, views
POSTS = [
    (
        "vk",
        "-170_10",
        "Курск, ул. Радищева, д. 12 — третий день нет холодной воды!!! Когда дадут воду? 😡",
        0,
        5,
        1,
        300,
    ),
    ("ok", "5551_1", "на радищева 12 воды нет уже 3 дня, водоканал трубку не берёт", 2, 1, 0, 0),
    ("telegram", "kursk_chat/9", "Радищева 12 без воды с понедельника, сколько можно", 5, 0, 0, 120),
    ("vk", "-170_20", "Курск, ул. Ленина 5 огромная яма на дороге, машины бьют колёса", 1, 3, 0, 0),
    # four days later, past the clustering window: the clustering opens a second incident
    (
        "vk",
        "-170_21",
        "Курск, ямищу на ул. Ленина у дома 5 так и не заделали, уже две машины пробили колесо, "
        "когда отремонтируют дорогу?",
        100,
        2,
        1,
        0,
    ),
    (
        "pos",
        "77001",
        "В г. Курске по ул. Ленина, д. 5 яма на проезжей части. Прошу отремонтировать дорогу",
        4,
        0,
        0,
        0,
    ),
]


def _records(rows=POSTS, start=0):
    return [
        PostRecord(
            network=n,
            external_id=e,
            source_id="test",
            text=t,
            created_at=T0 + timedelta(hours=h),
            author_id=f"{n}:a{start + i}",
            author_name=f"Житель {start + i}",
            likes=lk,
            reposts=rp,
            views=vw,
        )
        for i, (n, e, t, h, lk, rp, vw) in enumerate(rows)
    ]


def _ingest(engine, cfg, records, at):
    with Session(engine) as s, s.begin():
        save_posts(s, records, at)
    return process_pending(engine, cfg, lambda: at)


@pytest.fixture
def loaded(engine, kursk, kursk_builder):
    prepare(engine, kursk)
    with Session(engine) as s, s.begin():
        save_posts(s, _records(), T0)
    process_pending(engine, kursk, lambda: T0 + timedelta(hours=6), builder=kursk_builder)
    return engine


def _placement(engine) -> dict[str, int]:
    with Session(engine) as s:
        rows = s.exec(
            select(Post.network, Post.external_id, IncidentPost.incident_id).join(
                IncidentPost, IncidentPost.post_id == Post.id
            )
        ).all()
    return {f"{n}:{e}": i for n, e, i in rows}


def _events(engine, incident_id) -> list[AuditEvent]:
    with Session(engine) as s:
        return list(
            s.exec(
                select(AuditEvent).where(AuditEvent.incident_id == incident_id).order_by(AuditEvent.id)
            ).all()
        )


def _reprocess_everything(engine, cfg, builder, at):
    """What an edit storm or a re-run after a rules change does: every post is analysed again."""
    with Session(engine) as s, s.begin():
        for p in s.exec(select(Post)).all():
            p.processed = False
            s.add(p)
    return process_pending(engine, cfg, lambda: at, builder=builder)


def test_merge_moves_posts_keeps_history_and_survives_reprocessing(loaded, kursk, kursk_builder):
    place = _placement(loaded)
    a, b = place["pos:77001"], place["vk:-170_21"]
    assert a != b, "the posts are built so that the clustering splits this pothole in two"
    at = T0 + timedelta(hours=8)
    with Session(loaded) as s, s.begin():
        result = merge_incidents(s, kursk, a, [b], by="petrova", reason="одна и та же яма у дома 5", now=at)
    assert result.incident_id == a and result.posts == ["vk:-170_21"]

    place = _placement(loaded)
    assert place["vk:-170_20"] == place["vk:-170_21"] == place["pos:77001"] == a
    with Session(loaded) as s:
        inc_a, inc_b = s.get(Incident, a), s.get(Incident, b)
        link = s.exec(
            select(IncidentPost)
            .join(Post, Post.id == IncidentPost.post_id)
            .where(Post.external_id == "-170_21")
        ).one()
        assert link.manual and link.added_by == "petrova"
        assert inc_b.merged_into_id == a and inc_b.manual and inc_b.post_count == 0
        assert inc_a.manual and inc_a.post_count == 3 and inc_a.networks == "pos,vk"
        assert inc_a.reach == 3 + (2 + 1) + 0  # likes + reposts + views/100 of its three posts
        assert b not in {i.id for i in open_incidents(s)}
        assert b not in {r["id"] for r in incident_rows(s)}
    (merged,) = [e for e in _events(loaded, a) if e.action == "merged"]
    assert (merged.actor, merged.reason, merged.at) == ("petrova", "одна и та же яма у дома 5", at)
    assert merged.data == {"from": [b], "posts": ["vk:-170_21"], "manual": True}
    (into,) = [e for e in _events(loaded, b) if e.action == "merged_into"]
    assert into.actor == "petrova" and into.data["into"] == a

    stats = _reprocess_everything(loaded, kursk, kursk_builder, at + timedelta(hours=1))
    assert stats.posts == len(POSTS) and stats.incidents_opened == 0 and stats.incidents_joined == 0
    assert _placement(loaded) == place


def test_split_opens_a_routed_linked_incident_that_automation_leaves_alone(loaded, kursk, kursk_builder):
    place = _placement(loaded)
    water = place["vk:-170_10"]
    assert place["telegram:kursk_chat/9"] == water
    at = T0 + timedelta(hours=9)
    with Session(loaded) as s, s.begin():
        result = split_incident(
            s,
            kursk,
            water,
            ["telegram:kursk_chat/9"],
            by="ivanov",
            reason="в чате про другой подъезд: там прорыв, а не отключение",
            now=at,
        )
    new = result.incident_id
    with Session(loaded) as s:
        inc = s.get(Incident, new)
        old = s.get(Incident, water)
        assert inc.manual and inc.linked_incident_id == water and inc.category == "water"
        assert inc.municipality == "kursk" and inc.street == "улица Радищева"
        assert inc.body_code and inc.status == "assigned" and inc.due_at == at + timedelta(hours=24)
        assert inc.post_count == 1 and inc.networks == "telegram" and "Радищева" in inc.title
        assert old.post_count == 2 and old.networks == "ok,vk" and old.manual
    split = [e for e in _events(loaded, water) if e.action == "split"]
    assert split and split[0].actor == "ivanov" and split[0].data["into"] == new
    assert [e.action for e in _events(loaded, new)][:2] == ["split_from", "assigned"]

    # New posts keep arriving, the split post is edited and re-analysed, everything is
    # reprocessed: the split post stays where the administrator put it.
    more = [("vk", "-170_30", "ул. Радищева 12 опять нет воды, уже четвёртый день!", 30, 0, 0, 0)]
    with Session(loaded) as s, s.begin():
        edited = _records()[2]
        edited.text += " (дописано: вода так и не появилась)"
        save_posts(s, [edited, *_records(more, start=10)], at)
    _ingest(loaded, kursk, [], at + timedelta(hours=1))
    assert _placement(loaded)["telegram:kursk_chat/9"] == new
    _reprocess_everything(loaded, kursk, kursk_builder, at + timedelta(hours=2))
    after = _placement(loaded)
    assert after["telegram:kursk_chat/9"] == new
    assert {after[k] for k in ("vk:-170_10", "ok:5551_1")} == {water}


def test_move_post_and_the_emptied_incident(loaded, kursk, kursk_builder):
    place = _placement(loaded)
    pothole, lonely = place["pos:77001"], place["vk:-170_21"]
    at = T0 + timedelta(hours=10)
    with Session(loaded) as s, s.begin():
        result = move_post(s, kursk, "vk:-170_21", pothole, by="sidorova", reason="тот же дом 5", now=at)
    assert result.touched == [pothole, lonely]
    with Session(loaded) as s:
        emptied = s.get(Incident, lonely)
        assert emptied.merged_into_id == pothole and emptied.post_count == 0
        assert s.get(Incident, pothole).post_count == 3
    actions = {e.action: e for e in _events(loaded, lonely)}
    assert actions["post_moved_out"].data == {"post": "vk:-170_21", "to": pothole, "manual": True}
    assert actions["emptied"].actor == "sidorova"
    moved_in = [e for e in _events(loaded, pothole) if e.action == "post_moved_in"]
    assert moved_in[0].reason == "тот же дом 5" and moved_in[0].data["from"] == lonely

    # A post the classifier rejected can be moved in by hand, and stays in on reprocessing.
    note = [("vk", "-170_40", "Спасибо всем, кто откликнулся! 🙏", 7, 0, 0, 0)]
    _ingest(loaded, kursk, _records(note, start=20), at)
    assert "vk:-170_40" not in _placement(loaded)
    with Session(loaded) as s, s.begin():
        move_post(s, kursk, "vk:-170_40", pothole, by="sidorova", reason="фото ямы в комментариях", now=at)
    _reprocess_everything(loaded, kursk, kursk_builder, at + timedelta(hours=1))
    final = _placement(loaded)
    assert final["vk:-170_40"] == final["vk:-170_21"] == pothole


def test_operations_refuse_what_makes_no_sense(sqlite_engine, kursk, kursk_builder):
    prepare(sqlite_engine, kursk)
    _ingest(sqlite_engine, kursk, _records(), T0 + timedelta(hours=6))
    place = _placement(sqlite_engine)
    water, pothole = place["vk:-170_10"], place["pos:77001"]
    now = T0 + timedelta(hours=7)
    cases = [
        (lambda s: merge_incidents(s, kursk, water, [pothole], by="", reason="x", now=now), "--by"),
        (lambda s: merge_incidents(s, kursk, water, [pothole], by="a", reason="  ", now=now), "--reason"),
        (lambda s: merge_incidents(s, kursk, water, [water], by="a", reason="r", now=now), "с самим собой"),
        (lambda s: merge_incidents(s, kursk, 9999, [water], by="a", reason="r", now=now), "не найден"),
        (lambda s: split_incident(s, kursk, water, ["vk:-170_20"], by="a", reason="r", now=now), "не входят"),
        (
            lambda s: split_incident(
                s,
                kursk,
                water,
                ["vk:-170_10", "ok:5551_1", "telegram:kursk_chat/9"],
                by="a",
                reason="r",
                now=now,
            ),
            "не останется",
        ),
        (lambda s: move_post(s, kursk, "vk:nope", water, by="a", reason="r", now=now), "нет в базе"),
        (
            lambda s: move_post(s, kursk, "vk-170_10", water, by="a", reason="r", now=now),
            "сеть:идентификатор",
        ),
        (lambda s: move_post(s, kursk, "vk:-170_10", water, by="a", reason="r", now=now), "уже в инциденте"),
    ]
    for op, words in cases:
        with pytest.raises(OperationError, match=words), Session(sqlite_engine) as s, s.begin():
            op(s)
    with Session(sqlite_engine) as s, s.begin():
        merge_incidents(s, kursk, water, [pothole], by="a", reason="проверка", now=now)
    with pytest.raises(OperationError, match=f"объединён с #{water}"), Session(sqlite_engine) as s:
        move_post(s, kursk, "vk:-170_10", pothole, by="a", reason="r", now=now)
    assert _placement(sqlite_engine)["pos:77001"] == water


def test_cli_merge_split_move(tmp_path, monkeypatch, capsys):
    from cli.main import main

    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        "\n".join(
            json.dumps(
                {
                    "network": r.network,
                    "external_id": r.external_id,
                    "source_id": "cli",
                    "text": r.text,
                    "created_at": r.created_at.isoformat(),
                    "author_id": r.author_id,
                },
                ensure_ascii=False,
            )
            for r in _records()
        ),
        encoding="utf-8",
    )
    base = ["--config", str(KURSK), "--database", f"sqlite:///{tmp_path / 'cli.db'}"]
    assert main([*base, "import", str(posts)]) == 0
    capsys.readouterr()
    assert main([*base, "export", "incidents"]) == 0
    rows = {p: r["id"] for r in map(json.loads, capsys.readouterr().out.splitlines()) for p in r["posts"]}
    a, b, water = rows["pos:77001"], rows["vk:-170_21"], rows["vk:-170_10"]

    assert main([*base, "merge", str(a), str(b), "--by", "petrova", "--reason", "одна яма"]) == 0
    assert f"объединено в #{a}" in capsys.readouterr().out
    assert (
        main([*base, "split", str(water), "--post", "ok:5551_1", "--by", "petrova", "--reason", "другой дом"])
        == 0
    )
    out = capsys.readouterr().out
    new = int(out.split("#", 1)[1].split(":", 1)[0])
    assert (
        main([*base, "move", "ok:5551_1", "--to", str(water), "--by", "petrova", "--reason", "ошиблась"]) == 0
    )
    assert f"перенесено в #{water}" in capsys.readouterr().out
    assert main([*base, "move", "ok:5551_1", "--to", str(new), "--by", "petrova", "--reason", "r"]) == 2
    assert (
        f"объединён с #{water}" in capsys.readouterr().err
    )  # the split-off incident was emptied by the move
    assert main([*base, "show", str(water)]) == 0
    out = capsys.readouterr().out
    # the history speaks Russian (issue 18: codes such as split, post_moved_in no longer leak)
    assert "выделены посты" in out and "пост перенесён сюда" in out and "petrova" in out and "ошиблась" in out
    assert "авторов: 3" in out and "охват:" in out and "главный пост:" in out and "масштаб: дом" in out
