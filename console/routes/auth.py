"""Log-in, log-out and the home page's redirect.

The log-in form carries a CSRF token too (a session with no user yet), so nobody can log a victim in to
an attacker's account; failures are throttled per login (`console.auth.LoginThrottle`)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select

from console.auth import COOKIE, SessionData, open_session, revoke_session
from console.deps import CheckedForm, Ctx, CurrentViewer, Db
from console.web import safe_next
from storage.models import User

router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, ctx: Ctx, next: str = "/") -> HTMLResponse:
    return ctx.page(request, "login.html", None, next=safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, f: CheckedForm, ctx: Ctx, db: Db) -> Response:
    """A new server-side session and a fresh CSRF token on success; the same answer for an unknown login
    and a wrong password."""
    from incidents.domain.passwords import verify_password

    login_name, password = f.get("login"), f.values.get("password", [""])[0]
    address = request.client.host if request.client else ""  # per login and address (F8)
    if ctx.throttle.blocked(login_name, address):
        return ctx.page(
            request,
            "login.html",
            None,
            status=429,
            next=safe_next(f.get("next")),
            error="Слишком много неудачных попыток. Попробуйте через 15 минут.",
        )
    with db.begin():
        user = db.exec(select(User).where(User.login == login_name)).first()
    ok = verify_password(password, user.password_hash if user is not None else None)
    if not ok or user is None or not user.active:
        ctx.throttle.failed(login_name, address)
        return ctx.page(
            request,
            "login.html",
            None,
            status=401,
            next=safe_next(f.get("next")),
            error="Неверный логин или пароль.",
        )
    ctx.throttle.succeeded(login_name, address)
    with db.begin():
        sid = open_session(db, user.login, ctx.session_clock(), ctx.settings.session_hours * 3600)
    sess = SessionData(login=user.login, csrf=secrets.token_urlsafe(24), sid=sid)
    resp = RedirectResponse(safe_next(f.get("next")), status_code=303)
    ctx.set_cookie(resp, sess)
    return resp


@router.post("/logout")
def logout(request: Request, f: CheckedForm, ctx: Ctx, db: Db) -> Response:
    """Revokes the server-side session: a copy of this cookie is worth nothing afterwards."""
    sess = ctx.read_session(request)
    if sess is not None and sess.sid:
        with db.begin():
            revoke_session(db, sess.sid, ctx.session_clock())
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.get("/")
def home(v: CurrentViewer) -> Response:
    return RedirectResponse(v.home, status_code=303)
