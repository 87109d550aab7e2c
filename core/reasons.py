"""Reasons in words a person reads: the signal's and the router's reasons, in Russian, with names for codes.

The signal stage and the router write their reasons as compact, stable English phrases with codes
(«problem water: +2.00», «rule 75: water/sewerage in kursk (street)»). Those phrases are also read
by the code (the feedback platform's prior asks whether a «thanks» or «complaint» reason fired), and
years of stored signals and audit events carry them, so they stay as they are where they are
written. Whatever shows a reason to a person (the incident card, `incidents show`) passes it through
`ReasonWords.ru`, which reads every known phrase into Russian and replaces category, subcategory,
municipality and scale codes with their names. A reason already in Russian (the learned table's,
a person's own) passes unchanged; an unknown English phrase passes unchanged too, and the test of
this module fails on it (every phrase the pipeline writes on the sample must come out Russian).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from core.config import RegionConfig
from core.states import SCALE_NAMES

_Sub = Callable[["ReasonWords", re.Match[str]], str]


def _verdict(word: str) -> str:
    return "жалоба" if word == "complaint" else "не жалоба"


def _channel(text: str | None) -> str:
    return ", платформа обратной связи" if text else ""


class ReasonWords:
    """The region's names for the codes a reason may carry, and the phrase table."""

    def __init__(self, cfg: RegionConfig) -> None:
        self.categories = {c.code: c.name for c in cfg.rubricator.categories}
        self.subcategories = {s.code: s.name for c in cfg.rubricator.categories for s in c.subcategories}
        self.municipalities = {m.code: m.name for m in cfg.territories.municipalities}

    # -- names
    def category(self, code: str) -> str:
        return "любая категория" if code == "*" else f"«{self.categories.get(code, code)}»"

    def subcategory(self, code: str) -> str:
        return "" if code == "*" else f" / «{self.subcategories.get(code, code)}»"

    def municipality(self, code: str) -> str:
        return "любой муниципалитет" if code == "*" else self.municipalities.get(code, code)

    @staticmethod
    def scale(code: str) -> str:
        return "любой" if code == "*" else SCALE_NAMES.get(code, code)

    def municipalities_list(self, codes: str) -> str:
        return ", ".join(self.municipality(c.strip()) for c in codes.split(",") if c.strip())

    def evidence(self, text: str) -> str:
        """Why a place was read: the matched words, or a street shared by several towns."""
        m = _ALSO_IN.fullmatch(text)
        if m:
            return (
                f"{m['street']} (есть и в: {self.municipalities_list(m['ms'])}): {self.municipality(m['m'])}"
            )
        m = _AMBIGUOUS.fullmatch(text)
        if m:
            return f"{m['street']} (неоднозначно: {self.municipalities_list(m['ms'])})"
        m = _ROUTE.fullmatch(text)
        if m:
            return f"{self.municipality(m['m'])} (в названии маршрута или дороги)"
        return text

    def ru(self, reason: str | None) -> str:
        """The reason in Russian; unknown phrases unchanged."""
        if not reason:
            return ""
        for pattern, sub in _PHRASES:
            m = pattern.fullmatch(reason)
            if m:
                return sub(self, m)
        return reason


_ALSO_IN = re.compile(r"street (?P<street>.+) \(also in (?P<ms>[\w, -]+)\): (?P<m>[\w-]+)", re.S)
_AMBIGUOUS = re.compile(r"street (?P<street>.+) \(ambiguous: (?P<ms>[\w, -]+)\)", re.S)
_ROUTE = re.compile(r"(?P<m>[\w-]+) \(в названии маршрута или дороги\)")
_WINS = {"thread": "обсуждения, на которое пост отвечает", "source": "источника"}


def _rule(w: ReasonWords, m: re.Match[str]) -> str:
    rest = m["rest"] or ""
    rest = re.sub(r" \(rule (\d+)\)$", r" (правило №\1)", rest)
    return (
        f"правило маршрутизации №{m['n']}: {w.category(m['cat'])}{w.subcategory(m['sub'])}, "
        f"{w.municipality(m['muni'])}, масштаб: {w.scale(m['scale'])}{rest}"
    )


def _model_rules(w: ReasonWords, m: re.Match[str]) -> str:
    words = f"; {m['words']}" if m["words"] else ""
    return (
        f"модель: вероятность жалобы {m['p']} (порог {m['t']}{_channel(m['pos'])}) → {_verdict(m['v'])}"
        f"{' (проблема, названная на платформе обратной связи)' if m['prob'] else ''}; "
        f"по одним правилам: {_verdict(m['r'])} (балл {m['s']}){words}"
    )


def _model_silent(w: ReasonWords, m: re.Match[str]) -> str:
    words = "текст в целом" if m["words"] == "the words as a whole" else m["words"]
    return f"модель {m['p']}: {words} (порог {m['t']}{_channel(m['pos'])}; ни одно правило не сработало)"


# «<what> <words>: ±<weight>»: the markers and places that moved the score, with the words they matched
_WEIGHTED = {
    "complaint markers": "признаки жалобы",
    "request to act": "просьба принять меры",
    "thanks": "благодарность",
    "reported fixed": "сообщают, что устранено",
    "place near the author": "место рядом с автором",
    "address": "адрес",
}


def _weighted(ru: str) -> _Sub:
    return lambda w, m: f"{ru} ({m['w']}): {m['x']}"


_PHRASES: list[tuple[re.Pattern[str], _Sub]] = [
    *(
        (re.compile(rf"{en} (?P<w>.+): (?P<x>[+-][\d.]+)", re.S), _weighted(ru))
        for en, ru in _WEIGHTED.items()
    ),
    (
        re.compile(
            r"rule (?P<n>\d+): (?P<cat>[\w*]+)/(?P<sub>[\w*]+) in (?P<muni>[\w*-]+) \((?P<scale>[\w*]+)\)(?P<rest>.*)",
            re.S,
        ),
        _rule,
    ),
    (
        re.compile(r"(?P<note>.+) \(rule (?P<n>\d+)\)", re.S),
        lambda w, m: f"{w.ru(m['note'])} (правило №{m['n']})",
    ),
    (
        re.compile(r"no routing rule matched: regional administrator's queue"),
        lambda w, m: "ни одно правило маршрутизации не подошло: очередь регионального администратора",
    ),
    (
        re.compile(r"problem (?P<cat>\w+): (?P<x>[+-][\d.]+)"),
        lambda w, m: f"тема {w.category(m['cat'])}: {m['x']}",
    ),
    (
        re.compile(r"news words (?P<w>.+) not counted: the author speaks of themselves", re.S),
        lambda w, m: f"слова новости ({m['w']}) не учтены: автор пишет о себе",
    ),
    (
        re.compile(r"noise markers (?P<w>.+): (?P<x>[+-][\d.]+)", re.S),
        lambda w, m: f"признаки не жалобы ({m['w'].replace('news format', 'формат новости')}): {m['x']}",
    ),
    (
        re.compile(r"formatted as a channel post (?P<w>«.*»): (?P<x>[+-][\d.]+)", re.S),
        lambda w, m: f"оформлено как пост канала {m['w']}: {m['x']}",
    ),
    (
        re.compile(r"brief statement \((?P<n>\d+) words\): (?P<x>[+-][\d.]+)"),
        lambda w, m: f"короткое сообщение ({m['n']} сл.): {m['x']}",
    ),
    (
        re.compile(r"place from the thread it replies to: (?P<muni>[\w-]+)"),
        lambda w, m: f"место — из обсуждения, на которое пост отвечает: {w.municipality(m['muni'])}",
    ),
    (
        re.compile(r"place from the source name (?P<src>\S+): (?P<muni>[\w-]+)"),
        lambda w, m: f"место — по названию источника {m['src']}: {w.municipality(m['muni'])}",
    ),
    (
        re.compile(r"place from the source (?P<src>\S+): (?P<muni>[\w-]+)"),
        lambda w, m: f"место — по источнику {m['src']}: {w.municipality(m['muni'])}",
    ),
    (
        re.compile(
            r"street (?P<s>.+) also exists elsewhere: the place of the (?P<by>thread|source) wins: (?P<m>[\w-]+)",
            re.S,
        ),
        lambda w, m: (
            f"{m['s']} есть и в других местах: решает место {_WINS[m['by']]}: {w.municipality(m['m'])}"
        ),
    ),
    (
        re.compile(
            r"(?P<e>.+) is where the author travels to: the place of the (?P<by>thread|source) wins: (?P<m>[\w-]+)",
            re.S,
        ),
        lambda w, m: (
            f"{w.evidence(m['e'])} — туда автор едет: решает место {_WINS[m['by']]}: {w.municipality(m['m'])}"
        ),
    ),
    (
        re.compile(r"place (?P<w>.+): (?P<x>[+-][\d.]+)", re.S),
        lambda w, m: f"место ({w.evidence(m['w'])}): {m['x']}",
    ),
    (
        re.compile(r"places outside the region: (?P<w>.+)", re.S),
        lambda w, m: f"места за пределами региона: {m['w']}",
    ),
    (
        re.compile(r"official account (?P<w>\S+): (?P<x>[+-][\d.]+)"),
        lambda w, m: f"официальный аккаунт {m['w']}: {m['x']}",
    ),
    (
        re.compile(r"official author (?P<w>«.*»): (?P<x>[+-][\d.]+)", re.S),
        lambda w, m: f"автор — организация {m['w']}: {m['x']}",
    ),
    (
        re.compile(r"text cut to its first (?P<n>\d+) characters for analysis"),
        lambda w, m: f"для анализа взяты первые {m['n']} символов текста",
    ),
    (re.compile(r"text shorter than (?P<n>\d+) characters"), lambda w, m: f"текст короче {m['n']} символов"),
    (
        re.compile(r"category from the thread it replies to: (?P<cat>\w+)"),
        lambda w, m: f"категория — из обсуждения, на которое пост отвечает: {w.category(m['cat'])}",
    ),
    (
        re.compile(
            r"model: p\(complaint\) = (?P<p>[\d.]+) \(from (?P<t>[\d.]+)(?P<pos>, feedback platform)?\) → "
            r"(?P<v>complaint|not a complaint)(?P<prob> \(a problem on the feedback platform\))?; "
            r"rules alone: (?P<r>complaint|not a complaint) at (?P<s>-?[\d.]+)"
            r"(?:; (?P<words>.*))?",
            re.S,
        ),
        _model_rules,
    ),
    (
        re.compile(
            r"model (?P<p>[\d.]+): (?P<words>.*) \(from (?P<t>[\d.]+)(?P<pos>, feedback platform)?; no rule fired\)",
            re.S,
        ),
        _model_silent,
    ),
    (
        re.compile(r"model: category (?P<cat>\w+) \((?P<p>[\d.]+)\), the rules are silent"),
        lambda w, m: f"модель: категория {w.category(m['cat'])} ({m['p']}), правила её не определили",
    ),
    (
        re.compile(r"model: category (?P<cat>\w+) \((?P<p>[\d.]+)\) over the rules' (?P<old>\w+)"),
        lambda w, m: (
            f"модель: категория {w.category(m['cat'])} ({m['p']}) вместо {w.category(m['old'])} по правилам"
        ),
    ),
    (
        re.compile(r"model: category (?P<cat>\w+) \((?P<p>[\d.]+)\) over the rules' unsure (?P<old>\w+)"),
        lambda w, m: (
            f"модель: категория {w.category(m['cat'])} ({m['p']}) вместо неуверенной "
            f"{w.category(m['old'])} по правилам"
        ),
    ),
    (
        re.compile(r"inquiry (?P<w>.+)", re.S),
        lambda w, m: f"запрос информации или предложение ({m['w']})",
    ),
    (re.compile(r"new post (?P<k>\S+)"), lambda w, m: f"новый пост {m['k']}"),
    (
        re.compile(
            r"the same problem as closed incident #(?P<n>\d+), more than (?P<d>[\d.]+) days after closing"
        ),
        lambda w, m: (
            f"та же проблема, что в закрытом инциденте #{m['n']}, спустя более {m['d']} дн. после закрытия"
        ),
    ),
    (
        re.compile(r"a new incident #(?P<n>\d+) continues it"),
        lambda w, m: f"его продолжает новый инцидент #{m['n']}",
    ),
    (
        re.compile(r"replaced by a new draft at (?P<t>\S+)"),
        lambda w, m: f"заменён новым черновиком ({m['t'][:16].replace('T', ' ')})",
    ),
]


@lru_cache(maxsize=8)
def reason_words(cfg: RegionConfig) -> ReasonWords:
    """One phrase reader per loaded configuration (a configuration object lives as long as its process)."""
    return ReasonWords(cfg)
