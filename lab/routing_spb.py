"""Routing measured on the St Petersburg city portal (`incidents evaluate-routing-spb`).

The portal file (`../shared/data/spb_appeals_2020.csv.gz`, «Наш Санкт-Петербург», Oct–Dec
2020, see that folder's README) carries, for every complaint, the body that handled it
(`executor_org`; for the rows still under review only the current `coordinator_org`) and
the portal's own "passed to the proper body" corrections (`n_reroutes`, `reroute_log`).

Each complaint's TEXT followed by the form's ADDRESS line (as `incidents evaluate-corpus`'s
"text + address" figure: what a resident writes when there is no form) goes through the
production stages — `SignalBuilder`, the scale, the `Router` (`lab.routing_eval.
AppealRouter`) — and the chosen body's name is compared with the final executor. The
portal's `category` and `reason` columns are never shown to the pipeline: they are for the
tables and for writing rules.

Two more figures put ours in context:

* **The portal's own first routing.** `reroute_log` records each correction («Ваше
  сообщение передано по принадлежности вопроса от контролера: "A", от координатора: "B"
  контролеру: "C", координатору: "D". В связи с этим срок решения изменен …», entries
  joined by " | "). The first entry's "от координатора" is the body the complaint was
  first sent to; a complaint with no correction was first sent to its final executor. The
  share whose first body is the final executor is what the city's dispatchers reached. A
  correction of the controller alone, or a round trip back to the first body, leaves the
  first body right: the log decides, not `n_reroutes`. The portal caps the log at 1,000
  characters, cutting its last entries; the first entry is always whole in this file.
* **The rerouted complaints:** our accuracy on them, and how often we made the portal's
  first mistake again.

Rules are written on a development part of the file and measured on the rest as well: the
fold of a complaint is fixed by a hash of its id (`fold_of`, 5 folds); folds 0–3 are the
development part, fold 4 is held back.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import RegionConfig
from lab.place_eval import given_of
from lab.routing_eval import Appeal, AppealRouter, BodyStats, RoutedAppeal, print_by_body
from lab.routing_eval import fold_of as _fold_of

if TYPE_CHECKING:
    from pipelines.signals import SignalBuilder

SPB_FILE = "spb_appeals_2020.csv.gz"
FOLDS = 5
HELD_FOLD = 4
DEFAULT_DATA = "../shared/data"
DEFAULT_SPB_CONFIG = Path(__file__).resolve().parent.parent / "config" / "regions" / "spb"

_ENTRY_SEP = " | "
_FIELD = re.compile(
    r"(от контролера|от координатора|контролеру|координатору): \"(.*?)\""
    r"(?=,|\.(?:\s|$)|\s+(?:контролеру|координатору)|$)"
)


class SpbDataError(ValueError):
    """The file lacks a required column or cannot be read."""


# --------------------------------------------------------------------------- the reroute log
@dataclass(frozen=True, slots=True)
class Reroute:
    """One "passed to the proper body" correction; a field is None when the entry lacks it
    (a correction of the controller alone, or an entry the portal's length cap cut)."""

    from_controller: str | None
    from_coordinator: str | None
    to_controller: str | None
    to_coordinator: str | None

    @property
    def complete(self) -> bool:
        return self.from_coordinator is not None and self.to_coordinator is not None


def parse_reroute_log(log: str) -> list[Reroute]:
    """The corrections of one complaint, in order (see the module docstring for the format)."""
    out: list[Reroute] = []
    for entry in (log or "").split(_ENTRY_SEP):
        if "передано по принадлежности" not in entry:
            continue  # empty, or an entry cut before its first field
        f = dict(_FIELD.findall(entry))
        out.append(
            Reroute(
                f.get("от контролера"), f.get("от координатора"), f.get("контролеру"), f.get("координатору")
            )
        )
    return out


def first_body(log: str, final: str) -> str | None:
    """The body a complaint was first sent to: the first correction's "from" coordinator
    (its controller when the entry names no coordinator); the final body when none."""
    entries = parse_reroute_log(log)
    if not entries:
        return final
    e = entries[0]
    return e.from_coordinator or e.from_controller


def fold_of(ident: str, folds: int = FOLDS) -> int:
    return _fold_of(ident, folds)


# --------------------------------------------------------------------------- rows
@dataclass(frozen=True, slots=True)
class SpbAppeal:
    id: str
    text: str
    address: str
    district: str
    category: str
    reason: str
    executor: str  # executor_org, or coordinator_org for the rows still under review
    under_review: bool  # the executor is the coordinator (no executor_org yet)
    first: str | None  # the body the portal first sent it to
    n_reroutes: int
    corrections: int  # entries of reroute_log
    lat: float | None = None  # the portal's point of the building
    lon: float | None = None

    @property
    def fold(self) -> int:
        return fold_of(self.id)

    @property
    def rerouted(self) -> bool:
        return self.corrections > 0 or self.n_reroutes > 0

    @property
    def pipeline_text(self) -> str:
        """What the pipeline sees: the resident's text, then the form's address line."""
        return f"{self.text}\n{self.address}" if self.address else self.text


REQUIRED_COLUMNS = ("id", "text", "address", "executor_org")


def spb_appeal(row: dict[str, str]) -> SpbAppeal | None:
    """One row of the portal file; None when it has neither executor nor coordinator."""
    executor = (row.get("executor_org") or "").strip()
    under_review = not executor
    if under_review:
        executor = (row.get("coordinator_org") or "").strip()
    if not executor:
        return None
    log = row.get("reroute_log") or ""
    point = given_of(row)[1:]
    try:
        n = int(row.get("n_reroutes") or 0)
    except ValueError:
        n = 0
    return SpbAppeal(
        id=(row.get("id") or "").strip(),
        text=row.get("text") or "",
        address=(row.get("address") or "").strip(),
        district=(row.get("district") or "").strip(),
        category=(row.get("category") or "").strip(),
        reason=(row.get("reason") or "").strip(),
        executor=executor,
        under_review=under_review,
        first=first_body(log, executor),
        n_reroutes=n,
        corrections=len(parse_reroute_log(log)),
        lat=point[0],
        lon=point[1],
    )


def load_spb(path: Path) -> list[SpbAppeal]:
    """The portal file (CSV, gzipped or not)."""
    from lab.corpus import read_csv

    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        rows = read_csv(path)
        first = next(rows, None)
        if first is None:
            return []
        missing = [c for c in REQUIRED_COLUMNS if c not in first]
        if missing:
            raise SpbDataError(f"{path}: missing column(s) {', '.join(missing)}")
        out = [spb_appeal(r) for r in (first, *rows)]
    except (OSError, UnicodeDecodeError, EOFError, csv.Error) as exc:
        raise SpbDataError(f"{path}: cannot read: {exc}") from exc
    return [a for a in out if a is not None]


# --------------------------------------------------------------------------- the report
@dataclass(slots=True)
class Score:
    """Exact body and right organisation over some complaints."""

    n: int = 0
    exact: int = 0
    organisation: int = 0

    def add(self, exact: bool, organisation: bool) -> None:
        self.n += 1
        self.exact += int(exact)
        self.organisation += int(organisation)

    @property
    def exact_rate(self) -> float:
        return self.exact / self.n if self.n else 0.0

    @property
    def organisation_rate(self) -> float:
        return self.organisation / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "exact": self.exact,
            "exact_rate": round(self.exact_rate, 4),
            "organisation": self.organisation,
            "organisation_rate": round(self.organisation_rate, 4),
        }


@dataclass(slots=True)
class GroupStats:
    """A portal category or reason: our score and where its complaints really went."""

    score: Score = field(default_factory=Score)
    executors: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class SpbRoutedAppeal:
    appeal: SpbAppeal
    routed: RoutedAppeal

    @property
    def correct(self) -> bool:
        return self.routed.body_name == self.appeal.executor


@dataclass(slots=True)
class SpbRoutingReport:
    file: str
    config: str
    ours: Score  # every complaint
    executor_only: Score  # the rows with executor_org (not under review)
    dev: Score  # folds 0–3
    held: Score  # fold 4
    portal_first: Score  # the portal's own first routing, over the complaints whose first body is known
    first_unknown: int
    rerouted: Score  # ours, over the complaints the portal corrected (first body ≠ final)
    rerouted_as_first: int  # of those, how often we chose the portal's first (wrong) body
    corrected_log: int  # complaints with at least one entry in reroute_log
    corrections: int  # entries in reroute_log
    n_reroutes_sum: int
    triage: int
    under_review: int
    unknown_executors: Counter[str]
    by_body: dict[str, BodyStats]
    by_category: dict[str, GroupStats]
    by_reason: dict[str, GroupStats]
    results: list[SpbRoutedAppeal]

    def as_dict(self, *, top: int = 3, reasons: int = 40) -> dict[str, Any]:
        def group(g: GroupStats) -> dict[str, Any]:
            return {
                **g.score.as_dict(),
                "executors": dict(g.executors.most_common(top)),
                "predicted": dict(g.predicted.most_common(top)),
            }

        return {
            "file": self.file,
            "config": self.config,
            "complaints": self.ours.n,
            "under_review": self.under_review,
            "ours": self.ours.as_dict(),
            "ours_executor_org_only": self.executor_only.as_dict(),
            "development_folds_0_3": self.dev.as_dict(),
            "held_back_fold_4": self.held.as_dict(),
            "portal_first_routing": {**self.portal_first.as_dict(), "first_unknown": self.first_unknown},
            "rerouted": {**self.rerouted.as_dict(), "ours_as_portal_first": self.rerouted_as_first},
            "reroute_log": {
                "complaints": self.corrected_log,
                "entries": self.corrections,
                "n_reroutes_sum": self.n_reroutes_sum,
            },
            "triage": self.triage,
            "unknown_executors": dict(self.unknown_executors),
            "by_executor": {
                name: {
                    "n": s.n,
                    "correct": s.correct,
                    "accuracy": round(s.accuracy, 4),
                    "confusions": dict(s.confusions.most_common(top)),
                }
                for name, s in sorted(self.by_body.items(), key=lambda kv: -kv[1].n)
            },
            "by_category": {
                k: group(g) for k, g in sorted(self.by_category.items(), key=lambda kv: -kv[1].score.n)
            },
            "by_reason": {
                k: group(g)
                for k, g in sorted(self.by_reason.items(), key=lambda kv: -kv[1].score.n)[:reasons]
            },
        }


def summarize_spb(
    cfg: RegionConfig, results: Iterable[SpbRoutedAppeal], *, file: str = ""
) -> SpbRoutingReport:
    code_by_name = {b.name: b.code for b in cfg.bodies.bodies}
    org = cfg.bodies.organisation_of

    def same_org(a: str | None, b: str) -> bool:
        ca, cb = code_by_name.get(a or ""), code_by_name.get(b)
        if ca is None or cb is None:
            return a == b
        return org(ca) == org(cb)

    results = list(results)
    ours, exec_only, dev, held = Score(), Score(), Score(), Score()
    first, rer = Score(), Score()
    first_unknown = as_first = triage = under_review = corrected = corrections = n_sum = 0
    unknown: Counter[str] = Counter()
    by_body: dict[str, BodyStats] = defaultdict(BodyStats)
    by_cat: dict[str, GroupStats] = defaultdict(GroupStats)
    by_reason: dict[str, GroupStats] = defaultdict(GroupStats)
    for r in results:
        a, x = r.appeal, r.routed
        ok, ok_org = r.correct, x.same_organisation or r.correct
        ours.add(ok, ok_org)
        (held if a.fold == HELD_FOLD else dev).add(ok, ok_org)
        if a.under_review:
            under_review += 1
        else:
            exec_only.add(ok, ok_org)
        if a.executor not in code_by_name:
            unknown[a.executor] += 1
        triage += x.body == cfg.bodies.triage_body
        s = by_body[a.executor]
        s.n += 1
        if ok:
            s.correct += 1
        else:
            s.confusions[x.body_name] += 1
        for key, table in (
            (a.category or "—", by_cat),
            (f"{a.category or '—'} / {a.reason or '—'}", by_reason),
        ):
            g = table[key]
            g.score.add(ok, ok_org)
            g.executors[a.executor] += 1
            g.predicted[x.body_name] += 1
        corrected += a.corrections > 0
        corrections += a.corrections
        n_sum += a.n_reroutes
        if a.first is None:
            first_unknown += 1
            continue
        first.add(a.first == a.executor, same_org(a.first, a.executor))
        if a.first != a.executor:
            rer.add(ok, ok_org)
            as_first += x.body_name == a.first
    return SpbRoutingReport(
        file=file,
        config=str(cfg.root),
        ours=ours,
        executor_only=exec_only,
        dev=dev,
        held=held,
        portal_first=first,
        first_unknown=first_unknown,
        rerouted=rer,
        rerouted_as_first=as_first,
        corrected_log=corrected,
        corrections=corrections,
        n_reroutes_sum=n_sum,
        triage=triage,
        under_review=under_review,
        unknown_executors=unknown,
        by_body=dict(by_body),
        by_category=dict(by_cat),
        by_reason=dict(by_reason),
        results=results,
    )


def route_spb(
    cfg: RegionConfig,
    appeals: Iterable[SpbAppeal],
    *,
    builder: SignalBuilder | None = None,
    given: bool = False,
) -> list[SpbRoutedAppeal]:
    """`given`: the form's address line and the building's point as the post's own fields
    (interchange `address`, `lat`, `lon`: the place before the text), not the line appended to
    the text."""
    router = AppealRouter(cfg, builder=builder)

    def appeal(a: SpbAppeal) -> Appeal:
        topic = f"{a.category} / {a.reason}"
        if not given:
            return Appeal(id=a.id, text=a.pipeline_text, executor=a.executor, topic=topic)
        return Appeal(
            id=a.id,
            text=a.text,
            executor=a.executor,
            topic=topic,
            address=a.address or None,
            lat=a.lat,
            lon=a.lon,
        )

    return [SpbRoutedAppeal(a, router(appeal(a))) for a in appeals]


def evaluate_routing_spb(
    cfg: RegionConfig,
    appeals: list[SpbAppeal],
    *,
    file: str = "",
    builder: SignalBuilder | None = None,
    given: bool = False,
) -> SpbRoutingReport:
    return summarize_spb(cfg, route_spb(cfg, appeals, builder=builder, given=given), file=file)


# --------------------------------------------------------------------------- command line
def cmd_evaluate_routing_spb(ctx: Any, args: Any) -> int:
    import json
    import random
    import time

    from rich.console import Console

    from core.config import load_region

    err = Console(stderr=True, highlight=False)
    data = Path(args.data or os.environ.get("INCIDENTS_DATA_DIR") or DEFAULT_DATA)
    path = data / SPB_FILE if data.is_dir() else data
    if not path.is_file():
        err.print(f"[red]{path}: нет файла[/] (укажите --data: папку с {SPB_FILE} или сам файл)")
        return 2
    # the St Petersburg configuration unless another one is chosen (--config / INCIDENTS_CONFIG)
    cfg = ctx.cfg if (args.config or os.environ.get("INCIDENTS_CONFIG")) else load_region(DEFAULT_SPB_CONFIG)
    try:
        appeals = load_spb(path)
    except SpbDataError as exc:
        err.print(f"[red]{exc}[/]")
        return 2
    known = {b.name for b in cfg.bodies.bodies}
    if appeals and not any(a.executor in known for a in appeals):
        err.print(
            f"[red]{cfg.root}: bodies.yaml names none of the file's executors[/] "
            "(the St Petersburg configuration is config/regions/spb)"
        )
        return 2
    if args.part != "all":
        appeals = [a for a in appeals if (a.fold == HELD_FOLD) == (args.part == "held")]
    if args.sample and args.sample < len(appeals):
        appeals = random.Random(args.seed).sample(appeals, args.sample)
    t0 = time.perf_counter()
    report = evaluate_routing_spb(cfg, appeals, file=path.name, given=args.given)
    seconds = round(time.perf_counter() - t0, 1)
    errors = [r for r in report.results if not r.correct][: args.errors]
    if args.json:
        out = {**report.as_dict(), "part": args.part, "seconds": seconds}
        if errors:
            out["errors"] = [_error_dict(r) for r in errors]
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    _print(report, part=args.part, seconds=seconds)
    if errors:
        console = Console(highlight=False, soft_wrap=True)
        console.print(f"[b]Неверно направленные[/] ({len(errors)})")
        for r in errors:
            e = _error_dict(r)
            console.print(
                f"#{e['id']} [{e['topic']}] {e['category']}/{e['subcategory']} в {e['municipality']} "
                f"({e['scale']}) → {e['predicted']} (правило {e['rule']}); было: {e['executor']}"
                f"{' (сначала: ' + e['first'] + ')' if e['first'] != e['executor'] else ''}\n"
                f"    {e['text']}",
                markup=False,
            )
    return 0


def _pct(s: Score) -> str:
    return f"{s.exact_rate:.3f} ({s.exact}/{s.n})"


def _print(report: SpbRoutingReport, *, part: str, seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
    r = report
    console.print(
        f"Файл: {r.file}; жалоб: {r.ours.n} (часть: {part}; из них на рассмотрении, исполнитель = "
        f"координатор: {r.under_review}); конфигурация: {r.config}; {seconds} с"
    )
    t = Table(title="Маршрутизация: текст + адрес → сигнал → масштаб → маршрутизатор", title_justify="left")
    for col in ("", "n", "точный орган", "верная организация"):
        t.add_column(col, overflow="fold")
    for name, s in (
        ("все жалобы", r.ours),
        ("только с executor_org", r.executor_only),
        ("разработка (фолды 0–3)", r.dev),
        ("отложенный фолд 4", r.held),
        ("перенаправленные порталом", r.rerouted),
        ("портал: первое назначение", r.portal_first),
    ):
        t.add_row(
            name, str(s.n), f"{s.exact_rate:.3f} ({s.exact})", f"{s.organisation_rate:.3f} ({s.organisation})"
        )
    console.print(t)
    console.print(
        f"В очередь ЦУР: {r.triage}. Перенаправленные: мы выбрали тот же орган, что и портал сначала, "
        f"в {r.rerouted_as_first} из {r.rerouted.n}. Журнал переадресаций: {r.corrected_log} жалоб, "
        f"{r.corrections} записей (сумма n_reroutes {r.n_reroutes_sum}); первый орган неизвестен: "
        f"{r.first_unknown}"
    )
    print_by_body(console, r.by_body, r.unknown_executors, noun="жалоб")
    for title, table, limit in (
        ("По категориям портала", r.by_category, None),
        ("По причинам портала (топ-30 по числу)", r.by_reason, 30),
    ):
        t = Table(title=title, title_justify="left")
        for col in (
            "категория / причина",
            "n",
            "точный",
            "организация",
            "исполнители (топ-3)",
            "наш выбор (топ-3)",
        ):
            t.add_column(col, overflow="fold")
        for key, g in sorted(table.items(), key=lambda kv: -kv[1].score.n)[:limit]:
            t.add_row(
                key,
                str(g.score.n),
                f"{g.score.exact_rate:.2f}",
                f"{g.score.organisation_rate:.2f}",
                "; ".join(f"{b} ×{n}" for b, n in g.executors.most_common(3)),
                "; ".join(f"{b} ×{n}" for b, n in g.predicted.most_common(3)),
            )
        console.print(t)


def _error_dict(r: SpbRoutedAppeal) -> dict[str, Any]:
    x, a = r.routed, r.appeal
    return {
        "id": a.id,
        "topic": f"{a.category} / {a.reason}",
        "district": a.district,
        "executor": a.executor,
        "first": a.first,
        "predicted": x.body_name,
        "category": x.category,
        "subcategory": x.subcategory,
        "fact": x.fact,
        "municipality": x.municipality,
        "scale": x.scale,
        "rule": x.rule,
        "text": " ".join(a.pipeline_text.split())[:300],
    }


def add_commands(sub: Any) -> None:
    """Register `incidents evaluate-routing-spb` on the `incidents` subparsers."""
    s = sub.add_parser(
        "evaluate-routing-spb",
        help="точность маршрутизации на жалобах портала «Наш Санкт-Петербург» (../shared/data) "
        "и точность первого назначения самого портала",
    )
    s.add_argument(
        "--data",
        metavar="DIR",
        help=f"папка с {SPB_FILE} или сам файл (или INCIDENTS_DATA_DIR; по умолчанию {DEFAULT_DATA})",
    )
    s.add_argument(
        "--part",
        choices=["all", "dev", "held"],
        default="all",
        help="все жалобы, часть для разработки правил (фолды 0–3 по хэшу id) или отложенный фолд 4",
    )
    s.add_argument("--sample", type=int, help="случайная выборка жалоб (с --seed), по умолчанию все")
    s.add_argument("--seed", type=int, default=13)
    s.add_argument("--errors", type=int, default=0, metavar="N", help="показать до N неверно направленных")
    s.add_argument("--json", action="store_true", help="вывести метрики в JSON")
    s.add_argument(
        "--given",
        action="store_true",
        help="адрес формы и точку здания передать полями поста (address, lat, lon), а не строкой в тексте",
    )
    s.set_defaults(func=cmd_evaluate_routing_spb)
