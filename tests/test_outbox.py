"""The outbox against the fake networks: per-post status, retries with back-off, refusals with the
reason, dry run without credentials."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from incidents.services.channels import build_channels, target_for
from incidents.services.outbox import Outbox
from incidents.services.workflow import Workflow, add_user, get_actor
from storage.models import AuditEvent, Incident, Reply
from tests.conftest import FixedClock
from tests.fakes.ok import FakeOk
from tests.fakes.pos import FakePos
from tests.fakes.telegram import FakeTelegramClient
from tests.fakes.vk import FakeVk
from tests.workflow_scenario import T0, fake_channels, open_incident, seed_fakes


@pytest.fixture
def published(engine, kursk, kursk_builder):
    sqlite_engine = engine  # both databases
    clock = FixedClock(T0)
    iid, _ = open_incident(sqlite_engine, kursk, kursk_builder, clock)
    with Session(sqlite_engine) as s, s.begin():
        add_user(s, kursk, login="gorinsp", role="executor", body="kursk_gorinspektsiya", now=clock())
        add_user(s, kursk, login="control", role="controller", now=clock())
        w = Workflow(s, kursk, clock)
        w.draft_answer(get_actor(s, "gorinsp"), iid, template="waste_not_collected")
        w.approve(get_actor(s, "control"), iid)
        w.publish(get_actor(s, "control"), iid)
    return sqlite_engine, kursk, clock, iid


def _rows(engine) -> dict[str, Reply]:  # noqa: ANN001
    with Session(engine) as s:
        return {r.network: r for r in s.exec(select(Reply)).all()}


def test_targets_are_where_the_posts_were_written():
    assert target_for("vk", "comment-100001_2201", "wall-100001_1011") == {
        "owner_id": -100001,
        "post_id": 1011,
        "reply_to_comment": 2201,
    }
    assert target_for("vk", "wall-100001_1011", None) == {"owner_id": -100001, "post_id": 1011}
    assert target_for("ok", "commentMTU6OTk", "topic155000000000012") == {
        "topic_id": "155000000000012",
        "reply_to": "MTU6OTk",
    }
    assert target_for("telegram", "kursk_chat/7101", None) == {"chat": "kursk_chat", "reply_to": 7101}
    assert target_for("pos", "POS-46-000101", None) == {"message_id": "POS-46-000101"}
    # the interchange format of replayed and imported posts
    assert target_for("vk", "-100000001_21840_c26659", "-100000001_21840") == {
        "owner_id": -100000001,
        "post_id": 21840,
        "reply_to_comment": 26659,
    }
    assert target_for("vk", "696860587_23706", None) == {"owner_id": 696860587, "post_id": 23706}
    assert target_for("ok", "54000000000002_153002714585_c7415948", "54000000000002_153002714585") == {
        "topic_id": "153002714585",
        "reply_to": "7415948",
    }
    assert target_for("telegram", "kursk46news_chat/295094", "kursk46news/23665") == {
        "chat": "kursk46news_chat",
        "reply_to": 295094,
    }
    with pytest.raises(ValueError):
        target_for("vk", "comment-100001_2201", None)


def test_without_credentials_the_outbox_is_a_dry_run_and_says_so(published, monkeypatch):
    engine, cfg, clock, iid = published
    for var in (
        "VK_REPLY_TOKEN",
        "VK_TOKEN",
        "OK_ACCESS_TOKEN",
        "TELEGRAM_SESSION",
        "POS_TOKEN",
        "POS_BASE_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    channels = build_channels(cfg)
    assert channels.available == {}
    assert "VK_REPLY_TOKEN" in channels.missing["vk"] and "POS_TOKEN" in channels.missing["pos"]
    report = Outbox(engine, cfg, channels, clock).run()
    assert dict(report.dry_run) == {"vk": 1, "ok": 1, "telegram": 1, "pos": 1} and report.sent == 0
    assert set(report.dry_run_reasons) == {"vk", "ok", "telegram", "pos"}
    assert {r.status for r in _rows(engine).values()} == {"queued"}
    with Session(engine) as s:
        assert s.get(Incident, iid).first_answer_at is None  # nothing public yet: the clock runs on
    monkeypatch.setenv("VK_REPLY_TOKEN", "vk1.a.community")
    assert "vk" in build_channels(cfg).available


def test_refusal_fails_with_reason_and_a_rate_limit_backs_off(published):
    engine, cfg, clock, iid = published
    tg = FakeTelegramClient()
    with FakeVk() as vk, FakeOk() as ok, FakePos() as pos:
        seed_fakes(vk, ok, tg, pos)
        vk.data["closed_comments"].append("-100001_1011")  # the community closed comments under the post
        pos.fail("/messages/", "rate_limited")
        tg.flood(30)
        channels = fake_channels(vk=vk, ok=ok, tg=tg, pos=pos)
        r1 = Outbox(engine, cfg, channels, clock).run()
        rows = _rows(engine)
        assert rows["vk"].status == "failed" and "213" in rows["vk"].error
        assert rows["ok"].status == "sent" and rows["ok"].remote_id.startswith("comment")
        assert rows["pos"].status == "queued" and rows["pos"].next_attempt_at == clock() + timedelta(
            seconds=60
        )
        assert rows["telegram"].status == "queued" and "wait 30 s" in rows["telegram"].error
        assert (r1.sent, r1.failed, r1.retry) == (1, 1, 2)

        clock.advance(seconds=30)  # too early: nothing is tried
        assert Outbox(engine, cfg, channels, clock).due() == []
        clock.advance(seconds=31)
        r2 = Outbox(engine, cfg, channels, clock).run()
        assert r2.sent == 2
        rows = _rows(engine)
        assert rows["pos"].status == "sent" and rows["pos"].attempts == 2 and len(pos.answers) == 1
        assert rows["telegram"].status == "sent" and len(tg.sent()) == 1
        assert len(ok.created_comments()) == 1  # the OK reply was not touched again
    with Session(engine) as s:
        failed = s.exec(select(AuditEvent).where(AuditEvent.action == "reply_failed")).one()
        assert failed.data["network"] == "vk" and "213" in failed.reason


def test_gives_up_after_the_configured_tries(published):
    engine, cfg, clock, _ = published
    with FakePos() as pos:
        pos.fail("/messages/", "unavailable", times=10)
        channels = fake_channels(pos=pos)
        for _ in range(cfg.replies.retry.max_attempts):
            Outbox(engine, cfg, channels, clock).run()
            clock.advance(hours=2)
        row = _rows(engine)["pos"]
        assert row.status == "failed" and row.error.startswith("gave up after 5 tries")
        assert pos.answers == {}


def test_an_interim_answer_to_chosen_posts_then_the_final_one(sqlite_engine, kursk, kursk_builder):
    """The interim answer goes only to the feedback platform; it stops the 24-hour clock and starts
    the follow-up one; the final answer then goes to every post and stops the follow-up."""
    engine, cfg = sqlite_engine, kursk
    clock = FixedClock(T0)
    iid, post_ids = open_incident(engine, cfg, kursk_builder, clock)
    tg = FakeTelegramClient()
    with Session(engine) as s, s.begin():
        add_user(s, cfg, login="gorinsp", role="executor", body="kursk_gorinspektsiya", now=clock())
        add_user(s, cfg, login="control", role="controller", now=clock())
    with FakeVk() as vk, FakeOk() as ok, FakePos() as pos:
        seed_fakes(vk, ok, tg, pos)
        channels = fake_channels(vk=vk, ok=ok, tg=tg, pos=pos)
        clock.advance(hours=3)
        with Session(engine) as s, s.begin():
            w = Workflow(s, cfg, clock)
            a = w.draft_answer(get_actor(s, "gorinsp"), iid, template="interim_in_work")
            assert a.interim and "Ведётся проверка" in a.text
            w.approve(get_actor(s, "control"), iid)
            w.publish(get_actor(s, "control"), iid, post_ids=[post_ids[3]])  # the ПОС message only
        assert Outbox(engine, cfg, channels, clock).run().sent == 1
        with Session(engine) as s:
            inc = s.get(Incident, iid)
            assert inc.first_answer_at == clock() == inc.interim_answer_at and inc.final_answer_at is None
            assert inc.follow_up_due_at is not None and inc.follow_up_due_at > clock() + timedelta(days=4)
            with pytest.raises(Exception, match="промежуточный"):
                Workflow(s, cfg, clock).resolve(get_actor(s, "gorinsp"), iid)
        assert [a["final"] for a in pos.answers.values()] == [False] and not vk.data.get("created_comments")

        clock.advance(days=1)
        with Session(engine) as s, s.begin():
            w = Workflow(s, cfg, clock)
            w.draft_answer(
                get_actor(s, "gorinsp"),
                iid,
                text="Здравствуйте! Площадка у дома 61 по ул. Союзной вычищена, вывоз идёт по графику.",
            )
            w.approve(get_actor(s, "control"), iid)
            w.publish(get_actor(s, "control"), iid)
        assert Outbox(engine, cfg, channels, clock).run().sent == 4
        assert [a["final"] for a in pos.answers.values()] == [False, True] and len(
            vk.data["created_comments"]
        ) == 1
        with Session(engine) as s:
            inc = s.get(Incident, iid)
            assert inc.final_answer_at == clock() and inc.first_answer_at < inc.final_answer_at
