"""Roles, states and audit: the workflow service on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from core.roles import Action, Actor, PermissionDenied, Role, authorize, can
from core.states import InvalidTransition
from incidents.services.answered import mark_published
from incidents.services.workflow import Workflow, WorkflowError, add_user, get_actor
from storage.models import Answer, Assignment, AuditEvent, Incident, Reply
from tests.conftest import FixedClock
from tests.workflow_scenario import T0, open_incident


@pytest.fixture
def scenario(engine, kursk, kursk_builder):
    clock = FixedClock(T0)
    iid, posts = open_incident(engine, kursk, kursk_builder, clock)
    with Session(engine) as s, s.begin():
        for login, role, body in [
            ("admin", "admin", None),
            ("moder", "moderator", None),
            ("gorinsp", "executor", "kursk_gorinspektsiya"),
            ("dorogi", "executor", "reg_transport_roads"),
            ("control", "controller", None),
            ("fed", "observer", None),
        ]:
            add_user(s, kursk, login=login, role=role, body=body, now=clock(), email=f"{login}@example.org")
    return engine, kursk, clock, iid, posts


def _do(engine, cfg, clock, fn):
    with Session(engine, expire_on_commit=False) as s, s.begin():
        return fn(Workflow(s, cfg, clock), s)


def test_permission_matrix_in_one_place():
    executor = Actor("ivanova", Role.EXECUTOR, "adm_kursk")
    assert can(executor, Action.DRAFT, "adm_kursk") and not can(executor, Action.DRAFT, "reg_health")
    assert not can(Actor("fed", Role.OBSERVER), Action.ASSIGN)
    assert can(Actor("control", Role.CONTROLLER), Action.APPROVE) and not can(
        Actor("m", Role.MODERATOR), Action.APPROVE
    )
    with pytest.raises(PermissionDenied, match="исполнитель работает только с инцидентами своего органа"):
        authorize(executor, Action.RESOLVE, "reg_health", incident_id=7)
    with pytest.raises(ValueError, match="body_code is required"):
        Actor("x", Role.EXECUTOR)


def test_routing_then_every_role_and_every_step_audited(scenario):
    engine, cfg, clock, iid, posts = scenario
    with Session(engine) as s:
        inc = s.get(Incident, iid)
        assert inc.status == "assigned" and inc.body_code == "kursk_gorinspektsiya"  # routed by a rule
        assert inc.assigned_at == T0 and inc.resolution_due_at is not None
        moder, gorinsp, dorogi = get_actor(s, "moder"), get_actor(s, "gorinsp"), get_actor(s, "dorogi")
        control, fed, admin = get_actor(s, "control"), get_actor(s, "fed"), get_actor(s, "admin")

    # an executor of another body sees nothing to do here; an observer only looks
    with pytest.raises(PermissionDenied, match="reg_transport_roads"):
        _do(engine, cfg, clock, lambda w, s: w.draft_answer(dorogi, iid, template="waste_not_collected"))
    with pytest.raises(PermissionDenied, match="наблюдатель"):
        _do(engine, cfg, clock, lambda w, s: w.assign(fed, iid, "adm_kursk", "проверка"))

    # the moderator reassigns (a reason is required), the executor hands it back as "not ours"
    with pytest.raises(WorkflowError, match="нужна причина"):
        _do(engine, cfg, clock, lambda w, s: w.assign(moder, iid, "reg_transport_roads"))
    clock.advance(minutes=10)
    _do(engine, cfg, clock, lambda w, s: w.assign(moder, iid, "reg_transport_roads", "площадка у дороги"))
    clock.advance(minutes=10)
    _do(
        engine,
        cfg,
        clock,
        lambda w, s: w.hand_back(dorogi, iid, "не наше: контейнерная площадка во дворе МКД"),
    )
    with Session(engine) as s:
        inc = s.get(Incident, iid)
        assert inc.status == "triaged" and inc.body_code == cfg.bodies.triage_body
    clock.advance(minutes=5)
    _do(
        engine,
        cfg,
        clock,
        lambda w, s: w.assign(moder, iid, "kursk_gorinspektsiya", "двор МКД — городская инспекция"),
    )

    # an invalid step is refused with the allowed ones named
    with pytest.raises(InvalidTransition, match="можно"):
        _do(engine, cfg, clock, lambda w, s: w.close(admin, iid, "рано"))

    # executor drafts from the template; the controller returns it, then approves the rework
    answer = _do(
        engine, cfg, clock, lambda w, s: w.draft_answer(gorinsp, iid, template="waste_not_collected")
    )
    body = cfg.body_by_code["kursk_gorinspektsiya"].name
    assert "ул. Союзная" in answer.text or "улица Союзная" in answer.text
    assert body in answer.text and "до 03.12.2026" in answer.text  # the platform's 10-day waste deadline
    with pytest.raises(PermissionDenied):
        _do(engine, cfg, clock, lambda w, s: w.approve(gorinsp, iid))
    _do(engine, cfg, clock, lambda w, s: w.return_draft(control, iid, "укажите точный срок вывоза"))
    _do(
        engine,
        cfg,
        clock,
        lambda w, s: w.draft_answer(
            gorinsp,
            iid,
            text="Здравствуйте! Вывоз с площадки у дома 61 по ул. Союзной организован 24.11.2026 до 12:00.",
        ),
    )
    with pytest.raises(WorkflowError, match="утверждён"):
        _do(engine, cfg, clock, lambda w, s: w.publish(control, iid))  # approval is required in Kursk
    _do(engine, cfg, clock, lambda w, s: w.approve(control, iid))
    replies = _do(engine, cfg, clock, lambda w, s: w.publish(control, iid))
    assert sorted(r.network for r in replies) == ["ok", "pos", "telegram", "vk"]
    assert {r.status for r in replies} == {"queued"}
    # publishing the same answer again queues nothing twice (one key per answer × post)
    with Session(engine) as s:
        assert len(s.exec(select(Reply)).all()) == 4
        assert s.get(Incident, iid).status == "answer_approved"  # queued is not answered (issue 18)
    # no channel sends here: the controller marks the answer as published by hand (setup: this test
    # used to take «queued» for «answered», the bug of issue 18)
    _do(engine, cfg, clock, lambda w, s: mark_published(s, control, w.incident(iid), clock()))

    # resolve needs the executor of the body; close needs a controller
    _do(engine, cfg, clock, lambda w, s: w.resolve(gorinsp, iid, "площадка вычищена, фото в карточке"))
    with pytest.raises(PermissionDenied):
        _do(engine, cfg, clock, lambda w, s: w.close(gorinsp, iid))
    _do(engine, cfg, clock, lambda w, s: w.close(control, iid))

    with Session(engine) as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.incident_id == iid).order_by(AuditEvent.id)).all()
        moves = [(e.actor, e.action, e.from_state, e.to_state) for e in events if e.to_state]
        history = s.exec(
            select(Assignment).where(Assignment.incident_id == iid).order_by(Assignment.id)
        ).all()
        answers = s.exec(select(Answer).where(Answer.incident_id == iid).order_by(Answer.id)).all()
    assert moves == [
        ("system", "opened", None, "new"),
        ("system", "assigned", "new", "assigned"),
        ("moder", "reassigned", "assigned", "assigned"),
        ("dorogi", "handed_back", "assigned", "triaged"),
        ("moder", "assigned", "triaged", "assigned"),
        ("gorinsp", "answer_drafted", "assigned", "answer_drafted"),
        ("control", "draft_returned", "answer_drafted", "assigned"),
        ("gorinsp", "answer_drafted", "assigned", "answer_drafted"),
        ("control", "answer_approved", "answer_drafted", "answer_approved"),
        ("control", "answer_published", "answer_approved", "answered"),
        ("gorinsp", "resolved", "answered", "resolved"),
        ("control", "closed", "resolved", "closed"),
    ]
    assert all(e.at is not None for e in events)
    assert next(e for e in events if e.action == "handed_back").reason.startswith("не наше")
    assert [(a.body_code, a.ended_at is None) for a in history] == [
        ("kursk_gorinspektsiya", False),
        ("reg_transport_roads", False),
        (cfg.bodies.triage_body, False),
        ("kursk_gorinspektsiya", True),
    ]
    assert [a.status for a in answers] == ["returned", "published"]


def test_reject_needs_a_reason_and_reopen_restarts_the_clock(scenario):
    engine, cfg, clock, iid, _ = scenario
    with Session(engine) as s:
        moder, admin = get_actor(s, "moder"), get_actor(s, "admin")
    with pytest.raises(WorkflowError):
        _do(engine, cfg, clock, lambda w, s: w.reject(moder, iid, " "))
    _do(engine, cfg, clock, lambda w, s: w.reject(moder, iid, "не жалоба: объявление управляющей компании"))
    clock.advance(days=2)
    _do(engine, cfg, clock, lambda w, s: w.reopen(admin, iid, "жители пишут снова"))
    with Session(engine) as s:
        inc = s.get(Incident, iid)
        assert inc.status == "reopened" and inc.rejected_reason is None
        assert inc.due_at == clock() + timedelta(hours=24)


def test_unknown_user_and_unknown_body_are_refused(scenario):
    engine, cfg, clock, iid, _ = scenario
    with Session(engine) as s:
        with pytest.raises(PermissionDenied, match="no active user"):
            get_actor(s, "ghost")
        admin = get_actor(s, "admin")
    with pytest.raises(WorkflowError, match="unknown body"):
        _do(engine, cfg, clock, lambda w, s: w.assign(admin, iid, "ministry_of_magic", "проверка"))
