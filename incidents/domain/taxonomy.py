"""The feedback platform's own categories mapped to our 15 fixed category codes.

Broad platform categories cover several of ours («ЖКХ и благоустройство» is housing, water,
energy, landscaping and yard waste), so a mapping is a set; an empty set marks a category that
is not a real one (test messages). Training (`incidents train --appeals`) uses the categories
that map to exactly one code; the routing studies in `lab/` count a prediction right when it is
one of the mapped codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PosCategory:
    """One of the feedback platform's categories and the fixed codes it corresponds to."""

    name: str
    codes: frozenset[str]  # empty: not a real category (test messages), left out of the figures


def _pc(name: str, *codes: str) -> PosCategory:
    return PosCategory(name, frozenset(codes))


POS_CATEGORIES: dict[str, PosCategory] = {
    "0": _pc("Дороги и дорожное хозяйство", "roads"),
    "1": _pc("Безнадзорные животные", "safety"),
    "2": _pc("Госуслуги / цифровые сервисы", "other"),
    "3": _pc("ЖКХ и благоустройство", "housing_utilities", "water", "energy", "landscaping", "waste"),
    "4": _pc("Здравоохранение", "healthcare"),
    "5": _pc("Культура", "other"),
    "6": _pc("Меры поддержки / соцльготы", "social_protection"),
    "7": _pc("Образование", "education"),
    "8": _pc("Общественный транспорт", "transport"),
    "9": _pc("Связь и интернет", "other"),
    "10": _pc("Социальная защита", "social_protection"),
    "11": _pc("Строительство и архитектура", "construction", "land_property"),
    "12": _pc("Тестовая категория"),
    "13": _pc("Торговля и услуги", "other"),
    "14": _pc("Труд и занятость", "social_protection"),
    "15": _pc("Физкультура и спорт", "other"),
    "16": _pc("Экология / отходы (ТКО, свалки, запахи)", "ecology", "waste"),
}
"""Feedback-platform category code (0–16, `category_code`) → our fixed category codes."""


# ---------------------------------------------------------------- topics and reasons → codes
# The platforms' own fine-grained topics (Kursk ПОС `topic`, 173 values) and the St Petersburg
# portal's reasons (`reason`, 125 values) mapped to one code each, by the first pattern that
# matches (docs/taxonomy.md publishes the table with the reason for each row). The order
# matters: the more specific pattern first. `also` lists the boundary codes a reader would
# accept (street lighting on a road, litter on a road, snow in a yard…).
_TOPIC_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (r"надпис|объявлени|рекламн|разукомплектован", "landscaping", ()),
    (r"жидких бытовых отходов", "ecology", ("water",)),
    (r"порча земель|вырубк|пожарн.*природопольз", "ecology", ()),
    (r"поезд|вагон", "transport", ()),
    (r"замороженн", "construction", ()),
    (r"аварийное жиль|оплаты услуг жкх|водосточн|подъемная платформа", "housing_utilities", ()),
    (r"инвалидност|реабилитац", "social_protection", ("healthcare",)),
    (r"пцр|антител", "healthcare", ()),
    (r"учител|обучени", "education", ()),
    (r"качество товара|оказания услуги|государственных и муниципальных услуг", "other", ()),
    (r"освещени.*(дорог|опор)|опор[аы] освещения|наружное освещение", "energy", ("roads", "landscaping")),
    (r"освещени.*(подъезд|мест общего пользования|лифт|фасад)", "housing_utilities", ("energy",)),
    (r"электросет|энергоснабжени|(?<![а-я])провод", "energy", ()),
    (r"теплоснабжени|отоплени|температур|радиатор", "housing_utilities", ()),
    (r"водоотведени|канализац|ливнев|ливнесток", "water", ()),
    (
        r"водоснабжени|горячей воды|холодной воды|протечка труб|водоразбор|колонк",
        "water",
        ("housing_utilities",),
    ),
    (r"свалк", "waste", ("ecology",)),
    (
        r"вывоз.*отход|контейнерн|мусоропровод|мусоросборн|мусорный контейнер|(?<![а-я])урн",
        "waste",
        ("landscaping",),
    ),
    (r"запах|выброс|загрязнени|экологи|сжигани", "ecology", ()),
    (r"люк|колод", "landscaping", ("water", "roads")),
    (r"снег|налед", "roads", ("landscaping",)),
    (r"внутридворов|придомов|дворов", "landscaping", ("roads",)),
    (r"(уборк|мусор).*(подъезд|парадн|лестничн)", "housing_utilities", ("landscaping",)),
    (r"уборк.*(улиц|тротуар)", "landscaping", ("waste", "roads")),
    (r"мусор|уборк|санитарн.*(улиц|территор)", "landscaping", ("waste",)),
    (r"безнадзорн.*животн", "safety", ()),
    (
        r"парадн|подъезд|лифт|домофон|лестничн|доводчик|почтов|стекла|управляющ|многоквартирн|мкд|кровл|"
        r"подвал|чердак|фасад|цокол|пандус|дезинсекц|дератизац|общего имущества|общим имуществом|"
        r"перепланировк|стеновых панелей|адресной вывески",
        "housing_utilities",
        ("landscaping",),
    ),
    (r"остановоч|посадки и высадки", "transport", ("roads",)),
    (
        r"дорожн.*покрыти|ям[ыа]|выбоин|светофор|пешеходн.*переход|дорожные знаки|дорожных знаков|"
        r"парковк|парковоч|искусственных неровностей|бордюр|тротуар|твёрдого дорожного|дорог",
        "roads",
        ("landscaping",),
    ),
    (r"транспорт|маршрут|перевоз|проезд[а ]|остановоч", "transport", ()),
    (r"медицин|здравоохранени|лекарств|вакцин|сертификат|поликлиник|больниц|covid", "healthcare", ()),
    (r"школ|детск.*сад|образовани|учебн", "education", ()),
    (r"пособи|социальн|выплат|льгот|пенси|занятост|труд", "social_protection", ()),
    (r"строител|строительн|земляных работ", "construction", ("landscaping",)),
    (r"земельн|самовольн.*(постро|строен)|гараж", "land_property", ()),
    (
        r"дерев|кустарник|газон|клумб|сорн|скошен|парк|сквер|детск.*площадк|спортивн.*площадк|"
        r"малых архитектурных|уличной мебели|ограждени|надпис|реклам|благоустройств|памятник|"
        r"зон отдыха|лужи|кладбищ|транспортное средство",
        "landscaping",
        (),
    ),
    (r"торгов|реализац.*товар|связ|интернет|госуслуг|культур|спорт", "other", ()),
)


@dataclass(frozen=True, slots=True)
class TopicCode:
    code: str
    also: frozenset[str]
    pattern: str


# «… фасада дома (кроме несанкционированных надписей / объявлений …)», «дезинсекция … (в т.ч.
# мусоропровода)»: what a reason excludes or lists as an example must not decide its code
_EXCEPT = re.compile(r"\(\s*(кроме|в т\.\s*ч\.|в том числе)[^)]*\)?")


def topic_code(topic: str) -> TopicCode | None:
    """A platform topic or portal reason → our code (None: no rule matched, e.g. test messages)."""
    t = _EXCEPT.sub("", (topic or "").lower().replace("ё", "е"))
    for pattern, code, also in _TOPIC_RULES:
        if re.search(pattern.replace("ё", "е"), t):
            return TopicCode(code, frozenset(also), pattern)
    return None


def appeal_category(row: dict[str, str]) -> str | None:
    """The code of one appeal row: its fine topic (Kursk `topic`, St Petersburg `reason`) when a
    rule maps it, else its broad platform category when that maps to exactly one code."""
    for key in ("topic", "reason"):
        tc = topic_code(row.get(key) or "")
        if tc is not None:
            return tc.code
    pc = POS_CATEGORIES.get((row.get("category_code") or "").strip())
    if pc is not None and len(pc.codes) == 1:
        return next(iter(pc.codes))
    return None


def appeal_accepts(row: dict[str, str]) -> frozenset[str]:
    """The codes counted right for one appeal: its code and the boundary codes of its topic."""
    for key in ("topic", "reason"):
        tc = topic_code(row.get(key) or "")
        if tc is not None:
            return frozenset({tc.code, *tc.also})
    pc = POS_CATEGORIES.get((row.get("category_code") or "").strip())
    return pc.codes if pc is not None else frozenset()
