"""`incidents doctor`: check the real credentials against the live services, one harmless read
per configured source and reply channel (incidents.services.doctor), before going live."""

from __future__ import annotations

import argparse
from typing import Any

from cli.context import EXIT_OK, Context, console

EXIT_BROKEN = 1
MARKS = {"ok": "[green]✓[/]", "missing": "[yellow]–[/]", "off": "[dim]·[/]", "broken": "[red]✗[/]"}


def cmd_doctor(ctx: Context, args: argparse.Namespace) -> int:
    from incidents.services.doctor import LABELS, run_doctor

    report = run_doctor(ctx.cfg)
    for c in report.checks:
        if c.status == "off" and not args.all:
            continue
        console.print(
            f"{MARKS[c.status]} {c.name}: {LABELS[c.status]}" + (f" — {c.detail}" if c.detail else ""),
            markup=True,
            highlight=False,
        )
        if c.fix and c.status in ("broken", "missing"):
            console.print(f"    что сделать: {c.fix}", highlight=False)
    counts = {s: sum(1 for c in report.checks if c.status == s) for s in ("ok", "missing", "off", "broken")}
    console.print(
        f"итого: работает {counts['ok']}, не настроено {counts['missing']}, выключено {counts['off']}, "
        f"не работает {counts['broken']}",
        highlight=False,
    )
    return EXIT_BROKEN if report.broken else EXIT_OK


def add_commands(sub: Any) -> None:
    s = sub.add_parser(
        "doctor",
        help="проверить ключи на живых сервисах: по одному безвредному запросу на источник и канал ответа",
    )
    s.add_argument("--all", action="store_true", help="показать и выключенные источники без ключей")
    s.set_defaults(func=cmd_doctor)
