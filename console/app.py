"""The console's routes: log-in, the triage queue, the incident card, the inbox, the SLA board,
the heat map, the ratings and the exports.

Every request finds its user from the signed session cookie, its row in `console_sessions` (a
session logged out, or ended by a new password or a disabled user, is refused even from a copied
cookie) and the `users` table (a user made inactive is logged out at once); every page narrows what it reads to what that user may see,
and every change goes through `incidents.services.workflow.Workflow`, which checks the role and the body
again (`incidents.core.roles.authorize`). A POST without the session's CSRF token is refused with
403 before anything is read. After a change the browser is redirected (POST → redirect → GET),
with the outcome carried once in the session cookie.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from console import data, exports, geo, ops
from console.auth import (
    COOKIE,
    LoginThrottle,
    SessionCodec,
    SessionData,
    csrf_ok,
    open_session,
    revoke_session,
    session_alive,
)
from console.limits import BodySizeLimit
from console.settings import ConsoleSettings
from incidents.core.config import RegionConfig
from incidents.core.roles import Action, Actor, PermissionDenied, Role, can
from incidents.core.states import InvalidTransition
from incidents.domain.sla_clocks import SlaClocks
from incidents.domain.templates import TemplateNotFound
from incidents.services.workflow import Workflow, WorkflowError
from incidents.storage.models import Incident, User

HERE = Path(__file__).resolve().parent
Clock = Callable[[], datetime]
ROLE_NAMES = {
    "admin": "региональный администратор",
    "moderator": "модератор",
    "executor": "исполнитель",
    "controller": "контролёр",
    "observer": "наблюдатель",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
REFUSALS = (PermissionDenied, InvalidTransition, WorkflowError, TemplateNotFound, ops.OperationError)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LoginRequired(Exception):
    """No valid session: the browser goes to the log-in page."""


class Viewer:
    """The logged-in person of one request."""

    def __init__(self, user: User, session: SessionData) -> None:
        self.user, self.session = user, session
        self.actor = Actor(user.login, Role(user.role), user.body_code)

    def can(self, action: str, inc: Incident | None = None) -> bool:
        return can(self.actor, Action(action), inc.body_code if inc is not None else self.actor.body_code)

    @property
    def role(self) -> str:
        return self.actor.role.value

    @property
    def is_executor(self) -> bool:
        return self.actor.role is Role.EXECUTOR

    @property
    def can_operate(self) -> bool:
        return self.actor.role in ops.OPERATORS


class Form:
    """A urlencoded form body, already checked for the CSRF token."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self.values = values

    def get(self, name: str, default: str = "") -> str:
        v = self.values.get(name)
        return v[0].strip() if v else default

    def all(self, name: str) -> list[str]:
        return [x.strip() for x in self.values.get(name, []) if x.strip()]

    def ints(self, name: str) -> list[int]:
        out = []
        for x in self.all(name):
            for part in x.replace(";", ",").replace(" ", ",").split(","):
                if part.strip().lstrip("#").isdigit():
                    out.append(int(part.strip().lstrip("#")))
        return out


def create_app(
    engine: Engine,
    cfg: RegionConfig,
    settings: ConsoleSettings,
    *,
    now: Clock = _utcnow,
    channels: Callable[[], Any] | None = None,
    session_clock: Clock = _utcnow,
) -> FastAPI:
    """The console over one database and one region. `channels` builds the reply channels for publishing
    (default: from the environment, `incidents.services.channels.build_channels`); `now` is the clock of the
    incidents (deadlines, locks); `session_clock` the wall clock that log-ins expire by."""
    app = FastAPI(title="Консоль инцидентов", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodySizeLimit)  # 413 before a body over 1 MB is read (F5, console/limits.py)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    throttle = LoginThrottle()
    codec = SessionCodec(
        settings.secret_key.get_secret_value().encode("utf-8"), int(settings.session_hours * 3600)
    )
    clocks = SlaClocks(cfg.sla, cfg.region.timezone)
    snapshot = data.OpenSnapshot(cfg, clocks, ttl=settings.snapshot_seconds)  # the open incidents, shared
    memo = data.Memo(ttl=settings.figures_seconds)  # the ratings and the heat map
    names = data.Names(cfg)
    tz = cfg.region.timezone
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def local(dt: datetime | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
        from zoneinfo import ZoneInfo

        return dt.astimezone(ZoneInfo(tz)).strftime(fmt) if dt else "—"

    env.filters["local"] = local
    env.filters["left"] = data.left_text
    env.globals["qs"] = lambda d: urlencode({k: v for k, v in (d or {}).items() if v})
    env.globals.update(
        names=names,
        role_names=ROLE_NAMES,
        clock_states=data.CLOCK_STATES,
        reply_statuses=data.REPLY_STATUSES,
        cfg=cfg,
        region=cfg.region,
    )

    def build_channels() -> Any:
        if channels is not None:
            return channels()
        from incidents.services.channels import build_channels as from_env

        return from_env(cfg)

    # ------------------------------------------------------------------ plumbing
    def read_session(request: Request) -> SessionData | None:
        return codec.loads(request.cookies.get(COOKIE))

    def set_cookie(resp: Response, sess: SessionData) -> None:
        resp.set_cookie(
            COOKIE,
            codec.dumps(sess),
            max_age=int(settings.session_hours * 3600),
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
            path="/",
        )

    def viewer(request: Request) -> Viewer:
        sess = read_session(request)
        if sess is None or not sess.login:
            raise LoginRequired()
        with Session(engine) as s:
            if not session_alive(s, sess.sid, sess.login, session_clock()):
                raise LoginRequired()  # logged out, revoked or expired: a copied cookie included
            user = s.exec(select(User).where(User.login == sess.login)).first()
        if user is None or not user.active or not user.password_hash:
            raise LoginRequired()
        return Viewer(user, sess)

    async def form(request: Request) -> Form:
        raw = (await request.body()).decode("utf-8", errors="replace")
        values = parse_qs(raw, keep_blank_values=True)
        sent = (values.get("csrf") or [request.headers.get("x-csrf-token", "")])[0]
        if not csrf_ok(read_session(request), sent):
            raise HTTPException(
                403, "Форма устарела или пришла не из консоли (нет CSRF-токена). Обновите страницу."
            )
        return Form(values)

    def page(request: Request, name: str, v: Viewer | None, status: int = 200, **ctx: Any) -> HTMLResponse:
        sess = v.session if v else (read_session(request) or SessionData())
        flash, sess.flash = sess.flash, None
        html = env.get_template(name).render(
            request=request, v=v, csrf=sess.csrf, flash=flash, now=now(), path=request.url.path, **ctx
        )
        resp = HTMLResponse(html, status_code=status)
        set_cookie(resp, sess)
        return resp

    def back(url: str, v: Viewer, message: str | None = None) -> RedirectResponse:
        v.session.flash = message
        resp = RedirectResponse(url, status_code=303)
        set_cookie(resp, v.session)
        return resp

    def visible_incident(s: Session, v: Viewer, incident_id: int) -> Incident:
        """The incident, when this viewer may see it; otherwise 404 — the same answer as for no incident,
        so an executor cannot even learn which numbers exist in other bodies."""
        # a number beyond the id column (INTEGER) is no incident: 404, not the database's overflow (F11)
        inc = s.get(Incident, incident_id) if 0 < incident_id < 2**31 else None
        if inc is None or not data.may_see(v.actor, inc):
            raise HTTPException(404, "Инцидент не найден или не относится к вашему органу.")
        return inc

    def export(kind: str | None, name: str, columns: list[str], rows: list[list[Any]]) -> Response | None:
        if kind not in ("csv", "xlsx"):
            return None
        stamp = now().strftime("%Y%m%d-%H%M")
        if kind == "csv":
            body, mime = exports.to_csv(columns, rows), exports.CSV_TYPE
        else:
            body, mime = exports.to_xlsx(columns, rows, name), exports.XLSX_TYPE
        return Response(
            body,
            media_type=mime,
            headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.{kind}"'},
        )

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        resp = await call_next(request)
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        if request.url.path != "/login" and not request.url.path.startswith("/static"):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET" or request.url.path.endswith(".json"):
            return JSONResponse({"error": "login required"}, status_code=401)
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.endswith(".json"):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        try:
            v = viewer(request)
        except LoginRequired:
            v = None
        return page(
            request, "error.html", v, status=exc.status_code, code=exc.status_code, message=exc.detail
        )

    # ------------------------------------------------------------------ log-in
    def safe_next(value: str | None) -> str:
        value = value or "/"
        return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> HTMLResponse:
        return page(request, "login.html", None, next=safe_next(next), error=None)

    @app.post("/login", response_class=HTMLResponse)
    def login(request: Request, f: Form = Depends(form)) -> Response:
        from incidents.domain.passwords import verify_password

        login_name, password = f.get("login"), f.values.get("password", [""])[0]
        address = request.client.host if request.client else ""  # per login and address (F8)
        if throttle.blocked(login_name, address):
            return page(
                request,
                "login.html",
                None,
                status=429,
                next=safe_next(f.get("next")),
                error="Слишком много неудачных попыток. Попробуйте через 15 минут.",
            )
        with Session(engine) as s:
            user = s.exec(select(User).where(User.login == login_name)).first()
        ok = verify_password(password, user.password_hash if user is not None else None)
        if not ok or user is None or not user.active:
            throttle.failed(login_name, address)
            return page(
                request,
                "login.html",
                None,
                status=401,
                next=safe_next(f.get("next")),
                error="Неверный логин или пароль.",
            )
        throttle.succeeded(login_name, address)
        with Session(engine) as s, s.begin():
            sid = open_session(s, user.login, session_clock(), settings.session_hours * 3600)
        sess = SessionData(
            login=user.login, csrf=secrets.token_urlsafe(24), sid=sid
        )  # a fresh token after log-in
        resp = RedirectResponse(safe_next(f.get("next")), status_code=303)
        set_cookie(resp, sess)
        return resp

    @app.post("/logout")
    def logout(request: Request, f: Form = Depends(form)) -> Response:
        sess = read_session(request)
        if sess is not None and sess.sid:
            with Session(engine) as s, s.begin():
                revoke_session(s, sess.sid, session_clock())  # a copy of this cookie is worth nothing now
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @app.get("/")
    def home(request: Request) -> Response:
        v = viewer(request)
        return RedirectResponse("/inbox" if v.is_executor else "/queue", status_code=303)

    # ------------------------------------------------------------------ the triage queue
    def queue_table(rows: list[data.QueueRow]) -> tuple[list[str], list[list[Any]]]:
        cols = [
            "ID",
            "Заголовок",
            "Статус",
            "Категория",
            "Муниципалитет",
            "Орган",
            "Сети",
            "Постов",
            "Охват",
            "Приоритет",
            "Открыт",
            "Ближайший срок",
            "Осталось",
            "Состояние",
            "В работе у",
        ]
        out = [
            [
                r.inc.id,
                r.inc.title,
                names.status(r.inc.status),
                names.category(r.inc.category),
                names.municipality(r.inc.municipality),
                names.body(r.inc.body_code),
                r.inc.networks or "",
                r.inc.post_count,
                r.inc.reach,
                r.inc.priority,
                local(r.inc.opened_at),
                f"{names.clock(r.first.name)} {local(r.first.due_at)}" if r.first else "",
                data.left_text(r.first.left) if r.first else "",
                data.CLOCK_STATES.get(r.worst, ""),
                r.lock or "",
            ]
            for r in rows
        ]
        return cols, out

    @app.get("/queue", response_class=HTMLResponse)
    def queue_page(request: Request) -> Response:
        v = viewer(request)
        params = request.query_params
        f = data.ListFilters.from_query(params)
        if v.is_executor:
            f.body = ""  # an executor's list is their body's whatever the URL says
        with Session(engine) as s:
            rows = data.queue(s, engine, cfg, v.actor, f, now(), clocks, snapshot)
        got = export(params.get("export"), "queue", *queue_table(rows))
        if got is not None:
            return got
        size = settings.page_size
        pages = max(1, -(-len(rows) // size))
        try:
            asked = int(params.get("page") or 1)
        except ValueError:  # «abc», «1e3»: a bad request, not a server error (F11)
            raise HTTPException(400, "Номер страницы должен быть целым числом.") from None
        n = min(max(1, asked), pages)
        return page(
            request,
            "queue.html",
            v,
            rows=rows[(n - 1) * size : n * size],
            total=len(rows),
            f=f,
            page_no=n,
            pages=pages,
            query=f.as_query(),
            statuses=data.STATUS_NAMES,
            untriaged=sum(1 for r in rows if r.untriaged),
        )

    @app.post("/queue/bulk")
    def queue_bulk(request: Request, f: Form = Depends(form)) -> Response:
        v = viewer(request)
        ids, action, reason = f.ints("ids"), f.get("action"), f.get("reason")
        back_to = "/queue" + ("?" + f.get("query") if f.get("query") else "")
        if f.get("all_matching") == "1":  # a backlog: everything the filter shows, not only this page
            flt = data.ListFilters.from_query({k: v[0] for k, v in parse_qs(f.get("query")).items()})
            with Session(engine) as s:
                ids = [r.inc.id for r in data.queue(s, engine, cfg, v.actor, flt, now(), clocks)]  # type: ignore[misc]
        if not ids:
            return back(back_to, v, "Не выбрано ни одного инцидента.")
        done: list[int] = []
        refused: list[str] = []
        for iid in ids:  # one transaction each: one refusal does not undo the others
            try:
                with Session(engine, expire_on_commit=False) as s, s.begin():
                    visible_incident(s, v, iid)
                    w = Workflow(s, cfg, now)
                    if action == "assign":
                        w.assign(v.actor, iid, f.get("body"), reason or None)
                    elif action == "reject":
                        w.reject(v.actor, iid, reason)
                    else:
                        raise WorkflowError(f"неизвестное действие {action!r}")
                done.append(iid)
            except (*REFUSALS, HTTPException) as exc:
                refused.append(f"#{iid}: {getattr(exc, 'detail', None) or exc}")
        verb = {"assign": "назначено", "reject": "отклонено"}.get(action, action)
        msg = f"{verb}: {len(done)}"
        if refused:
            msg += f"; отказано: {len(refused)} — " + "; ".join(refused[:5])
        return back(back_to, v, msg)

    # ------------------------------------------------------------------ the card
    def card_context(s: Session, v: Viewer, inc: Incident, template_id: str | None) -> dict[str, Any]:
        c = data.card(s, inc, now(), clocks)
        wf = Workflow(s, cfg, now)
        preview, preview_error, chosen = "", None, ""
        if template_id is not None and v.can(
            "draft", inc
        ):  # "" = the template that fits the incident's category
            try:
                chosen, preview = wf.render_template(inc, template_id or None)
            except (TemplateNotFound, WorkflowError) as exc:
                preview_error = str(exc)
        drafts = [a for a in c.answers if a.status in ("draft", "approved")]
        pin_map, pin_at = geo.pin(cfg, inc.municipality)
        templates = [
            t for t in cfg.replies.templates if t.category in (None, inc.category)
        ] or cfg.replies.templates
        return dict(
            c=c,
            inc=inc,
            preview=preview,
            preview_error=preview_error,
            current=drafts[-1] if drafts else None,
            templates=templates,
            all_templates=cfg.replies.templates,
            chosen_template=chosen,
            answerable={p.id for p in wf.answer_posts(inc)},
            pin_map=pin_map,
            pin_at=pin_at,
            bodies=sorted(cfg.bodies.bodies, key=lambda b: b.name),
            approval_required=cfg.replies.approval_required,
        )

    @app.get("/incidents/{incident_id}", response_class=HTMLResponse)
    def card_page(request: Request, incident_id: int, template: str | None = None) -> Response:
        v = viewer(request)
        with Session(engine, expire_on_commit=False) as s, s.begin():
            inc = visible_incident(s, v, incident_id)
            if inc.merged_into_id is not None:
                return back(
                    f"/incidents/{inc.merged_into_id}",
                    v,
                    f"Инцидент #{incident_id} объединён с #{inc.merged_into_id}.",
                )
            if v.actor.role is not Role.OBSERVER:
                data.take_lock(s, inc.id, v.actor.login, now(), settings.lock_minutes)  # type: ignore[arg-type]
            ctx = card_context(s, v, inc, template)
            resp = page(request, "card.html", v, **ctx)
        return resp

    @app.post("/incidents/{incident_id}/lock.json")
    def renew_lock(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)
        with Session(engine, expire_on_commit=False) as s, s.begin():
            inc = visible_incident(s, v, incident_id)
            holder = v.actor.login
            if v.actor.role is not Role.OBSERVER:
                holder = data.take_lock(s, inc.id, v.actor.login, now(), settings.lock_minutes).login  # type: ignore[arg-type]
        return JSONResponse({"holder": holder, "mine": holder == v.actor.login})

    @app.post("/incidents/{incident_id}/release")
    def release(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)
        with Session(engine) as s, s.begin():
            visible_incident(s, v, incident_id)
            data.release_lock(s, incident_id, v.actor.login)
        return back("/inbox" if v.is_executor else "/queue", v, f"Инцидент #{incident_id} освобождён.")

    def act(
        request: Request,
        v: Viewer,
        incident_id: int,
        fn: Callable[[Workflow, Session], str],
        then: str | None = None,
        release: bool = False,
    ) -> Response:
        """One workflow step in one transaction; `release`: the step hands the incident on, so the
        actor's "working on it" mark goes with it."""
        try:
            with Session(engine, expire_on_commit=False) as s, s.begin():
                visible_incident(s, v, incident_id)
                message = fn(Workflow(s, cfg, now), s)
                if release:
                    data.release_lock(s, incident_id, v.actor.login)
        except REFUSALS as exc:
            return back(f"/incidents/{incident_id}", v, f"Отказано: {exc}")
        if then is None and release:  # handed on: back to the list, to the next one
            then = "/inbox" if v.is_executor else "/queue"
        return back(then or f"/incidents/{incident_id}", v, message)

    @app.post("/incidents/{incident_id}/triage")
    def triage(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)
        return act(
            request,
            v,
            incident_id,
            lambda w, s: (
                w.triage(v.actor, incident_id, f.get("reason") or None),
                "Инцидент разобран: это жалоба, её нужно назначить.",
            )[1],
        )

    @app.post("/incidents/{incident_id}/assign")
    def assign(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)

        def go(w: Workflow, s: Session) -> str:
            inc = w.assign(v.actor, incident_id, f.get("body"), f.get("reason") or None)
            return f"Назначен: {names.body(inc.body_code)}."

        return act(request, v, incident_id, go, release=True)

    @app.post("/incidents/{incident_id}/reject")
    def reject(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)
        return act(
            request,
            v,
            incident_id,
            lambda w, s: (w.reject(v.actor, incident_id, f.get("reason")), "Инцидент отклонён.")[1],
            release=True,
        )

    @app.post("/incidents/{incident_id}/hand-back")
    def hand_back(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)
        return act(
            request,
            v,
            incident_id,
            lambda w, s: (
                w.hand_back(v.actor, incident_id, f.get("reason")),
                "Инцидент возвращён на разбор.",
            )[1],
            then="/inbox",
            release=True,
        )

    @app.post("/incidents/{incident_id}/draft")
    def draft(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)

        def go(w: Workflow, s: Session) -> str:
            template, text, interim = (
                f.get("template") or None,
                f.get("text") or None,
                f.get("interim") == "1",
            )
            if template and text:  # the template's text, unedited: record it as drafted from the template
                _, rendered = w.render_template(w.incident(incident_id), template, interim=interim)
                if rendered.split() == text.split():
                    text = None
            ans = w.draft_answer(v.actor, incident_id, text=text, template=template, interim=interim)
            need = " Ждёт утверждения контролёра." if cfg.replies.approval_required else ""
            return f"Ответ{' (промежуточный)' if ans.interim else ''} подготовлен.{need}"

        return act(request, v, incident_id, go, release=True)

    @app.post("/incidents/{incident_id}/approve")
    def approve(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)
        return act(
            request, v, incident_id, lambda w, s: (w.approve(v.actor, incident_id), "Ответ утверждён.")[1]
        )

    @app.post("/incidents/{incident_id}/return")
    def return_draft(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)
        return act(
            request,
            v,
            incident_id,
            lambda w, s: (
                w.return_draft(v.actor, incident_id, f.get("reason")),
                "Ответ возвращён на доработку.",
            )[1],
        )

    @app.post("/incidents/{incident_id}/publish")
    def publish(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)
        chosen = f.ints("posts") or None
        queued: list[int] = []

        def go(w: Workflow, s: Session) -> str:
            queued.extend(r.id for r in w.publish(v.actor, incident_id, chosen))  # type: ignore[misc]
            return ""

        resp = act(request, v, incident_id, go)
        if not queued:
            return resp
        from incidents.services.outbox import Outbox

        report = Outbox(engine, cfg, build_channels(), now).run()
        parts = [f"Ответ поставлен в очередь под {len(queued)} пост(ов); отправлено: {report.sent}"]
        if report.retry:
            parts.append(f"повтор позже: {report.retry}")
        if report.failed:
            parts.append(f"ошибок: {report.failed}")
        for network, n in sorted(report.dry_run.items()):
            parts.append(
                f"{names.network(network)}: {n} ждут учётных данных ({report.dry_run_reasons.get(network)})"
            )
        return back(f"/incidents/{incident_id}", v, "; ".join(parts) + ".")

    @app.post("/incidents/{incident_id}/resolve")
    def resolve(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)
        return act(
            request,
            v,
            incident_id,
            lambda w, s: (w.resolve(v.actor, incident_id, f.get("reason") or None), "Отмечен решённым.")[1],
        )

    @app.post("/incidents/{incident_id}/close")
    def close(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)
        return act(
            request,
            v,
            incident_id,
            lambda w, s: (w.close(v.actor, incident_id, f.get("reason") or None), "Инцидент закрыт.")[1],
        )

    @app.post("/incidents/{incident_id}/reopen")
    def reopen(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)
        return act(
            request,
            v,
            incident_id,
            lambda w, s: (w.reopen(v.actor, incident_id, f.get("reason")), "Инцидент открыт повторно.")[1],
        )

    # -- the administrator's operations (incidents.services.operations, through console.ops)
    @app.post("/incidents/{incident_id}/merge")
    def merge(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)
        others = [i for i in f.ints("others") if i != incident_id]

        def go(w: Workflow, s: Session) -> str:
            for other in others:
                visible_incident(s, v, other)
            ops.merge(s, cfg, v.actor, incident_id, others, reason=f.get("reason"), now=now())
            return "Объединено: " + ", ".join(f"#{i}" for i in others) + f" → #{incident_id}."

        return act(request, v, incident_id, go)

    @app.post("/incidents/{incident_id}/split")
    def split(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)
        result: list[int] = []

        def go(w: Workflow, s: Session) -> str:
            r = ops.split(s, cfg, v.actor, incident_id, f.all("posts"), reason=f.get("reason"), now=now())
            result.append(r.incident_id)
            return f"Выделено в новый инцидент #{r.incident_id}."

        return act(request, v, incident_id, go)

    @app.post("/incidents/{incident_id}/move")
    def move(request: Request, incident_id: int, f: Form = Depends(form)) -> Response:
        v = viewer(request)
        target = (f.ints("to") or [0])[0]

        def go(w: Workflow, s: Session) -> str:
            visible_incident(s, v, target)
            ops.move(s, cfg, v.actor, f.get("post"), target, reason=f.get("reason"), now=now())
            return f"Пост {f.get('post')} перенесён в #{target}."

        return act(request, v, incident_id, go)

    # ------------------------------------------------------------------ the inbox
    @app.get("/inbox", response_class=HTMLResponse)
    def inbox(request: Request) -> Response:
        v = viewer(request)
        params = request.query_params
        body = v.actor.body_code if v.is_executor else (params.get("body") or "")
        f = data.ListFilters(body=body)
        with Session(engine) as s:
            rows = data.queue(s, engine, cfg, v.actor, f, now(), clocks, snapshot) if body else []
        rows.sort(
            key=lambda r: (r.first.due_at if r.first else now() + timedelta(days=36500), r.inc.priority)
        )
        got = export(params.get("export"), "inbox", *queue_table(rows))
        if got is not None:
            return got
        return page(
            request,
            "inbox.html",
            v,
            rows=rows,
            body=body,
            bodies=sorted(cfg.bodies.bodies, key=lambda b: b.name),
        )

    # ------------------------------------------------------------------ the SLA board
    @app.get("/sla", response_class=HTMLResponse)
    def sla_page(request: Request) -> Response:
        v = viewer(request)
        with Session(engine) as s:
            b = data.board(s, engine, cfg, v.actor, now(), clocks, snapshot)
        got = export(request.query_params.get("export"), "sla", *queue_table(b.at_risk + b.overdue))
        if got is not None:
            return got
        return page(request, "sla.html", v, b=b, live_seconds=settings.live_seconds, shown=50)

    @app.get("/sla/counters.json")
    def sla_counters(request: Request) -> Response:
        v = viewer(request)
        with Session(engine) as s:
            b = data.board(s, engine, cfg, v.actor, now(), clocks, snapshot)
        return JSONResponse({"counters": b.counters, "at": now().isoformat()})

    # ------------------------------------------------------------------ the heat map
    @app.get("/map", response_class=HTMLResponse)
    def map_page(request: Request) -> Response:
        v = viewer(request)
        params = request.query_params
        period = params.get("period") if params.get("period") in data.PERIODS else "7"
        category = params.get("category") or ""
        if category and category not in names.categories:
            category = ""
        days = data.PERIODS[period]
        with Session(engine) as s:
            t = now()
            cells = memo.get(
                ("heat", days, category, t.replace(second=0, microsecond=0)),
                lambda: data.heat(s, cfg, t, days, category),
            )
        rows = [[c.name, c.count, c.previous, c.change] for c in cells]
        got = export(
            params.get("export"),
            "map",
            ["Муниципалитет", "Инцидентов", "Предыдущий период", "Изменение"],
            rows,
        )
        if got is not None:
            return got
        svg = geo.render(cfg, {c.code: (c.count, c.previous) for c in cells}, {c.code: c.name for c in cells})
        return page(
            request,
            "map.html",
            v,
            cells=cells,
            svg=svg,
            period=period,
            category=category,
            total=sum(c.count for c in cells),
            previous=sum(c.previous for c in cells),
            periods=data.PERIODS,
            scale=geo.SCALE,
        )

    # ------------------------------------------------------------------ ratings
    @app.get("/ratings", response_class=HTMLResponse)
    def ratings_page(request: Request) -> Response:
        v = viewer(request)
        params = request.query_params
        period = params.get("period") if params.get("period") in data.PERIODS else "30"
        days = data.PERIODS[period]
        with Session(engine) as s:
            t = now()
            minute = t.replace(second=0, microsecond=0)
            by_body = memo.get(
                ("ratings", days, "body", minute), lambda: data.ratings(s, cfg, t, days, "body")
            )
            by_muni = memo.get(
                ("ratings", days, "municipality", minute),
                lambda: data.ratings(s, cfg, t, days, "municipality"),
            )
        which = params.get("by") or "body"
        chosen = by_body if which == "body" else by_muni
        cols = [
            "",
            "Инцидентов",
            "Отвечено за 24 ч, доля",
            "Медиана до первого ответа, ч",
            "Повторных рассмотрений, доля",
            "Просрочено",
            "В рейтинге",
            "Красная зона",
        ]
        rows = [
            [
                r.name,
                r.fig.incidents,
                None if r.share_24h is None else round(r.share_24h, 3),
                r.fig.median_hours_to_answer,
                None if r.rereview_rate is None else round(r.rereview_rate, 3),
                r.fig.overdue,
                "да" if r.fig.rated else "мало данных",
                "да" if r.red else "",
            ]
            for r in chosen
        ]
        got = export(
            params.get("export"), f"ratings-{'bodies' if which == 'body' else 'municipalities'}", cols, rows
        )
        if got is not None:
            return got
        return page(
            request,
            "ratings.html",
            v,
            by_body=by_body,
            by_muni=by_muni,
            period=period,
            periods=data.PERIODS,
            minimum=cfg.sla.rating_min_incidents,
        )

    return app
