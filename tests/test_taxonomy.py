"""The platforms' topics and reasons → our codes (incidents.domain.taxonomy, docs/taxonomy.md):
the table must agree with its own decisions and with the rules — a word inside another word
(«провод» in «трубопровод», «урн» in «архитектурных») or a clause that names what a reason
excludes («(кроме надписей …)») must not decide the code."""

from __future__ import annotations

import pytest

from incidents.domain.taxonomy import appeal_accepts, appeal_category, topic_code


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        # the decisions table: units on a block of flats' façade are the building's common property
        (
            "Самовольное размещение наружн. блоков систем кондициониров. и вентиляции, вентиляционных "
            "трубопроводов, вентил. решеток, антенн на фасаде и кровле МКД",
            "housing_utilities",
        ),
        ("Засор мусоропровода", "waste"),
        ("Ненадлежащее содержание трубопроводов и элементов системы водоснабжения", "water"),
        (
            "Повреждение отопительного прибора (радиатора и др.), запорной арматуры (вентиль, кран) "
            "протечка трубопровода системы центрального отопления на лестничной площадке",
            "housing_utilities",
        ),
        ("Низкое качество проведения культурно-массовых мероприятий", "other"),
        ("Провисающие, оборванные провода на зданиях", "energy"),
        (
            "Ненадлежащее состояние малых архитектурных форм, уличной мебели и хозяйственно-бытового "
            "оборудования, необходимого для благоустройства территории",
            "landscaping",
        ),
        ("Неочищенные урны", "waste"),
        ("Предложение по установке урны у остановочного павильона", "waste"),
        (
            "Неудовлетворительное состояние окраски фасада дома (кроме несанкционированных надписей / "
            "объявлений на стенах дома)",
            "housing_utilities",
        ),
        (
            "Требуется дезинсекция (насекомые), дезинфекция в местах общего пользования (в т.ч. мусоропровода)",
            "housing_utilities",
        ),
        ("Несанкционированные надписи / объявления на стенах дома", "landscaping"),
        # the stairwell is the management company's, its cleaning too
        ("Отсутствие или несоблюдение графика уборки подъезда", "housing_utilities"),
        ("Мусор на внутридворовой территории", "landscaping"),
    ],
)
def test_topic_code_follows_the_decisions(reason: str, code: str) -> None:
    tc = topic_code(reason)
    assert tc is not None and tc.code == code


def test_boundaries_accepted_either_way() -> None:
    """Street cleaning: the road committee handles a third of Kursk's; a stop's shelter, sign and
    pocket are the road's equipment (rubricator roads.stops); a discharge of sewage is the
    water network's."""
    assert appeal_accepts({"topic": "Неудовлетворительная уборка улиц и тротуаров"}) == {
        "landscaping",
        "waste",
        "roads",
    }
    row = {"topic": "Нарушение правил посадки и высадки пассажиров при осуществлении муниципальных перевозок"}
    assert appeal_category(row) == "transport" and appeal_accepts(row) == {"transport", "roads"}
    assert appeal_accepts({"topic": "Несанкционированный сброс жидких бытовых отходов"}) == {
        "ecology",
        "water",
    }
    # a litter topic does not accept the road
    assert "roads" not in appeal_accepts({"reason": "Мусор на газонах (крупногабаритные объекты)"})
