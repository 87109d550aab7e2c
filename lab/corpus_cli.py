"""`incidents evaluate-corpus`: recall, district accuracy and false positives on real data.

Wired into the main parser by `add_commands(subparsers)` (see `cli/main.py`); imports
nothing heavy at import time. The measurement itself is `lab/corpus.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(stderr=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PROBLEMS = 0, 1, 2, 3
DEFAULT_DATA = "../shared/data"
DEFAULT_SPB_CONFIG = Path(__file__).resolve().parent.parent / "config" / "regions" / "spb"


def cmd_evaluate_corpus(ctx: Any, args: argparse.Namespace) -> int:
    from core.config import load_region
    from incidents.services.training import signal_builder
    from lab.corpus import SPB_FILE, TELEGRAM_FILE, evaluate_news, evaluate_spb, read_csv, sample_rows
    from pipelines.lemmas import Lemmatizer

    data = Path(args.data or os.environ.get("INCIDENTS_DATA_DIR") or DEFAULT_DATA)
    spb_path, tg_path = data / SPB_FILE, data / TELEGRAM_FILE
    wanted = set(args.only or ["spb", "telegram"])
    if not any(
        (name == "spb" and spb_path.is_file()) or (name == "telegram" and tg_path.is_file())
        for name in wanted
    ):
        err.print(f"[red]{data}: нет файлов {SPB_FILE} / {TELEGRAM_FILE}[/] (укажите --data)")
        return EXIT_USAGE
    lem = Lemmatizer()
    out: dict[str, Any] = {"data": str(data)}
    problems = False
    if "spb" in wanted and spb_path.is_file():
        spb_cfg = load_region(args.spb_config or DEFAULT_SPB_CONFIG)
        builder = signal_builder(spb_cfg, use_ner=args.ner, lemmatizer=lem)
        rows = sample_rows(list(read_csv(spb_path)), args.sample, args.seed)
        t0 = time.perf_counter()
        spb = evaluate_spb(rows, builder, spb_cfg, keep_errors=args.errors)
        out["spb"] = {
            **spb.as_dict(),
            "file": SPB_FILE,
            "config": str(spb_cfg.root),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        if args.min_recall is not None and spb.recall_with_address < args.min_recall:
            problems = True
    if "telegram" in wanted and tg_path.is_file():
        cfg = ctx.cfg
        builder = signal_builder(cfg, use_ner=args.ner, lemmatizer=lem)
        rows = list(read_csv(tg_path))
        t0 = time.perf_counter()
        news = evaluate_news(rows, builder, keep_errors=args.errors)
        out["telegram"] = {
            **news.as_dict(),
            "file": TELEGRAM_FILE,
            "config": str(cfg.root),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        if args.max_fp_rate is not None and news.complaint_rate > args.max_fp_rate:
            problems = True
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        _print(out)
        if args.errors:
            if "spb" in out:
                _list("СПб: пропущенные жалобы (текст без адреса)", spb.misses)
                _list("СПб: неверный район (текст с адресом)", spb.wrong_district)
            if "telegram" in out:
                _list("Telegram: новости, принятые за жалобы", news.flagged)
    return EXIT_PROBLEMS if problems else EXIT_OK


def _print(out: dict[str, Any]) -> None:
    if "spb" in out:
        s = out["spb"]
        t = Table(
            title=f"{s['file']}: обращения портала «Наш Санкт-Петербург» ({s['rows']} строк, все — жалобы)",
            title_justify="left",
        )
        t.add_column("метрика")
        t.add_column("значение", justify="right")
        t.add_row("полнота: текст", f"{s['recall_text']:.3f}")
        t.add_row("полнота: текст + адрес", f"{s['recall_with_address']:.3f}")
        t.add_row("сработало правило (текст)", f"{s['candidates_text']:.3f}")
        t.add_row(f"район верный: текст + адрес (n={s['district_n']})", f"{s['district_accuracy']:.3f}")
        t.add_row("район определён: текст + адрес", f"{s['district_found']:.3f}")
        t.add_row(
            f"район верный: текст называет место (n={s['district_text_n']})",
            f"{s['district_text_accuracy']:.3f}",
        )
        console.print(t)
        c = Table(title="полнота по категориям портала (текст)", title_justify="left")
        c.add_column("категория")
        c.add_column("n", justify="right")
        c.add_column("полнота", justify="right")
        for cat, v in s["recall_text_by_category"].items():
            c.add_row(cat, str(v["n"]), f"{v['recall']:.3f}")
        console.print(c)
    if "telegram" in out:
        g = out["telegram"]
        t = Table(
            title=f"{g['file']}: новостные каналы ({g['posts']} постов, почти все — не жалобы)",
            title_justify="left",
        )
        t.add_column("канал")
        t.add_column("n", justify="right")
        t.add_column("доля ложных срабатываний", justify="right")
        for ch, v in g["by_channel"].items():
            t.add_row(ch, str(v["n"]), f"{v['false_positive_rate']:.3f}")
        t.add_row("всего", str(g["posts"]), f"{g['false_positive_rate']:.3f}")
        t.add_row("из них «в регионе»", "", f"{g['in_region_false_positive_rate']:.3f}")
        console.print(t)


def _list(title: str, items: list[str]) -> None:
    console.print(f"[b]{title}[/] ({len(items)})")
    for item in items:
        console.print("  " + item, markup=False)


def add_commands(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "evaluate-corpus", help="полнота и ложные срабатывания на реальных данных (../shared/data)"
    )
    s.add_argument(
        "--data", metavar="DIR", help=f"папка с данными (или INCIDENTS_DATA_DIR; по умолчанию {DEFAULT_DATA})"
    )
    s.add_argument(
        "--only", action="append", choices=["spb", "telegram"], help="только этот набор (можно дважды)"
    )
    s.add_argument(
        "--spb-config", metavar="DIR", help="конфигурация Санкт-Петербурга (по умолчанию config/regions/spb)"
    )
    s.add_argument("--sample", type=int, help="случайная выборка строк СПб (с --seed), по умолчанию все")
    s.add_argument("--seed", type=int, default=13)
    s.add_argument("--ner", action="store_true", help="запускать NER natasha на кандидатах (медленнее)")
    s.add_argument("--errors", type=int, default=0, metavar="N", help="показать до N ошибок каждого вида")
    s.add_argument("--json", action="store_true", help="вывести метрики в JSON")
    s.add_argument("--min-recall", type=float, help="код выхода 3, если полнота СПб (текст + адрес) ниже")
    s.add_argument("--max-fp-rate", type=float, help="код выхода 3, если доля ложных срабатываний выше")
    s.set_defaults(func=cmd_evaluate_corpus)
