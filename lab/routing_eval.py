"""Routing measured on real routing: feedback-platform appeals with the body that handled them.

The Kursk feedback-platform file (`../shared/data/kursk_appeals_train.csv`) carries, for
each appeal, its text, the platform's topic and category, and the `executor`: the body that
really handled it. This module runs each appeal's TEXT ONLY through the same stages a
social-media post goes through — `SignalBuilder` (normalize → rules → places → category,
subcategory, fact, municipality, address), the incident's scale (`assess.scale_of`) and the
`Router` — and compares the chosen body's name with `executor`. The topic and category
columns are never shown to the pipeline: they are only for measuring.

Every appeal is routed whether or not the signal stage would call it a complaint (every
platform appeal is one by construction), so the figure measures routing, not detection.
NER is off: it supplies persons and organisations, which routing does not use, and it is
the slowest step.

Besides the exact body, the report counts a second, looser figure: the right ORGANISATION
(`parent` in bodies.yaml: a city committee and its city administration are one organisation).
In the Kursk file the city administration and its own committees take the same topics in
alternating periods — a split the text cannot show — so the looser figure says how often the
appeal reached the right organisation, the exact one how often it reached the right desk.

The platform's 17 categories are mapped to our fixed codes once, in `POS_CATEGORIES` (the
table is also in config/README.md). Broad platform categories cover several of ours
(«ЖКХ и благоустройство» is housing, water, energy, landscaping and yard waste), so a
prediction counts as right when it is one of the mapped codes; the per-category table
shows how wide each mapping is.
"""

from __future__ import annotations

import csv
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import RegionConfig
from core.records import PostRecord
from incidents.domain.assess import scale_of_signal
from incidents.domain.routing import Router
from incidents.domain.taxonomy import POS_CATEGORIES, PosCategory  # noqa: F401 - re-exported for the studies
from lab.appeals import Appeal, fold_of

if TYPE_CHECKING:
    from pipelines.signals import SignalBuilder


REQUIRED_COLUMNS = ("id", "text", "executor")

# A place the text names, found without the gazetteer: a settlement type word before a
# capitalised name («в с. Шумаково», «деревня Сугрово», «пос. Иванино»), or «… район».
# Only to count the appeals that name a place the signal stage did not resolve; the type
# words are lower case so that «С уважением» and «П.С.» do not count.
_PLACE_MENTION = re.compile(
    r"(?<![\w.])(?<!т\. )(?:(?:с|д|п|х|г|сл|пос|дер|гор)\.[ \t]*"
    r"|(?:село|селе|села|селу|деревн[яеиюй]|пгт|рп|пос[её]л[оке]к?\w*|хутор\w*|слобод[аеыу]|город[ае]?)[ \t]+)"
    r"([А-ЯЁ][а-яё]+(?:[ -][А-ЯЁ][а-яё]+)?)"
    r"|(?<!\w)([А-ЯЁ][а-яё]+ск(?:ий|ого|ом|ому))[ \t]+(?:район\w*|р-н\w*)"
)


class AppealsError(ValueError):
    """The CSV lacks a required column or cannot be read."""


@dataclass(frozen=True, slots=True)
class RoutedAppeal:
    """What the pipeline decided for one appeal, from its text alone."""

    appeal: Appeal
    category: str | None
    subcategory: str | None
    fact: str | None
    municipality: str | None
    address: str | None
    scale: str
    body: str  # body code
    body_name: str
    rule: int | None
    same_organisation: bool = False  # the executor and the chosen body belong to one organisation

    @property
    def correct(self) -> bool:
        return self.body_name == self.appeal.executor


@dataclass(slots=True)
class BodyStats:
    n: int = 0
    correct: int = 0
    confusions: Counter[str] = field(default_factory=Counter)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


@dataclass(slots=True)
class CategoryStats:
    name: str
    n: int = 0
    routed: int = 0
    categorized: int = 0
    predicted: Counter[str] = field(default_factory=Counter)

    @property
    def routing_accuracy(self) -> float:
        return self.routed / self.n if self.n else 0.0

    @property
    def category_accuracy(self) -> float:
        return self.categorized / self.n if self.n else 0.0


@dataclass(slots=True)
class PlaceStats:
    """The municipality our signal stage gives an appeal's text against the municipality of
    the body that handled it, for the appeals whose executor belongs to ONE municipality (a
    municipal administration, its committees, a town's management company — not a regional
    committee nor a region-wide utility).

    The executor is real routing, not a gold label of the place: a district administration
    also gets appeals about its villages (the same municipality, so that agrees), but the city
    administration of Kursk also gets appeals with no place at all, and sometimes a body
    handles another municipality's appeal. Read `accuracy` as an estimate, and the misses by
    hand (`--place-errors`).
    """

    local: int = 0  # appeals whose executor belongs to one municipality
    placed: int = 0  # … and whose text we placed in a municipality
    agree: int = 0  # … in the executor's municipality
    outside_centre: int = 0  # local appeals of a municipality other than the regional centre
    outside_centre_agree: int = 0  # … that we placed in that municipality
    unresolved_mentions: int = 0  # local appeals left unplaced whose text names a place (`_PLACE_MENTION`)
    misses: list[tuple[RoutedAppeal, str]] = field(default_factory=list)  # (appeal, executor's municipality)
    unresolved: list[tuple[RoutedAppeal, str, str]] = field(
        default_factory=list
    )  # (appeal, municipality, mention)

    @property
    def accuracy(self) -> float:
        return self.agree / self.placed if self.placed else 0.0

    @property
    def coverage(self) -> float:
        return self.placed / self.local if self.local else 0.0

    @property
    def outside_centre_recall(self) -> float:
        return self.outside_centre_agree / self.outside_centre if self.outside_centre else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "local_executor_appeals": self.local,
            "placed": self.placed,
            "agree": self.agree,
            "accuracy": round(self.accuracy, 4),
            "coverage": round(self.coverage, 4),
            "outside_regional_centre": self.outside_centre,
            "outside_regional_centre_placed_right": self.outside_centre_agree,
            "outside_regional_centre_recall": round(self.outside_centre_recall, 4),
            "unplaced_naming_a_place": self.unresolved_mentions,
        }


def place_mention(text: str) -> str | None:
    """The first settlement or district the text names by a type word (see `_PLACE_MENTION`)."""
    m = _PLACE_MENTION.search(text)
    return m.group(0) if m else None


def executor_municipalities(cfg: RegionConfig) -> dict[str, str]:
    """Executor name → its municipality, for the bodies that belong to exactly one."""
    return {
        b.name: b.territories[0]
        for b in cfg.bodies.bodies
        if b.level in ("municipal", "utility") and len(b.territories) == 1
    }


def place_stats(cfg: RegionConfig, results: Iterable[RoutedAppeal]) -> PlaceStats:
    """Our municipality against the executor's (`PlaceStats`)."""
    of_executor = executor_municipalities(cfg)
    centre = cfg.routing.unplaced_municipality
    st = PlaceStats()
    for r in results:
        gold = of_executor.get(r.appeal.executor)
        if gold is None:
            continue
        st.local += 1
        if gold != centre:
            st.outside_centre += 1
            st.outside_centre_agree += int(r.municipality == gold)
        if r.municipality is None:
            mention = place_mention(r.appeal.text)
            if mention:
                st.unresolved_mentions += 1
                st.unresolved.append((r, gold, mention))
            continue
        st.placed += 1
        if r.municipality == gold:
            st.agree += 1
        else:
            st.misses.append((r, gold))
    return st


@dataclass(slots=True)
class RoutingReport:
    file: str
    appeals: int
    routed_correctly: int
    organisation_correct: int
    category_n: int
    category_correct: int
    triage: int
    unknown_executors: Counter[str]
    by_body: dict[str, BodyStats]
    by_category: dict[str, CategoryStats]
    results: list[RoutedAppeal]
    places: PlaceStats = field(default_factory=PlaceStats)

    @property
    def routing_accuracy(self) -> float:
        return self.routed_correctly / self.appeals if self.appeals else 0.0

    @property
    def organisation_accuracy(self) -> float:
        return self.organisation_correct / self.appeals if self.appeals else 0.0

    @property
    def category_accuracy(self) -> float:
        return self.category_correct / self.category_n if self.category_n else 0.0

    def as_dict(self, *, top: int = 3) -> dict[str, Any]:
        return {
            "file": self.file,
            "appeals": self.appeals,
            "routing_accuracy": round(self.routing_accuracy, 4),
            "routed_correctly": self.routed_correctly,
            "organisation_accuracy": round(self.organisation_accuracy, 4),
            "category_accuracy": round(self.category_accuracy, 4),
            "category_n": self.category_n,
            "triage": self.triage,
            "municipality_vs_executor": self.places.as_dict(),
            "unknown_executors": dict(self.unknown_executors),
            "by_body": {
                name: {
                    "n": s.n,
                    "correct": s.correct,
                    "accuracy": round(s.accuracy, 4),
                    "confusions": dict(s.confusions.most_common(top)),
                }
                for name, s in sorted(self.by_body.items(), key=lambda kv: -kv[1].n)
            },
            "by_category": {
                code: {
                    "name": s.name,
                    "n": s.n,
                    "routing_accuracy": round(s.routing_accuracy, 4),
                    "category_accuracy": round(s.category_accuracy, 4),
                    "predicted": dict(s.predicted.most_common(top)),
                }
                for code, s in sorted(self.by_category.items(), key=lambda kv: -kv[1].n)
            },
        }


def load_appeals(path: Path) -> list[Appeal]:
    """Read the appeals CSV (UTF-8, with or without BOM); rows without text or executor are skipped."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise AppealsError(f"{path}: missing column(s) {', '.join(missing)}")
            return [
                Appeal(
                    id=row["id"],
                    text=row["text"],
                    executor=row["executor"].strip(),
                    topic=row.get("topic") or "",
                    category_code=(row.get("category_code") or "").strip(),
                )
                for row in reader
                if (row.get("text") or "").strip() and (row.get("executor") or "").strip()
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AppealsError(f"{path}: cannot read: {exc}") from exc


class AppealRouter:
    """Text → signal → scale → body: the production stages, one appeal at a time."""

    def __init__(self, cfg: RegionConfig, *, builder: SignalBuilder | None = None) -> None:
        from incidents.services.training import signal_builder

        self.cfg = cfg
        self.builder = builder or signal_builder(cfg, use_ner=False)
        self.router = Router(cfg)
        self._code_by_name = {b.name: b.code for b in cfg.bodies.bodies}
        self._epoch = datetime(2022, 1, 1, tzinfo=UTC)

    def __call__(self, appeal: Appeal) -> RoutedAppeal:
        post = PostRecord(
            network="pos",
            external_id=appeal.id,
            source_id="evaluate-routing",
            text=appeal.text,
            created_at=self._epoch,
            address=appeal.address,
            lat=appeal.lat,
            lon=appeal.lon,
        )
        sig = self.builder(post)
        scale = scale_of_signal(sig, appeal.text)
        d = self.router.route_signal(sig, scale)
        body = self.cfg.body_by_code[d.body]
        gold = self._code_by_name.get(appeal.executor)
        org = self.cfg.bodies.organisation_of
        same_org = gold is not None and org(gold) == org(d.body)
        return RoutedAppeal(
            appeal=appeal,
            category=sig.category,
            subcategory=sig.subcategory,
            fact=sig.fact,
            municipality=sig.municipality,
            address=sig.address,
            scale=scale,
            body=d.body,
            body_name=body.name,
            rule=d.rule,
            same_organisation=same_org,
        )

    def route_all(self, appeals: Iterable[Appeal]) -> Iterator[RoutedAppeal]:
        for a in appeals:
            yield self(a)


def summarize(cfg: RegionConfig, results: Iterable[RoutedAppeal], *, file: str = "") -> RoutingReport:
    known = {b.name for b in cfg.bodies.bodies}
    results = list(results)
    by_body: dict[str, BodyStats] = defaultdict(BodyStats)
    by_cat: dict[str, CategoryStats] = {}
    unknown: Counter[str] = Counter()
    ok = org_ok = cat_n = cat_ok = triage = 0
    triage_body = cfg.bodies.triage_body
    for r in results:
        a = r.appeal
        if a.executor not in known:
            unknown[a.executor] += 1
        stats = by_body[a.executor]
        stats.n += 1
        if r.correct:
            ok += 1
            stats.correct += 1
        else:
            stats.confusions[r.body_name] += 1
        org_ok += int(r.same_organisation)
        if r.body == triage_body:
            triage += 1
        pc = POS_CATEGORIES.get(a.category_code)
        if pc is not None and pc.codes:
            cs = by_cat.setdefault(a.category_code, CategoryStats(pc.name))
            cs.n += 1
            cs.routed += int(r.correct)
            cs.predicted[r.category or "—"] += 1
            cat_n += 1
            if r.category in pc.codes:
                cat_ok += 1
                cs.categorized += 1
    return RoutingReport(
        file=file,
        appeals=len(results),
        routed_correctly=ok,
        organisation_correct=org_ok,
        category_n=cat_n,
        category_correct=cat_ok,
        triage=triage,
        unknown_executors=unknown,
        by_body=dict(by_body),
        by_category=by_cat,
        results=results,
        places=place_stats(cfg, results),
    )


# --------------------------------------------------------------------------- learned table, cross-validated
@dataclass(frozen=True, slots=True)
class CvReport:
    """A routing table learned from the file itself, scored on folds it did not see.

    Key (category, subcategory, municipality-or-none) → the executor that handled most of its
    training appeals, backing off to (category, municipality-or-none) and then to the
    configured rules when a key has fewer than `min_support` training appeals. It answers
    "how far could rules derived from this file go", honestly: `accuracy` is out of fold,
    `in_sample` is the same table scored on the appeals it was learned from.
    """

    folds: int
    min_support: int
    accuracy: float
    in_sample: float
    fold_accuracies: tuple[float, ...]


def _learn(train: list[RoutedAppeal], min_support: int) -> dict[tuple, str]:
    counts: dict[tuple, Counter[str]] = defaultdict(Counter)
    for r in train:
        counts[("k1", r.category, r.subcategory, r.municipality)][r.appeal.executor] += 1
        counts[("k2", r.category, r.municipality)][r.appeal.executor] += 1
    return {k: c.most_common(1)[0][0] for k, c in counts.items() if sum(c.values()) >= min_support}


def _predict(table: dict[tuple, str], r: RoutedAppeal) -> str:
    for key in (("k1", r.category, r.subcategory, r.municipality), ("k2", r.category, r.municipality)):
        if key in table:
            return table[key]
    return r.body_name


def cross_validate_table(results: list[RoutedAppeal], *, folds: int = 5, min_support: int = 3) -> CvReport:
    """K-fold (folds fixed by a hash of the appeal id, so every run splits alike)."""
    if folds < 2:
        raise ValueError("folds must be at least 2")
    by_fold: dict[int, list[RoutedAppeal]] = defaultdict(list)
    for r in results:
        by_fold[fold_of(r.appeal.id, folds)].append(r)
    right = 0
    per_fold: list[float] = []
    for k in range(folds):
        test = by_fold.get(k, [])
        train = [r for j in range(folds) if j != k for r in by_fold.get(j, [])]
        table = _learn(train, min_support)
        ok = sum(_predict(table, r) == r.appeal.executor for r in test)
        right += ok
        per_fold.append(ok / len(test) if test else 0.0)
    table = _learn(results, min_support)
    in_sample = sum(_predict(table, r) == r.appeal.executor for r in results)
    n = len(results) or 1
    return CvReport(
        folds=folds,
        min_support=min_support,
        accuracy=right / n,
        in_sample=in_sample / n,
        fold_accuracies=tuple(per_fold),
    )


def evaluate_routing(cfg: RegionConfig, path: Path, *, builder: SignalBuilder | None = None) -> RoutingReport:
    appeals = load_appeals(path)
    return summarize(cfg, AppealRouter(cfg, builder=builder).route_all(appeals), file=path.name)


# --------------------------------------------------------------------------- command line
def cmd_evaluate_routing(ctx: Any, args: Any) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
    path = Path(args.csv)
    try:
        report = evaluate_routing(ctx.cfg, path)
    except AppealsError as exc:
        Console(stderr=True).print(f"[red]{exc}[/]")
        return 2
    cv = cross_validate_table(report.results, folds=args.cv) if args.cv else None
    learned = []
    if args.learned_text:
        from lab.routing_learned import cross_validate_text_classifier

        appeals = [r.appeal for r in report.results]
        try:
            learned = [
                cross_validate_text_classifier(appeals, folds=args.learned_text, with_topic=t)
                for t in (False, True)
            ]
        except RuntimeError as exc:
            Console(stderr=True).print(f"[red]{exc}[/]")
            return 2
    if args.json:
        out = report.as_dict()
        if cv is not None:
            out["learned_table_cv"] = {
                "folds": cv.folds,
                "min_support": cv.min_support,
                "accuracy": round(cv.accuracy, 4),
                "in_sample": round(cv.in_sample, 4),
                "fold_accuracies": [round(x, 4) for x in cv.fold_accuracies],
            }
        if learned:
            out["learned_text_cv"] = [
                {
                    "variant": x.name,
                    "folds": x.folds,
                    "accuracy": round(x.accuracy, 4),
                    "fold_accuracies": [round(f, 4) for f in x.fold_accuracies],
                }
                for x in learned
            ]
        if args.errors:
            out["errors"] = [_error_dict(r) for r in report.results if not r.correct]
        if args.place_errors:
            out["place_misses"] = [
                {**_error_dict(r), "executor_municipality": gold} for r, gold in report.places.misses
            ]
            out["place_unresolved"] = [
                {**_error_dict(r), "executor_municipality": gold, "mention": mention}
                for r, gold, mention in report.places.unresolved
            ]
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    console.print(f"Файл: {report.file}; обращений: {report.appeals}")
    console.print(
        f"Точность маршрутизации: {report.routing_accuracy:.3f} "
        f"({report.routed_correctly}/{report.appeals}); в очередь ЦУР: {report.triage}"
    )
    console.print(
        f"Верная организация (орган или его вышестоящий/соседний в bodies.yaml: parent): "
        f"{report.organisation_accuracy:.3f} ({report.organisation_correct}/{report.appeals})"
    )
    console.print(
        f"Точность категории: {report.category_accuracy:.3f} ({report.category_correct}/{report.category_n})"
    )
    pl = report.places
    console.print(
        f"Муниципалитет по тексту = муниципалитет исполнителя (исполнитель одного муниципалитета: "
        f"{pl.local}; текст размещён: {pl.placed}): {pl.accuracy:.3f} ({pl.agree}/{pl.placed}); "
        f"вне {ctx.cfg.routing.unplaced_municipality}: размещено верно {pl.outside_centre_recall:.3f} "
        f"({pl.outside_centre_agree}/{pl.outside_centre}); не размещено, хотя текст называет место: "
        f"{pl.unresolved_mentions}"
    )
    if cv is not None:
        console.print(
            f"Таблица, выученная по файлу (категория × подкатегория × муниципалитет → исполнитель), "
            f"{cv.folds}-кратная перекрёстная проверка: {cv.accuracy:.3f} "
            f"(на обучающих же данных {cv.in_sample:.3f})"
        )
    for x in learned:
        console.print(
            f"Классификатор текста (TF-IDF слов и n-грамм символов → линейный SVM), "
            f"{x.name}, {x.folds}-кратная перекрёстная проверка: {x.accuracy:.3f}"
        )
    print_by_body(console, report.by_body, report.unknown_executors, noun="обращений")
    t = Table(title="По категориям платформы", title_justify="left")
    for col in ("код", "категория", "n", "маршрут", "категория ок", "наши категории (топ-3)"):
        t.add_column(col, overflow="fold")
    for code, s in sorted(report.by_category.items(), key=lambda kv: -kv[1].n):
        pred = "; ".join(f"{c} ×{n}" for c, n in s.predicted.most_common(3))
        t.add_row(code, s.name, str(s.n), f"{s.routing_accuracy:.2f}", f"{s.category_accuracy:.2f}", pred)
    console.print(t)
    if args.errors:
        for r in report.results:
            if not r.correct:
                e = _error_dict(r)
                console.print(
                    f"#{e['id']} [{e['topic']}] {e['category']}/{e['subcategory']} "
                    f"в {e['municipality']} ({e['scale']}) → {e['predicted']} (правило {e['rule']}); "
                    f"было: {e['executor']}\n    {e['text']}"
                )
    if args.place_errors:
        for r, gold in report.places.misses:
            console.print(
                f"#{r.appeal.id} место: {r.municipality} ({r.address or '—'}); исполнитель: {gold} "
                f"({r.appeal.executor})\n    {' '.join(r.appeal.text.split())[:300]}"
            )
        for r, gold, mention in report.places.unresolved:
            console.print(
                f"#{r.appeal.id} не размещено, в тексте «{mention}»; исполнитель: {gold}\n"
                f"    {' '.join(r.appeal.text.split())[:300]}"
            )
    return 0


def print_by_body(console: Any, by_body: dict[str, BodyStats], unknown: Counter[str], *, noun: str) -> None:
    """The executors missing from bodies.yaml, then accuracy and confusions per executor (both evaluations)."""
    from rich.table import Table

    if unknown:
        console.print(
            f"[yellow]Исполнители, которых нет в bodies.yaml: {sum(unknown.values())} "
            f"{noun}, {len(unknown)} названий[/]"
        )
    t = Table(title="По исполнителям (как в данных)", title_justify="left")
    for col in ("исполнитель", "n", "верно", "точность", "куда ушли ошибки (топ-3)"):
        t.add_column(col, overflow="fold")
    for name, s in sorted(by_body.items(), key=lambda kv: -kv[1].n):
        conf = "; ".join(f"{b} ×{n}" for b, n in s.confusions.most_common(3))
        t.add_row(name, str(s.n), str(s.correct), f"{s.accuracy:.2f}", conf)
    console.print(t)


def _error_dict(r: RoutedAppeal) -> dict[str, Any]:
    return {
        "id": r.appeal.id,
        "topic": r.appeal.topic,
        "executor": r.appeal.executor,
        "predicted": r.body_name,
        "category": r.category,
        "subcategory": r.subcategory,
        "fact": r.fact,
        "municipality": r.municipality,
        "address": r.address,
        "scale": r.scale,
        "rule": r.rule,
        "text": " ".join(r.appeal.text.split())[:300],
    }


def add_commands(sub: Any) -> None:
    """Register `incidents evaluate-routing` on the `incidents` subparsers."""
    s = sub.add_parser(
        "evaluate-routing",
        help="точность маршрутизации и категорий на обращениях ПОС с настоящими исполнителями (CSV)",
    )
    s.add_argument("csv", metavar="CSV", help="CSV с колонками id, text, executor (и topic, category_code)")
    s.add_argument("--errors", action="store_true", help="показать каждое неверно направленное обращение")
    s.add_argument("--json", action="store_true", help="вывести метрики в JSON")
    s.add_argument(
        "--place-errors",
        action="store_true",
        help="показать обращения, где муниципалитет по тексту не совпал с муниципалитетом исполнителя, "
        "и неразмещённые обращения, текст которых называет место",
    )
    s.add_argument(
        "--cv",
        type=int,
        default=0,
        metavar="K",
        help="ещё выучить таблицу маршрутов по самому файлу и оценить её K-кратной перекрёстной проверкой",
    )
    s.add_argument(
        "--learned-text",
        type=int,
        default=0,
        metavar="K",
        help="ещё обучить классификатор текста → исполнитель (scikit-learn, extra ml) и оценить его "
        "K-кратной перекрёстной проверкой: по тексту и по тексту с темой платформы",
    )
    s.set_defaults(func=cmd_evaluate_routing)
