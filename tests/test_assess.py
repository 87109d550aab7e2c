"""What an incident shows, derived from its posts: card, scale, representative post."""

from datetime import UTC, datetime, timedelta

import pytest

from incidents.domain.assess import PostFacts, card_of, reach_of, representative, scale_of

T0 = datetime(2026, 11, 18, 6, tzinfo=UTC)


def fact(
    key,
    text,
    lemmas,
    *,
    network="vk",
    author="a",
    muni="kursk",
    street=None,
    house=None,
    settlement=None,
    score=2.0,
    likes=0,
    reposts=0,
    views=0,
    hours=0,
):
    return PostFacts(
        text=text,
        network=network,
        author_id=author,
        municipality=muni,
        street=street,
        house=house,
        settlement=settlement,
        subcategory="water_supply",
        score=score,
        reach=reach_of(likes, reposts, views),
        key=key,
        created_at=T0 + timedelta(hours=hours),
        author_name=f"Житель {author}",
        likes=likes,
        reposts=reposts,
        views=views,
        lemma_text=lemmas,
    )


POSTS = [
    fact(
        "vk:1",
        "Радищева 12, воды нет с пяти утра. Дети в школу ушли неумытые.",
        "радищев 12 вода нет с пять утро ребенок в школа уйти неумытый",
        street="улица Радищева",
        house="12",
        likes=31,
        views=880,
    ),
    fact(
        "telegram:2",
        "ага, ночью. мы на Радищева 14 уже вторые сутки вёдрами воду таскаем 🤬",
        "ага ночью мы на радищев 14 уже второй сутки ведро вода таскать",
        network="telegram",
        author="b",
        street="улица Радищева",
        house="14",
        hours=20,
    ),
    fact(
        "pos:3",
        "Прошу принять меры по восстановлению холодного водоснабжения жилого дома по адресу: "
        "г. Курск, ул. Радищева, д. 12. Воды нет вторые сутки.",
        "просить принять мера по восстановление холодный водоснабжение жилой дом по адрес г курск ул радищев "
        "д 12 вода нет второй сутки",
        network="pos",
        author="c",
        street="улица Радищева",
        house="12",
        score=4.0,
        hours=26,
    ),
    fact("vk:4", "+", "", author="d", score=0.5, likes=2, hours=27),
]


def test_card_sums_reach_and_names_networks_authors_and_times(kursk):
    card = card_of(kursk, "water", "water_supply", POSTS)
    assert card.post_count == 4 and card.networks == ["pos", "telegram", "vk"]
    assert card.authors[:1] == ["Житель a"] and len(card.authors) == 4
    assert (card.likes, card.reposts, card.views, card.reach) == (33, 0, 880, 33 + 8)
    assert card.first_post_at == T0 and card.last_post_at == T0 + timedelta(hours=27)
    assert card.scale == "street"  # houses 12 and 14 of one street
    assert "улица Радищева, 12" in card.address and card.title.endswith("улица Радищева, 12")
    assert card.priority <= 2  # three authors or more, a wide reach


def test_the_representative_post_is_the_one_the_others_agree_with():
    assert representative(POSTS).key in ("vk:1", "pos:3")
    assert representative(POSTS).key != "vk:4"  # a one-character reply never stands for the incident


@pytest.mark.parametrize(
    ("posts", "scale"),
    [
        ([fact("1", "", "", street="ул. Мира", house="6")], "house"),
        (
            [
                fact("1", "", "", street="ул. Мира", house="6"),
                fact("2", "", "", street="ул. Мира", house="8"),
            ],
            "street",
        ),
        ([fact("1", "", "", street="ул. Мира"), fact("2", "", "", street="ул. Ленина")], "settlement"),
        ([fact("1", "", "", settlement="Беседино", muni="kursky")], "settlement"),
        (
            [
                fact("1", "", "", settlement="Беседино", muni="kursky"),
                fact("2", "", "", settlement="Полевая", muni="kursky"),
            ],
            "municipality",
        ),
        ([fact("1", "", "", muni="kursk"), fact("2", "", "", muni="kurchatov")], "region"),
    ],
)
def test_scale(posts, scale):
    assert scale_of(posts) == scale
