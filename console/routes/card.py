"""The incident card: everything about one incident on one page, and the "working on it" mark that
opening it takes (renewed by the page's script, released when the person leaves it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import Session

from console import data, geo
from console.deps import CheckedForm, Ctx, CurrentViewer, Db, Flow, visible_incident
from console.web import ConsoleContext, Viewer
from core.roles import Role
from incidents.domain.reply_text import fits
from incidents.domain.templates import TemplateMismatch, TemplateNotFound
from incidents.services.workflow import Workflow, WorkflowError
from storage.models import Incident, row_id

router = APIRouter()


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def card_page(
    request: Request,
    incident_id: int,
    v: CurrentViewer,
    ctx: Ctx,
    db: Db,
    w: Flow,
    template: str | None = None,
    override: str | None = None,
) -> Response:
    """`template`: preview an answer from this template ("" = the one that fits the category);
    `override=1`: a controller previews a template of another category (their decision)."""
    with db.begin():
        inc = visible_incident(db, v, incident_id)
        if inc.merged_into_id is not None:
            return ctx.back(
                f"/incidents/{inc.merged_into_id}",
                v,
                f"Инцидент #{incident_id} объединён с #{inc.merged_into_id}.",
            )
        if v.actor.role is not Role.OBSERVER:  # an observer only looks: they hold nobody up
            data.take_lock(db, row_id(inc), v.actor.login, ctx.now(), ctx.settings.lock_minutes)
        return ctx.page(
            request, "card.html", v, **card_context(ctx, db, w, v, inc, template, override == "1")
        )


def card_context(
    ctx: ConsoleContext,
    db: Session,
    w: Workflow,
    v: Viewer,
    inc: Incident,
    template_id: str | None,
    override: bool = False,
) -> dict[str, Any]:
    """What card.html shows: the card's data, the answer templates and a preview, the map pin."""
    cfg = ctx.cfg
    c = data.card(db, inc, ctx.now(), ctx.clocks, authors=v.can("see_authors", inc))
    preview, preview_error, chosen, mismatch = "", None, "", False
    override = override and v.can("approve", inc)  # another category's template: the controller decides
    if template_id is not None and v.can("draft", inc):
        try:
            chosen, preview = w.render_template(inc, template_id or None, override=override)
        except (TemplateNotFound, WorkflowError) as exc:
            preview_error, mismatch = str(exc), isinstance(exc, TemplateMismatch)
    drafts = [a for a in c.answers if a.status in ("draft", "approved")]
    points = data.incident_points(db, ctx.now(), 0, incident_id=row_id(inc))
    point = (points[0].lat, points[0].lon) if points else None
    pin_map, pin_at = geo.pin(cfg, inc.municipality, point)
    templates = [t for t in cfg.replies.templates if fits(t, inc.category)] or cfg.replies.templates
    return dict(
        c=c,
        inc=inc,
        preview=preview,
        preview_error=preview_error,
        current=drafts[-1] if drafts else None,
        templates=templates,
        all_templates=cfg.replies.templates,
        chosen_template=chosen,
        asked_template=chosen or template_id or "",
        override=override,
        mismatch=mismatch,
        may_override=v.can("approve", inc),
        released=[a for a in c.answers if a.status == "published"],
        answerable={p.id for p in w.answer_posts(inc)},
        pin_map=pin_map,
        pin_at=pin_at,
        pin_point=point,
        bodies=sorted(cfg.bodies.bodies, key=lambda b: b.name),
        approval_required=cfg.replies.approval_required,
    )


@router.post("/incidents/{incident_id}/lock.json")
def renew_lock(incident_id: int, f: CheckedForm, v: CurrentViewer, ctx: Ctx, db: Db) -> Response:
    """The card's script renews the mark while the page is open; the answer says who holds it."""
    with db.begin():
        inc = visible_incident(db, v, incident_id)
        holder = v.actor.login
        if v.actor.role is not Role.OBSERVER:
            holder = data.take_lock(
                db, row_id(inc), v.actor.login, ctx.now(), ctx.settings.lock_minutes
            ).login
    return JSONResponse({"holder": holder, "mine": holder == v.actor.login})


@router.post("/incidents/{incident_id}/release")
def release(incident_id: int, f: CheckedForm, v: CurrentViewer, ctx: Ctx, db: Db) -> Response:
    with db.begin():
        visible_incident(db, v, incident_id)
        data.release_lock(db, incident_id, v.actor.login)
    return ctx.back(v.home, v, f"Инцидент #{incident_id} освобождён.")
