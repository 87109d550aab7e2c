"""`incidents list`, `show`, `export` and `check-config`: reading what the pipeline made."""

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.table import Table

from incidents.cli.context import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Context, console, err
from incidents.cli.context import now as _now
from incidents.cli.display import SCALE_NAMES, _cat_name, _muni_name


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
    from sqlmodel import Session, col, select

    from incidents.domain.sla import SlaPolicyEngine, format_left
    from incidents.storage.models import AuditEvent, Incident, IncidentPost, Post, Signal, row_id

    cfg = ctx.cfg
    with Session(ctx.engine) as session:
        inc = session.get(Incident, args.id)
        if inc is None:
            err.print(f"[red]инцидент {args.id} не найден[/]")
            return EXIT_FAILED
        posts = session.exec(
            select(Post, Signal)
            .join(IncidentPost, col(IncidentPost.post_id) == Post.id)
            .join(Signal, col(Signal.post_id) == Post.id, isouter=True)
            .where(IncidentPost.incident_id == inc.id)
            .order_by(col(Post.created_at))
        ).all()
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.incident_id == inc.id)
            .order_by(col(AuditEvent.at), col(AuditEvent.id))
        ).all()
        from incidents.domain.assess import card_of
        from incidents.services.refresh import post_facts

        iid = row_id(inc)
        facts = post_facts(session, [iid])[iid]
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


def add_commands(sub: Any) -> None:
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
