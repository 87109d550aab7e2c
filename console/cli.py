"""`incidents serve`: the web console on the configured database and region.

Registered in `incidents.cli.COMMAND_MODULES`; FastAPI and uvicorn are imported only when the
command runs, so `incidents --help` stays fast.
"""

from __future__ import annotations

import argparse
from typing import Any


def cmd_serve(ctx: Any, args: argparse.Namespace) -> int:
    import uvicorn
    from rich.console import Console
    from sqlmodel import Session, select

    from console.app import create_app
    from console.geo import load_boundaries
    from console.settings import console_settings
    from incidents.models import User

    out = Console(highlight=False)
    try:
        load_boundaries(ctx.cfg)
    except ValueError as exc:
        Console(stderr=True).print(f"[red]Ошибка конфигурации:[/] {exc}")
        return 2
    settings = console_settings(ctx.settings.data_dir)
    engine = ctx.engine
    with Session(engine) as session:
        can_log_in = session.exec(select(User).where(User.password_hash != None, User.active == True)).all()  # noqa: E711, E712
    if not can_log_in:
        out.print("[yellow]ни у одного пользователя нет пароля: добавьте, например,\n"
                  "  incidents user add admin --role admin --password[/]")
    app = create_app(engine, ctx.cfg, settings)
    out.print(f"консоль: http://{args.host}:{args.port}/login  (база: {ctx.settings.database_url})")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", proxy_headers=args.proxy_headers)
    return 0


def add_commands(sub: Any) -> None:
    s = sub.add_parser("serve", help="веб-консоль: очередь разбора, карточки, ответы, сроки, карта, рейтинги")
    s.add_argument("--host", default="127.0.0.1", help="адрес (по умолчанию 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="порт (по умолчанию 8000)")
    s.add_argument("--proxy-headers", action="store_true", help="доверять X-Forwarded-* (за обратным прокси с TLS)")
    s.set_defaults(func=cmd_serve)
