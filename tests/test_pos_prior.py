"""The feedback platform is a complaint channel (issue 22): a problem rule is enough there,
short form titles count, and only thanks, requests for information, proposals, spam and pure
questions are rejected — whatever the model, fitted on social-media posts, says."""

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

from incidents.cli.main import main  # noqa: E402
from incidents.core.config import SignalModelPolicy  # noqa: E402
from incidents.core.records import PostRecord  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "config" / "regions" / "kursk" / "sample" / "labels.jsonl"


def _post(text: str, network: str = "pos") -> PostRecord:
    return PostRecord(
        network=network,
        external_id="1",
        source_id="pos_kursk" if network == "pos" else "vk_search",
        text=text,
        created_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
        author_id="u1",
    )


@pytest.fixture(scope="module")
def builder(kursk, tmp_path_factory):
    from pipelines.signals import SignalBuilder

    path = tmp_path_factory.mktemp("model") / "signals.pkl"
    assert main(["train", str(SAMPLE), "-o", str(path)]) == 0
    cfg = copy.copy(kursk)
    cfg.signals = kursk.signals.model_copy(
        update={"model": SignalModelPolicy(path=str(path), category=False)}
    )
    b = SignalBuilder(cfg, use_ner=False, use_model=True)
    assert b.model is not None
    return b


def test_a_short_form_title_with_a_problem_is_a_complaint_on_the_platform_only(builder):
    pos = builder(_post("Граффити"))
    assert pos.is_complaint and pos.category == "landscaping"
    assert any(r.startswith("short, but a problem on the feedback platform") for r in pos.reasons)
    vk = builder(_post("Граффити", network="vk"))
    assert not vk.is_complaint
    assert any(r.startswith("text shorter than") for r in vk.reasons)


def test_a_problem_rule_is_enough_on_the_platform_whatever_the_model_says(builder):
    text = "Объявления на опоре освещения"
    vk = builder(_post(text, network="vk"))
    assert vk.rules and not vk.is_complaint  # the model, fitted on social media, reads an ad
    sig = builder(_post(text))
    assert sig.is_complaint and sig.category == vk.category
    said = next(r for r in sig.reasons if r.startswith("model: p(complaint)"))
    assert "(a problem on the feedback platform)" in said


def test_requests_for_information_and_proposals_are_not_complaints_on_the_platform(builder):
    for text in (
        "Прошу разъяснить порядок получения выплаты на школьную форму для многодетных семей.",
        "Прошу сообщить, планируется ли ремонт дороги по улице Запольной в следующем году.",
        "Предлагаю установить в сквере на улице Ленина дополнительные урны и скамейки.",
    ):
        sig = builder(_post(text))
        assert not sig.is_complaint, text
        assert any(r.startswith("inquiry ") for r in sig.reasons), text


def test_an_inquiry_that_says_what_is_wrong_stays_a_complaint(builder):
    sig = builder(_post("Прошу разъяснить, почему третью неделю нет горячей воды в доме на улице Ленина, 5."))
    assert sig.is_complaint and any(r.startswith("inquiry ") for r in sig.reasons)


def test_thanks_with_a_polite_request_are_not_a_complaint(builder):
    sig = builder(
        _post("Выражаю благодарность врачам больницы № 4 за лечение мужа, прошу поощрить коллектив.")
    )
    assert not sig.is_complaint
