"""The heat map: incidents by municipality over a period against the period before, on the offline SVG
map (`console.geo`). Computed at most once a minute per period and category (`ctx.memo`)."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console import data, geo
from console.deps import Ctx, CurrentViewer, Db
from console.routes.exports import download, map_table

router = APIRouter()


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request, v: CurrentViewer, ctx: Ctx, db: Db) -> Response:
    params = request.query_params
    period = params.get("period") or "7"
    if period not in data.PERIODS:
        period = "7"
    category = params.get("category") or ""
    if category and category not in ctx.names.categories:
        category = ""
    days = data.PERIODS[period]
    t = ctx.now()
    cells = ctx.memo.get(
        ("heat", days, category, t.replace(second=0, microsecond=0)),
        partial(data.heat, db, ctx.cfg, t, days, category),
    )
    got = download(ctx, params.get("export"), "map", lambda: map_table(cells))
    if got is not None:
        return got
    svg = geo.render(ctx.cfg, {c.code: (c.count, c.previous) for c in cells}, {c.code: c.name for c in cells})
    return ctx.page(
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
