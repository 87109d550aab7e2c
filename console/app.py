"""The console's application: `create_app` puts the per-process state on `app.state.console`, mounts the
static files, adds the security headers and the error handlers, and includes the routers of
`console.routes`.

Every request finds its user from the signed session cookie, its row in `console_sessions` (a session
logged out, or ended by a new password or a disabled user, is refused even from a copied cookie) and the
`users` table (a user made inactive is logged out at once); every page narrows what it reads to what that
user may see, and every change goes through `incidents.services.workflow.Workflow`, which checks the role
and the body again (`core.roles.authorize`). A POST without the session's CSRF token is refused
with 403 before anything is read. After a change the browser is redirected (POST → redirect → GET), with
the outcome carried once in the session cookie. The plumbing: `console.web` (context, viewer, form) and
`console.deps` (the FastAPI dependencies).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from console.limits import BodySizeLimit
from console.routes import ROUTERS
from console.settings import ConsoleSettings
from console.web import CSP, HERE, Clock, ConsoleContext, LoginRequired, Refused, Viewer, utcnow
from core.config import RegionConfig

__all__ = ["create_app"]


def create_app(
    engine: Engine,
    cfg: RegionConfig,
    settings: ConsoleSettings,
    *,
    now: Clock = utcnow,
    channels: Callable[[], Any] | None = None,
    session_clock: Clock = utcnow,
) -> FastAPI:
    """The console over one database and one region. `channels` builds the reply channels for publishing
    (default: from the environment, `incidents.services.channels.build_channels`); `now` is the clock of
    the incidents (deadlines, locks); `session_clock` the wall clock that log-ins expire by."""
    app = FastAPI(title="Консоль инцидентов", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodySizeLimit)  # 413 before a body over 1 MB is read (F5, console/limits.py)
    app.state.console = ConsoleContext.build(
        engine, cfg, settings, now=now, channels=channels, session_clock=session_clock
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.middleware("http")(security_headers)
    # the decorator form: `add_exception_handler` is typed for handlers of any Exception, not of one kind
    app.exception_handler(LoginRequired)(to_login)
    app.exception_handler(HTTPException)(http_error)
    app.exception_handler(Refused)(refused)
    for router in ROUTERS:
        app.include_router(router)
    return app


def prepare_server_process(cfg: RegionConfig) -> None:
    """A console server process once its app is built (`incidents serve`, every worker of `--workers N`
    too: they start afresh): the map's outlines (`console.geo.prepare`, ≈ 1.3 s) and the search's
    lemmatizer (pymorphy3's dictionaries, ≈ 1 s) made now rather than by the first person who opens the
    map or searches — who waited for it while the process's other requests stalled —, then the garbage
    collector set.

    Why the collector: the shared snapshot holds thousands of incidents with their clocks, and a page allocates
    thousands of short-lived objects; with CPython's defaults (a young collection every 700 net
    allocations, a full one whenever the survivors grow by a quarter) full collections of the whole
    heap ran every few seconds under load, 0.1–0.2 s each with the GIL held — a pause of every
    request in the process (issue 18, `bench/console_cpu.py`). Everything loaded so far (libraries,
    the region, the map) is never garbage: `gc.freeze` takes it out of every collection; the young
    generation is collected every 20,000 allocations and a full collection waits for 20 middle ones.
    Reference cycles are still collected, only in fewer, larger passes."""
    import gc

    from console.geo import prepare
    from incidents.services.search.fts import query_terms

    prepare(cfg)  # cached per process: a second call (serve's own check) costs nothing
    query_terms("прогрев")  # builds the process's shared normalizer
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Every answer: a strict CSP (no inline script, no other origin), no sniffing, no framing; no
    caching of anything but the log-in page and the static files (the pages carry residents' data)."""
    resp = await call_next(request)
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    if request.url.path != "/login" and not request.url.path.startswith("/static"):
        resp.headers.setdefault("Cache-Control", "no-store")
    return resp


async def to_login(request: Request, exc: LoginRequired) -> Response:
    """A page: to the log-in form, and back here afterwards; a POST or JSON: 401 (a script cannot follow)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or request.url.path.endswith(".json"):
        return JSONResponse({"error": "login required"}, status_code=401)
    return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)


async def http_error(request: Request, exc: HTTPException) -> Response:
    """The error page in the console's frame (with the menu when someone is logged in); JSON for JSON."""
    if request.url.path.endswith(".json"):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    ctx: ConsoleContext = request.app.state.console
    v: Viewer | None
    try:
        v = ctx.find_viewer(request)
    except LoginRequired:
        v = None
    return ctx.page(
        request, "error.html", v, status=exc.status_code, code=exc.status_code, message=exc.detail
    )


async def refused(request: Request, exc: Refused) -> Response:
    """The domain said no to a step: back to the card with the reason, the step rolled back."""
    ctx: ConsoleContext = request.app.state.console
    return ctx.back(exc.url, exc.viewer, exc.message)
