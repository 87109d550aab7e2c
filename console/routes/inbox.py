"""The inbox: one body's open incidents, the nearest deadline first. An executor sees their own body's
whatever the URL says; the centre's staff choose a body."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console import data
from console.deps import Ctx, CurrentViewer, Db
from console.routes.exports import download, queue_table

router = APIRouter()


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, v: CurrentViewer, ctx: Ctx, db: Db) -> Response:
    params = request.query_params
    body = (v.actor.body_code if v.is_executor else params.get("body")) or ""
    now = ctx.now()
    f = data.ListFilters(body=body)
    rows = data.queue(db, ctx.engine, ctx.cfg, v.actor, f, now, ctx.clocks, ctx.snapshot) if body else []
    far = now + timedelta(days=36500)
    rows.sort(key=lambda r: (r.first.due_at if r.first else far, r.inc.priority))
    got = download(ctx, params.get("export"), "inbox", *queue_table(ctx, rows))
    if got is not None:
        return got
    return ctx.page(
        request,
        "inbox.html",
        v,
        rows=rows,
        body=body,
        bodies=sorted(ctx.cfg.bodies.bodies, key=lambda b: b.name),
    )
