from datetime import UTC, datetime, timedelta

import pytest

from incidents.clustering import Clusterer
from incidents.config import ClusteringPolicy
from incidents.records import Address, Entities, SignalRecord

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def sig(key, text, *, cat="water", sub="no_water", muni="kursk", street=None, house=None, hours=0.0):
    ent = Entities(municipality=muni, address=Address(street=street, house=house))
    return SignalRecord(post_key=key, is_complaint=True, in_region=True, score=2.0, category=cat, subcategory=sub,
                        fact=None, municipality=muni, address=None, street=street, scale=None, rules=[], reasons=[],
                        entities=ent, lemma_text=text, created_at=T0 + timedelta(hours=hours), network="vk")


@pytest.fixture
def c():
    return Clusterer(ClusteringPolicy())


def test_same_problem_same_address_joins_across_networks(c):
    a = c.assign(sig("vk:1", "нет вода радищев 12 третий день", street="улица Радищева", house="12"))
    b = c.assign(sig("ok:2", "вода нет с утро улица радищев дом 12 труба прорвать", street="улица Радищева",
                     house="12", hours=3))
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
    b = c.assign(sig("vk:2", "огромный яма радищев", cat="roads", sub="pothole", street="улица Радищева", hours=1))
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
