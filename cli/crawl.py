"""`incidents crawl NETWORK [--source ID] [--since DATE]`: run one network's adapters by hand.

Wired into the main parser by `add_commands(subparsers)` (see `cli/main.py`,
`COMMAND_MODULES`). Without `--source` it crawls the network's *enabled* sources of
`sources.yaml`; `--source ID` (repeatable) names sources explicitly, enabled or not. Each
source runs on its own: one whose credentials are missing is reported with the environment
variable to set, and the next source still runs.

`--since DATE` (a date `2026-11-01` or an ISO time) reads back to that moment instead of the
adapter's usual window (`days`, `lookback_hours`, …): it is passed to the adapter as
`params.since`, the same key a source may set in `sources.yaml`.

Exit codes, the worst one wins: 1 a source failed (a bug in the request, an unexpected error);
2 a source is not configured (missing or rejected credentials, missing params) or bad usage;
3 a source stopped for now (a rate limit: the next run resumes from its cursor) or records were
quarantined; 0 everything was crawled.

This module imports nothing heavy at import time (the adapters load their SDKs when built).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

console = Console(stderr=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PROBLEMS = 0, 1, 2, 3
NETWORKS = ("vk", "ok", "telegram", "pos", "replay")
_SEVERITY = {EXIT_OK: 0, EXIT_PROBLEMS: 1, EXIT_USAGE: 2, EXIT_FAILED: 3}


def _now() -> datetime:
    return datetime.now(UTC)


def _worst(a: int, b: int) -> int:
    return a if _SEVERITY[a] >= _SEVERITY[b] else b


def crawl_one(engine: Any, cfg: Any, source: Any) -> tuple[int, str]:
    """Build and run one source; returns (exit code, the line to print). Never raises for a source's
    own trouble, so the caller goes on with the next source."""
    from crawlers.base import SourceNotConfigured, SourceStopped
    from crawlers.errors import ApiBug
    from crawlers.registry import build_adapter
    from incidents.services.processing import crawl_adapter

    try:
        adapter = build_adapter(source, cfg.root)
    except SourceNotConfigured as exc:
        return EXIT_USAGE, f"не настроен: {exc}"
    try:
        stats = crawl_adapter(engine, adapter, _now)
    except SourceNotConfigured as exc:  # TokenInvalid: the credential was rejected
        return EXIT_USAGE, f"не настроен: {exc}"
    except SourceStopped as exc:
        return EXIT_PROBLEMS, f"остановлен до следующего запуска (курсор сохранён): {exc}"
    except ApiBug as exc:
        return EXIT_FAILED, f"ошибка в запросе (это ошибка программы, а не сети): {exc}"
    except Exception as exc:  # one failing source never stops the others
        return EXIT_FAILED, f"сбой: {type(exc).__name__}: {exc}"
    finally:
        close = getattr(adapter, "close", None)  # the stream's websocket, Telethon's loop
        if callable(close):
            close()
    line = (
        f"страниц {stats.pages}: новых {stats.inserted}, изменённых {stats.updated}, "
        f"без изменений {stats.unchanged}, в карантине {stats.quarantined}"
    )
    return (EXIT_PROBLEMS if stats.quarantined else EXIT_OK), line


def cmd_crawl(ctx: Any, args: argparse.Namespace) -> int:
    from crawlers.errors import since_ts

    cfg = ctx.cfg
    if args.since:
        try:
            since_ts({"since": args.since})
        except ValueError:
            err.print(f"[red]--since {args.since!r}: ожидается дата (2026-11-01) или время ISO 8601[/]")
            return EXIT_USAGE
    by_id = {s.id: s for s in cfg.sources.sources}
    if args.source:
        unknown = [i for i in args.source if i not in by_id]
        if unknown:
            err.print(f"[red]нет источника {', '.join(unknown)} в {cfg.root / 'sources.yaml'}[/]")
            return EXIT_USAGE
        other = [i for i in args.source if by_id[i].network != args.network]
        if other:
            err.print(f"[red]источник {', '.join(other)} не из сети {args.network}[/]")
            return EXIT_USAGE
        selected = [by_id[i] for i in args.source]
    else:
        selected = [s for s in cfg.sources.sources if s.network == args.network and s.enabled]
    if not selected:
        err.print(
            f"[yellow]нет включённых источников сети {args.network} в {cfg.root / 'sources.yaml'}; "
            "включите источник (enabled: true) или укажите --source ID[/]"
        )
        return EXIT_USAGE
    engine = ctx.engine
    code = EXIT_OK
    for source in selected:
        if args.since:
            source = source.model_copy(update={"params": {**source.params, "since": args.since}})
        result, line = crawl_one(engine, cfg, source)
        code = _worst(code, result)
        if result in (EXIT_USAGE, EXIT_FAILED):
            err.print(f"[red]источник {source.id}: {line}[/]", markup=True)
        elif result == EXIT_PROBLEMS:
            console.print(f"[yellow]источник {source.id}: {line}[/]")
        else:
            console.print(f"источник {source.id}: {line}")
    if args.process:
        from incidents.services.processing import process_pending, sla_check

        pstats = process_pending(engine, cfg, _now)
        sla_check(engine, cfg, _now)
        console.print(
            f"обработано постов: {pstats.posts}; жалоб в регионе: {pstats.complaints}; "
            f"новых инцидентов: {pstats.incidents_opened}; присоединено: {pstats.incidents_joined}"
        )
    return code


def add_commands(sub: Any) -> None:
    s = sub.add_parser("crawl", help="собрать посты одной сети (её включённые источники или --source ID)")
    s.add_argument("network", choices=NETWORKS, metavar="NETWORK", help="vk, ok, telegram, pos или replay")
    s.add_argument(
        "--source",
        action="append",
        metavar="ID",
        help="только этот источник из sources.yaml, даже выключенный (можно несколько раз)",
    )
    s.add_argument(
        "--since", metavar="DATE", help="читать назад до этой даты (2026-11-01 или время ISO 8601)"
    )
    s.add_argument(
        "--process", action="store_true", help="затем обработать новые посты: сигналы, инциденты, SLA"
    )
    s.set_defaults(func=cmd_crawl)
