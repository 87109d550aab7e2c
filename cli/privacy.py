"""`incidents purge`: empty raw payloads and old quarantine after their retention."""

from __future__ import annotations

import argparse
from typing import Any

from cli.context import EXIT_OK, Context, console, now


def cmd_purge(ctx: Context, args: argparse.Namespace) -> int:
    from incidents.services.purge import purge

    stats = purge(ctx.engine, ctx.cfg, now, dry_run=args.dry_run)
    policy = ctx.cfg.region.privacy
    verb = "было бы" if args.dry_run else ""
    console.print(
        f"исходные данные постов старше {policy.raw_retention_days} дн.: {verb} очищено {stats.raw_emptied}; "
        f"разобранный карантин старше {policy.quarantine_retention_days} дн.: {verb} удалено "
        f"{stats.quarantine_deleted}"
    )
    return EXIT_OK


def add_commands(sub: Any) -> None:
    s = sub.add_parser(
        "purge", help="удалить исходные данные постов и разобранный карантин старше срока хранения"
    )
    s.add_argument("--dry-run", action="store_true", help="только посчитать")
    s.set_defaults(func=cmd_purge)
