"""The ratings of the bodies and the municipalities over a period: answered within 24 h, median time to
the first answer, re-reviews, overdue; the worst fifth of the rated ones in the red zone. Computed at
most once a minute per period (`ctx.memo`)."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console import data
from console.deps import Ctx, CurrentViewer, Db
from console.routes.exports import download, ratings_table

router = APIRouter()


@router.get("/ratings", response_class=HTMLResponse)
def ratings_page(request: Request, v: CurrentViewer, ctx: Ctx, db: Db) -> Response:
    params = request.query_params
    period = params.get("period") or "30"
    if period not in data.PERIODS:
        period = "30"
    days = data.PERIODS[period]
    t = ctx.now()
    minute = t.replace(second=0, microsecond=0)
    by_body = ctx.memo.get(
        ("ratings", days, "body", minute), partial(data.ratings, db, ctx.cfg, t, days, "body")
    )
    by_muni = ctx.memo.get(
        ("ratings", days, "municipality", minute),
        partial(data.ratings, db, ctx.cfg, t, days, "municipality"),
    )
    which = params.get("by") or "body"
    chosen = by_body if which == "body" else by_muni
    name = f"ratings-{'bodies' if which == 'body' else 'municipalities'}"
    got = download(ctx, params.get("export"), name, lambda: ratings_table(chosen))
    if got is not None:
        return got
    return ctx.page(
        request,
        "ratings.html",
        v,
        by_body=by_body,
        by_muni=by_muni,
        period=period,
        periods=data.PERIODS,
        minimum=ctx.cfg.sla.rating_min_incidents,
    )
