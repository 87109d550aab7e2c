"""Persons' names (natasha PER) stay out of exports and search indexes unless allowed.

`signals.yaml: keep_person_names` (default false) is the setting. The signal keeps the names
NER found (staff see the post itself), but the export contracts carry no names, and the
embedded full-text index is built from the text with those names blanked out.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from core.records import PostRecord
from incidents.services.processing import prepare, process_pending
from incidents.services.queries import incident_rows, signal_rows
from incidents.services.search import fts
from storage.store import save_posts

TEXT = (
    "Курск, ул. Радищева 5: третий день нет горячей воды. Управляющий домом Виктор Самойленко "
    "трубку не берёт, сколько можно?"
)


@pytest.fixture(scope="module")
def ner_builder(kursk):  # noqa: ANN001, ANN201 - the Kursk builder with natasha NER, as in production
    from pipelines.signals import SignalBuilder

    return SignalBuilder(kursk, use_ner=True)


def _store(engine, clock) -> None:  # noqa: ANN001
    post = PostRecord(
        network="vk",
        external_id="p1",
        source_id="s",
        text=TEXT,
        created_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
        author_id="vk:77",
    )
    with Session(engine) as s, s.begin():
        save_posts(s, [post], clock())


def test_names_found_by_ner_stay_out_of_exports_and_the_index(
    sqlite_engine, kursk, ner_builder, clock
) -> None:
    prepare(sqlite_engine, kursk)
    _store(sqlite_engine, clock)
    process_pending(sqlite_engine, kursk, clock, builder=ner_builder)
    with Session(sqlite_engine) as s:
        signals = list(signal_rows(s))
        incidents = list(incident_rows(s))
    assert signals and signals[0]["is_complaint"]
    with Session(sqlite_engine) as s:
        from sqlmodel import select

        from storage.models import Signal

        assert s.exec(select(Signal)).one().entities["persons"] == ["Виктор Самойленко"]  # kept for staff
    exported = json.dumps([signals, incidents], ensure_ascii=False)
    assert "Самойленко" not in exported and "Виктор" not in exported

    # the embedded index: by default the name is not searchable, the problem is
    assert fts.search_posts(sqlite_engine, "горячая вода")
    assert fts.search_posts(sqlite_engine, "Самойленко") == []
    # allowed by the setting: the same post is found by the name
    fts.rebuild(sqlite_engine, keep_person_names=True)
    assert [h.post_key for h in fts.search_posts(sqlite_engine, "Самойленко", refresh_first=False)] == [
        "vk:p1"
    ]


def test_without_persons_blanks_every_form_given() -> None:
    ents = {"persons": ["Виктор Самойленко", "Самойленко"]}
    out = fts.without_persons(TEXT, ents)
    assert "Самойленко" not in out and "Радищева" in out
    assert fts.without_persons(TEXT, None) == TEXT
    assert fts.without_persons(None, ents) == ""


# --------------------------------------------------------------------------- names in every post
# NER reads only the candidates (a rule fired); the cheap finder (pipelines/persons.py) reads
# every post, so a name in a post no rule fired on stays out of the index too.
CHATTER = "Поздравляем Петрову Марию Ивановну с юбилеем! Здоровья и счастья 🌷🌷"


def test_a_name_in_a_post_no_rule_fired_on_stays_out_of_the_index(sqlite_engine, kursk, clock) -> None:
    from pipelines.signals import SignalBuilder

    builder = SignalBuilder(kursk, use_ner=False, use_model=False)  # no NER at all: the finder alone
    prepare(sqlite_engine, kursk)
    post = PostRecord(
        network="vk",
        external_id="p2",
        source_id="s",
        text=CHATTER,
        created_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
        author_id="vk:78",
    )
    with Session(sqlite_engine) as s, s.begin():
        save_posts(s, [post], clock())
    process_pending(sqlite_engine, kursk, clock, builder=builder)
    sig = builder(post)
    assert not sig.rules and not sig.is_complaint
    assert sig.entities.persons == ["Петрову Марию Ивановну"]
    assert fts.search_posts(sqlite_engine, "юбилей")
    assert fts.search_posts(sqlite_engine, "Петрова") == []
    assert fts.search_posts(sqlite_engine, "Мария") == []


@pytest.mark.parametrize(
    ("text", "persons"),
    [
        ("Глава района Иван Петров обещал починить дорогу", ["Иван Петров"]),
        ("Спасибо Петровой Марии Ивановне из управляющей компании!", ["Петровой Марии Ивановне"]),
        ("С уважением, Половинкин В.С.", ["Половинкин В.С."]),
        ("И. И. Сидоренко, ответьте жителям!", ["И. И. Сидоренко"]),
        ("Мария Ивановна с третьего этажа снова жалуется на запах", ["Мария Ивановна"]),
        (
            "Александр Карамалаков из Льгова пишет: Сергей Юрьевич, где асфальт?",
            ["Александр Карамалаков", "Сергей Юрьевич"],
        ),
        # streets and institutions named after a person, a surname alone, common words
        ("На ул. Карла Маркса, д. 6 опять яма", []),
        ("Школа имени Юрия Гагарина: нет отопления", []),
        ("На Гагарина 12 нет воды, Петров сказал ждать", []),
        ("Вера в лучшее. Надежда умирает последней, а воды нет на Мира", []),
        ("Жалоба в УК. По сей день не ответили", []),
        ("", []),
    ],
)
def test_persons_found_in_any_post(kursk, text, persons) -> None:
    from pipelines.signals import SignalBuilder

    builder = SignalBuilder(kursk, use_ner=False, use_model=False)
    post = PostRecord(
        network="vk",
        external_id="p",
        source_id="s",
        text=text,
        created_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
    )
    assert builder(post).entities.persons == persons


def test_a_street_of_the_gazetteer_is_not_a_person(kursk) -> None:
    """«Карла Маркса» with no «ул.» before it: the gazetteer knows the street of Kursk."""
    from pipelines.signals import SignalBuilder

    builder = SignalBuilder(kursk, use_ner=False, use_model=False)
    post = PostRecord(
        network="vk",
        external_id="p",
        source_id="s",
        text="На Карла Маркса в Курске яма на яме",
        created_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
    )
    sig = builder(post)
    assert sig.entities.address.street and "Маркса" in sig.entities.address.street
    assert sig.entities.persons == []
