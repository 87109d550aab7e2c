"""Normalization features the signal stage relies on, and the bad inputs it must survive.

Each normalization feature is checked twice: on the normalized text, and end to end on the
Kursk configuration (the rule fires, the post becomes the right signal), because a feature
that normalizes but does not reach the rules does not help anybody.
"""

from __future__ import annotations

import time
import unicodedata
from datetime import UTC, datetime

import pytest

from core.config import RegionConfig
from core.records import PostRecord
from pipelines.lemmas import Lemmatizer
from pipelines.normalize import Normalizer, fold_repeats, segment, split_hashtag
from pipelines.signals import SignalBuilder


@pytest.fixture(scope="module")
def builder(kursk: RegionConfig) -> SignalBuilder:
    return SignalBuilder(kursk, use_ner=False)


@pytest.fixture(scope="module")
def norm() -> Normalizer:
    return Normalizer()


def _post(text: str) -> PostRecord:
    return PostRecord(
        network="vk",
        external_id="1",
        source_id="s",
        text=text,
        created_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
        author_id="vk:1",
    )


# --------------------------------------------------------------------------- normalization
def test_nfc_composes_decomposed_letters(norm: Normalizer, builder: SignalBuilder) -> None:
    decomposed = unicodedata.normalize("NFD", "Нет горячей воды на Радищева, Курск")
    assert decomposed != unicodedata.normalize("NFC", decomposed)  # «й» is two code points here
    n = norm(decomposed)
    assert "горячей" in n.tokens
    assert builder(_post(decomposed)).category == "housing_utilities"


def test_yo_is_folded_for_matching_and_kept_for_display(norm: Normalizer, builder: SignalBuilder) -> None:
    text = "Всё ещё не вывезён мусор на Сумской, Курск. Всё переполнено!"
    n = norm(text)
    assert "Всё ещё не вывезён" in n.display
    assert "все еще не вывезен" in n.text and "ё" not in n.text
    assert builder(_post(text)).category == "waste"


def test_html_entities_and_tags_are_removed(norm: Normalizer) -> None:
    n = norm("<p>Яма&nbsp;на&nbsp;дороге &laquo;Курск&nbsp;&mdash; Орёл&raquo;<br>уже&#160;месяц</p>")
    assert n.display.startswith("Яма\xa0на\xa0дороге «Курск\xa0— Орёл»")
    assert "<" not in n.display and "&" not in n.display
    assert n.tokens[:3] == ["яма", "на", "дороге"] and "месяц" in n.tokens


def test_urls_mentions_hashtags_become_features(norm: Normalizer) -> None:
    n = norm("Опять #нетводы на Радищева @adm_kursk https://vk.com/wall-1_2 #ЖКХ_Курск")
    assert n.urls == ["https://vk.com/wall-1_2"]
    assert n.mentions == ["adm_kursk"]
    assert n.hashtags == ["нет воды", "жкх курск"]
    assert "vk" not in n.tokens and "adm" not in n.tokens


def test_hashtags_split_into_words() -> None:
    assert split_hashtag("ЯмыНаДорогах") == "ямы на дорогах"  # capitals
    assert split_hashtag("жкх_курск") == "жкх курск"  # underscores
    assert split_hashtag("нетводы") == "нет воды"  # dictionary words
    assert split_hashtag("мусорневывозят") == "мусор не вывозят"
    assert segment("водоканал") == "водоканал"  # a known word stays whole
    assert segment("курскзбс") == "курскзбс"  # what cannot be split stays


def test_hashtag_alone_makes_the_rule_fire(builder: SignalBuilder) -> None:
    s = builder(_post("#нетводы третий день, ул. Радищева 5, Курск"))
    assert s.is_complaint and s.category == "water"


def test_emoji_and_stretched_letters_are_folded(norm: Normalizer, builder: SignalBuilder) -> None:
    n = norm("ВОООДЫ НЕЕЕТ!!! 😡😡 сколькооо можнооо")
    assert n.text.split()[:2] == ["воды", "нет!!!"] or n.tokens[:2] == ["воды", "нет"]
    assert "😡" not in n.text
    assert n.tokens == ["воды", "нет", "сколько", "можно"]
    assert fold_repeats("ваннна кассса") == "ванна касса"  # the double spelling is the word
    s = builder(_post("воооды нееет!!! третий день на Радищева 5, Курск 😡"))
    assert s.is_complaint and s.category == "water"


def test_obvious_typos_are_tolerated(builder: SignalBuilder) -> None:
    lem = Lemmatizer()
    assert lem.lemmas("вадопровод")[0] == "водопровод"
    assert lem.lemmas("канализацыя")[0] == "канализация"
    assert lem.lemmas("мусоравоз")[0] == "мусоровоз"
    assert lem.lemmas("радищева")[0] != "" and "радищев" in " ".join(
        lem.lemmas("радищева")
    )  # names untouched
    s = builder(_post("Канализацыя течёт в подвал на Радищева 5 в Курске уже неделю"))
    assert s.category == "water" and s.is_complaint


# --------------------------------------------------------------------------- bad inputs
def test_empty_text_is_no_signal(builder: SignalBuilder) -> None:
    for text in ("", "   \n\t ", "\u200b\u200d"):
        s = builder(_post(text))
        assert not s.is_complaint and s.rules == [] and s.score == 0.0
        assert s.reasons == ["text shorter than 10 characters"]


def test_only_emoji_is_no_signal(builder: SignalBuilder) -> None:
    s = builder(_post("😡😡😡🤬👍🏻❤️‍🔥"))
    assert not s.is_complaint and s.rules == [] and s.lemma_text == ""


def test_one_megabyte_text_is_cut_and_still_judged(builder: SignalBuilder) -> None:
    text = "Нет воды на Радищева 5 в Курске третий день! " + "ничего не понятно " * 60_000
    assert len(text.encode("utf-8")) > 1_000_000
    t0 = time.perf_counter()
    s = builder(_post(text))
    assert time.perf_counter() - t0 < 5
    assert s.is_complaint and s.category == "water" and s.municipality == "kursk"
    assert any(r.startswith("text cut to its first") for r in s.reasons)


def test_one_megabyte_without_spaces_does_not_hang(builder: SignalBuilder) -> None:
    t0 = time.perf_counter()
    s = builder(_post("ы" * 1_000_000))
    assert time.perf_counter() - t0 < 5 and not s.is_complaint


def test_latin_transliteration(builder: SignalBuilder) -> None:
    s = builder(_post("Tretiy den net vody na ulitse Radishcheva 5, Kursk. Skolko mozhno?"))
    assert s.is_complaint and (s.category, s.municipality) == ("water", "kursk")
    s = builder(_post("Jama na doroge na Sumskoj 12 v Kurske, kolesa lomaem"))
    assert s.category == "roads" and s.municipality == "kursk"


def test_latin_words_inside_russian_are_left_alone(norm: Normalizer) -> None:
    n = norm("Не работает Wi-Fi в МФЦ на Радищева, и Госуслуги тоже")
    assert "wi-fi" in n.tokens and "радищева" in n.tokens


def test_mixed_ukrainian_and_russian(builder: SignalBuilder) -> None:
    s = builder(_post("У Судже нема світла третій день, коли вже дадуть? Діти мерзнуть"))
    assert s.is_complaint and (s.category, s.municipality) == ("energy", "sudzhansky")


# --------------------------------------------------------------------------- places
def test_place_names_next_to_street_words(builder: SignalBuilder) -> None:
    # a settlement followed by its street stays a settlement
    s = builder(_post("п. Касторное, ул. Ленина 5 — третий день нет воды, сколько можно"))
    assert s.municipality == "kastorensky" and s.entities.address.settlement == "Касторное"
    # a street named after a town is a street, not the town («улица Курчатова» in Kursk)
    s = builder(_post("Курск, на улице Курчатова 5 яма на дороге, уже месяц не заделывают"))
    assert s.municipality == "kursk"


def test_rooms_are_not_streets(builder: SignalBuilder) -> None:
    s = builder(_post("Лампочка у парадной 4 не горит неделю, Курск"))
    assert s.street is None or "Парадн" not in s.street
    s = builder(_post("Курчатов, Молодёжная 5: мусор не вывозят неделю"))  # «молодёжный» is an adjective too
    assert s.street == "улица Молодёжная" and s.municipality == "kurchatov"


def test_typo_correction_does_not_invent_places(builder: SignalBuilder) -> None:
    lem = builder.normalize.lemmatizer
    n = builder.normalize("Вадопровод прорвало, вада хлещет")
    assert lem.as_written(n.tokens, n.lemmas)[0] == tuple(x for x in n.lemmas[0] if x != "водопровод")


# --------------------------------------------------------------------------- decision
def test_reports_of_a_fix_are_not_complaints(builder: SignalBuilder) -> None:
    fixed = builder(_post("На Радищева 5 в Курске лифт наконец починили, спасибо управляющей компании"))
    assert not fixed.is_complaint and any(r.startswith("reported fixed") for r in fixed.reasons)
    broken = builder(_post("На Радищева 5 в Курске лифт так и не починили, третью неделю ходим пешком"))
    assert broken.is_complaint and not any(r.startswith("reported fixed") for r in broken.reasons)
    request = builder(_post("Почините лифт на Радищева 5 в Курске, третью неделю ходим пешком"))
    assert request.is_complaint and any(r.startswith("request to act") for r in request.reasons)


def test_thanks_in_advance_is_not_thanks(builder: SignalBuilder) -> None:
    s = builder(_post("Нет горячей воды на Радищева 5 в Курске уже неделю. Примите меры, заранее спасибо"))
    assert s.is_complaint and not any(r.startswith("thanks") for r in s.reasons)
    s = builder(_post("Два дня без воды на Радищева, Курск, но спасибо, что хоть дали"))
    assert any(r.startswith("thanks") for r in s.reasons)


def test_a_street_alone_does_not_outweigh_the_local_source(builder: SignalBuilder) -> None:
    post = PostRecord(
        network="vk",
        external_id="2",
        source_id="vk_zheleznogorsk",
        text="На Гагарина опять не горят фонари вдоль всей улицы, детей в школу ведём с фонариками",
        created_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
        author_id="vk:5",
    )
    s = builder(post)
    assert s.municipality == "zheleznogorsk" and any("the place of the source wins" in r for r in s.reasons)
    post.text = "Сестра пишет: в Курске на Гагарина опять не горят фонари вдоль всей улицы"
    assert builder(post).municipality == "kursk"  # a town named outright still counts


def test_channel_formatting_is_news(builder: SignalBuilder) -> None:
    quoted = builder(_post("В Курске в понедельник включат отопление во всех домах, — глава города."))
    assert not quoted.is_complaint and any(
        r.startswith("formatted as a channel post") for r in quoted.reasons
    )
    linked = builder(
        _post("На Сумской в Курске [прорвало](https://example.org/news/1) трубу, воды нет третий день")
    )
    assert any(r.startswith("formatted as a channel post") for r in linked.reasons)
    resident = builder(_post("Курск, Радищева 5 — воды нет третий день. Сколько можно?"))
    assert resident.is_complaint and not any(r.startswith("formatted") for r in resident.reasons)


def test_one_megabyte_of_random_letters_does_not_hang(builder: SignalBuilder) -> None:
    import random

    rng = random.Random(4)
    words = [
        "".join(rng.choice("абвгдежзиклмнопрстуфхцчшэюя") for _ in range(rng.randint(3, 40)))
        for _ in range(40_000)
    ]
    text = " ".join(words) + "".join(rng.choice("абвгдежзиклмнопрстуфхцчшэюя") for _ in range(30_000))
    assert len(text.encode("utf-8")) > 1_000_000
    t0 = time.perf_counter()
    s = builder(_post(text))
    assert time.perf_counter() - t0 < 10 and isinstance(s.score, float)


def test_hostile_markup_is_linear(builder: SignalBuilder, norm: Normalizer) -> None:
    for text in (
        "<script>" * 125_000,
        "<style>" * 140_000,
        "<" * 1_000_000,
        "<a " * 300_000,
        "&amp;" * 200_000,
        "#" + "я" * 1_000_000,
    ):
        t0 = time.perf_counter()
        s = builder(_post(text))
        assert time.perf_counter() - t0 < 5 and not s.is_complaint
    assert norm("<p>Яма</p><script>var x = 'нет воды';</script> на дороге").tokens == ["яма", "на", "дороге"]
