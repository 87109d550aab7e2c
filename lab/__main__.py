"""`python -m lab COMMAND`: the team's research tools, outside the installed product.

They measure the product on data that does not ship with it (`../shared/data`: real appeals,
portal complaints, Telegram news): routing against the bodies that really handled appeals, and
the signal stage's recall and false alarms on real text. `pip install .` does not install this
folder; run it from a checkout, beside `incidents`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cli.context import EXIT_OK, EXIT_USAGE, Context, err
from core.config import ConfigError

COMMAND_MODULES = ("lab.routing_eval", "lab.routing_spb", "lab.corpus_cli", "lab.place_eval")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lab", description="Исследовательские измерения (не входят в продукт)."
    )
    p.add_argument("--config", metavar="DIR", help="папка конфигурации региона (или INCIDENTS_CONFIG)")
    p.add_argument("--database", metavar="URL", help="адрес базы данных (или DATABASE_URL)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(Context(args), args))
    except ConfigError as exc:
        err.print(f"[red]Ошибка конфигурации:[/]\n{exc}", markup=True, highlight=False)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
