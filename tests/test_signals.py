"""The signal stage on the small second region: the same code, another region's config."""

from datetime import UTC, datetime

from incidents.records import PostRecord


def _post(text: str, author: str | None = "u1", network: str = "vk") -> PostRecord:
    return PostRecord(network=network, external_id="1", source_id="s", text=text,
                      created_at=datetime(2026, 11, 20, 9, tzinfo=UTC), author_id=author)


def test_concrete_complaint_with_address(lipetsk_builder):
    s = lipetsk_builder(_post("Третий день НЕТ ВОДЫ на Катукова, д. 12!!! Сколько можно?? 😡"))
    assert s.is_complaint and s.in_region
    assert (s.category, s.subcategory, s.municipality) == ("water", "no_water", "lipetsk")
    assert s.street == "улица Катукова" and s.entities.address.house == "12"
    assert any(r.rule_id == "water.no_water" for r in s.rules)
    assert any(r.startswith("complaint markers") for r in s.reasons)


def test_official_announcement_is_not_a_complaint(lipetsk_builder):
    s = lipetsk_builder(_post("Уважаемые жители! 24 ноября плановое отключение воды по ул. Гагарина.",
                              author="vk:-200000001"))
    assert not s.is_complaint
    assert any("official account" in r for r in s.reasons)


def test_ad_is_not_a_complaint(lipetsk_builder):
    assert not lipetsk_builder(_post("Продам шубу, скидка при самовывозе, Липецк")).is_complaint


def test_off_region_complaint(lipetsk_builder):
    s = lipetsk_builder(_post("В Воронеже на Ленинском проспекте яма на яме. Сколько можно?"))
    assert s.is_complaint and not s.in_region and s.municipality is None


def test_settlement_resolves_municipality(lipetsk_builder):
    s = lipetsk_builder(_post("Город Грязи: мусор не вывозят вторую неделю, помогите"))
    assert s.municipality == "gryazinsky" and s.is_complaint


def test_bad_inputs_do_not_break(lipetsk_builder):
    for text in ["", "👍👍👍", "a" * 1_000_000, "<script>alert(1)</script>", "vody net na Katukova 12 Lipetsk",
                 "У нас на Катукова нема води третій день"]:
        s = lipetsk_builder(_post(text))
        assert isinstance(s.score, float)
    assert lipetsk_builder(_post("vody net na Katukova 12 Lipetsk")).category == "water"


def test_many_equals_one_by_one_with_ner(kursk):
    """The batched path gives the same signals as calling the builder post by post."""
    from pipelines.signals import SignalBuilder

    b = SignalBuilder(kursk, use_ner=True)
    texts = ["Курск, ул. Радищева 5: нет горячей воды. Управляющий Виктор Самойленко не отвечает",
             "Продам гараж в Железногорске, недорого",
             "На Сумской яма на яме, Курск, сколько можно? Депутат Иван Петров обещал ещё летом"]
    posts = [_post(t) for t in texts]
    one, many = [b(p) for p in posts], b.many(posts)
    for a, c in zip(one, many, strict=True):
        assert (a.is_complaint, a.category, a.municipality, a.score, a.reasons) == \
               (c.is_complaint, c.category, c.municipality, c.score, c.reasons)
        assert a.entities.persons == c.entities.persons and a.entities.organisations == c.entities.organisations
    assert one[0].entities.persons == ["Виктор Самойленко"] and not one[1].entities.persons


# Inflected place names (issue 4): case forms of one-word names are generated with pymorphy3
# at config load; a name that is also a common word needs a place cue.
def test_case_forms_of_place_names():
    from pipelines.entities import case_forms

    assert {"клюквы", "клюкве", "клюкву", "клюквой"} <= set(case_forms("Клюква"))
    assert {"кореневе", "коренево"} <= set(case_forms("Коренево"))
    assert {"горшечного", "горшечном"} <= set(case_forms("Горшечное"))
    assert {"гирьях", "гирьями"} <= set(case_forms("Гирьи"))
    assert case_forms("Большое Солдатское") == ()


def test_inflected_settlements_resolve_their_district(kursk_builder):
    cases = {
        "Дорогу в Клюкву не чистят уже неделю": "kursky",
        "Живу в Кореневе, третий день нет света": "korenevsky",
        "Автобус из Линца опять не пришёл": "zheleznogorsky",
        "В Горшечном нет воды второй день": "gorshechensky",
        "Под Рыльском свалка мусора, никто не убирает": "rylsky",
        "Из Званного не ходит автобус, сколько можно": "glushkovsky",
        "В Первоавгустовском не горят фонари": "dmitrievsky",
    }
    for text, code in cases.items():
        assert kursk_builder(_post(text)).municipality == code, text


def test_place_names_that_are_common_words_need_a_cue(kursk_builder):
    assert kursk_builder(_post("Купила клюкву на рынке, опять гнилая, безобразие")).municipality is None
    assert kursk_builder(_post("Во дворе стоит в белой машине мусор, никто не убирает")).municipality is None
    assert kursk_builder(_post("В Клюкве не горят фонари")).municipality == "kursky"


def test_the_object_decides_over_a_generic_problem(kursk_builder):
    """rubricator.yaml → precedence: a hospital's leaking roof is the hospital's matter."""
    assert kursk_builder(_post("В больнице в Дмитриеве крыша течёт прямо в палаты, тазики стоят")).category == "healthcare"
    assert kursk_builder(_post("Школьный автобус сломан, дети ходят пешком 4 км вдоль трассы")).category == "education"
    assert kursk_builder(_post("На кладбище мусор не вывозят, контейнеры переполнены")).category == "landscaping"
    # a generic problem that is not the building's own stays where it is
    assert kursk_builder(_post("Возле школы № 5 яма на дороге, машины бьют колёса")).category == "roads"


def test_precedence_is_inherited_through_extends():
    from incidents.config import load_region

    assert load_region("config/regions/spb").rubricator.precedence


def test_event_words_count_unless_the_author_speaks_of_themselves(kursk_builder):
    own = kursk_builder(_post("В Пристени поля обрабатывают химией прямо у домов, пчёлы погибли у всех, нас не предупредили"))
    assert own.is_complaint and any("not counted" in r for r in own.reasons)
    news = kursk_builder(_post("В Курске на Сумской прорвало трубу, пострадал водитель, на месте спасатели"))
    assert any(r.startswith("noise markers") for r in news.reasons)
