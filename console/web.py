"""The console's plumbing shared by every router: who is asking (`Viewer`), what they sent (`Form`), and
the per-process state the pages are built from (`ConsoleContext`, kept on `app.state.console`).

Why one context object instead of closures over `create_app`'s locals: the routers live in their own
modules (`console.routes`) and reach the engine, the region, the clocks, the shared snapshot and the
templates through a FastAPI dependency (`console.deps.get_context`), so a route is a plain function
that can be read on its own, and a test can build the app twice over two databases without the two
sharing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from console import data, ops
from console.auth import COOKIE, LoginThrottle, SessionCodec, SessionData, session_alive
from console.settings import ConsoleSettings
from core.config import RegionConfig
from core.roles import ROLE_NAMES, Action, Actor, PermissionDenied, Role, can
from core.states import InvalidTransition
from incidents.domain.sla_clocks import SlaClocks
from incidents.domain.templates import TemplateNotFound
from incidents.services.answered import NotPublished
from incidents.services.workflow import WorkflowError
from storage.models import Incident, User

HERE = Path(__file__).resolve().parent
T = TypeVar("T")
Clock = Callable[[], datetime]
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# The domain's "no" to a step: shown to the person as a flash on the card, never as an error page.
REFUSALS = (
    PermissionDenied,
    InvalidTransition,
    WorkflowError,
    TemplateNotFound,
    ops.OperationError,
    NotPublished,
)


def utcnow() -> datetime:
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

    @property
    def home(self) -> str:
        """Where this person's work starts, and where they go back to after handing an incident on."""
        return "/inbox" if self.is_executor else "/queue"


class Refused(Exception):
    """A workflow step said no. Raised by `console.deps.Step.transaction` after the rollback, so the route
    stays straight-line; the app's handler sends the browser back to `url` with the reason as a flash."""

    def __init__(self, viewer: Viewer, url: str, message: str) -> None:
        super().__init__(message)
        self.viewer, self.url, self.message = viewer, url, message


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
        """Incident numbers as people type them: «12, #13 14;15»."""
        out = []
        for x in self.all(name):
            for part in x.replace(";", ",").replace(" ", ",").split(","):
                if part.strip().lstrip("#").isdigit():
                    out.append(int(part.strip().lstrip("#")))
        return out


@dataclass(slots=True)
class ConsoleContext:
    """Everything a route needs that outlives one request: one per app, on `app.state.console`.

    `now` is the clock of the incidents (deadlines, locks); `session_clock` the wall clock log-ins
    expire by; `channels` builds the reply channels for publishing (None: from the environment)."""

    engine: Engine
    cfg: RegionConfig
    settings: ConsoleSettings
    now: Clock
    session_clock: Clock
    channels: Callable[[], Any] | None
    codec: SessionCodec
    throttle: LoginThrottle
    clocks: SlaClocks
    snapshot: data.OpenSnapshot  # the open incidents, shared by the lists
    memo: data.Memo  # the ratings and the heat map
    names: data.Names
    templates: Environment

    @classmethod
    def build(
        cls,
        engine: Engine,
        cfg: RegionConfig,
        settings: ConsoleSettings,
        *,
        now: Clock = utcnow,
        channels: Callable[[], Any] | None = None,
        session_clock: Clock = utcnow,
    ) -> ConsoleContext:
        clocks = SlaClocks(cfg.sla, cfg.region.timezone)
        names = data.Names(cfg)
        ctx = cls(
            engine=engine,
            cfg=cfg,
            settings=settings,
            now=now,
            session_clock=session_clock,
            channels=channels,
            codec=SessionCodec(
                settings.secret_key.get_secret_value().encode("utf-8"), int(settings.session_hours * 3600)
            ),
            throttle=LoginThrottle(),
            clocks=clocks,
            snapshot=data.OpenSnapshot(cfg, clocks, ttl=settings.snapshot_seconds),
            memo=data.Memo(ttl=settings.figures_seconds),
            names=names,
            templates=Environment(
                loader=FileSystemLoader(HERE / "templates"),
                autoescape=select_autoescape(["html", "svg"]),
                trim_blocks=True,
                lstrip_blocks=True,
                # the templates ship with the code: no stat of each template file on every page (3 % of
                # the console's CPU under load; a restart picks up a change)
                auto_reload=False,
            ),
        )
        ctx.templates.filters["local"] = ctx.local
        ctx.templates.filters["left"] = data.left_text
        ctx.templates.globals["qs"] = query_string
        ctx.templates.globals.update(
            names=names,
            role_names=ROLE_NAMES,
            clock_states=data.CLOCK_STATES,
            reply_statuses=data.REPLY_STATUSES,
            cfg=cfg,
            region=cfg.region,
        )
        return ctx

    # -- time and channels
    def local(self, dt: datetime | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
        """A moment in the region's time zone, as the centre's staff read it."""
        return dt.astimezone(ZoneInfo(self.cfg.region.timezone)).strftime(fmt) if dt else "—"

    def build_channels(self) -> Any:
        if self.channels is not None:
            return self.channels()
        from incidents.services.channels import build_channels as from_env

        return from_env(self.cfg)

    # -- the session cookie and the viewer
    def read_session(self, request: Request) -> SessionData | None:
        return self.codec.loads(request.cookies.get(COOKIE))

    def set_cookie(self, resp: Response, sess: SessionData) -> None:
        resp.set_cookie(
            COOKIE,
            self.codec.dumps(sess),
            max_age=int(self.settings.session_hours * 3600),
            httponly=True,
            samesite="lax",
            secure=self.settings.secure_cookies,
            path="/",
        )

    def find_viewer(self, request: Request) -> Viewer:
        """The signed cookie, then its live row in `console_sessions`, then an active user with a password:
        a logged-out, revoked or expired session — a copied cookie included — is no viewer."""
        sess = self.read_session(request)
        if sess is None or not sess.login:
            raise LoginRequired()
        with Session(self.engine) as s:
            if not session_alive(s, sess.sid, sess.login, self.session_clock()):
                raise LoginRequired()
            user = s.exec(select(User).where(User.login == sess.login)).first()
        if user is None or not user.active or not user.password_hash:
            raise LoginRequired()
        return Viewer(user, sess)

    # -- responses
    def page(
        self, request: Request, name: str, v: Viewer | None, status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        """A rendered page; the flash message is shown once and leaves the session with this response."""
        sess = v.session if v else (self.read_session(request) or SessionData())
        flash, sess.flash = sess.flash, None
        html = self.templates.get_template(name).render(
            request=request, v=v, csrf=sess.csrf, flash=flash, now=self.now(), path=request.url.path, **ctx
        )
        resp = HTMLResponse(html, status_code=status)
        self.set_cookie(resp, sess)
        return resp

    def back(self, url: str, v: Viewer, message: str | None = None) -> RedirectResponse:
        """POST → redirect → GET, with the outcome carried once in the session cookie."""
        v.session.flash = message
        resp = RedirectResponse(url, status_code=303)
        self.set_cookie(resp, v.session)
        return resp


def page_of(size: int, params: Any, found: list[T]) -> tuple[int, int, list[T]]:
    """The page a list asks for (`?page=N`, clamped to the pages there are), the number of pages and
    that page's part of `found`: only the shown part becomes rows."""
    pages = max(1, -(-len(found) // size))
    try:
        asked = int(params.get("page") or 1)
    except ValueError:  # «abc», «1e3»: a bad request, not a server error (F11)
        raise HTTPException(400, "Номер страницы должен быть целым числом.") from None
    n = min(max(1, asked), pages)
    return n, pages, found[(n - 1) * size : n * size]


def query_string(values: dict[str, Any] | None) -> str:
    """The template global `qs`: a query string of the non-empty values (pagination, export links)."""
    return urlencode({k: v for k, v in (values or {}).items() if v})


def safe_next(value: str | None) -> str:
    """Where to go after log-in: only a path on this site, never another host (`//evil`, `/\\evil`)."""
    value = value or "/"
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"
