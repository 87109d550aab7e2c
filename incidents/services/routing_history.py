"""Learning the routing table from a region's history file and from its dispatchers' corrections.

A history file is a CSV (gzipped or not) of earlier appeals with the body that handled each
(docs/routing-history.md lists the columns). Each row becomes the same `Case` the router sees
at run time: our category, subcategory and fact read from its text by the signal stage (unless
the file gives our codes), its municipality (from a `municipality`/`district` column naming a
municipality of territories.yaml, else from the text and address) and its street. Learning on
what the router will see, not on the platform's own topic, is what makes the table apply to a
social-media post that has no topic.

`evaluate_time_split` trains on the earlier part of the file and scores the later part: the
honest figure, since a table is always applied to appeals newer than its history.
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from core.config import CATEGORY_CODES, RegionConfig
from incidents.domain.learned_routing import Case, Example, LearnedTable, normalise_street
from incidents.domain.routing import Router

BODY_COLUMNS = ("body", "executor", "executor_org", "coordinator_org")
PLACE_COLUMNS = ("municipality", "district")
TIME_COLUMNS = ("created_at", "date")


class HistoryError(ValueError):
    """The history file cannot be read or lacks a required column."""


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One earlier appeal: what routing will see of it, and the body that took it."""

    id: str
    when: str  # ISO time, or "" (then the file's order stands for time)
    case: Case
    body: str  # a body code of bodies.yaml


@dataclass(slots=True)
class Loaded:
    rows: list[HistoryRow] = field(default_factory=list)
    read: int = 0
    unknown_bodies: Counter[str] = field(default_factory=Counter)


def _open(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed by the caller


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """The file's rows as dicts; a HistoryError when it has no text or no body column."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        with _open(path) as f:
            reader = csv.DictReader(f)
            cols = set(reader.fieldnames or ())
            if "text" not in cols or not cols & set(BODY_COLUMNS):
                raise HistoryError(
                    f"{path}: нужны колонки text и одна из {', '.join(BODY_COLUMNS)} (есть: {', '.join(sorted(cols))})"
                )
            yield from reader
    except (OSError, UnicodeDecodeError, EOFError, csv.Error) as exc:
        raise HistoryError(f"{path}: не удалось прочитать: {exc}") from exc


def _place_codes(cfg: RegionConfig) -> dict[str, str]:
    """Municipality names, aliases and codes (lower case) → code."""
    out: dict[str, str] = {}
    for m in cfg.territories.municipalities:
        for name in (m.code, m.name, *m.aliases):
            out[name.lower()] = m.code
    return out


class CaseReader:
    """History rows → Cases: our codes from the text (through the signal stage) unless given."""

    def __init__(self, cfg: RegionConfig, *, text_only: bool = False, builder: Any = None) -> None:
        self.cfg = cfg
        self.text_only = text_only
        self._builder = builder
        self._places = _place_codes(cfg)
        self._bodies = {b.name: b.code for b in cfg.bodies.bodies} | {
            b.code: b.code for b in cfg.bodies.bodies
        }

    @property
    def builder(self) -> Any:
        if self._builder is None:
            from incidents.services.training import signal_builder

            self._builder = signal_builder(self.cfg, use_ner=False)
        return self._builder

    def body_of(self, row: dict[str, str]) -> tuple[str | None, str]:
        """(code, as written): the first non-empty body column."""
        for col in BODY_COLUMNS:
            v = (row.get(col) or "").strip()
            if v:
                return self._bodies.get(v), v
        return None, ""

    def case_of(self, row: dict[str, str]) -> Case:
        from datetime import UTC, datetime

        from core.records import PostRecord

        text = row.get("text") or ""
        address = (row.get("address") or "").strip()
        post = PostRecord(
            network="pos",
            external_id=str(row.get("id") or "0"),
            source_id="routing-history",
            text=f"{text}\n{address}" if address else text,
            created_at=datetime(2022, 1, 1, tzinfo=UTC),
        )
        sig = self.builder(post)
        category, subcategory, fact = sig.category, sig.subcategory, sig.fact
        municipality, street = sig.municipality, sig.street
        if not self.text_only:
            if (row.get("category") or "") in CATEGORY_CODES:  # our codes only, never a platform's topic
                category = row["category"]
                subcategory = row.get("subcategory") or None
                fact = row.get("fact") or None
            for col in PLACE_COLUMNS:
                code = self._places.get((row.get(col) or "").strip().lower())
                if code:
                    municipality = code
                    break
            street = row.get("street") or street
        if municipality is None:
            municipality = self.cfg.routing.unplaced_municipality  # as the router assumes
        return Case(category, subcategory, fact, municipality, normalise_street(street))


def load_history(
    cfg: RegionConfig,
    path: Path,
    *,
    reader: CaseReader | None = None,
    keep: Callable[[int, dict[str, str]], bool] | None = None,
) -> Loaded:
    """Every row with a known body, in the file's order; `keep(i, row)` samples rows first."""
    reader = reader or CaseReader(cfg)
    out = Loaded()
    for i, row in enumerate(read_rows(path)):
        if keep is not None and not keep(i, row):
            continue
        out.read += 1
        code, written = reader.body_of(row)
        if code is None:
            out.unknown_bodies[written or "—"] += 1
            continue
        when = next((row[c] for c in TIME_COLUMNS if row.get(c)), "")
        out.rows.append(HistoryRow(str(row.get("id") or i), when, reader.case_of(row), code))
    return out


def examples_of(rows: Iterable[HistoryRow]) -> list[Example]:
    return [Example(r.case, r.body) for r in rows]


class _Timed(Protocol):
    @property
    def when(self) -> str: ...


Row = TypeVar("Row", bound=_Timed)


def time_split(
    rows: Sequence[Row], train_share: float = 0.75, *, whole_months: bool = True
) -> tuple[list[Row], list[Row]]:
    """Earlier rows to train, later to test: by time when every row has one, else by the file's
    order. With times the cut falls at the start of a calendar month (the first month boundary at
    or after `train_share` of the rows), so the test period is whole months the table or the text
    model never saw; `whole_months=False` cuts at the share itself (the text model's validation
    slice: the last weeks of its training period)."""
    if rows and all(r.when for r in rows):
        ordered = sorted(rows, key=lambda r: r.when)
        if whole_months:
            cut = ordered[min(len(ordered) - 1, int(len(ordered) * train_share))].when[:7]
            early = [r for r in ordered if r.when[:7] < cut]
            late = [r for r in ordered if r.when[:7] >= cut]
            if early and late:
                return early, late
        cut_at = int(len(ordered) * train_share)
        return ordered[:cut_at], ordered[cut_at:]
    cut_at = int(len(rows) * train_share)
    return list(rows[:cut_at]), list(rows[cut_at:])


@dataclass(frozen=True, slots=True)
class SplitScore:
    """One router scored on the later rows."""

    name: str
    n: int
    exact: int
    organisation: int
    learned: int  # decided by the learned table

    def as_dict(self) -> dict[str, Any]:
        n = self.n or 1
        return {
            "name": self.name,
            "n": self.n,
            "exact": round(self.exact / n, 3),
            "organisation": round(self.organisation / n, 3),
            "learned_share": round(self.learned / n, 3),
        }


def score(cfg: RegionConfig, router: Router, rows: Iterable[HistoryRow], name: str) -> SplitScore:
    org = cfg.bodies.organisation_of
    n = exact = same_org = learned = 0
    for r in rows:
        d = router.route_case(r.case)
        n += 1
        exact += d.body == r.body
        same_org += org(d.body) == org(r.body)
        learned += d.learned is not None
    return SplitScore(name, n, exact, same_org, learned)


def evaluate_time_split(
    cfg: RegionConfig,
    rows: list[HistoryRow],
    *,
    train_share: float = 0.75,
    min_support: int = 3,
    min_share: float = 0.6,
) -> dict[str, Any]:
    """Train on the earlier rows, score the rules alone and rules + learned table on the later."""
    train, test = time_split(rows, train_share)
    table = LearnedTable.learn(examples_of(train), min_support=min_support, min_share=min_share)

    def period(rs: list[HistoryRow]) -> list[str] | None:
        return [rs[0].when[:10], rs[-1].when[:10]] if rs and rs[0].when else None

    return {
        "train": {"n": len(train), "period": period(train)},
        "test": {"n": len(test), "period": period(test)},
        "entries": len(table.entries),
        "rules": score(cfg, Router(cfg, learned=False), test, "правила").as_dict(),
        "learned": score(cfg, Router(cfg, learned=table), test, "обученная таблица + правила").as_dict(),
    }


def learn_report(table: LearnedTable, loaded: Loaded) -> dict[str, Any]:
    """What was learned and how sure: entries per level, their support and share."""
    by_level: dict[str, dict[str, float]] = {}
    for e in table.entries.values():
        s = by_level.setdefault(e.level, {"entries": 0, "appeals": 0, "hits": 0})
        s["entries"] += 1
        s["appeals"] += e.n
        s["hits"] += e.hits
    for s in by_level.values():
        s["share"] = round(s["hits"] / (s["appeals"] or 1), 3)
    return {
        "rows_read": loaded.read,
        "rows_used": len(loaded.rows),
        "unknown_bodies": dict(loaded.unknown_bodies.most_common(10)),
        "entries": len(table.entries),
        "by_level": by_level,
    }
