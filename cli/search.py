"""`incidents index`, `incidents search`, `incidents kibana import`.

Wired into the main parser by `add_commands(subparsers)`; commands follow the
conventions of `cli/main.py`: `cmd(ctx, args) -> exit code`, the region config and the
database from the shared `Context`, the same exit codes (0 ok, 1 failed, 2 usage or
configuration, 3 ran but found problems).

This module imports nothing heavy (and nothing from `cli.main`) at import time.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

console = Console(stderr=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PROBLEMS = 0, 1, 2, 3


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- index
def cmd_index(ctx: Any, args: argparse.Namespace) -> int:
    from incidents.services.search.settings import get_search_settings

    settings = get_search_settings()
    cfg = ctx.cfg
    engine = ctx.engine
    if args.embedded or not settings.elasticsearch_configured:
        from incidents.services.search import fts

        if not args.embedded:
            err.print(
                "Elasticsearch не настроен (ELASTICSEARCH_URL): обновляю встроенный полнотекстовый индекс"
            )
        keep = cfg.signals.keep_person_names
        n = (
            fts.rebuild(engine, keep_person_names=keep)
            if args.full
            else fts.catch_up(engine, keep_person_names=keep)
        )
        console.print(f"встроенный индекс: обновлено постов {n}")
        return EXIT_OK

    from elastic_transport import TransportError
    from elasticsearch import ApiError

    from incidents.services.search.es import Indexer, make_client

    policy = cfg.search
    client = make_client(settings, policy)
    try:
        indexer = Indexer(client, engine, cfg, policy, now=_now)
        if args.full:
            dropped = indexer.rebuild()
            if dropped:
                console.print(f"удалены индексы: {', '.join(dropped)}")
            stats = [indexer.sync_posts(), indexer.sync_incidents()]
        else:
            stats = indexer.sync()
    except (ApiError, TransportError) as exc:
        err.print(f"[red]Elasticsearch ({settings.elasticsearch_url}): {exc}[/]")
        return EXIT_FAILED
    finally:
        client.close()
    names = {"posts": "посты", "incidents": "инциденты"}
    code = EXIT_OK
    for s in stats:
        mode = "полная" if s.full else "с курсора"
        console.print(
            f"{names[s.kind]} ({mode}): отправлено {s.sent}, проиндексировано {s.indexed}, удалено {s.deleted}, "
            f"пропущено {s.skipped}, отклонено {s.permanent_failures}, не принято сейчас {s.transient_failures}"
        )
        for e in s.errors:
            err.print(f"[red]{names[s.kind]}: {e}[/]", markup=True)
        if not s.complete:
            err.print(
                f"[yellow]{names[s.kind]}: курсор не сдвинут, оставшееся уйдёт при следующем запуске[/]"
            )
            code = EXIT_FAILED
        elif s.permanent_failures and code == EXIT_OK:
            err.print(
                f"[yellow]{names[s.kind]}: {s.permanent_failures} документов отклонено: "
                "см. `incidents quarantine list`[/]"
            )
            code = EXIT_PROBLEMS
    return code


# --------------------------------------------------------------------------- search
def _parse_when(value: str, tz: str, *, end: bool) -> datetime:
    """ISO date or date-time. A bare date is a whole local day: --until includes it."""
    text = value.strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            local = datetime.combine(d + timedelta(days=1) if end else d, time(0), ZoneInfo(tz))
            return local.astimezone(UTC)
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{value!r}: ожидается дата ГГГГ-ММ-ДД или дата и время ISO 8601"
        ) from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(tz))
    return dt.astimezone(UTC)


def _municipality_code(cfg: Any, value: str | None) -> str | None:
    if not value:
        return None
    if value in cfg.municipality_by_code:
        return value
    low = value.strip().lower().replace("ё", "е")
    for m in cfg.territories.municipalities:
        names = [m.name, *m.aliases]
        if any(n.lower().replace("ё", "е") == low for n in names):
            return m.code
    raise ValueError(f"муниципалитет {value!r} не найден; коды: {', '.join(cfg.municipality_by_code)}")


def cmd_search(ctx: Any, args: argparse.Namespace) -> int:
    from incidents.services.search.query import SearchFilters
    from incidents.services.search.settings import get_search_settings

    cfg = ctx.cfg
    tz = cfg.region.timezone
    try:
        filters = SearchFilters(
            category=args.category,
            municipality=_municipality_code(cfg, args.municipality),
            network=args.network,
            status=args.status,
            since=_parse_when(args.since, tz, end=False) if args.since else None,
            until=_parse_when(args.until, tz, end=True) if args.until else None,
        )
    except (ValueError, argparse.ArgumentTypeError) as exc:
        err.print(f"[red]{exc}[/]")
        return EXIT_USAGE
    settings = get_search_settings()
    engine_name = "встроенный индекс"
    if settings.elasticsearch_configured and not args.embedded:
        from elastic_transport import TransportError
        from elasticsearch import ApiError

        from incidents.services.search.es import make_client, search_posts

        policy = cfg.search
        client = make_client(settings, policy)
        try:
            hits = search_posts(client, policy, args.query, filters, limit=args.limit)
        except (ApiError, TransportError) as exc:
            err.print(f"[red]Elasticsearch ({settings.elasticsearch_url}): {exc}[/]")
            return EXIT_FAILED
        finally:
            client.close()
        engine_name = "Elasticsearch"
    else:
        from incidents.services.search import fts

        hits = fts.search_posts(ctx.engine, args.query, filters, limit=args.limit)
    if args.format == "jsonl":
        for h in hits:
            print(json.dumps(h.as_dict(), ensure_ascii=False))
        return EXIT_OK
    t = Table(title=f"Найдено: {len(hits)} ({engine_name})", title_justify="left")
    for col in ("Пост", "Дата", "Категория", "Муниципалитет", "Инцидент", "Текст"):
        t.add_column(col, overflow="fold")
    for h in hits:
        when = h.created_at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if h.created_at else ""
        inc = f"#{h.incident_id} {h.incident_status or ''}" if h.incident_id else ""
        t.add_row(h.post_key, when, h.category or "", h.municipality or "", inc, h.snippet)
    console.print(t)
    return EXIT_OK


# --------------------------------------------------------------------------- kibana
def default_dashboard_files() -> list[Path]:
    from core.settings import PROJECT_ROOT

    return sorted((PROJECT_ROOT / "dashboards").glob("*.ndjson"))


def cmd_kibana_import(ctx: Any, args: argparse.Namespace) -> int:
    import tempfile

    from incidents.services.search import kibana
    from incidents.services.search.settings import get_search_settings, load_policy

    settings = get_search_settings()
    if not settings.kibana_url:
        err.print("[red]KIBANA_URL не задан: укажите адрес Kibana, например http://localhost:5601[/]")
        return EXIT_USAGE
    policy = load_policy(ctx.settings.config_dir if ctx.settings.config_dir.is_dir() else None)
    files = [Path(f) for f in args.file] if args.file else default_dashboard_files()
    if not files:
        # An installation without the dashboards folder (the container image): the same
        # objects, generated from the code the file is generated from.
        from incidents.services.search.dashboards import render

        tmp = Path(tempfile.mkdtemp(prefix="incidents-kibana-")) / "kibana.ndjson"
        tmp.write_text(render(), encoding="utf-8")
        files = [tmp]
    for f in files:
        if not f.is_file():
            err.print(f"[red]{f}: файл не найден[/]")
            return EXIT_USAGE
    try:
        body, objects = kibana.prepare(files, policy)
    except kibana.SavedObjectsInvalid as exc:
        err.print(f"[red]{exc}[/]", markup=False)
        return EXIT_USAGE
    space = args.space or settings.kibana_space
    try:
        with kibana.kibana_client(settings) as http:
            if args.wait:
                kibana.wait_until_ready(http, args.wait)
            result = kibana.import_saved_objects(http, body, space=space)
    except kibana.KibanaError as exc:
        err.print(f"[red]{exc}[/]", markup=False)
        return EXIT_FAILED
    where = f" (пространство {space})" if space else ""
    console.print(
        f"Kibana {settings.kibana_url}{where}: импортировано {result.success_count} из {len(objects)} объектов"
    )
    if not result.success:
        for e in result.errors:
            err.print("  " + kibana.describe_error(e), markup=False)
        return EXIT_PROBLEMS
    return EXIT_OK


# --------------------------------------------------------------------------- wiring
def add_commands(sub: Any) -> None:
    """Register the search commands on the `incidents` subparsers."""
    s = sub.add_parser("index", help="синхронизировать поисковый индекс (Elasticsearch или встроенный)")
    s.add_argument("--full", action="store_true", help="перестроить индексы с нуля")
    s.add_argument(
        "--embedded", action="store_true", help="только встроенный индекс, даже если Elasticsearch настроен"
    )
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("search", help="найти посты по словам в любой форме («яма» найдёт «ямы», «ямам»)")
    s.add_argument("query", metavar="QUERY", help="слова запроса ('' — все посты по фильтрам)")
    s.add_argument("--category", help="код категории (roads, water, …)")
    s.add_argument("--municipality", help="код или название муниципалитета")
    s.add_argument("--network", choices=["vk", "ok", "telegram", "pos"])
    s.add_argument("--status", help="статус инцидента поста (new, assigned, answered, …)")
    s.add_argument("--since", help="с даты (ГГГГ-ММ-ДД или ISO 8601)")
    s.add_argument("--until", help="по дату включительно (ГГГГ-ММ-ДД) или до момента (ISO 8601)")
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--format", choices=["table", "jsonl"], default="table")
    s.add_argument(
        "--embedded",
        action="store_true",
        help="искать во встроенном индексе, даже если Elasticsearch настроен",
    )
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("kibana", help="Kibana: загрузить представления данных, поиски и дашборд")
    ks = s.add_subparsers(dest="action", required=True)
    k = ks.add_parser("import", help="загрузить dashboards/*.ndjson через API сохранённых объектов")
    k.add_argument("--file", action="append", help="NDJSON-файл (по умолчанию dashboards/*.ndjson)")
    k.add_argument("--space", help="пространство Kibana (или KIBANA_SPACE)")
    k.add_argument(
        "--wait", type=float, default=0, metavar="SECONDS", help="ждать готовности Kibana до N секунд"
    )
    k.set_defaults(func=cmd_kibana_import)
