"""Every reason a person reads is Russian, with names for codes (issue 18: «rule 104:
safety/stray_animals in kursk» and «problem water: +2.00» leaked onto the card).

The reasons are produced for real: the signal stage (with a model trained from the sample's labels,
so that the model's phrases appear too) over the bundled sample and the development set, and the
router over every complaint. Whatever is left in Latin letters after `ReasonWords.ru` must be an
identifier (a source or account id), never an English word."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

from core.config import SignalModelPolicy  # noqa: E402
from core.interchange import post_from_dict  # noqa: E402
from core.reasons import ReasonWords, reason_words  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "config" / "regions" / "kursk" / "sample"

# an identifier: a source id (tg_chat_seym), an account (vk:123, u1), a post key; not a word
_IDENT = re.compile(r"[\w.:/-]*(?:[_:\d/])[\w.:/-]*|«[^»]*»|\b[IVXLC]+\b")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def _english_left(text: str) -> list[str]:
    return _LATIN_WORD.findall(_IDENT.sub(" ", text))


def _posts(path: Path, limit: int | None = None) -> list:
    lines = path.read_text(encoding="utf-8").splitlines()[:limit]
    return [post_from_dict(json.loads(line)) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def reasons_of_the_sample(kursk, tmp_path_factory) -> tuple[ReasonWords, list[str]]:
    from incidents.domain.routing import Router
    from incidents.services.training import signal_builder

    cfg = copy.copy(kursk)
    model = tmp_path_factory.mktemp("model") / "signals.pkl"
    cfg.signals = kursk.signals.model_copy(
        update={"model": SignalModelPolicy(path=str(model), train=[str(SAMPLE / "labels.jsonl")])}
    )
    builder = signal_builder(cfg, use_ner=False, use_model=True)
    assert builder.model is not None
    posts = _posts(SAMPLE / "posts.jsonl") + _posts(
        ROOT / "tests" / "data" / "dev_kursk" / "posts.jsonl", 400
    )
    router = Router(kursk, learned=False)
    said: list[str] = []
    for sig in builder.many(posts):
        said.extend(sig.reasons)
        if sig.is_complaint:
            for scale in ("house", "street", "municipality", None):
                said.append(
                    router.route(
                        category=sig.category,
                        subcategory=sig.subcategory,
                        fact=sig.fact,
                        municipality=sig.municipality,
                        scale=scale,
                    ).reason
                )
    return reason_words(kursk), said


def test_every_reason_of_the_pipeline_reads_in_russian(reasons_of_the_sample):
    words, said = reasons_of_the_sample
    kinds = {r.split(" ", 1)[0] for r in said}
    # the sample exercises the rules, the places, the model and the router
    assert {"problem", "complaint", "place", "model:", "rule"} <= kinds, kinds
    left = {r: _english_left(words.ru(r)) for r in said}
    untranslated = {r: w for r, w in left.items() if w}
    assert not untranslated, sorted({re.sub(r"[А-Яа-яЁё0-9 ,.]+", "~", r) for r in untranslated})


def test_codes_become_names(kursk):
    w = reason_words(kursk)
    assert (
        w.ru("rule 104: safety/stray_animals in kursk (house)")
        == "правило маршрутизации №104: «Общественная безопасность» / «Безнадзорные животные», "
        "город Курск, масштаб: дом"
    )
    assert w.ru("problem water: +2.00") == "тема «Водоснабжение и водоотведение»: +2.00"
    assert (
        w.ru("place from the source tg_chat_seym: kursk") == "место — по источнику tg_chat_seym: город Курск"
    )
    assert w.ru("rule 3: */* in * (*)").startswith(
        "правило маршрутизации №3: любая категория, любой муниципалитет"
    )
    # the model's phrases where no rule fired (a model with the topic classifier)
    assert w.ru("model 0.93: «третью неделю», «никто не» (from 0.50; no rule fired)") == (
        "модель 0.93: «третью неделю», «никто не» (порог 0.50; ни одно правило не сработало)"
    )
    assert w.ru("model 0.71: the words as a whole (from 0.40, feedback platform; no rule fired)").startswith(
        "модель 0.71: текст в целом (порог 0.40, платформа обратной связи;"
    )
    assert w.ru("model: category roads (0.82), the rules are silent") == (
        "модель: категория «Дороги и дорожное хозяйство» (0.82), правила её не определили"
    )
    assert "вместо «Экология» по правилам" in w.ru("model: category waste (0.77) over the rules' ecology")
    # a person's own words and the learned table's Russian reasons pass unchanged
    assert w.ru("жители просят срочно") == "жители просят срочно"
    assert w.ru("") == "" and w.ru(None) == ""


def test_the_card_and_show_print_the_russian_reasons(kursk):
    """The console's names and the CLI read the same phrase table."""
    from console.data.names import Names

    n = Names(kursk)
    assert n.reason("rule 75: water/sewerage in kursk (street)").startswith("правило маршрутизации №75:")
    assert n.scale("house") == "дом" and n.subcategory("stray_animals") == "Безнадзорные животные"
