"""The SLA board: the open incidents with a clock overdue or at risk, and its counters, which the page
refreshes every `live_seconds` from `/sla/counters.json`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from console import data
from console.deps import Ctx, CurrentViewer, Db
from console.routes.exports import download, queue_table

router = APIRouter()


@router.get("/sla", response_class=HTMLResponse)
def sla_page(request: Request, v: CurrentViewer, ctx: Ctx, db: Db) -> Response:
    export, shown = request.query_params.get("export"), 50
    rows = None if export else shown  # the file has every row, the page the first `shown` of each list
    b = data.board(db, ctx.engine, ctx.cfg, v.actor, ctx.now(), ctx.clocks, ctx.snapshot, rows=rows)
    got = download(ctx, export, "sla", lambda: queue_table(ctx, b.at_risk + b.overdue))
    if got is not None:
        return got
    return ctx.page(request, "sla.html", v, b=b, live_seconds=ctx.settings.live_seconds, shown=shown)


@router.get("/sla/counters.json")
def sla_counters(v: CurrentViewer, ctx: Ctx, db: Db) -> Response:
    b = data.board(db, ctx.engine, ctx.cfg, v.actor, ctx.now(), ctx.clocks, ctx.snapshot, rows=0)
    return JSONResponse({"counters": b.counters, "at": ctx.now().isoformat()})
