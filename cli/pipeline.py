"""`incidents run`, `import`, `evaluate` and `quarantine`: the pipeline from the command line."""

import argparse
import json
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from cli.context import EXIT_FAILED, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, Context, console, err
from cli.context import now as _now
from cli.display import _cat_name, _counter_table, _muni_name, _progress


def print_summary(ctx: Context, crawls: Sequence[dict[str, Any]], process: dict[str, Any]) -> None:
    from sqlmodel import Session

    from core.states import SLA_STATE_NAMES
    from incidents.domain.sla_clocks import SlaClocks
    from storage.store import open_incidents

    cfg = ctx.cfg
    for c in crawls:
        if c.get("error"):
            console.print(f"[yellow]источник {c['source_id']}: {c['error']}[/]")
        else:
            console.print(
                f"источник {c['source_id']}: новых {c['inserted']}, изменённых {c['updated']}, "
                f"без изменений {c['unchanged']}, в карантине {c['quarantined']}"
            )
    if process:
        console.print(
            f"обработано постов: {process['posts']}; жалоб в регионе: {process['complaints']}; "
            f"вне региона: {process['off_region']}; новых инцидентов: {process['incidents_opened']}; "
            f"присоединено к инцидентам: {process['incidents_joined']}"
        )
    clocks = SlaClocks(cfg.sla, cfg.region.timezone)  # the same evaluation as the console's and `list`
    now = _now()
    with Session(ctx.engine) as session:
        incidents = open_incidents(session)
    by_cat: Counter = Counter(i.category for i in incidents)
    by_muni: Counter = Counter(i.municipality for i in incidents)
    by_sla: Counter = Counter((v.state if (v := clocks.verdict(i, now)) else "off") for i in incidents)
    by_body: Counter = Counter(i.body_code for i in incidents)
    console.print(f"\n[b]Открытых инцидентов: {len(incidents)}[/] ({cfg.region.name})")
    console.print(_counter_table("По категориям", by_cat, lambda c: _cat_name(cfg, c)))
    console.print(_counter_table("По муниципалитетам", by_muni, lambda c: _muni_name(cfg, c)))
    console.print(_counter_table("Сроки (худший из идущих)", by_sla, lambda s: SLA_STATE_NAMES.get(s, s)))
    console.print(
        _counter_table(
            "Ответственные", by_body, lambda b: cfg.body_by_code[b].name if b in cfg.body_by_code else str(b)
        )
    )


def cmd_run(ctx: Context, args: argparse.Namespace) -> int:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.monitoring import monitoring_run

    ctx.engine  # noqa: B018 - migrate and validate before Prefect starts
    default_db = ctx.settings.database_url == f"sqlite:///{ctx.settings.data_dir / 'incidents.db'}"
    samples = [s.id for s in ctx.cfg.sources.sources if s.sample and s.enabled]
    if samples and not default_db and not args.source:
        err.print(
            f"образец ({', '.join(samples)}) не загружается: база не та, что по умолчанию "
            f"({ctx.settings.database_url.split('@')[-1]}); вымышленные посты — только для `make run`"
        )
    result = monitoring_run(
        config_dir=str(ctx.settings.config_dir),
        database_url=ctx.settings.database_url,
        sources=args.source or None,
        with_sample=default_db,
    )
    print_summary(ctx, result["crawls"], result["process"])
    return EXIT_FAILED if all(c.get("error") for c in result["crawls"]) and result["crawls"] else EXIT_OK


def _import_stream(
    ctx: Context, source_id: str, path: Path | None, process: bool, encoding: str = "utf-8"
) -> int:
    from crawlers.replay import ReplaySource
    from incidents.services.processing import crawl_adapter, process_pending

    # stdin is read line by line as the pages are stored, never whole into memory (F14)
    adapter = ReplaySource(source_id=source_id, path=path, encoding=encoding)
    # A one-off import reads the whole file every time; stored posts are upserted, so a
    # repeated import changes nothing. The cursor of configured replay sources is separate.
    from sqlmodel import Session

    from storage.store import set_cursor

    with Session(ctx.engine) as session, session.begin():
        set_cursor(session, source_id, None, _now())
    stats = crawl_adapter(ctx.engine, adapter, _now)
    console.print(
        f"{adapter.origin}: новых {stats.inserted}, изменённых {stats.updated}, "
        f"без изменений {stats.unchanged}, в карантине {stats.quarantined}"
    )
    if stats.quarantined:
        err.print(f"[yellow]{stats.quarantined} строк не принято: см. `incidents quarantine list`[/]")
    if process:
        with _progress(None, "обработка") as bar:
            task = bar.add_task("posts", total=None)
            pstats = process_pending(ctx.engine, ctx.cfg, _now, progress=lambda n: bar.advance(task, n))
        console.print(
            f"обработано постов: {pstats.posts}; жалоб в регионе: {pstats.complaints}; "
            f"новых инцидентов: {pstats.incidents_opened}; присоединено: {pstats.incidents_joined}"
        )
    return EXIT_PROBLEMS if stats.quarantined else EXIT_OK


def cmd_import(ctx: Context, args: argparse.Namespace) -> int:
    path = None if args.file == "-" else Path(args.file)
    if path is not None and not path.is_file():
        err.print(f"[red]{path}: файл не найден[/]")
        return EXIT_USAGE
    source_id = args.source_id or (f"import:{path.name}" if path else "import:stdin")
    return _import_stream(ctx, source_id, path, not args.no_process, args.encoding)


def cmd_evaluate(ctx: Context, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from incidents.domain.evaluate import evaluate, load_labels
    from incidents.services.queries import predictions

    labels_path = Path(args.labels)
    if not labels_path.is_file():
        err.print(f"[red]{labels_path}: файл не найден[/]")
        return EXIT_USAGE
    labels = load_labels(labels_path)
    posts_path = Path(args.posts) if args.posts else labels_path.with_name("posts.jsonl")
    if args.use_database or not posts_path.is_file():
        with Session(ctx.engine) as session:
            report = evaluate(labels, predictions(session))
    else:
        # Evaluate on a fresh database so the figures never depend on what was stored before.
        from crawlers.replay import ReplaySource
        from incidents.services.processing import crawl_adapter, prepare, process_pending
        from storage.db import open_database

        with tempfile.TemporaryDirectory(prefix="incidents-eval-") as tmp:
            engine = open_database(f"sqlite:///{tmp}/eval.db")
            try:
                prepare(engine, ctx.cfg)
                crawl_adapter(engine, ReplaySource(source_id="evaluate", path=posts_path), _now)
                process_pending(engine, ctx.cfg, _now)
                with Session(engine) as session:
                    report = evaluate(labels, predictions(session))
            finally:
                engine.dispose()
    d = report.as_dict()
    if args.json:
        print(json.dumps(d, ensure_ascii=False, indent=2))
    else:
        t = Table(title=f"Оценка на {labels_path} ({report.posts} постов)", title_justify="left")
        t.add_column("метрика")
        t.add_column("значение", justify="right")
        c = d["complaint"]
        t.add_row(
            "жалобы: точность / полнота / F1", f"{c['precision']:.3f} / {c['recall']:.3f} / {c['f1']:.3f}"
        )
        t.add_row("в регионе (доля верных)", f"{d['in_region_accuracy']:.3f}")
        t.add_row(f"категория, точность (n={d['category_n']})", f"{d['category_accuracy']:.3f}")
        t.add_row(f"муниципалитет, точность (n={d['municipality_n']})", f"{d['municipality_accuracy']:.3f}")
        pw, bc = d["clustering_pairwise"], d["clustering_bcubed"]
        t.add_row(
            "кластеры, попарно P / R / F1", f"{pw['precision']:.3f} / {pw['recall']:.3f} / {pw['f1']:.3f}"
        )
        t.add_row(
            "кластеры, B-cubed P / R / F1", f"{bc['precision']:.3f} / {bc['recall']:.3f} / {bc['f1']:.3f}"
        )
        t.add_row("инцидентов: эталон / система", f"{d['clusters_gold']} / {d['clusters_pred']}")
        if report.missing:
            t.add_row("постов без сигнала", str(report.missing))
        console.print(t)
        if args.errors:
            for kind, items in report.errors.items():
                console.print(f"[b]{kind}[/] ({len(items)})")
                for item in items[:50]:
                    console.print("  " + item, markup=False)
    if args.min_f1 is not None and d["complaint"]["f1"] < args.min_f1:
        return EXIT_PROBLEMS
    return EXIT_OK


def cmd_quarantine(ctx: Context, args: argparse.Namespace) -> int:
    from sqlmodel import Session, col, select

    from storage.models import QuarantineItem

    with Session(ctx.engine) as session:
        stmt = select(QuarantineItem).order_by(col(QuarantineItem.id))
        if not args.all:
            stmt = stmt.where(QuarantineItem.resolved_at == None)  # noqa: E711
        rows = session.exec(stmt.limit(args.limit)).all()
    t = Table(title=f"Карантин: {len(rows)}", title_justify="left")
    for header in ("ID", "Откуда", "Где", "Причина", "Данные"):
        t.add_column(header, overflow="fold")
    for r in rows:
        t.add_row(str(r.id), r.origin, r.location or "", r.reason, r.payload[:120])
    console.print(t)
    return EXIT_OK


def cmd_quarantine_retry(ctx: Context, args: argparse.Namespace) -> int:
    from incidents.services.quarantine import retry

    payload = None
    if args.payload_file:
        if len(args.ids) != 1:
            err.print("[red]--payload-file: укажите ровно одну запись ID[/]")
            return EXIT_USAGE
        payload = Path(args.payload_file).read_text(encoding="utf-8").strip()
    outcomes = retry(
        ctx.engine,
        ctx.cfg,
        _now,
        ids=args.ids or None,
        origin=args.origin,
        payload=payload,
        process=not args.no_process,
    )
    names = {"resolved": "принято", "failed": "снова ошибка", "not_replayable": "не повторяется"}
    t = Table(title=f"Повтор карантина: {len(outcomes)}", title_justify="left")
    for col in ("ID", "Откуда", "Где", "Итог", "Подробности"):
        t.add_column(col, overflow="fold")
    for o in outcomes:
        t.add_row(str(o.id), o.origin, o.location or "", names[o.status], o.detail)
    console.print(t)
    return EXIT_PROBLEMS if any(o.status != "resolved" for o in outcomes) else EXIT_OK


def add_commands(sub: Any) -> None:
    s = sub.add_parser("run", help="один проход: сбор → обработка → инциденты → маршрутизация → SLA")
    s.add_argument("--source", action="append", help="только этот источник (можно несколько раз)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("import", help="загрузить посты из JSONL-файла ('-' — стандартный ввод)")
    s.add_argument("file")
    s.add_argument("--source-id", help="идентификатор источника для курсора (по умолчанию import:<файл>)")
    s.add_argument("--no-process", action="store_true", help="только сохранить посты, без обработки")
    s.add_argument(
        "--encoding",
        choices=["utf-8", "cp1251"],
        default="utf-8",
        help="кодировка файла (по умолчанию UTF-8; строка не в этой кодировке уходит в карантин)",
    )
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("evaluate", help="качество на размеченных данных")
    s.add_argument("labels", metavar="LABELS.jsonl")
    s.add_argument("--posts", help="посты к разметке (по умолчанию posts.jsonl рядом с разметкой)")
    s.add_argument(
        "--use-database", action="store_true", help="оценить то, что уже в базе, без новой обработки"
    )
    s.add_argument("--json", action="store_true", help="вывести метрики в JSON")
    s.add_argument("--errors", action="store_true", help="показать ошибки")
    s.add_argument("--min-f1", type=float, help="код выхода 3, если F1 жалоб ниже")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("quarantine", help="записи, не принятые из-за ошибок")
    qs = s.add_subparsers(dest="action", required=True)
    q = qs.add_parser("list")
    q.add_argument("--all", action="store_true", help="включая разобранные")
    q.add_argument("--limit", type=int, default=100)
    q.set_defaults(func=cmd_quarantine)
    q = qs.add_parser(
        "retry", help="повторить разбор после исправления; принятые записи отмечаются разобранными"
    )
    q.add_argument(
        "ids", nargs="*", type=int, metavar="ID", help="записи карантина (по умолчанию все неразобранные)"
    )
    q.add_argument("--origin", help="только записи этого источника (или signals)")
    q.add_argument("--payload-file", metavar="FILE", help="исправленные данные для одной записи ID")
    q.add_argument("--no-process", action="store_true", help="только сохранить посты, без обработки")
    q.set_defaults(func=cmd_quarantine_retry)
