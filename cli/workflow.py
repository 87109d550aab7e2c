"""The workflow commands: users, triage and assignment, answers, the outbox, the SLA watch and report.

Wired into the main parser by `add_commands(subparsers)`, following `cli/main.py`:
`cmd(ctx, args) -> exit code`. Every action names who does it (`--by LOGIN`, or the
`INCIDENTS_USER` environment variable); the role and body of that user decide what is allowed.
Exit codes: 0 done; 1 failed; 2 refused (unknown user, no permission, a transition the state
machine does not allow, a missing reason); 3 done with problems (replies failed, dry run).

This module imports nothing heavy at import time.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from incidents.domain.sla_clocks import ClockState

console = Console(stderr=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PROBLEMS = 0, 1, 2, 3


def _now() -> datetime:
    return datetime.now(UTC)


def _act(ctx: Any, args: argparse.Namespace, fn: Callable[[Any, Any, Any], str]) -> int:
    """Run one workflow step as `--by` in one transaction; refusals are printed, not raised."""
    from sqlmodel import Session

    from core.roles import PermissionDenied
    from core.states import InvalidTransition
    from incidents.domain.templates import TemplateNotFound
    from incidents.services.answered import NotPublished
    from incidents.services.workflow import Workflow, WorkflowError, get_actor

    login = args.by or os.environ.get("INCIDENTS_USER")
    if not login:
        err.print("[red]укажите, кто действует: --by LOGIN (или INCIDENTS_USER)[/]")
        return EXIT_USAGE
    try:
        with Session(ctx.engine, expire_on_commit=False) as session, session.begin():
            actor = get_actor(session, login)
            message = fn(Workflow(session, ctx.cfg, _now), actor, session)
    except (PermissionDenied, InvalidTransition, WorkflowError, TemplateNotFound, NotPublished) as exc:
        err.print(f"[red]отказано:[/] {exc}", markup=True)
        return EXIT_USAGE
    console.print(message, markup=False)
    return EXIT_OK


def _deadline(value: str | None, tz: str) -> datetime | None:
    if not value:
        return None
    d = date.fromisoformat(value)
    return datetime.combine(d, time(18, 0), ZoneInfo(tz))


# --------------------------------------------------------------------------- users
def cmd_user_add(ctx: Any, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from incidents.services.workflow import WorkflowError, add_user, set_password

    password = _read_password(args)
    try:
        hashed = None
        if password is not None:
            from incidents.domain.passwords import hash_password

            hashed = hash_password(password)
        with Session(ctx.engine) as session, session.begin():
            row = add_user(
                session,
                ctx.cfg,
                login=args.login,
                role=args.role,
                body=args.body,
                name=args.name,
                email=args.email,
                telegram_chat_id=args.telegram,
                now=_now(),
            )
            if hashed is not None:  # a new password ends the sessions opened with the old one
                set_password(session, row.login, hashed, _now())
    except (WorkflowError, ValueError) as exc:
        err.print(f"[red]{exc}[/]")
        return EXIT_USAGE
    console.print(f"пользователь {args.login}: {args.role}" + (f", {args.body}" if args.body else ""))
    return EXIT_OK


def _read_password(args: argparse.Namespace) -> str | None:
    """The console password: one line of standard input (`--password-stdin`), or asked twice
    without echo (`--password`); never a command-line argument, which `ps` and shell history keep."""
    import sys

    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\r\n")
    if getattr(args, "password", False):
        import getpass

        first = getpass.getpass("пароль: ")
        if first != getpass.getpass("ещё раз: "):
            raise SystemExit("пароли не совпадают")
        return first
    return None


def cmd_user_disable(ctx: Any, args: argparse.Namespace) -> int:
    """Disable a user (or enable again with --enable); disabling logs them out of the console everywhere."""
    from sqlmodel import Session

    from incidents.services.workflow import WorkflowError, revoke_user_sessions, set_active

    try:
        with Session(ctx.engine) as session, session.begin():
            if args.logout_only:
                n = revoke_user_sessions(session, args.login, _now())
                console.print(f"пользователь {args.login}: завершено сессий консоли: {n}")
                return EXIT_OK
            set_active(session, args.login, args.enable, _now())
    except WorkflowError as exc:
        err.print(f"[red]{exc}[/]")
        return EXIT_USAGE
    console.print(
        f"пользователь {args.login}: {'включён' if args.enable else 'отключён, сессии консоли завершены'}"
    )
    return EXIT_OK


def cmd_user_list(ctx: Any, args: argparse.Namespace) -> int:
    from sqlmodel import Session, select

    from storage.models import User

    with Session(ctx.engine) as session:
        rows = session.exec(select(User).order_by(User.login)).all()
    t = Table(title=f"Пользователи: {len(rows)}", title_justify="left")
    for col in ("Логин", "Роль", "Орган", "Email", "Telegram", "Вход в консоль"):
        t.add_column(col, overflow="fold")
    for u in rows:
        t.add_row(
            u.login,
            u.role,
            u.body_code or "",
            u.email or "",
            u.telegram_chat_id or "",
            "есть пароль" if u.password_hash else "—",
        )
    console.print(t)
    return EXIT_OK


# --------------------------------------------------------------------------- steps
def cmd_triage(ctx: Any, args: argparse.Namespace) -> int:
    return _act(ctx, args, lambda w, a, s: f"#{w.triage(a, args.id, args.reason).id}: разобран")


def cmd_assign(ctx: Any, args: argparse.Namespace) -> int:
    def go(w: Any, a: Any, s: Any) -> str:
        inc = w.assign(a, args.id, args.body, args.reason)
        return f"#{inc.id}: назначен {ctx.cfg.body_by_code[inc.body_code].name}"

    return _act(ctx, args, go)


def cmd_hand_back(ctx: Any, args: argparse.Namespace) -> int:
    return _act(ctx, args, lambda w, a, s: f"#{w.hand_back(a, args.id, args.reason).id}: возвращён на разбор")


def cmd_reject(ctx: Any, args: argparse.Namespace) -> int:
    return _act(ctx, args, lambda w, a, s: f"#{w.reject(a, args.id, args.reason).id}: отклонён")


def cmd_reply(ctx: Any, args: argparse.Namespace) -> int:
    def go(w: Any, a: Any, s: Any) -> str:
        ans = w.draft_answer(
            a,
            args.id,
            text=args.text,
            template=args.template,
            interim=args.interim,
            deadline=_deadline(args.deadline, ctx.cfg.region.timezone),
            override=args.override,
        )
        kind = "промежуточный ответ" if ans.interim else "ответ"
        need = " — ждёт утверждения контролёра" if ctx.cfg.replies.approval_required else ""
        return f"#{args.id}: {kind} подготовлен{need}:\n{ans.text}"

    return _act(ctx, args, go)


def cmd_approve(ctx: Any, args: argparse.Namespace) -> int:
    return _act(ctx, args, lambda w, a, s: f"#{args.id}: ответ {w.approve(a, args.id).id} утверждён")


def cmd_return(ctx: Any, args: argparse.Namespace) -> int:
    return _act(
        ctx,
        args,
        lambda w, a, s: f"#{w.return_draft(a, args.id, args.reason).id}: ответ возвращён на доработку",
    )


def cmd_resolve(ctx: Any, args: argparse.Namespace) -> int:
    return _act(ctx, args, lambda w, a, s: f"#{w.resolve(a, args.id, args.reason).id}: решён")


def cmd_close(ctx: Any, args: argparse.Namespace) -> int:
    return _act(ctx, args, lambda w, a, s: f"#{w.close(a, args.id, args.reason).id}: закрыт")


def cmd_reopen(ctx: Any, args: argparse.Namespace) -> int:
    return _act(ctx, args, lambda w, a, s: f"#{w.reopen(a, args.id, args.reason).id}: открыт повторно")


# --------------------------------------------------------------------------- outbox
def cmd_publish(ctx: Any, args: argparse.Namespace) -> int:
    """Queue an incident's approved answer (with --incident), then send everything due."""
    from sqlmodel import Session

    from incidents.services.channels import build_channels
    from incidents.services.outbox import Outbox
    from incidents.services.workflow import Workflow

    if args.incident is not None:
        posts = [int(p) for p in args.posts.split(",")] if args.posts else None
        code = _act(
            ctx,
            args,
            lambda w, a, s: f"#{args.incident}: в очереди ответов {len(w.publish(a, args.incident, posts))}",
        )
        if code != EXIT_OK:
            return code
    with Session(ctx.engine) as session, session.begin():
        auto = Workflow(session, ctx.cfg, _now).auto_answer_new_posts()
    if auto:
        console.print(f"автоответов новым постам к отвеченным инцидентам: {auto}")
    channels = build_channels(ctx.cfg)
    report = Outbox(ctx.engine, ctx.cfg, channels, _now, dry_run=args.dry_run).run(args.limit)
    console.print(
        f"отправлено: {report.sent}; найдено уже опубликованными: {report.recovered}; "
        f"повтор позже: {report.retry}; ошибок: {report.failed}"
    )
    for network, n in sorted(report.dry_run.items()):
        console.print(
            f"[yellow]пробный режим (dry run) для {network}: {n} ответов не отправлено — "
            f"{report.dry_run_reasons.get(network)}[/]"
        )
    if report.dry_run:  # issue 18: a queued answer is not an answer
        console.print(
            "[yellow]ответ не отправлен: инцидент не считается отвеченным (до подтверждённой отправки)[/]"
        )
    for line in report.errors[:20]:
        err.print(line, markup=False)
    return EXIT_PROBLEMS if report.failed or report.dry_run else EXIT_OK


def cmd_replies(ctx: Any, args: argparse.Namespace) -> int:
    from sqlmodel import Session, col, select

    from core.states import REPLY_STATUS_NAMES
    from storage.models import Post, Reply

    with Session(ctx.engine) as session:
        stmt = (
            select(Reply, Post)
            .join(Post, col(Post.id) == col(Reply.post_id), isouter=True)
            .order_by(col(Reply.id))
        )
        if args.incident:
            stmt = stmt.where(Reply.incident_id == args.incident)
        if args.status:
            stmt = stmt.where(Reply.status == args.status)
        rows = session.exec(stmt.limit(args.limit)).all()
    t = Table(title=f"Ответы: {len(rows)}", title_justify="left")
    for heading in ("ID", "Инц.", "Пост", "Статус", "Попыток", "Внешний id / причина"):
        t.add_column(heading, overflow="fold")
    for r, p in rows:
        where = f"{p.network}:{p.external_id}" if p else "—"
        t.add_row(
            str(r.id),
            str(r.incident_id),
            where,
            REPLY_STATUS_NAMES.get(r.status, r.status) + (" (пром.)" if r.interim else ""),
            str(r.attempts),
            r.remote_id or r.error or "",
        )
    console.print(t)
    return EXIT_OK


def cmd_queue(ctx: Any, args: argparse.Namespace) -> int:
    """The open incidents a user works on (an executor: their body's only), every running clock shown."""
    from sqlmodel import Session

    from core.roles import PermissionDenied, Role
    from incidents.domain.sla import format_left
    from incidents.domain.sla_clocks import SlaClocks
    from incidents.services.workflow import get_actor
    from storage.store import open_incidents

    login = args.by or os.environ.get("INCIDENTS_USER")
    if not login:
        err.print("[red]укажите, кто смотрит: --by LOGIN (или INCIDENTS_USER)[/]")
        return EXIT_USAGE
    cfg, now = ctx.cfg, _now()
    clocks = SlaClocks(cfg.sla, cfg.region.timezone)
    with Session(ctx.engine) as session:
        try:
            actor = get_actor(session, login)
        except PermissionDenied as exc:
            err.print(f"[red]отказано:[/] {exc}", markup=True)
            return EXIT_USAGE
        rows = [i for i in open_incidents(session) if i.merged_into_id is None]
    if actor.role is Role.EXECUTOR:
        rows = [i for i in rows if i.body_code == actor.body_code]
    elif args.body:
        rows = [i for i in rows if i.body_code == args.body]
    names = {
        "triage": "разбор",
        "draft": "черновик",
        "first_answer": "ответ",
        "follow_up": "оконч. ответ",
        "resolution": "ПОС",
    }
    table_rows = []
    for inc in rows:
        running = [st for st in clocks.evaluate(inc, now).values() if st.running]
        running.sort(key=_due)
        first = running[0].due_at if running else None
        table_rows.append((first or now + timedelta(days=3650), inc, running))
    table_rows.sort(key=lambda r: (r[0], r[1].priority))
    t = Table(title=f"Очередь {login}: {len(table_rows)}", title_justify="left")
    for col in ("ID", "Инцидент", "Статус", "Орган", "Сроки"):
        t.add_column(col, overflow="fold")
    for _, inc, running in table_rows[: args.limit]:
        parts = []
        for st in running:
            style = {"overdue": "red", "at_risk": "yellow"}.get(st.state)
            text = f"{names[st.name]} {format_left(st.left)}"
            parts.append(f"[{style}]{text}[/]" if style else text)
        t.add_row(str(inc.id), inc.title, inc.status, inc.body_code or "—", "; ".join(parts) or "—")
    console.print(t)
    return EXIT_OK


# --------------------------------------------------------------------------- SLA
def cmd_sla_watch(ctx: Any, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from incidents.services.notify import build_notifiers
    from incidents.services.sla_watch import sla_watch
    from incidents.services.workflow import Workflow

    with Session(ctx.engine) as session, session.begin():
        reopened = Workflow(session, ctx.cfg, _now).apply_ratings()
    if reopened:
        console.print(f"повторно открыты по низкой оценке на ПОС: {', '.join(f'#{i}' for i in reopened)}")
    notifiers, missing = (
        ({}, {"email": "--dry-run", "telegram": "--dry-run"}) if args.dry_run else build_notifiers()
    )
    report = sla_watch(ctx.engine, ctx.cfg, _now, notifiers, missing)
    states: dict[str, int] = {}
    for (_clock, state), n in report.states.items():
        states[state] = states.get(state, 0) + n
    console.print(
        f"проверено инцидентов: {report.checked}; под угрозой: {states.get('at_risk', 0)}, "
        f"просрочено: {states.get('overdue', 0)} (по всем срокам)"
    )
    console.print(
        f"уведомлений отправлено: {report.sent}; уже отправлялись: {report.already}; ошибок: {report.failed}"
    )
    for channel, n in sorted(report.dry_run.items()):
        console.print(
            f"[yellow]пробный режим (dry run) для {channel}: {n} уведомлений — "
            f"{report.dry_run_reasons.get(channel)}[/]"
        )
    for line in report.messages[:50]:
        console.print("  " + line, markup=False)
    return EXIT_PROBLEMS if report.failed else EXIT_OK


def _since(value: str | None, tz: str) -> datetime | None:
    if not value:
        return None
    return _day(value, tz)


def _day(value: str, tz: str) -> datetime:
    return datetime.combine(date.fromisoformat(value), time(0), ZoneInfo(tz))


def _due(st: ClockState) -> datetime:
    assert st.due_at is not None  # a running clock has a deadline
    return st.due_at


def cmd_sla_report(ctx: Any, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from incidents.domain.sla_report import figures, load_period

    cfg = ctx.cfg
    tz = cfg.region.timezone
    since = _since(args.since, tz) if args.since else _now() - timedelta(days=args.days)
    until = _day(args.until, tz) + timedelta(days=1) if args.until else None
    with Session(ctx.engine) as session:
        rows = load_period(session, since, until)
    minimum = args.min_incidents or cfg.sla.rating_min_incidents
    result = figures(
        rows, _now(), by="body_code" if args.by == "body" else "municipality", min_incidents=minimum
    )
    if args.json:
        for f in result:
            print(json.dumps(f.as_dict(), ensure_ascii=False))
        return EXIT_OK

    def name(key: str | None) -> str:
        if args.by == "body":
            b = cfg.body_by_code.get(key or "")
            return b.name if b else key or "—"
        m = cfg.municipality_by_code.get(key or "")
        return m.name if m else key or "— не определено"

    t = Table(
        title=f"SLA по {'органам' if args.by == 'body' else 'муниципалитетам'} с {since:%d.%m.%Y} "
        f"(в рейтинге — от {minimum} инцидентов)",
        title_justify="left",
    )
    for col in ("", "инцидентов", "в срок", "медиана до ответа, ч", "просрочено", "ждут ответа", "рейтинг"):
        t.add_column(col, justify="left" if not col else "right", overflow="fold")
    for f in result:
        share = f.share_in_time
        t.add_row(
            name(f.key),
            str(f.incidents),
            "—" if share is None else f"{share:.0%}",
            "—" if f.median_hours_to_answer is None else f"{f.median_hours_to_answer:.1f}",
            str(f.overdue),
            str(f.pending),
            "да" if f.rated else "мало данных",
        )
    console.print(t)
    return EXIT_OK


# --------------------------------------------------------------------------- parser
def _by(p: argparse.ArgumentParser) -> None:
    p.add_argument("--by", metavar="LOGIN", help="кто действует (или INCIDENTS_USER)")


def add_commands(sub: Any) -> None:
    """Register the workflow commands on the `incidents` subparsers."""
    s = sub.add_parser("user", help="пользователи и их роли")
    us = s.add_subparsers(dest="action", required=True)
    u = us.add_parser("add", help="добавить или изменить пользователя")
    u.add_argument("login")
    u.add_argument(
        "--role", required=True, choices=["admin", "moderator", "executor", "controller", "observer"]
    )
    u.add_argument("--body", help="код органа (обязателен для исполнителя)")
    u.add_argument("--name")
    u.add_argument("--email")
    u.add_argument("--telegram", metavar="CHAT_ID", help="чат для уведомлений бота")
    pw = u.add_mutually_exclusive_group()
    pw.add_argument("--password", action="store_true", help="задать пароль для веб-консоли (спросить дважды)")
    pw.add_argument(
        "--password-stdin", action="store_true", help="пароль для веб-консоли — строка со стандартного ввода"
    )
    u.set_defaults(func=cmd_user_add)
    u = us.add_parser("disable", help="отключить пользователя (все его сессии консоли завершаются)")
    u.add_argument("login")
    g = u.add_mutually_exclusive_group()
    g.add_argument("--enable", action="store_true", help="включить снова")
    g.add_argument("--logout-only", action="store_true", help="только завершить все его сессии консоли")
    u.set_defaults(func=cmd_user_disable)
    u = us.add_parser("list", help="список пользователей")
    u.set_defaults(func=cmd_user_list)

    s = sub.add_parser("queue", help="мои инциденты (исполнителю — только его органа) со всеми сроками")
    s.add_argument("--body", help="только этого органа")
    s.add_argument("--limit", type=int, default=50)
    _by(s)
    s.set_defaults(func=cmd_queue)

    s = sub.add_parser("triage", help="инцидент разобран: это жалоба, её надо назначить")
    s.add_argument("id", type=int)
    s.add_argument("--reason")
    _by(s)
    s.set_defaults(func=cmd_triage)

    s = sub.add_parser("assign", help="назначить (переназначить) ответственный орган, с причиной")
    s.add_argument("id", type=int)
    s.add_argument("body", metavar="BODY", help="код органа из bodies.yaml")
    s.add_argument("--reason", help="причина (обязательна при переназначении)")
    _by(s)
    s.set_defaults(func=cmd_assign)

    s = sub.add_parser("hand-back", help="«не наше»: вернуть инцидент на разбор, с причиной")
    s.add_argument("id", type=int)
    s.add_argument("--reason", required=True)
    _by(s)
    s.set_defaults(func=cmd_hand_back)

    s = sub.add_parser("reject", help="отклонить: не жалоба, с причиной")
    s.add_argument("id", type=int)
    s.add_argument("--reason", required=True)
    _by(s)
    s.set_defaults(func=cmd_reject)

    s = sub.add_parser("reply", help="подготовить ответ по шаблону или своим текстом")
    s.add_argument("id", type=int)
    g = s.add_mutually_exclusive_group()
    g.add_argument("--template", help="id шаблона из replies.yaml (по умолчанию — по категории)")
    g.add_argument("--text", help="текст ответа")
    s.add_argument("--interim", action="store_true", help="промежуточный ответ")
    s.add_argument("--deadline", metavar="YYYY-MM-DD", help="срок решения для {{ deadline }}")
    s.add_argument("--override", action="store_true", help="шаблон другой категории: решение контролёра")
    _by(s)
    s.set_defaults(func=cmd_reply)

    s = sub.add_parser("approve", help="контролёр утверждает подготовленный ответ")
    s.add_argument("id", type=int)
    _by(s)
    s.set_defaults(func=cmd_approve)

    s = sub.add_parser("return", help="контролёр возвращает ответ на доработку, с причиной")
    s.add_argument("id", type=int)
    s.add_argument("--reason", required=True)
    _by(s)
    s.set_defaults(func=cmd_return)

    s = sub.add_parser(
        "publish", help="отправить очередь ответов (с --incident — сначала поставить ответ в очередь)"
    )
    s.add_argument(
        "--incident", type=int, metavar="ID", help="поставить утверждённый ответ инцидента в очередь"
    )
    s.add_argument("--posts", metavar="ID,ID", help="только под эти посты (по умолчанию — под все)")
    s.add_argument("--dry-run", action="store_true", help="ничего не отправлять, только показать")
    s.add_argument("--limit", type=int, help="не больше стольких ответов за запуск")
    _by(s)
    s.set_defaults(func=cmd_publish)

    s = sub.add_parser(
        "replies", help="ответы по постам: в очереди, отправлены (внешний id), ошибки (причина)"
    )
    s.add_argument("--incident", type=int, metavar="ID")
    s.add_argument("--status", choices=["queued", "sending", "sent", "failed", "manual"])
    s.add_argument("--limit", type=int, default=100)
    s.set_defaults(func=cmd_replies)

    s = sub.add_parser("resolve", help="исполнитель отмечает проблему решённой")
    s.add_argument("id", type=int)
    s.add_argument("--reason")
    _by(s)
    s.set_defaults(func=cmd_resolve)

    s = sub.add_parser("close", help="закрыть решённый инцидент")
    s.add_argument("id", type=int)
    s.add_argument("--reason")
    _by(s)
    s.set_defaults(func=cmd_close)

    s = sub.add_parser("reopen", help="открыть повторно, с причиной")
    s.add_argument("id", type=int)
    s.add_argument("--reason", required=True)
    _by(s)
    s.set_defaults(func=cmd_reopen)

    s = sub.add_parser("sla-watch", help="проверить сроки и разослать предупреждения (email, Telegram-бот)")
    s.add_argument("--dry-run", action="store_true", help="ничего не отправлять, только показать")
    s.set_defaults(func=cmd_sla_watch)

    s = sub.add_parser("sla-report", help="показатели SLA по органам или муниципалитетам")
    s.add_argument("--by", choices=["body", "municipality"], default="body")
    s.add_argument("--since", metavar="YYYY-MM-DD")
    s.add_argument("--until", metavar="YYYY-MM-DD")
    s.add_argument(
        "--days", type=int, default=30, help="период, если --since не задан (по умолчанию 30 дней)"
    )
    s.add_argument("--min-incidents", type=int, help="порог для рейтинга (по умолчанию из sla.yaml)")
    s.add_argument("--json", action="store_true", help="JSON Lines")
    s.set_defaults(func=cmd_sla_report)
