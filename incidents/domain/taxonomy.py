"""The feedback platform's own categories mapped to our 15 fixed category codes.

Broad platform categories cover several of ours («ЖКХ и благоустройство» is housing, water,
energy, landscaping and yard waste), so a mapping is a set; an empty set marks a category that
is not a real one (test messages). Training (`incidents train --appeals`) uses the categories
that map to exactly one code; the routing studies in `lab/` count a prediction right when it is
one of the mapped codes.
"""

from __future__ import annotations

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
