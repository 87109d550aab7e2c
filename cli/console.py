"""`incidents serve`: the web console on the configured database and region.

Registered in `cli.main.COMMAND_MODULES`; FastAPI and uvicorn are imported only when the
command runs, so `incidents --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def cmd_serve(ctx: Any, args: argparse.Namespace) -> int:
    import uvicorn
    from rich.console import Console
    from sqlmodel import Session, select

    from console.app import create_app, prepare_server_process
    from console.geo import prepare
    from console.settings import console_settings
    from storage.models import User

    out = Console(highlight=False)
    try:
        prepare(ctx.cfg)
    except (OSError, ValueError) as exc:
        Console(stderr=True).print(f"[red]Ошибка конфигурации:[/] {exc}")
        return 2
    settings = console_settings(ctx.settings.data_dir)
    engine = ctx.engine
    with Session(engine) as session:
        can_log_in = session.exec(select(User).where(User.password_hash != None, User.active == True)).all()  # noqa: E711, E712
    if not can_log_in:
        out.print(
            "[yellow]ни у одного пользователя нет пароля: добавьте, например,\n"
            "  incidents user add admin --role admin --password[/]"
        )
    out.print(f"консоль: http://{args.host}:{args.port}/login  (база: {ctx.settings.database_url})")
    if args.workers > 1:  # processes, one per core: a Python process serves pages on one core only
        # the worker processes start afresh: the environment is how they learn this command's options
        os.environ["INCIDENTS_CONFIG"] = str(ctx.settings.config_dir)
        os.environ["DATABASE_URL"] = ctx.settings.database_url
        uvicorn.run(
            "cli.console:app_from_environment",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level="warning",
            proxy_headers=args.proxy_headers,
        )
        return 0
    app = create_app(engine, ctx.cfg, settings)
    prepare_server_process(ctx.cfg)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", proxy_headers=args.proxy_headers)
    return 0


def app_from_environment() -> Any:
    """The console of one worker process of `incidents serve --workers N`: the database, the region and the
    secret from the environment the command set (DATABASE_URL, INCIDENTS_CONFIG, CONSOLE_SECRET_KEY or the
    key file it created). Sessions live in the database, so a log-in is valid in every worker."""
    from console.app import create_app, prepare_server_process
    from console.settings import console_settings
    from core.config import load_region
    from core.settings import get_settings
    from storage.db import open_database

    env = get_settings()
    cfg = load_region(env.config_dir)
    app = create_app(open_database(env.database_url), cfg, console_settings(env.data_dir))
    prepare_server_process(cfg)
    return app


def add_commands(sub: Any) -> None:
    s = sub.add_parser("serve", help="веб-консоль: очередь разбора, карточки, ответы, сроки, карта, рейтинги")
    s.add_argument("--host", default="127.0.0.1", help="адрес (по умолчанию 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="порт (по умолчанию 8000)")
    s.add_argument(
        "--proxy-headers", action="store_true", help="доверять X-Forwarded-* (за обратным прокси с TLS)"
    )
    s.add_argument("--workers", type=int, default=1, help="процессов (по одному на ядро; по умолчанию 1)")
    s.set_defaults(func=cmd_serve)
