"""Russian names for the codes the database keeps, and who may see which incident.

Kept apart from the queries so that the templates, the exports and every page name a status, a clock or
a body the same way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol, Self, TypeVar

import core.states as core_states
from core.config import RegionConfig
from core.reasons import reason_words
from core.roles import Actor, Role
from core.states import OPEN_STATES, IncidentState
from storage.models import Incident

S = IncidentState
OPEN = sorted(s.value for s in OPEN_STATES)
UNTRIAGED = {S.NEW.value, S.TRIAGED.value, S.REOPENED.value}

STATUS_NAMES = core_states.STATUS_NAMES
CLOCK_NAMES = core_states.CLOCK_NAMES
CLOCK_STATES = core_states.SLA_STATE_NAMES
NETWORK_NAMES = {"vk": "ВКонтакте", "ok": "Одноклассники", "telegram": "Telegram", "pos": "ПОС"}
REPLY_STATUSES = core_states.REPLY_STATUS_NAMES
ACTION_NAMES = core_states.EVENT_NAMES
PERIODS = {"7": 7, "30": 30, "90": 90}


class Names:
    """Russian names for the codes the database keeps."""

    def __init__(self, cfg: RegionConfig) -> None:
        self.cfg = cfg
        self.words = reason_words(cfg)  # the region's names for codes, shared with the reasons' reader
        self.categories = self.words.categories
        self.subcategories = self.words.subcategories

    def reason(self, text: str | None) -> str:
        """A signal's or router's reason in Russian, with names for its codes."""
        return self.words.ru(text)

    def subcategory(self, code: str | None) -> str:
        return self.subcategories.get(code or "", code or "—")

    @staticmethod
    def answer_status(code: str | None) -> str:
        return core_states.ANSWER_STATUS_NAMES.get(code or "", code or "—")

    @staticmethod
    def scale(code: str | None) -> str:
        return core_states.SCALE_NAMES.get(code or "", code or "—")

    def category(self, code: str | None) -> str:
        return self.categories.get(code or "", code or "—")

    def municipality(self, code: str | None) -> str:
        m = self.cfg.municipality_by_code.get(code or "")
        return m.name if m else (code or "не определён")

    def place(self, code: str | None, scale: str | None) -> str:
        """The municipality, or the region's name for an incident about the whole region."""
        if code is None and scale == "region":
            return f"{self.cfg.region.name} (весь регион)"
        return self.municipality(code)

    def body(self, code: str | None) -> str:
        b = self.cfg.body_by_code.get(code or "")
        return b.name if b else (code or "не назначен")

    @staticmethod
    def status(code: str | None) -> str:
        return STATUS_NAMES.get(code or "", code or "—")

    @staticmethod
    def network(code: str | None) -> str:
        return NETWORK_NAMES.get(code or "", code or "—")

    @staticmethod
    def networks(codes: str | None) -> str:
        """«ВК, ОК, ПОС» from the stored "ok,pos,vk"."""
        short = {"vk": "ВК", "ok": "ОК", "telegram": "Telegram", "pos": "ПОС"}
        return ", ".join(short.get(c, c) for c in (codes or "").split(",") if c) or "—"

    @staticmethod
    def clock(name: str) -> str:
        return CLOCK_NAMES.get(name, name)

    @staticmethod
    def action(name: str) -> str:
        return ACTION_NAMES.get(name, name)


class _Narrowable(Protocol):
    def where(self, *whereclause: Any) -> Self: ...


_Query = TypeVar("_Query", bound=_Narrowable)


def visible(stmt: _Query, actor: Actor) -> _Query:
    """Narrow an incident query to what the actor may see (an executor: their body's only)."""
    if actor.role is Role.EXECUTOR:
        return stmt.where(Incident.body_code == actor.body_code)
    return stmt


def may_see(actor: Actor, inc: Incident) -> bool:
    return actor.role is not Role.EXECUTOR or inc.body_code == actor.body_code


def left_text(left: timedelta | None) -> str:
    """«осталось 3 ч 20 мин» / «просрочено на 1 д 2 ч» — how a person reads a deadline."""
    if left is None:
        return "—"
    minutes = int(abs(left.total_seconds()) // 60)
    d, rem = divmod(minutes, 1440)
    h, m = divmod(rem, 60)
    text = f"{d} д {h} ч" if d else (f"{h} ч {m:02d} мин" if h else f"{m} мин")
    return f"просрочено на {text}" if left.total_seconds() < 0 else f"осталось {text}"
