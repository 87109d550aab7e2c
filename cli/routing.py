"""`incidents routing learn FILE` and `incidents routing evaluate FILE --split time`.

`learn` writes the region's learned routing table (learned_routing.yaml in the region folder)
and its text model (`<data dir>/models/routing-<region>.pkl` with its SHA-256, and the
reviewable learned_text_routing.yaml beside the table) from its history file, with a report of
what it learned and how sure; `evaluate` trains on the earlier months of the file and scores the
later ones — the rules alone, the rules with the table, the text model with its coverage — so
that a region sees what learning would change before it writes anything.

The table needs our codes for every row, read by the signal stage (~0.1 s a row); the text
model needs none (the whole St Petersburg file in about two minutes). `--no-table` learns and
scores the text model alone; `--no-text` the table alone, as before.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from cli.context import EXIT_OK, EXIT_USAGE, Context, console, err
from cli.routing_desk import add_desk_command
from incidents.domain.learned_routing import (
    LEVELS,
    MIN_SHARE,
    MIN_SUPPORT,
    LearnedTable,
    load_learned,
    save_learned,
)
from incidents.domain.text_routing import model_path
from incidents.services.routing_history import (
    CaseReader,
    HistoryError,
    evaluate_time_split,
    examples_of,
    learn_report,
    load_history,
    time_split,
)
from incidents.services.routing_text import MIN_PRECISION, TEXT_SUMMARY_FILE, read_text_rows, text_summary


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


def _learn_text(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """Fit the text model on the whole file; write it (data dir) and its summary (region folder)."""
    from incidents.services.routing_text import learn_text_router

    rows, _unknown = read_text_rows(ctx.cfg, Path(args.file))
    router = learn_text_router(
        ctx.cfg,
        rows,
        min_precision=args.min_precision,
        meta={"file": Path(args.file).name},
        points=False if args.no_points else None,
        reasons=not args.no_reasons,
    )
    out: dict[str, Any] = {
        "rows": len(rows),
        "threshold": round(router.threshold, 4),
        "temperature": router.temperature,
        "points": router.point_history is not None,
        "reason_weight": router.meta.get("reason_weight", 0.0),
        "validation": router.meta.get("validation"),
    }
    if not args.dry_run:
        path = router.save(Path(args.model) if args.model else model_path(ctx.cfg))
        root = Path(args.output) if args.output else ctx.cfg.root
        root.mkdir(parents=True, exist_ok=True)  # `-o DIR` may name a folder not made yet
        summary = root / TEXT_SUMMARY_FILE
        summary.write_text(text_summary(ctx.cfg, router, rows, path), encoding="utf-8")
        out.update(model=str(path), summary=str(summary))
    return out


def cmd_learn(ctx: Context, args: argparse.Namespace) -> int:
    try:
        text = None if args.no_text else _learn_text(ctx, args)
        loaded = None if args.no_table else _load(ctx, args)
    except (HistoryError, ValueError) as exc:  # ValueError: nothing to learn (one body, no rows)
        err.print(f"[red]{exc}[/]")
        return EXIT_USAGE
    if loaded is None and args.no_table and text is not None:
        if args.json:
            print(json.dumps({"text_model": text}, ensure_ascii=False, indent=2))
        else:
            _print_text(text)
        return EXIT_OK
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
        root.mkdir(parents=True, exist_ok=True)  # `-o DIR` may name a folder not made yet
        report["written"] = str(save_learned(root, table))
    if text is not None:
        report["text_model"] = text
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
    if text is not None:
        _print_text(text)
    return EXIT_OK


def _print_text(text: dict[str, Any]) -> None:
    v = text.get("validation") or {}
    console.print(
        f"Модель по тексту: обращений {text['rows']}; порог уверенности {text['threshold']} "
        f"(выбран на проверочном срезе конца периода обучения, n = {v.get('n')}): там точный орган "
        f"{v.get('exact')}, решает сама {v.get('coverage')} обращений, из них верно {v.get('covered_exact')}"
        + ("; учтены точки обращений (район, округ, прежние обращения рядом)" if text.get("points") else "")
    )
    console.print(
        f"Модель: {text.get('model', '(не записана: --dry-run)')}; обзор: {text.get('summary', '—')}"
    )


def _evaluate_text(ctx: Context, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train the text model on the earlier rows of the whole file, score it on the later ones."""
    import time

    from incidents.services.routing_text import (
        learn_text_router,
        period,
        place_accuracy,
        point_place_accuracy,
        score_text_router,
    )

    rows, _unknown = read_text_rows(ctx.cfg, Path(args.file))
    train, test = time_split(rows, args.train_share)
    t0 = time.monotonic()
    router = learn_text_router(
        ctx.cfg,
        train,
        min_precision=args.min_precision,
        points=False if args.no_points else None,
        reasons=not args.no_reasons,
    )
    seconds = round(time.monotonic() - t0, 1)
    s = score_text_router(ctx.cfg, router, test)
    decisions = {r.id: d for r, d in zip(test, s.pop("_decisions"), strict=True)}
    out = {
        "train": {"n": len(train), "period": period(train)},
        "test": {"n": len(test), "period": period(test)},
        "threshold": round(router.threshold, 4),
        "validation": router.meta.get("validation"),
        "learn_seconds": seconds,
        "points": router.point_history is not None,
        "reason_weight": router.meta.get("reason_weight", 0.0),
        "place_from_address": place_accuracy(router, test),
        "place_from_point": point_place_accuracy(router, test),
        **s,
    }
    return out, decisions


def cmd_evaluate(ctx: Context, args: argparse.Namespace) -> int:
    from incidents.domain.routing import Router
    from incidents.services.routing_text import score_with_fallback

    out: dict[str, Any] = {"file": Path(args.file).name, "split": args.split}
    try:
        decisions: dict[str, Any] = {}
        if not args.no_text:
            out["text_model"], decisions = _evaluate_text(ctx, args)
        loaded = None if args.no_table else _load(ctx, args)
    except (HistoryError, ValueError) as exc:  # ValueError: nothing to learn (one body, no rows)
        err.print(f"[red]{exc}[/]")
        return EXIT_USAGE
    if loaded is not None:
        out.update(
            evaluate_time_split(
                ctx.cfg,
                loaded.rows,
                train_share=args.train_share,
                min_support=args.min_support,
                min_share=args.min_share,
            )
        )
        if decisions:
            train, test = time_split(loaded.rows, args.train_share)
            table = LearnedTable.learn(
                examples_of(train), min_support=args.min_support, min_share=args.min_share
            )
            out["text_rules"] = score_with_fallback(
                ctx.cfg, Router(ctx.cfg, learned=False), test, decisions, "модель по тексту + правила"
            )
            out["text_table_rules"] = score_with_fallback(
                ctx.cfg,
                Router(ctx.cfg, learned=table),
                test,
                decisions,
                "модель по тексту + таблица + правила",
            )
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return EXIT_OK
    _print_evaluation(out)
    return EXIT_OK


def _print_evaluation(out: dict[str, Any]) -> None:
    tm = out.get("text_model")
    if tm is not None:
        console.print(
            f"Модель по тексту: обучение на {tm['train']['n']} ранних ({tm['train']['period'] or 'по порядку файла'}), "
            f"проверка на {tm['test']['n']} поздних ({tm['test']['period'] or 'по порядку файла'}), "
            f"обучение {tm['learn_seconds']} с; порог {tm['threshold']} (проверочный срез: {tm['validation']})"
        )
        console.print(
            f"  точный орган {tm['exact']:.3f}, верная организация {tm['organisation']:.3f} (модель решает всё); "
            f"уверена в {tm['coverage']:.3f} обращений, там точный орган {tm['covered_exact']}, "
            f"организация {tm['covered_organisation']}; район по адресу: {tm['place_from_address']}"
            + (f"; район по точке: {tm['place_from_point']}" if tm.get("place_from_point") else "")
        )
    if "rules" not in out:
        return
    console.print(
        f"Таблица и правила: обучение на {out['train']['n']} ранних ({out['train']['period'] or 'по порядку файла'}), "
        f"проверка на {out['test']['n']} поздних ({out['test']['period'] or 'по порядку файла'}); "
        f"записей таблицы: {out['entries']}"
    )
    t = Table(title="Маршрутизация на поздних обращениях", title_justify="left")
    for col in ("", "n", "точный орган", "верная организация", "решило обученное"):
        t.add_column(col)
    for key in ("rules", "learned", "text_rules", "text_table_rules"):
        s = out.get(key)
        if s is None:
            continue
        t.add_row(
            s["name"],
            str(s["n"]),
            f"{s['exact']:.3f}",
            f"{s['organisation']:.3f}",
            f"{s['learned_share']:.3f}",
        )
    console.print(t)


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
        s.add_argument(
            "--no-table", action="store_true", help="без таблицы (и без медленного сигнального этапа)"
        )
        s.add_argument("--no-text", action="store_true", help="без модели по тексту")
        s.add_argument(
            "--no-points",
            action="store_true",
            help="модель по тексту без точек обращений (только текст и строка адреса)",
        )
        s.add_argument(
            "--no-reasons",
            action="store_true",
            help="не учить причину обращения портала (колонка reason) второй целью модели по тексту",
        )
        s.add_argument(
            "--min-precision",
            type=float,
            default=MIN_PRECISION,
            help="точность, которой модель по тексту должна достигать на проверочном срезе там, где решает сама",
        )
        s.set_defaults(func=func)
        if name == "learn":
            s.add_argument(
                "-o", "--output", metavar="DIR", help="папка для таблицы (по умолчанию папка региона)"
            )
            s.add_argument("--dry-run", action="store_true", help="только отчёт, ничего не записывать")
            s.add_argument(
                "--model",
                metavar="FILE",
                help="куда записать модель (по умолчанию <data dir>/models/routing-<регион>.pkl)",
            )
        else:
            s.add_argument("--split", choices=["time"], default="time", help="разбиение: ранние → поздние")
            s.add_argument(
                "--train-share", type=float, default=0.75, help="доля ранних обращений для обучения"
            )
    add_desk_command(rs)
