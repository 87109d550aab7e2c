"""`incidents routing learn FILE` and `incidents routing evaluate FILE --split time`.

`learn` writes the region's learned routing table (learned_routing.yaml in the region folder)
from its history file, with a report of what it learned and how sure; `evaluate` trains on the
earlier months of the file and scores the later ones, the rules alone beside the rules with
the table, so that a region sees what the table would change before it writes one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from incidents.cli.context import EXIT_OK, EXIT_USAGE, Context, console, err
from incidents.domain.learned_routing import (
    LEVELS,
    MIN_SHARE,
    MIN_SUPPORT,
    LearnedTable,
    load_learned,
    save_learned,
)
from incidents.services.routing_history import (
    CaseReader,
    HistoryError,
    evaluate_time_split,
    examples_of,
    learn_report,
    load_history,
)


def _sampler(sample: int | None) -> Any:
    """Keep about one row in N by a hash of its id (every run keeps the same rows), or all."""
    if not sample:
        return None

    def keep(i: int, row: dict[str, str]) -> bool:
        ident = str(row.get("id") or i).encode("utf-8")
        return int(hashlib.sha1(ident).hexdigest(), 16) % sample == 0

    return keep


def _load(ctx: Context, args: argparse.Namespace) -> Any:
    path = Path(args.file)
    if not path.is_file():
        err.print(f"[red]{path}: файл не найден[/]")
        return None
    reader = CaseReader(ctx.cfg, text_only=args.text_only)
    return load_history(ctx.cfg, path, reader=reader, keep=_sampler(args.every))


def cmd_learn(ctx: Context, args: argparse.Namespace) -> int:
    try:
        loaded = _load(ctx, args)
    except HistoryError as exc:
        err.print(f"[red]{exc}[/]")
        return EXIT_USAGE
    if loaded is None:
        return EXIT_USAGE
    meta = {"file": Path(args.file).name, "rows": len(loaded.rows)}
    table = LearnedTable.learn(
        examples_of(loaded.rows), min_support=args.min_support, min_share=args.min_share, meta=meta
    )
    report = learn_report(table, loaded)
    old = load_learned(ctx.cfg.root)
    if old is not None:
        report["diff"] = {k: len(v) for k, v in old.diff(table).items()}
    root = Path(args.output) if args.output else ctx.cfg.root
    if not args.dry_run:
        report["written"] = str(save_learned(root, table))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return EXIT_OK
    console.print(
        f"Прочитано обращений: {report['rows_read']}, с известным органом: {report['rows_used']}; "
        f"записей таблицы: {report['entries']} (не меньше {args.min_support} обращений, доля ≥ {args.min_share})"
    )
    t = Table(title="Чему научилась таблица (по уровням, от самого точного)", title_justify="left")
    for col in ("уровень", "записей", "обращений", "доля ушедших в свой орган"):
        t.add_column(col)
    for level, _f in LEVELS:
        s = report["by_level"].get(level)
        if s:
            t.add_row(level, str(s["entries"]), str(s["appeals"]), f"{s['share']:.3f}")
    console.print(t)
    if loaded.unknown_bodies:
        top = "; ".join(f"{k} ×{v}" for k, v in loaded.unknown_bodies.most_common(5))
        console.print(f"[yellow]Органы, которых нет в bodies.yaml (пропущены):[/] {top}")
    if "diff" in report:
        console.print(f"Изменения против прежней таблицы: {report['diff']}")
    console.print(f"Таблица: {report.get('written', '(не записана: --dry-run)')}")
    return EXIT_OK


def cmd_evaluate(ctx: Context, args: argparse.Namespace) -> int:
    try:
        loaded = _load(ctx, args)
    except HistoryError as exc:
        err.print(f"[red]{exc}[/]")
        return EXIT_USAGE
    if loaded is None:
        return EXIT_USAGE
    out = evaluate_time_split(
        ctx.cfg,
        loaded.rows,
        train_share=args.train_share,
        min_support=args.min_support,
        min_share=args.min_share,
    )
    out["file"] = Path(args.file).name
    out["split"] = args.split
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return EXIT_OK
    console.print(
        f"Файл {out['file']}: обучение на {out['train']['n']} ранних ({out['train']['period'] or 'по порядку файла'}), "
        f"проверка на {out['test']['n']} поздних ({out['test']['period'] or 'по порядку файла'}); "
        f"записей таблицы: {out['entries']}"
    )
    t = Table(title="Маршрутизация на поздних обращениях", title_justify="left")
    for col in ("", "n", "точный орган", "верная организация", "решила таблица"):
        t.add_column(col)
    for key in ("rules", "learned"):
        s = out[key]
        t.add_row(
            s["name"],
            str(s["n"]),
            f"{s['exact']:.3f}",
            f"{s['organisation']:.3f}",
            f"{s['learned_share']:.3f}",
        )
    console.print(t)
    return EXIT_OK


def add_commands(sub: Any) -> None:
    p = sub.add_parser("routing", help="маршрутизация, обученная на истории обращений региона")
    rs = p.add_subparsers(dest="routing_command", required=True, metavar="COMMAND")
    for name, func, help_ in (
        ("learn", cmd_learn, "обучить таблицу маршрутизации (learned_routing.yaml в папке региона)"),
        ("evaluate", cmd_evaluate, "обучить на ранних месяцах истории и проверить на поздних"),
    ):
        s = rs.add_parser(name, help=help_)
        s.add_argument(
            "file", metavar="FILE", help="история обращений: CSV (или .csv.gz), см. docs/routing-history.md"
        )
        s.add_argument("--min-support", type=int, default=MIN_SUPPORT, help="сколько обращений нужно ключу")
        s.add_argument(
            "--min-share", type=float, default=MIN_SHARE, help="какая доля должна уйти в один орган"
        )
        s.add_argument(
            "--text-only",
            action="store_true",
            help="место и категорию брать только из текста и адреса (не из колонок файла)",
        )
        s.add_argument(
            "--every", type=int, metavar="N", help="взять около каждого N-го обращения (по хэшу id)"
        )
        s.add_argument("--json", action="store_true")
        s.set_defaults(func=func)
        if name == "learn":
            s.add_argument(
                "-o", "--output", metavar="DIR", help="папка для таблицы (по умолчанию папка региона)"
            )
            s.add_argument("--dry-run", action="store_true", help="только отчёт, таблицу не записывать")
        else:
            s.add_argument("--split", choices=["time"], default="time", help="разбиение: ранние → поздние")
            s.add_argument(
                "--train-share", type=float, default=0.75, help="доля ранних обращений для обучения"
            )
