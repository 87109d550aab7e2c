from pipelines.lemmas import Lemmatizer
from pipelines.normalize import Normalizer
from pipelines.phrases import PhraseMatcher

LEM = Lemmatizer()
NORM = Normalizer(lemmatizer=LEM)


def _find(m, text):
    n = NORM(text)
    return [x.payload for x in m.find(n.lemmas)]


def test_phrase_in_any_inflection_within_window():
    m = PhraseMatcher(LEM)
    m.add("горячая вода", "hot", window=4)
    assert _find(m, "НЕТ ГОРЯЧЕЙ ВОДЫ") == ["hot"]
    assert _find(m, "горячей, как всегда, нет воды") == ["hot"]
    assert _find(m, "горячий чай, а потом долго-долго ждали и ждали, и только вода") == []


def test_ordered_phrase_needs_order():
    m = PhraseMatcher(LEM)
    m.add("Карла Маркса", "street", ordered=True)
    assert _find(m, "на улице Карла Маркса 12") == ["street"]
    assert _find(m, "Маркса Карла") == []


def test_cost_does_not_depend_on_unrelated_phrases():
    m = PhraseMatcher(LEM)
    for i in range(2000):
        m.add(f"слово{i} другое{i}", i)
    m.add("мусор не вывозить", "waste", window=4)
    assert _find(m, "Мусор не вывозят вторую неделю") == ["waste"]


def test_an_exact_phrase_matches_only_its_own_forms():
    """`exact=True` (a marker written «=продаю»): the word as written, not every form of its lemma."""
    from pipelines.lemmas import Lemmatizer
    from pipelines.normalize import Normalizer
    from pipelines.phrases import PhraseMatcher

    lem = Lemmatizer()
    norm = Normalizer(lemmatizer=lem)
    m: PhraseMatcher[str] = PhraseMatcher(lem)
    m.add("продаю", "sell", exact=True)
    m.add("продавать", "any form")
    found = {
        t: [x.payload for x in m.find(norm(t).lemmas)]
        for t in ("ПРОДАЮ коляску", "в магазине продают просрочку", "Продаёте?")
    }
    assert found == {
        "ПРОДАЮ коляску": ["sell", "any form"],
        "в магазине продают просрочку": ["any form"],
        "Продаёте?": ["any form"],
    }
