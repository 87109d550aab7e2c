"""The FastAPI dependencies of the console's routes: the context, the viewer, the database session, the
workflow, the CSRF-checked form and, for the card's actions, one workflow step (`Step`).

Why dependencies: every route used to open with the same lines (find the viewer, read the form, open a
session, build the workflow); declared here once, a route names what it needs in its signature. Order
matters where it is security: a POST's form — and so its CSRF check — is resolved before the viewer,
so a forged POST is refused with 403 before anything is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from sqlmodel import Session

from console import data
from console.auth import csrf_ok
from console.web import REFUSALS, ConsoleContext, Form, Refused, Viewer
from incidents.services.workflow import Workflow
from storage.models import Incident


def get_context(request: Request) -> ConsoleContext:
    return request.app.state.console


Ctx = Annotated[ConsoleContext, Depends(get_context)]


def current_viewer(request: Request, ctx: Ctx) -> Viewer:
    """The logged-in user of this request; `LoginRequired` (→ the log-in page, or 401 for JSON) otherwise.
    Read in a session of its own: the route's session must be free to begin its transaction."""
    return ctx.find_viewer(request)


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]


def get_db(ctx: Ctx) -> Iterator[Session]:
    """One database session per request, closed as soon as the route returns (scope "function"), before
    the response is sent. Routes that write open their transaction with `db.begin()` themselves, so a
    refusal rolls back exactly the step that was refused."""
    with Session(ctx.engine, expire_on_commit=False) as session:
        yield session


Db = Annotated[Session, Depends(get_db, scope="function")]


def get_workflow(db: Db, ctx: Ctx) -> Workflow:
    """The workflow over this request's session — the same `Db` the route gets (FastAPI resolves a
    dependency once per request), so the route's `db.begin()` is the workflow's transaction too. Every
    change goes through it (roles, bodies, audit)."""
    return Workflow(db, ctx.cfg, ctx.now)


Flow = Annotated[Workflow, Depends(get_workflow)]


async def csrf_form(request: Request, ctx: Ctx) -> Form:
    """The urlencoded body, refused with 403 unless it carries the session's CSRF token (a hidden field,
    or the `X-CSRF-Token` header of the few `fetch` calls)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    values = parse_qs(raw, keep_blank_values=True)
    sent = (values.get("csrf") or [request.headers.get("x-csrf-token", "")])[0]
    if not csrf_ok(ctx.read_session(request), sent):
        raise HTTPException(
            403, "Форма устарела или пришла не из консоли (нет CSRF-токена). Обновите страницу."
        )
    return Form(values)


CheckedForm = Annotated[Form, Depends(csrf_form)]


def visible_incident(db: Session, v: Viewer, incident_id: int) -> Incident:
    """The incident, when this viewer may see it; otherwise 404 — the same answer as for no incident,
    so an executor cannot even learn which numbers exist in other bodies."""
    # a number beyond the id column (INTEGER) is no incident: 404, not the database's overflow (F11)
    inc = db.get(Incident, incident_id) if 0 < incident_id < 2**31 else None
    if inc is None or not data.may_see(v.actor, inc):
        raise HTTPException(404, "Инцидент не найден или не относится к вашему органу.")
    return inc


class Step:
    """One workflow step on one incident, as the card's action routes take it:

        with step.transaction(incident_id, release=True) as w:
            w.reject(step.actor, incident_id, step.form.get("reason"))
        return step.done("Инцидент отклонён.")

    The step runs in one transaction; a refusal of the domain rolls it back and becomes `Refused` (the
    card again, with the reason); an incident the viewer may not see is 404 as everywhere."""

    def __init__(
        self, ctx: ConsoleContext, form: Form, viewer: Viewer, db: Session, workflow: Workflow
    ) -> None:
        self.ctx, self.form, self.viewer, self.db, self.workflow = ctx, form, viewer, db, workflow
        self.actor = viewer.actor
        self.incident_id: int | None = None
        self.handed_on = False

    @contextmanager
    def transaction(self, incident_id: int, *, release: bool = False) -> Iterator[Workflow]:
        """`release`: the step hands the incident on, so the actor's "working on it" mark goes with it
        (and `done` returns to the list, to the next one)."""
        self.incident_id = incident_id
        try:
            with self.db.begin():
                visible_incident(self.db, self.viewer, incident_id)
                yield self.workflow
                if release:
                    data.release_lock(self.db, incident_id, self.actor.login)
        except REFUSALS as exc:
            raise Refused(self.viewer, f"/incidents/{incident_id}", f"Отказано: {exc}") from exc
        self.handed_on = release

    def done(self, message: str, then: str | None = None) -> Response:
        """Back to `then`, the list (when handed on) or the card, with `message` shown once."""
        if then is None and self.handed_on:
            then = self.viewer.home
        return self.ctx.back(then or f"/incidents/{self.incident_id}", self.viewer, message)


def incident_step(form: CheckedForm, viewer: CurrentViewer, ctx: Ctx, db: Db, workflow: Flow) -> Step:
    return Step(ctx, form, viewer, db, workflow)


IncidentStep = Annotated[Step, Depends(incident_step)]
