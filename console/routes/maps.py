"""The heat map: incidents by municipality over a period against the period before, as a choropleth
of the municipalities' polygons (`console.geo`), by count or per 10,000 residents, with the
incidents that have coordinates drawn on top. The figures are computed at most once a minute per
period and category (`ctx.memo`); a click on a municipality opens the queue filtered by it."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console import data, geo
from console.deps import Ctx, CurrentViewer, Db
from console.routes.exports import download, map_table
from console.web import CSP
from core.roles import Role

router = APIRouter()
PER = {"count": "число инцидентов", "residents": "на 10 тыс. жителей"}


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request, v: CurrentViewer, ctx: Ctx, db: Db) -> Response:
    params = request.query_params
    period = params.get("period") or "7"
    if period not in data.PERIODS:
        period = "7"
    category = params.get("category") or ""
    if category and category not in ctx.names.categories:
        category = ""
    populated = any(m.population for m in ctx.cfg.territories.municipalities)
    per = params.get("per") or "count"
    if per not in PER or not populated:
        per = "count"
    days = data.PERIODS[period]
    t = ctx.now()
    minute = t.replace(second=0, microsecond=0)
    cells = ctx.memo.get(("heat", days, category, minute), partial(data.heat, db, ctx.cfg, t, days, category))
    got = download(ctx, params.get("export"), "map", lambda: map_table(cells))
    if got is not None:
        return got
    # the points of every category, once a minute per period, and this page's category picked from
    # them: one read of the period's posts instead of one per category (issue 18)
    every = ctx.memo.get(("heat-points", days, minute), partial(data.incident_points, db, t, days))
    points = [p for p in every if p.category == category] if category else every
    since = (t - timedelta(days=days)).astimezone(ZoneInfo(ctx.cfg.region.timezone)).date().isoformat()

    def link(code: str) -> str:
        query = {"municipality": code, "category": category, "status": "all", "since": since}
        return "/queue?" + urlencode({k: val for k, val in query.items() if val})

    shown = [
        (p.lat, p.lon, f"№{p.id}: {p.title}", f"/incidents/{p.id}")
        for p in points
        # an executor sees the points of their body's incidents only
        if v.actor.role is not Role.EXECUTOR or p.body_code == v.actor.body_code
    ]
    svg = geo.render(
        ctx.cfg,
        {c.code: (c.count, c.previous) for c in cells},
        {c.code: c.name for c in cells},
        per_resident=per == "residents",
        points=shown,
        link=link,
    )
    resp = ctx.page(
        request,
        "map.html",
        v,
        cells=cells,
        svg=svg,
        period=period,
        category=category,
        per=per,
        pers=PER,
        populated=populated,
        points=len(shown),
        total=sum(c.count for c in cells),
        previous=sum(c.previous for c in cells),
        periods=data.PERIODS,
        scale=geo.SCALE,
    )
    if svg.tiles:  # the tile server's origin is the one other place the page may load images from
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(svg.tiles[0].href))
        resp.headers["Content-Security-Policy"] = CSP.replace(
            "img-src 'self' data:", f"img-src 'self' data: {origin}"
        )
    return resp
