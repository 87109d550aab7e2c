"""The `incidents` command.

Exit codes: 0 success; 1 the work failed (a database error, a crawl that could not finish);
2 bad usage or invalid configuration; 3 a command ran but found problems (bad lines
quarantined on import, quality below a requested minimum).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cli.context import EXIT_OK, EXIT_USAGE, Context, err
from core.config import ConfigError

# --------------------------------------------------------------------------- parser
# Each area keeps its commands in its own module with `add_commands(subparsers)`, imported
# cheaply (heavy imports inside the commands), so that `incidents --help` stays fast.
COMMAND_MODULES: tuple[str, ...] = (
    "cli.pipeline",
    "cli.browse",
    "cli.search",
    "cli.flows",
    "cli.crawl",
    "cli.workflow",
    "cli.published",
    "cli.privacy",
    "cli.operations",
    "cli.routing",
    "cli.training",
    "cli.report",
    "cli.console",
    "cli.doctor",
    "cli.region",
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="incidents",
        description="Мониторинг обращений жителей в соцсетях: "
        "сигналы → инциденты → ответственные → ответ за 24 часа.",
    )
    p.add_argument("--config", metavar="DIR", help="папка конфигурации региона (или INCIDENTS_CONFIG)")
    p.add_argument("--database", metavar="URL", help="адрес базы данных (или DATABASE_URL)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        ctx = Context(args)
        return args.func(ctx, args)
    except ConfigError as exc:
        err.print(f"[red]Ошибка конфигурации:[/]\n{exc}", markup=True, highlight=False)
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.print("прервано")
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
