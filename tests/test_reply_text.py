"""What a drafted reply says to residents (issue 18): no date that is over, names in the right
case, and only a template that fits the incident's category."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from core.roles import PermissionDenied
from incidents.domain.templates import TemplateMismatch, render
from incidents.services.workflow import Workflow, add_user, get_actor
from storage.models import Incident
from tests.conftest import FixedClock
from tests.workflow_scenario import T0, open_incident


@pytest.fixture
def scenario(engine, kursk, kursk_builder):
    clock = FixedClock(T0)
    iid, _ = open_incident(engine, kursk, kursk_builder, clock)
    with Session(engine) as s, s.begin():
        for login, role, body in [
            ("gorinsp", "executor", "kursk_gorinspektsiya"),
            ("adm", "executor", "adm_kursk"),
            ("moder", "moderator", None),
            ("control", "controller", None),
        ]:
            add_user(s, kursk, login=login, role=role, body=body, now=clock(), email=f"{login}@example.org")
    return engine, kursk, clock, iid


def _do(engine, cfg, clock, fn):
    with Session(engine, expire_on_commit=False) as s, s.begin():
        return fn(Workflow(s, cfg, clock), s)


def _actor(engine, login):
    with Session(engine) as s:
        return get_actor(s, login)


def test_a_deadline_that_is_over_is_never_promised(scenario):
    engine, cfg, clock, iid = scenario
    with Session(engine) as s:
        due = s.get(Incident, iid).resolution_due_at
    gorinsp = _actor(engine, "gorinsp")
    clock.advance(days=14)  # 07.12.2026: the platform's 03.12.2026 is over
    with Session(engine) as s:
        assert clock() > due.replace(tzinfo=clock().tzinfo)
    answer = _do(
        engine, cfg, clock, lambda w, s: w.draft_answer(gorinsp, iid, template="waste_not_collected")
    )
    assert "03.12.2026" not in answer.text
    assert "Вывоз будет организован в ближайшее время." in answer.text
    # a deadline given by hand that is over is not promised either
    past = clock() - timedelta(days=1)
    answer = _do(
        engine, cfg, clock, lambda w, s: w.draft_answer(gorinsp, iid, template="generic", deadline=past)
    )
    assert "Срок решения — в ближайшее время." in answer.text and "06.12.2026" not in answer.text


def test_a_date_still_ahead_is_promised(scenario):
    engine, cfg, clock, iid = scenario
    answer = _do(
        engine, cfg, clock, lambda w, s: w.draft_answer(_actor(engine, "gorinsp"), iid, template="generic")
    )
    assert "до 03.12.2026" in answer.text


def test_the_body_is_named_in_the_accusative(scenario):
    engine, cfg, clock, iid = scenario
    _do(engine, cfg, clock, lambda w, s: w.assign(_actor(engine, "moder"), iid, "adm_kursk", "двор — город"))
    answer = _do(
        engine,
        cfg,
        clock,
        lambda w, s: w.draft_answer(_actor(engine, "adm"), iid, template="waste_not_collected"),
    )
    assert "передано в Администрацию города Курска." in answer.text
    assert "Администрация города Курска" not in answer.text


def test_case_filters_and_preposition_rule():
    def inflect(name: str, case: str) -> str:
        from pipelines.inflect import inflect_name

        return inflect_name(name, case)

    values = {"body": "Администрация города Курска", "municipality": "", "until_deadline": "до 01.01.2027"}
    assert render("В {{ body }}.", values, inflect) == "В Администрацию города Курска."
    assert render("Ответ {{ body|gent }}.", values, inflect) == "Ответ Администрации города Курска."
    assert render("Спасибо {{ body|datv }}.", values, inflect) == "Спасибо Администрации города Курска."
    assert render("Срок: до {{ deadline }}.", values, inflect) == "Срок: до 01.01.2027."
    assert (
        render("{{ body }}", values, inflect) == "Администрация города Курска"
    )  # no preposition: as written


def test_a_template_of_another_category_is_refused_unless_the_controller_overrides(scenario):
    engine, cfg, clock, iid = scenario
    gorinsp, control = _actor(engine, "gorinsp"), _actor(engine, "control")
    with Session(engine) as s:
        assert s.get(Incident, iid).category == "waste"
    with pytest.raises(TemplateMismatch, match="water_outage"):
        _do(engine, cfg, clock, lambda w, s: w.draft_answer(gorinsp, iid, template="water_outage"))
    with pytest.raises(PermissionDenied):  # the executor cannot override
        _do(
            engine,
            cfg,
            clock,
            lambda w, s: w.draft_answer(gorinsp, iid, template="water_outage", override=True),
        )
    # the preview the console shows refuses it the same way
    with pytest.raises(TemplateMismatch):
        _do(engine, cfg, clock, lambda w, s: w.render_template(w.incident(iid), "water_outage"))
    # a template without a category fits all; one that declares the category fits
    _do(engine, cfg, clock, lambda w, s: w.draft_answer(gorinsp, iid, template="generic"))
    _do(engine, cfg, clock, lambda w, s: w.draft_answer(gorinsp, iid, template="waste_not_collected"))
    tpl, _ = _do(
        engine, cfg, clock, lambda w, s: w.render_template(w.incident(iid), "water_outage", override=True)
    )
    assert tpl == "water_outage"
    del control


def test_categories_key_widens_the_fit(kursk):
    from incidents.domain.templates import choose

    templates = [
        t.model_copy(update={"categories": ["water"]}) if t.id == "heating_housing" else t
        for t in kursk.replies.templates
    ]
    policy = kursk.replies.model_copy(update={"templates": templates})
    assert choose(policy, template_id="heating_housing", category="water").id == "heating_housing"
    with pytest.raises(TemplateMismatch):
        choose(policy, template_id="heating_housing", category="roads")
