"""The `incidents` command.

Exit codes: 0 success; 1 the work failed (a database error, a crawl that could not finish);
2 bad usage or invalid configuration; 3 a command ran but found problems (bad lines
quarantined on import, quality below a requested minimum).
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from incidents.cli.context import EXIT_FAILED, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, Context, console, err
from incidents.cli.context import now as _now
from incidents.core.config import ConfigError, RegionConfig


# --------------------------------------------------------------------------- helpers
def _progress(total: int | None, label: str):  # noqa: ANN202 - rich Progress
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def _muni_name(cfg: RegionConfig, code: str | None) -> str:
    if code is None:
        return "— не определено"
    m = cfg.municipality_by_code.get(code)
    return m.name if m else code


SCALE_NAMES = {
    "house": "дом",
    "street": "улица",
    "settlement": "населённый пункт",
    "municipality": "муниципалитет",
    "region": "несколько муниципалитетов",
}


def _cat_name(cfg: RegionConfig, code: str | None) -> str:
    for c in cfg.rubricator.categories:
        if c.code == code:
            return c.name
    return code or "—"


def _counter_table(title: str, counts: Counter, name: Callable[[Any], str]) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("")
    t.add_column("инцидентов", justify="right")
    for key, n in counts.most_common():
        t.add_row(name(key), str(n))
    return t


def print_summary(ctx: Context, crawls: Sequence[dict[str, Any]], process: dict[str, Any]) -> None:
    from sqlmodel import Session

    from incidents.domain.sla import SlaPolicyEngine
    from incidents.storage.store import open_incidents

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
    sla = SlaPolicyEngine(cfg.sla, cfg.region.timezone)
    now = _now()
    with Session(ctx.engine) as session:
        incidents = open_incidents(session)
    by_cat: Counter = Counter(i.category for i in incidents)
    by_muni: Counter = Counter(i.municipality for i in incidents)
    by_sla: Counter = Counter(sla.status(i.due_at, i.first_answer_at, now).state for i in incidents)
    by_body: Counter = Counter(i.body_code for i in incidents)
    console.print(f"\n[b]Открытых инцидентов: {len(incidents)}[/] ({cfg.region.name})")
    console.print(_counter_table("По категориям", by_cat, lambda c: _cat_name(cfg, c)))
    console.print(_counter_table("По муниципалитетам", by_muni, lambda c: _muni_name(cfg, c)))
    sla_names = {"ok": "в срок", "at_risk": "под угрозой", "overdue": "просрочено", "answered": "отвечено"}
    console.print(_counter_table("SLA (ответ за 24 ч)", by_sla, lambda s: sla_names.get(s, s)))
    console.print(
        _counter_table(
            "Ответственные", by_body, lambda b: cfg.body_by_code[b].name if b in cfg.body_by_code else str(b)
        )
    )


# --------------------------------------------------------------------------- commands
def cmd_run(ctx: Context, args: argparse.Namespace) -> int:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.monitoring import monitoring_run

    ctx.engine  # noqa: B018 - migrate and validate before Prefect starts
    result = monitoring_run(
        config_dir=str(ctx.settings.config_dir),
        database_url=ctx.settings.database_url,
        sources=args.source or None,
    )
    print_summary(ctx, result["crawls"], result["process"])
    return EXIT_FAILED if all(c.get("error") for c in result["crawls"]) and result["crawls"] else EXIT_OK


def _import_stream(ctx: Context, source_id: str, path: Path | None, process: bool) -> int:
    import io

    from crawlers.replay import ReplaySource
    from incidents.services.processing import crawl_adapter, process_pending

    stream = None
    if path is None:
        stream = io.BytesIO(sys.stdin.buffer.read())
    adapter = ReplaySource(source_id=source_id, path=path, stream=stream)
    # A one-off import reads the whole file every time; stored posts are upserted, so a
    # repeated import changes nothing. The cursor of configured replay sources is separate.
    from sqlmodel import Session

    from incidents.storage.store import set_cursor

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
    return _import_stream(ctx, source_id, path, not args.no_process)


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from incidents.domain.sla import SlaPolicyEngine, format_left
    from incidents.storage.store import open_incidents

    cfg = ctx.cfg
    sla = SlaPolicyEngine(cfg.sla, cfg.region.timezone)
    now = _now()
    with Session(ctx.engine) as session:
        rows = open_incidents(session)
    if args.category:
        rows = [r for r in rows if r.category == args.category]
    if args.municipality:
        rows = [r for r in rows if r.municipality == args.municipality]
    rows.sort(key=lambda r: (r.due_at or now, r.priority))
    if args.format == "jsonl":
        for r in rows[: args.limit]:
            st = sla.status(r.due_at, r.first_answer_at, now)
            print(
                json.dumps(
                    {
                        "id": r.id,
                        "title": r.title,
                        "status": r.status,
                        "priority": r.priority,
                        "sla": st.state,
                        "left_minutes": int(st.left.total_seconds() // 60) if st.left else None,
                    },
                    ensure_ascii=False,
                )
            )
        return EXIT_OK
    t = Table(title=f"Открытые инциденты: {len(rows)}", title_justify="left")
    for col in ("ID", "Инцидент", "Категория", "Постов", "Пр.", "Статус", "Осталось"):
        t.add_column(col, overflow="fold")
    for r in rows[: args.limit]:
        st = sla.status(r.due_at, r.first_answer_at, now)
        left = format_left(st.left)
        style = {"overdue": "red", "at_risk": "yellow"}.get(st.state, "")
        t.add_row(
            str(r.id),
            r.title,
            r.category,
            str(r.post_count),
            str(r.priority),
            r.status,
            f"[{style}]{left}[/]" if style else left,
        )
    console.print(t)
    return EXIT_OK


def cmd_show(ctx: Context, args: argparse.Namespace) -> int:
    from sqlmodel import Session, select

    from incidents.domain.sla import SlaPolicyEngine, format_left
    from incidents.storage.models import AuditEvent, Incident, IncidentPost, Post, Signal

    cfg = ctx.cfg
    with Session(ctx.engine) as session:
        inc = session.get(Incident, args.id)
        if inc is None:
            err.print(f"[red]инцидент {args.id} не найден[/]")
            return EXIT_FAILED
        posts = session.exec(
            select(Post, Signal)
            .join(IncidentPost, IncidentPost.post_id == Post.id)
            .join(Signal, Signal.post_id == Post.id, isouter=True)
            .where(IncidentPost.incident_id == inc.id)
            .order_by(Post.created_at)
        ).all()
        events = session.exec(
            select(AuditEvent).where(AuditEvent.incident_id == inc.id).order_by(AuditEvent.at, AuditEvent.id)
        ).all()
        from incidents.domain.assess import card_of
        from incidents.services.refresh import post_facts

        facts = post_facts(session, [inc.id])[inc.id]  # type: ignore[list-item, index]
        card = card_of(cfg, inc.category, inc.subcategory, facts) if facts else None
    st = SlaPolicyEngine(cfg.sla, cfg.region.timezone).status(inc.due_at, inc.first_answer_at, _now())
    body = cfg.body_by_code.get(inc.body_code or "")
    console.print(f"[b]#{inc.id} {inc.title}[/]")
    if inc.merged_into_id:
        console.print(f"[yellow]объединён с #{inc.merged_into_id}: посты и работа — там[/]")
    console.print(
        f"статус: {inc.status}; приоритет: {inc.priority}; масштаб: {SCALE_NAMES.get(inc.scale or '', inc.scale)}; "
        f"категория: {_cat_name(cfg, inc.category)} / {inc.subcategory or '—'}"
    )
    console.print(
        f"муниципалитет: {_muni_name(cfg, inc.municipality)}; "
        f"адрес: {(card.address if card else None) or inc.address or '—'}"
    )
    console.print(f"ответственный: {body.name if body else inc.body_code or '—'}")
    console.print(
        f"открыт: {inc.opened_at:%Y-%m-%d %H:%M} UTC; ответ до: "
        f"{inc.due_at:%Y-%m-%d %H:%M} UTC; SLA: {st.state} ({format_left(st.left)})"
        if inc.due_at
        else ""
    )
    if inc.linked_incident_id:
        console.print(f"связан с инцидентом #{inc.linked_incident_id}")
    if inc.manual:
        console.print("состав постов менял администратор: автоматика их не перемещает")
    if card is not None:
        console.print(f"суть: {card.summary}", markup=False)
        nets = ", ".join(f"{n} {k}" for n, k in sorted(card.by_network.items()))
        console.print(
            f"постов: {card.post_count} ({nets}); авторов: {len(card.authors)}"
            + (
                f" — {', '.join(card.authors[:5])}{' …' if len(card.authors) > 5 else ''}"
                if card.authors
                else ""
            ),
            markup=False,
        )
        console.print(
            f"охват: {card.reach} (лайки {card.likes}, репосты {card.reposts}, просмотры {card.views})"
        )
        if card.first_post_at and card.last_post_at:
            console.print(
                f"первый пост: {card.first_post_at:%Y-%m-%d %H:%M} UTC; "
                f"последний: {card.last_post_at:%Y-%m-%d %H:%M} UTC; "
                f"главный пост: {card.representative}\n"
            )
    else:
        console.print(f"охват: {inc.reach}; сети: {inc.networks}\n")
    for post, sig in posts:
        console.print(
            f"[b]{post.network}:{post.external_id}[/] {post.created_at:%Y-%m-%d %H:%M} "
            f"{post.author_name or post.author_id or ''} {post.url or ''}"
        )
        console.print("  " + " ".join(post.text.split())[:500], markup=False)
        if sig is not None:
            console.print(
                f"  правила: {', '.join(r['rule_id'] for r in sig.rules or [])}; оценка {sig.score}",
                markup=False,
            )
    if events:
        console.print("\n[b]История[/]")
        for e in events:
            what = json.dumps(e.data, ensure_ascii=False)[:200] if e.data else ""
            console.print(
                f"  {e.at:%Y-%m-%d %H:%M} {e.actor}: {e.action} "
                f"{e.from_state or ''}→{e.to_state or ''} {e.reason or ''} {what}".rstrip(),
                markup=False,
            )
    return EXIT_OK


def _write_rows(rows: Iterable[dict[str, Any]], fmt: str, out: Any, csv_fields: Sequence[str]) -> int:
    n = 0
    if fmt == "jsonl":
        for r in rows:
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
        return n
    writer = csv.DictWriter(out, fieldnames=list(csv_fields), extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (";".join(v) if isinstance(v, list) else v) for k, v in r.items()})
        n += 1
    return n


def cmd_export(ctx: Context, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from incidents.services.queries import incident_rows, signal_rows

    if args.with_authors and not ctx.cfg.region.privacy.export_personal_data:
        err.print(
            "[red]--with-authors: выгрузка персональных данных авторов запрещена "
            "(region.yaml → privacy.export_personal_data: false)[/]"
        )
        return EXIT_USAGE
    out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout  # noqa: SIM115
    try:
        with Session(ctx.engine) as session:
            if args.what == "incidents":
                fields = [
                    "id",
                    "title",
                    "status",
                    "category",
                    "subcategory",
                    "municipality",
                    "body",
                    "priority",
                    "opened_at",
                    "due_at",
                    "posts",
                ]
                n = _write_rows(incident_rows(session, personal=args.with_authors), args.format, out, fields)
            else:
                fields = ["post", "is_complaint", "in_region", "category", "municipality", "score"]
                if args.with_authors:
                    fields += ["author_id", "author_name"]
                n = _write_rows(signal_rows(session, personal=args.with_authors), args.format, out, fields)
    finally:
        if args.output:
            out.close()
    if args.output:
        err.print(f"{n} строк записано в {args.output}")
    return EXIT_OK


def cmd_check_config(ctx: Context, args: argparse.Namespace) -> int:
    cfg = ctx.cfg
    from pipelines.keywords import KeywordRules
    from pipelines.lemmas import Lemmatizer

    rules = KeywordRules(cfg.rubricator, Lemmatizer())
    n_streets = sum(len(m.streets) for m in cfg.territories.municipalities)
    console.print(f"{cfg.root}: {cfg.region.name} — конфигурация в порядке")
    console.print(
        f"  категорий {len(cfg.rubricator.categories)}, правил {rules.rule_count}; "
        f"муниципалитетов {len(cfg.territories.municipalities)}, улиц {n_streets}; "
        f"органов {len(cfg.bodies.bodies)}, правил маршрутизации {len(cfg.routing.rules)}; "
        f"источников {len(cfg.sources.sources)} (включено {sum(s.enabled for s in cfg.sources.sources)})"
    )
    return EXIT_OK


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
        from incidents.storage.db import open_database

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
    from sqlmodel import Session, select

    from incidents.storage.models import QuarantineItem

    with Session(ctx.engine) as session:
        stmt = select(QuarantineItem).order_by(QuarantineItem.id)
        if not args.all:
            stmt = stmt.where(QuarantineItem.resolved_at == None)  # noqa: E711
        rows = session.exec(stmt.limit(args.limit)).all()
    t = Table(title=f"Карантин: {len(rows)}", title_justify="left")
    for col in ("ID", "Откуда", "Где", "Причина", "Данные"):
        t.add_column(col, overflow="fold")
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


# --------------------------------------------------------------------------- parser
# Each area keeps its commands in its own module with `add_commands(subparsers)`, imported
# cheaply (heavy imports inside the commands), so that `incidents --help` stays fast.
COMMAND_MODULES: tuple[str, ...] = (
    "incidents.cli.search",
    "incidents.cli.flows",
    "incidents.cli.crawl",
    "incidents.cli.workflow",
    "incidents.cli.privacy",
    "incidents.cli.operations",
    "incidents.cli.training",
    "incidents.cli.report",
    "incidents.cli.console",
    "incidents.cli.doctor",
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

    s = sub.add_parser("run", help="один проход: сбор → обработка → инциденты → маршрутизация → SLA")
    s.add_argument("--source", action="append", help="только этот источник (можно несколько раз)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("import", help="загрузить посты из JSONL-файла ('-' — стандартный ввод)")
    s.add_argument("file")
    s.add_argument("--source-id", help="идентификатор источника для курсора (по умолчанию import:<файл>)")
    s.add_argument("--no-process", action="store_true", help="только сохранить посты, без обработки")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("list", help="открытые инциденты со временем до срока ответа")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--category")
    s.add_argument("--municipality")
    s.add_argument("--format", choices=["table", "jsonl"], default="table")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("show", help="карточка инцидента")
    s.add_argument("id", type=int)
    s.set_defaults(func=cmd_show)

    s = sub.add_parser("export", help="выгрузка инцидентов или сигналов")
    s.add_argument("what", choices=["incidents", "signals"])
    s.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    s.add_argument("--output", "-o", help="файл (по умолчанию стандартный вывод)")
    s.add_argument(
        "--with-authors",
        action="store_true",
        help="с идентификаторами и именами авторов (если разрешено: privacy.export_personal_data)",
    )
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("check-config", help="проверить конфигурацию региона")
    s.set_defaults(func=cmd_check_config)

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
