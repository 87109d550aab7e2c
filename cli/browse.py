"""`incidents list`, `show`, `export` and `check-config`: reading what the pipeline made."""

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.table import Table

from cli.context import EXIT_FAILED, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, Context, console, err
from cli.context import now as _now
from cli.display import _cat_name, _place_name, _subcat_name
from core.reasons import reason_words
from core.states import SCALE_NAMES


def _pick(kind: str, value: str, names: dict[str, str]) -> str | None:
    """A filter given as a code or as (a part of) its Russian name, ё and е alike; None and a
    message when nothing or more than one thing matches, so a typo never reads as "no incidents"."""

    def norm(text: str) -> str:
        return text.casefold().replace("ё", "е").strip()

    if value in names:
        return value
    wanted = norm(value)
    exact = [code for code, name in names.items() if norm(name) == wanted]
    found = exact or [code for code, name in names.items() if wanted in norm(name)]
    if len(found) == 1:
        return found[0]
    if not found:
        err.print(f"[red]{kind} «{value}» не найден(а).[/] Есть: " + "; ".join(sorted(names.values())))
    else:
        err.print(f"[red]{kind} «{value}»: подходит несколько —[/] " + "; ".join(names[c] for c in found))
    return None


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from core.states import SLA_STATE_NAMES, STATUS_NAMES
    from incidents.domain.sla import format_left
    from incidents.domain.sla_clocks import SlaClocks
    from storage.store import open_incidents

    cfg = ctx.cfg
    category = municipality = None
    if args.category:
        category = _pick("Категория", args.category, {c.code: c.name for c in cfg.rubricator.categories})
        if category is None:
            return EXIT_USAGE
    if args.municipality:
        munis = {m.code: m.name for m in cfg.territories.municipalities}
        municipality = _pick("Муниципалитет", args.municipality, munis)
        if municipality is None:
            return EXIT_USAGE
    clocks = SlaClocks(cfg.sla, cfg.region.timezone)  # the console's evaluation: every running clock
    now = _now()
    with Session(ctx.engine) as session:
        rows = open_incidents(session)
    if category:
        rows = [r for r in rows if r.category == category]
    if municipality:
        rows = [r for r in rows if r.municipality == municipality]
    verdicts = {r.id: clocks.verdict(r, now) for r in rows}
    rows.sort(key=lambda r: ((v.due_at if (v := verdicts[r.id]) else None) or now, r.priority))
    total, limit = len(rows), max(1, args.limit)
    first = (max(1, args.page) - 1) * limit
    shown = rows[first : first + limit]
    if first + len(shown) < total or first > 0:
        pages = -(-total // limit)
        err.print(
            f"показано {first + 1 if shown else 0}–{first + len(shown)} из {total}"
            + (f"; следующая страница: --page {args.page + 1}" if first + len(shown) < total else "")
            + f" (страниц {pages}, по {limit}: --limit)"
        )
    if args.format == "jsonl":
        for r in shown:
            v = verdicts[r.id]
            state = v.state if v else "off"
            print(
                json.dumps(
                    {
                        "id": r.id,
                        "title": r.title,
                        "status": r.status,
                        "priority": r.priority,
                        "sla": state,
                        "left_minutes": int(v.left.total_seconds() // 60) if v and v.left else None,
                        "status_name": STATUS_NAMES.get(r.status, r.status),
                        "sla_name": SLA_STATE_NAMES.get(state, state),
                        "sla_clock": v.name if v else None,
                    },
                    ensure_ascii=False,
                )
            )
        return EXIT_OK
    t = Table(title=f"Открытые инциденты: {total}", title_justify="left")
    for col in ("ID", "Инцидент", "Категория", "Постов", "Пр.", "Статус", "Осталось"):
        t.add_column(col, overflow="fold")
    for r in shown:
        v = verdicts[r.id]
        left = format_left(v.left) if v else "—"
        style = {"overdue": "red", "at_risk": "yellow"}.get(v.state if v else "", "")
        t.add_row(
            str(r.id),
            r.title,
            _cat_name(cfg, r.category),
            str(r.post_count),
            str(r.priority),
            STATUS_NAMES.get(r.status, r.status),
            f"[{style}]{left}[/]" if style else left,
        )
    console.print(t)
    return EXIT_OK


def cmd_show(ctx: Context, args: argparse.Namespace) -> int:
    from sqlmodel import Session, col, select

    from core.states import CLOCK_NAMES, EVENT_NAMES, SLA_STATE_NAMES, STATUS_NAMES
    from incidents.domain.sla import format_left
    from incidents.domain.sla_clocks import SlaClocks
    from storage.models import AuditEvent, Incident, IncidentPost, Post, Signal, row_id

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
    v = SlaClocks(cfg.sla, cfg.region.timezone).verdict(inc, _now())  # what `list` and the console show
    body = cfg.body_by_code.get(inc.body_code or "")
    tz = ZoneInfo(cfg.region.timezone)
    words = reason_words(cfg)

    def local(at: datetime) -> str:  # what the region's staff read: their own clock, not UTC
        return f"{at.astimezone(tz):%d.%m.%Y %H:%M}"

    console.print(f"[b]#{inc.id} {inc.title}[/]")
    if inc.merged_into_id:
        console.print(f"[yellow]объединён с #{inc.merged_into_id}: посты и работа — там[/]")
    console.print(
        f"статус: {STATUS_NAMES.get(inc.status, inc.status)}; приоритет: {inc.priority}; масштаб: {SCALE_NAMES.get(inc.scale or '', inc.scale)}; "
        f"категория: {_cat_name(cfg, inc.category)} / {_subcat_name(cfg, inc.category, inc.subcategory)}"
    )
    console.print(
        f"муниципалитет: {_place_name(cfg, inc.municipality, inc.scale)}; "
        f"адрес: {(card.address if card else None) or inc.address or '—'}"
    )
    console.print(f"ответственный: {body.name if body else inc.body_code or '—'}")
    console.print(
        f"открыт: {local(inc.opened_at)}; ответ до: {local(inc.due_at)} ({cfg.region.timezone}); "
        f"срок: {SLA_STATE_NAMES.get(v.state, v.state) + ', ' + CLOCK_NAMES.get(v.name, v.name) if v else '—'}"
        f" ({format_left(v.left) if v else '—'})"
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
                f"первый пост: {local(card.first_post_at)}; "
                f"последний: {local(card.last_post_at)}; "
                f"главный пост: {card.representative}\n"
            )
    else:
        console.print(f"охват: {inc.reach}; сети: {inc.networks}\n")
    for post, sig in posts:
        console.print(
            f"[b]{post.network}:{post.external_id}[/] {local(post.created_at)} "
            f"{post.author_name or post.author_id or ''} {post.url or ''}"
        )
        console.print("  " + " ".join(post.text.split())[:500], markup=False)
        if sig is not None:
            console.print(
                f"  правила: {', '.join(r['rule_id'] for r in sig.rules or []) or '—'}; оценка {sig.score}",
                markup=False,
            )
            for reason in sig.reasons or []:
                console.print(f"    · {words.ru(reason)}", markup=False)
    if events:
        console.print("\n[b]История[/]")
        for e in events:
            what = json.dumps(e.data, ensure_ascii=False)[:200] if e.data else ""
            moved = (
                f" ({STATUS_NAMES.get(e.from_state or '', e.from_state or '—')} → "
                f"{STATUS_NAMES.get(e.to_state or '', e.to_state or '—')})"
                if e.to_state
                else ""
            )
            who = "система" if e.actor == "system" else e.actor
            console.print(
                f"  {local(e.at)} {who}: {EVENT_NAMES.get(e.action, e.action)}{moved} {words.ru(e.reason)} {what}".rstrip(),
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
    excel = fmt == "csv-excel"  # a Russian-locale Excel: a BOM to see UTF-8, «;» between columns
    if excel:
        out.write("\ufeff")
    writer = csv.DictWriter(
        out, fieldnames=list(csv_fields), extrasaction="ignore", delimiter=";" if excel else ","
    )
    writer.writeheader()
    for r in rows:
        writer.writerow(
            {k: ((", " if excel else ";").join(v) if isinstance(v, list) else v) for k, v in r.items()}
        )
        n += 1
    return n


_NAME_FIELDS = {
    "incidents": ["status_name", "category_name", "municipality_name", "body_name"],
    "signals": ["category_name", "municipality_name"],
}


def _named(ctx: Context, rows: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """The export's codes stay (the contract); beside each, the name a person reads
    (`category_name`, `municipality_name`, `body_name`, `status_name`), so an analyst's file is
    readable without the region's YAML."""
    from core.states import STATUS_NAMES

    cfg = ctx.cfg
    cats = {c.code: c.name for c in cfg.rubricator.categories}
    munis = {m.code: m.name for m in cfg.territories.municipalities}
    bodies = {b.code: b.name for b in cfg.bodies.bodies}
    for r in rows:
        named = dict(r)
        if "status" in r:
            named["status_name"] = STATUS_NAMES.get(r["status"] or "", r["status"])
        named["category_name"] = cats.get(r.get("category") or "")
        named["municipality_name"] = munis.get(r.get("municipality") or "")
        if "body" in r:
            named["body_name"] = bodies.get(r["body"] or "")
        yield named


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
                    *_NAME_FIELDS["incidents"],
                    "lat",
                    "lon",
                ]
                rows = _named(ctx, incident_rows(session, personal=args.with_authors))
                n = _write_rows(rows, args.format, out, fields)
            else:
                fields = ["post", "is_complaint", "in_region", "category", "municipality", "score"]
                if args.with_authors:
                    fields += ["author_id", "author_name"]
                fields += [*_NAME_FIELDS["signals"], "lat", "lon"]  # extended 2026-12-07: the post's point
                if args.with_authors:
                    fields += ["post_address"]
                n = _write_rows(
                    _named(ctx, signal_rows(session, personal=args.with_authors)), args.format, out, fields
                )
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
    if _check_map(cfg) != EXIT_OK:
        return EXIT_FAILED
    if getattr(args, "collisions", False):
        _print_collisions(cfg)
    return _print_gaps(cfg, strict=getattr(args, "strict", False))


def _print_gaps(cfg: Any, *, strict: bool) -> int:
    """What is still missing and what it costs (issue 21); `--strict` makes a gap a failure."""
    from incidents.services.config_gaps import config_gaps

    gaps = config_gaps(cfg)
    if not gaps:
        console.print("  пробелов нет")
        return EXIT_OK
    console.print(f"Чего ещё не хватает ({len(gaps)}), и чего это стоит:", highlight=False)
    for g in gaps:
        console.print(f"  • {g.what}\n    → {g.cost}", highlight=False, markup=False)
    return EXIT_PROBLEMS if strict else EXIT_OK


def _check_map(cfg: Any) -> int:
    """The map's boundaries: a broken file fails the check; a feature that matches no municipality
    and a municipality with no feature are warnings (the map and `locate` simply leave them out)."""
    if not cfg.region.map.boundaries:  # a gap, with its cost, below
        return EXIT_OK
    try:
        geo = cfg.boundaries()
    except (OSError, ValueError) as exc:
        err.print(f"[red]region.yaml → map.boundaries: файл границ не читается:[/] {exc}")
        return EXIT_FAILED
    n = sum(len(a.features) for a in geo.areas.values())
    console.print(
        f"  карта: {cfg.region.map.boundaries} — объектов {n + len(geo.unmatched)}, "
        f"сопоставлено {n} с {len(geo.areas)} муниципалитетами"
    )
    for name in geo.unmatched:
        err.print(
            f"[yellow]предупреждение:[/] граница «{name}» не сопоставлена ни одному муниципалитету "
            "(region.yaml → map.features)"
        )
    for code in geo.missing:
        err.print(
            f"[yellow]предупреждение:[/] у муниципалитета {code} ({cfg.municipality_by_code[code].name}) "
            "нет границы на карте"
        )
    return EXIT_OK


def _print_collisions(cfg: Any) -> None:
    """`check-config --collisions`: every name that can be read two ways, how it will be read
    and example sentences read by the pipeline itself (docs/place-matching.md)."""
    from pipelines.collisions import KIND_NAMES, find_collisions

    found = find_collisions(cfg)
    console.print(f"\nНазваний, которые читаются двояко: {len(found)} (правила: docs/place-matching.md)")
    for c in found:
        console.print(f"\n[b]{c.name}[/] — {KIND_NAMES[c.kind]}: {'; '.join(c.places)}", highlight=False)
        console.print(f"  как читается: {c.rule}", highlight=False)
        for sentence, reading in c.examples:
            console.print(f"  «{sentence}» → {reading}", highlight=False)


def add_commands(sub: Any) -> None:
    s = sub.add_parser("list", help="открытые инциденты со временем до срока ответа")
    s.add_argument("--limit", type=int, default=50, help="строк на странице (по умолчанию 50)")
    s.add_argument("--page", type=int, default=1, help="номер страницы (по умолчанию 1)")
    s.add_argument("--category", help="код или название категории («roads», «дороги»)")
    s.add_argument("--municipality", help="код или название муниципалитета («kursk», «Курск»)")
    s.add_argument("--format", choices=["table", "jsonl"], default="table")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("show", help="карточка инцидента")
    s.add_argument("id", type=int)
    s.set_defaults(func=cmd_show)

    s = sub.add_parser("export", help="выгрузка инцидентов или сигналов")
    s.add_argument("what", choices=["incidents", "signals"])
    s.add_argument(
        "--format",
        choices=["jsonl", "csv", "csv-excel"],
        default="jsonl",
        help="jsonl (по умолчанию), csv (контракт: запятые) или csv-excel (для русского Excel: BOM и «;»)",
    )
    s.add_argument("--output", "-o", help="файл (по умолчанию стандартный вывод)")
    s.add_argument(
        "--with-authors",
        action="store_true",
        help="с идентификаторами и именами авторов (если разрешено: privacy.export_personal_data)",
    )
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("check-config", help="проверить конфигурацию региона и сказать, чего в ней не хватает")
    s.add_argument("--strict", action="store_true", help="код выхода 3, если чего-то не хватает")
    s.add_argument(
        "--collisions",
        action="store_true",
        help="показать названия, которые можно прочитать двояко (город и улица, общее слово…), "
        "как они будут прочитаны, с примерами",
    )
    s.set_defaults(func=cmd_check_config)
