from datetime import UTC, datetime, timedelta

import pytest

from core.config import ClusteringPolicy
from core.records import Address, Entities, SignalRecord
from incidents.domain.clustering import Clusterer

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def sig(key, text, *, cat="water", sub="no_water", muni="kursk", street=None, house=None, hours=0.0):
    ent = Entities(municipality=muni, address=Address(street=street, house=house))
    return SignalRecord(
        post_key=key,
        is_complaint=True,
        in_region=True,
        score=2.0,
        category=cat,
        subcategory=sub,
        fact=None,
        municipality=muni,
        address=None,
        street=street,
        scale=None,
        rules=[],
        reasons=[],
        entities=ent,
        lemma_text=text,
        created_at=T0 + timedelta(hours=hours),
        network="vk",
    )


@pytest.fixture
def c():
    return Clusterer(ClusteringPolicy())


def test_same_problem_same_address_joins_across_networks(c):
    a = c.assign(sig("vk:1", "нет вода радищев 12 третий день", street="улица Радищева", house="12"))
    b = c.assign(
        sig(
            "ok:2",
            "вода нет с утро улица радищев дом 12 труба прорвать",
            street="улица Радищева",
            house="12",
            hours=3,
        )
    )
    assert a.new and not b.new and b.incident == a.incident


def test_other_street_never_merges(c):
    a = c.assign(sig("vk:1", "нет вода радищев", street="улица Радищева"))
    b = c.assign(sig("vk:2", "нет вода сумской", street="улица Сумская", hours=1))
    assert b.new and b.incident != a.incident


def test_other_town_never_merges(c):
    a = c.assign(sig("vk:1", "нет вода третий день", muni="kurchatov"))
    b = c.assign(sig("vk:2", "нет вода третий день", muni="lgov", hours=1))
    assert b.new and b.incident != a.incident


def test_other_problem_same_street_is_another_incident(c):
    a = c.assign(sig("vk:1", "нет вода радищев", street="улица Радищева"))
    b = c.assign(
        sig("vk:2", "огромный яма радищев", cat="roads", sub="pothole", street="улица Радищева", hours=1)
    )
    assert b.new and b.incident != a.incident


def test_reply_under_incident_post_joins_it(c):
    a = c.assign(sig("vk:-1_5", "нет вода радищев 12", street="улица Радищева", house="12"))
    b = c.assign(sig("vk:-1_5_c9", "у мы тоже", muni=None), parent_key="vk:-1_5")
    assert b.incident == a.incident


def test_outside_time_window_opens_new(c):
    a = c.assign(sig("vk:1", "нет вода радищев", street="улица Радищева"))
    b = c.assign(sig("vk:2", "нет вода радищев", street="улица Радищева", hours=24 * 10))
    assert b.new and b.incident != a.incident


def test_comparisons_per_post_are_bounded():
    c = Clusterer(ClusteringPolicy(max_candidates=10))
    for i in range(500):
        c.assign(sig(f"vk:{i}", f"нет вода дом {i}", street=f"улица {i}", hours=i * 0.01))
    before = c.comparisons
    c.assign(sig("vk:x", "нет вода где-то", hours=5))
    assert c.comparisons - before <= 10 * 5


# --------------------------------------------------------------------------- places, blocks, threads
def sig2(key, text, *, locations=(), **kw):
    s = sig(key, text, **kw)
    s.entities.locations.extend(locations)
    return s


def test_post_without_municipality_is_compared_within_its_category(c):
    """A feedback-platform appeal about «маршрут № 41» that names no town still meets the chat posts."""
    a = c.assign(
        sig(
            "telegram:chat/1",
            "41 автобус нет 40 минута на остановка человек 30 стоять",
            cat="transport",
            sub="frequency",
        )
    )
    b = c.assign(
        sig(
            "pos:5167972",
            "на автобусный маршрут 41 фактический интервал движение 40 55 минута",
            cat="transport",
            sub="frequency",
            muni=None,
            hours=26,
        )
    )
    assert not b.new and b.incident == a.incident


def test_places_named_keep_two_lighting_complaints_apart(c):
    a = c.assign(
        sig2(
            "ok:1",
            "улица гагарин от 20 дом и до самый перекресток с курский фонарь не гореть уже неделя "
            "вечером идти как в лес",
            cat="energy",
            sub="street_lighting",
            street="улица Гагарина",
        )
    )
    b = c.assign(
        sig2(
            "vk:2",
            "вдоль боевой дача по пешеходный дорожка не гореть ни один фонарь идти с остановка "
            "домой в полный темнота хорошо что телефон с фонарик",
            cat="energy",
            sub="street_lighting",
            locations=["Боева дача"],
            hours=30,
        )
    )
    assert b.new and b.incident != a.incident


def test_a_street_the_gazetteer_missed_still_counts_when_named_in_words(c):
    a = c.assign(
        sig(
            "vk:1",
            "проспект победа остановка напротив 34 дом сплошной каток ни песок",
            cat="roads",
            sub="snow_ice",
            street="проспект Победы",
        )
    )
    b = c.assign(
        sig(
            "pos:2",
            "на тротуар и остановочный пункт у дом 34 по пр-тот победа образоваться наледь",
            cat="roads",
            sub="snow_ice",
            hours=5,
        )
    )
    assert not b.new and b.incident == a.incident


def test_the_municipality_names_are_not_places_that_tell_incidents_apart():
    c = Clusterer(ClusteringPolicy(), ignore_places={"курск"})
    a = c.assign(
        sig2("vk:1", "нет вода радищев 12", street="улица Радищева", house="12", locations=["город Курск"])
    )
    b = c.assign(
        sig2(
            "ok:2",
            "радищев 12 вода нет третий день",
            locations=["город Курск", "улица Радищева"],
            street="улица Радищева",
            house="12",
            hours=1,
        )
    )
    assert b.incident == a.incident


def test_a_weak_reply_follows_its_thread_only_about_the_same_problem(c):
    a = c.assign(sig("ok:7", "фатеж вода цвет чай второй день карл маркс", street="улица Карла Маркса"))
    same = sig("ok:7_c1", "и на урицкий такой же ржавчина набрать ведро осадок")
    other = sig("ok:7_c2", "это не ук это экопол к они претензия", cat="housing_utilities", sub=None)
    assert c.follow_thread(same, "ok:7").incident == a.incident
    assert c.follow_thread(other, "ok:7") is None
    assert c.follow_thread(sig("ok:9_c1", "и у мы ржавчина"), "ok:9") is None  # its parent is in no incident


def test_reopen_within_the_window_and_link_after_it():
    c = Clusterer(ClusteringPolicy(reopen_window_days=14, link_window_days=90))
    a = c.assign(
        sig(
            "vk:1",
            "канализация течь из колодец во двор вонь",
            sub="sewerage",
            street="улица Кати Зеленко",
            house="9",
        )
    )
    c.view(a.incident).closed_at = T0 + timedelta(days=2)
    again = c.assign(
        sig(
            "pos:2",
            "повторно колодец переполнить течь во двор вонь",
            sub="sewerage",
            street="улица Кати Зеленко",
            house="9",
            hours=24 * 7,
        )
    )
    assert not again.new and again.reopen and again.incident == a.incident
    c.view(a.incident).closed_at = T0 + timedelta(days=8)
    later = c.assign(
        sig(
            "vk:3",
            "опять колодец течь во двор вонь канализация",
            sub="sewerage",
            street="улица Кати Зеленко",
            house="9",
            hours=24 * 40,
        )
    )
    assert later.new and later.linked == a.incident and not later.reopen
    much_later = c.assign(
        sig(
            "vk:4",
            "колодец течь во двор канализация вонь",
            sub="sewerage",
            street="улица Кати Зеленко",
            house="9",
            hours=24 * 200,
        )
    )
    assert much_later.new and much_later.linked is None


def test_memory_stays_flat_on_an_endless_stream():
    c = Clusterer(ClusteringPolicy(window_hours=24))
    sizes = []
    for i in range(12_000):
        c.assign(sig(f"vk:{i}", f"нет вода дом {i % 97}", street=f"улица {i}", hours=i * 0.05))
        if i % 2000 == 1999:
            sizes.append(len(c))
    assert c.evicted > 0
    assert max(sizes[2:]) <= 1.2 * min(sizes[2:])  # once the stream is longer than the window, flat


def test_a_street_in_several_towns_meets_the_incident_whose_town_was_unknown(c):
    a = c.assign(
        sig(
            "vk:1",
            "ямища на ленин у дом 5 уже два машина пробить колесо",
            cat="roads",
            sub="pothole",
            muni=None,
            street="улица Ленина",
            house="5",
        )
    )
    b = c.assign(
        sig(
            "pos:2",
            "в г курск по ул ленин д 5 яма на проезжий часть просить отремонтировать дорога",
            cat="roads",
            sub="pothole",
            street="улица Ленина",
            house="5",
            hours=3,
        )
    )
    assert b.incident == a.incident
    assert c.view(a.incident).municipality == "kursk"  # learnt from the post that names the town
