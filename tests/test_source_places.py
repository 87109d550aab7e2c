"""A post from a page nobody configured is placed in the town the page is named after
(pipelines/source_places.py); configured pages and the feedback platform never are guessed at."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.config import RegionConfig
from core.latin import skeleton
from core.reasons import reason_words
from core.records import PostRecord
from pipelines.signals import SignalBuilder
from pipelines.source_places import SourcePlaces


@pytest.fixture(scope="module")
def places(kursk: RegionConfig) -> SourcePlaces:
    return SourcePlaces(kursk)


def test_spellings_of_one_name_fold_together() -> None:
    assert skeleton("Железногорск") == skeleton("jeleznogorsk") == skeleton("zheleznogorsk")
    assert skeleton("Щигры") == skeleton("schigry") == skeleton("shchigry")
    assert skeleton("Хомутовка") == skeleton("homutovka") == skeleton("khomutovka")
    assert skeleton("Верховье") == skeleton("verhovie") == skeleton("verkhovye")


@pytest.mark.parametrize(
    ("source_id", "code"),
    [
        ("tg_kursk_chat", "kursk"),  # the centre's chat
        ("vk_kurchatov_gorod", "kurchatov"),  # a town's page
        ("ok_khomutovka", "khomutovsky"),  # a district centre: its district
        ("ok_homutovka", "khomutovsky"),  # another transliteration
        ("ok_oboyan_rayon", "oboyansky"),  # the district's page
        ("ok_kursky_rayon", "kursky"),  # «Курский район», not the city of Kursk
        ("vk_shchigry_info", "shchigry"),  # the town, not its district, without a district word
        ("ok_tim", "timsky"),  # a three-letter name, spelt out whole
        ("tg_kursk46", "kursk"),  # the region's number is not a word
        ("tg_kursk_oblast_chat", None),  # the region's page: no town
        ("vk_kurskobl_official", None),
        ("tg_zhel_chat", None),  # «zhel…»: Железногорск or Kursk's Железнодорожный okrug
        ("vk_news_today", None),  # no place at all
        ("vk_search", None),  # configured without a municipality: the whole region
        ("vk_zheleznogorsk", "zheleznogorsk"),  # configured
    ],
)
def test_a_source_id_names_its_town(places: SourcePlaces, source_id: str, code: str | None) -> None:
    assert places.get(source_id) == code


def test_the_feedback_platform_serves_the_whole_region(places: SourcePlaces) -> None:
    assert places.get("pos_kursk", "pos") is None
    assert places.get("pos_kursk", "vk") == "kursk"


def test_a_post_that_names_no_place_takes_its_pages_town(kursk_builder: SignalBuilder, kursk) -> None:
    post = PostRecord(
        network="telegram",
        external_id="tg_kurchatov_dvor/7",
        source_id="tg_kurchatov_dvor",
        text="Третий день нет горячей воды в доме, управляющая трубку не берёт. Сколько можно?",
        created_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
        author_id="telegram:5",
    )
    s = kursk_builder(post)
    assert s.municipality == "kurchatov"
    why = [r for r in s.reasons if r.startswith("place from the source name")]
    assert why == ["place from the source name tg_kurchatov_dvor: kurchatov"]
    assert reason_words(kursk).ru(why[0]) == "место — по названию источника tg_kurchatov_dvor: город Курчатов"
    post.text = "Третий день нет горячей воды на Радищева 5 в Курске, управляющая трубку не берёт"
    assert kursk_builder(post).municipality == "kursk"  # a town named outright wins
