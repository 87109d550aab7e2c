"""`incidents serve-flows` and `incidents prefect-yaml`: running the jobs around the clock."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def cmd_serve_flows(ctx: Any, args: argparse.Namespace) -> int:
    from flows.deployments import job_specs

    cfg = ctx.cfg
    specs = job_specs(cfg)
    table = Table(title=f"Задания региона {cfg.region.name}")
    for col in ("развёртывание", "расписание", "активно", "теги"):
        table.add_column(col)
    for s in specs:
        table.add_row(s.name, s.cron_or_every, "да" if s.active else "нет (пауза)", ", ".join(s.tags))
    console.print(table)
    if args.list:
        return 0
    ctx.engine  # noqa: B018 - migrate the database once before the first run, not in every flow
    if os.environ.get("PREFECT_API_URL"):
        return _serve(ctx, args, os.environ["PREFECT_API_URL"])
    from flows.server import ServerFailed, local_prefect_server

    home = ctx.settings.data_dir / "prefect"
    console.print(f"PREFECT_API_URL не задан: запускаю локальный сервер Prefect (SQLite в {home})")
    try:
        with local_prefect_server(home, port=args.prefect_port) as url:
            os.environ["PREFECT_API_URL"] = url
            return _serve(ctx, args, url)
    except ServerFailed as exc:
        err.print(f"[red]сервер Prefect не запустился:[/] {exc}", markup=True)
        return 1
    except KeyboardInterrupt:
        return 0


def _serve(ctx: Any, args: argparse.Namespace, url: str) -> int:
    from prefect import serve

    from flows.deployments import runner_deployments

    deployments = runner_deployments(
        ctx.cfg, config_dir=str(ctx.cfg.root), database_url=ctx.settings.database_url
    )
    console.print(f"обслуживаю {len(deployments)} развёртываний через {url}; остановка — Ctrl+C")
    serve(*deployments, limit=args.limit, print_starting_message=False)
    return 0


def cmd_prefect_yaml(ctx: Any, args: argparse.Namespace) -> int:
    from flows.deployments import prefect_yaml

    text = prefect_yaml(ctx.cfg)
    if args.output and args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
        err.print(f"записано: {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def add_commands(sub: Any) -> None:
    s = sub.add_parser(
        "serve-flows", help="обслуживать все задания по расписанию в одном процессе (Prefect serve)"
    )
    s.add_argument("--limit", type=int, default=4, help="сколько запусков одновременно (по умолчанию 4)")
    s.add_argument("--list", action="store_true", help="только показать развёртывания и расписания")
    s.add_argument(
        "--prefect-port", type=int, help="порт локального сервера Prefect (по умолчанию свободный)"
    )
    s.set_defaults(func=cmd_serve_flows)

    s = sub.add_parser(
        "prefect-yaml", help="сгенерировать prefect.yaml (развёртывания для сервера Prefect и воркеров)"
    )
    s.add_argument("-o", "--output", help="файл (по умолчанию стандартный вывод)")
    s.set_defaults(func=cmd_prefect_yaml)
