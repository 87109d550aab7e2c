"""`incidents routing desk FILE`: the desk step learned from the region's history file.

Learns, from the history, which desks each organisation has (bodies under its head that took
appeals) and a model of them from the text and our codes, and which desk of the organisation is
taking its complaints now (its latest known handlers), and writes it to the data directory
(`<data dir>/models/desk-<region>.pkl` with its SHA-256; never the repository). `--evaluate`
learns on the earlier part of the file instead and scores the later part in order, the current
desk refreshed `lag` appeals behind (and frozen), beside the rules alone — before anything is
written. The nightly `routing-learn` job moves the current desk with the dispatchers'
reassignments (incidents.services.routing_refresh).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cli.context import EXIT_OK, EXIT_USAGE, Context, console, err
from incidents.domain.desk_routing import MIN_RECENT, WINDOW, desk_model_path
from incidents.services.routing_desk import evaluate_desk_split, learn_desk_router, read_desk_rows
from incidents.services.routing_history import HistoryError


def cmd_desk(ctx: Context, args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        err.print(f"[red]{path}: файл не найден[/]")
        return EXIT_USAGE
    try:
        rows = read_desk_rows(ctx.cfg, path)
        if args.evaluate:
            lags: list[int | None] = [None, *(int(x) for x in args.lags.split(",") if x.strip())]
            out: dict[str, Any] = evaluate_desk_split(
                ctx.cfg, rows, train_share=args.train_share, lags=lags, window=args.window
            )
        else:
            router = learn_desk_router(ctx.cfg, rows, window=args.window)
            out = {"rows": len(rows), **router.meta}
            out["current"] = {h: list(router.current(h)) for h in router.models}
            out["last_known"] = {
                h: [sum(b == h for b in router.recent.get(h, ())), len(router.recent.get(h, ()))]
                for h in router.models
            }
            if not args.dry_run:
                out["model"] = str(router.save(Path(args.model) if args.model else desk_model_path(ctx.cfg)))
    except (HistoryError, ValueError) as exc:
        err.print(f"[red]{exc}[/]")
        return EXIT_USAGE
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return EXIT_OK
    names = {b.code: b.name for b in ctx.cfg.bodies.bodies}
    if args.evaluate:
        console.print(f"Обучение: {out['train']} ранних обращений; проверка: {out['test']} поздних")
        for key, s in out.items():
            if isinstance(s, dict) and "exact" in s:
                label = {"rules": "правила"}.get(
                    key, key.replace("desk frozen", "отделы, состояние на конец обучения")
                )
                label = (
                    label.replace("desk lag", "отделы, состояние отстаёт на")
                    .replace(", corrections only", " (только по переназначениям)")
                    .replace(", current desk alone", " (без модели отделов)")
                )
                console.print(
                    f"  {label}: точный орган {s['exact']:.3f}, верная организация {s['organisation']:.3f}"
                )
        return EXIT_OK
    console.print(f"Прочитано обращений с известным органом: {out['rows']}")
    for head, n in out["organisations"].items():
        taken, known = out["current"][head]
        last_taken, last_known = out["last_known"][head]
        console.print(
            f"  {names.get(head, head)}: отделы взяли {n} обращений; сама организация — {taken} из {known} "
            f"за всю историю (так шаг решает, пока ночное обновление не сообщит {MIN_RECENT} новых), "
            f"{last_taken} из последних {last_known} в файле"
        )
    if not out["organisations"]:
        console.print("[yellow]Ни у одной организации нет отделов с достаточной историей: шаг не нужен[/]")
    console.print(f"Модель: {out.get('model', '(не записана: --dry-run)')}")
    return EXIT_OK


def add_desk_command(rs: Any) -> None:
    """`incidents routing desk` on the `routing` subparsers."""
    s = rs.add_parser("desk", help="обучить шаг «какой отдел организации принимает сейчас» по истории")
    s.add_argument(
        "file", metavar="FILE", help="история обращений: CSV (или .csv.gz), см. docs/routing-history.md"
    )
    s.add_argument(
        "--evaluate", action="store_true", help="обучить на ранних, проверить на поздних; не записывать"
    )
    s.add_argument("--train-share", type=float, default=0.75, help="доля ранних обращений для обучения")
    s.add_argument("--lags", default="0,10,50", help="на сколько обращений отстаёт состояние при проверке")
    s.add_argument(
        "--window", type=int, default=WINDOW, help="сколько последних обращений организации смотреть"
    )
    s.add_argument(
        "--model", metavar="FILE", help="куда записать (по умолчанию <data dir>/models/desk-<регион>.pkl)"
    )
    s.add_argument("--dry-run", action="store_true", help="только отчёт, ничего не записывать")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_desk)
