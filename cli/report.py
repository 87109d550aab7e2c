"""`incidents report`: the daily report for one region-local day."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from cli.context import Context, console, now


def cmd_report(ctx: Context, args: argparse.Namespace) -> int:
    from incidents.services.daily_report import run_report, yesterday

    ts = now()
    day = date.fromisoformat(args.day) if args.day else yesterday(ctx.cfg.region.timezone, ts)
    folder = Path(args.output) if args.output else ctx.settings.data_dir / "reports"
    rep, files = run_report(ctx.engine, ctx.cfg, day, folder, ts)
    console.print(f"отчёт за {day.isoformat()}: " + ", ".join(f"{k} {v}" for k, v in rep.summary.items()))
    for f in files:
        console.print(f"  {f}")
    return 0


def add_commands(sub: Any) -> None:
    s = sub.add_parser(
        "report", help="ежедневный отчёт: поступления, SLA, рейтинги органов и муниципалитетов"
    )
    s.add_argument("--day", help="день по времени региона, ГГГГ-ММ-ДД (по умолчанию вчера)")
    s.add_argument("--output", help="папка для CSV (по умолчанию $INCIDENTS_DATA_DIR/reports)")
    s.set_defaults(func=cmd_report)
