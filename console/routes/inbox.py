"""The inbox: one body's open incidents, the nearest deadline first. An executor sees their own body's
whatever the URL says; the centre's staff choose a body."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console import data
from console.deps import Ctx, CurrentViewer, Db
from console.routes.exports import download, queue_table
from console.web import page_of

router = APIRouter()


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, v: CurrentViewer, ctx: Ctx, db: Db) -> Response:
    params = request.query_params
    body = (v.actor.body_code if v.is_executor else params.get("body")) or ""
    now = ctx.now()
    f = data.ListFilters(body=body)
    found = data.matching(db, ctx.engine, ctx.cfg, v.actor, f, now, ctx.clocks, ctx.snapshot) if body else []
    far = now + timedelta(days=36500)
    found.sort(key=lambda e: (e.running[0].due_at if e.running else far, e.inc.priority))
    got = download(
        ctx,
        params.get("export"),
        "inbox",
        lambda: queue_table(ctx, data.as_rows(found, data.active_locks(db, now))),
    )
    if got is not None:
        return got
    # paged like the queue: a busy body's whole inbox was a page of 400 kB, rendered on every view
    n, pages, shown = page_of(ctx.settings.page_size, params, found)
    return ctx.page(
        request,
        "inbox.html",
        v,
        rows=data.as_rows(shown, data.active_locks(db, now)),
        total=len(found),
        page_no=n,
        pages=pages,
        query={"body": body} if not v.is_executor else {},
        body=body,
        bodies=sorted(ctx.cfg.bodies.bodies, key=lambda b: b.name),
    )
