"""«Отвечено» only when a reply reached the resident (issue 18): a dry run sends 0 replies and
the incident stays approved; a channel's confirmation or a person's mark makes it answered."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from core.states import InvalidTransition
from incidents.services.answered import NotPublished, mark_published
from incidents.services.channels import Channels
from incidents.services.outbox import Outbox
from incidents.services.workflow import Workflow, add_user, get_actor
from storage.models import AuditEvent, Incident, Reply
from tests.conftest import FixedClock
from tests.fakes.pos import FakePos
from tests.workflow_scenario import T0, fake_channels, open_incident


@pytest.fixture
def published(sqlite_engine, kursk, kursk_builder):
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


def _actions(engine, iid):
    with Session(engine) as s:
        return [
            e.action
            for e in s.exec(select(AuditEvent).where(AuditEvent.incident_id == iid).order_by(AuditEvent.id))
        ]


def test_a_dry_run_leaves_the_incident_approved_and_it_cannot_be_resolved(published):
    engine, cfg, clock, iid = published
    report = Outbox(engine, cfg, Channels({}, {}), clock).run()  # no credentials at all
    assert report.sent == 0 and sum(report.dry_run.values()) == 4
    with Session(engine) as s:
        inc = s.get(Incident, iid)
        assert inc.status == "answer_approved" and inc.first_answer_at is None
        gorinsp = get_actor(s, "gorinsp")
    actions = _actions(engine, iid)
    assert "answer_queued" in actions and "answer_published" not in actions
    with Session(engine) as s, s.begin(), pytest.raises(InvalidTransition):
        Workflow(s, cfg, clock).resolve(gorinsp, iid, "решено")


def test_a_reply_confirmed_sent_makes_it_answered(published):
    engine, cfg, clock, iid = published
    with FakePos() as pos:
        report = Outbox(engine, cfg, fake_channels(pos=pos), clock).run()
    assert report.sent == 1
    with Session(engine) as s:
        assert s.get(Incident, iid).status == "answered"
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "answer_published")).one()
        assert ev.actor == "control" and ev.data["confirmed"] == "reply_sent"
    assert _actions(engine, iid).count("answer_published") == 1


def test_marked_published_by_hand(published):
    engine, cfg, clock, iid = published
    with Session(engine) as s, s.begin():
        mark_published(
            s, get_actor(s, "control"), s.get(Incident, iid), clock(), "опубликовано из аккаунта ЦУР"
        )
    with Session(engine) as s:
        inc = s.get(Incident, iid)
        assert inc.status == "answered" and inc.first_answer_at is not None
        assert {r.status for r in s.exec(select(Reply)).all()} == {"manual"}  # the outbox will not send them
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "answer_published")).one()
        assert ev.data["confirmed"] == "by_hand"
    assert Outbox(engine, cfg, Channels({}, {}), clock).run().dry_run == {}


def test_nothing_to_mark_without_a_released_answer(sqlite_engine, kursk, kursk_builder):
    clock = FixedClock(T0)
    iid, _ = open_incident(sqlite_engine, kursk, kursk_builder, clock)
    with Session(sqlite_engine) as s, s.begin():
        add_user(s, kursk, login="control", role="controller", now=clock())
        with pytest.raises(NotPublished):
            mark_published(s, get_actor(s, "control"), s.get(Incident, iid), clock())


def test_the_command_line_marks_published_and_a_controller_overrides_a_template(
    tmp_path, kursk, kursk_builder, capsys
):
    """`incidents published ID` and `incidents reply --override`: the same services as the console."""
    from cli.main import main
    from storage.db import open_database
    from tests.conftest import KURSK

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = open_database(url)
    clock = FixedClock(T0)
    iid, _ = open_incident(engine, kursk, kursk_builder, clock)
    with Session(engine) as s, s.begin():
        add_user(s, kursk, login="gorinsp", role="executor", body="kursk_gorinspektsiya", now=clock())
        add_user(s, kursk, login="control", role="controller", now=clock())
    base = ["--config", str(KURSK), "--database", url]
    # a template of another category: refused for the executor, a controller may override
    assert main([*base, "reply", str(iid), "--template", "water_outage", "--by", "gorinsp"]) != 0
    assert "не подходит" in capsys.readouterr().err
    assert (
        main([*base, "reply", str(iid), "--template", "water_outage", "--override", "--by", "gorinsp"]) != 0
    )
    assert (
        main([*base, "reply", str(iid), "--template", "water_outage", "--override", "--by", "control"]) == 0
    )
    assert main([*base, "reply", str(iid), "--template", "waste_not_collected", "--by", "gorinsp"]) == 0
    assert main([*base, "approve", str(iid), "--by", "control"]) == 0
    # nothing released yet: nothing to mark
    assert main([*base, "published", str(iid), "--by", "control"]) != 0
    assert "нет ответа, отправленного на публикацию" in capsys.readouterr().err
    assert main([*base, "publish", "--incident", str(iid), "--dry-run", "--by", "control"]) != 0
    with Session(engine) as s:
        assert s.get(Incident, iid).status == "answer_approved"
    assert main([*base, "published", str(iid), "--note", "в кабинете ПОС", "--by", "control"]) == 0
    assert "отмечен опубликованным вручную" in capsys.readouterr().out
    with Session(engine) as s:
        assert s.get(Incident, iid).status == "answered"
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "answer_marked_published")).one()
        assert ev.reason == "в кабинете ПОС" and ev.actor == "control"
