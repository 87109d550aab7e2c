"""The triage queue: the open incidents, new and unassigned first, filtered and paged; and its bulk
actions (assign or reject the selected rows, or everything the filter shows)."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from console import data
from console.deps import CheckedForm, Ctx, CurrentViewer, Db, Flow, visible_incident
from console.routes.exports import download, queue_table
from console.web import REFUSALS, Form, Viewer, page_of
from incidents.services.workflow import Workflow, WorkflowError
from storage.models import row_id

router = APIRouter()
BULK_VERBS = {"assign": "назначено", "reject": "отклонено"}


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, v: CurrentViewer, ctx: Ctx, db: Db) -> Response:
    params = request.query_params
    f = data.ListFilters.from_query(params)
    if v.is_executor:
        f.body = ""  # an executor's list is their body's whatever the URL says
    now = ctx.now()
    found = data.matching(db, ctx.engine, ctx.cfg, v.actor, f, now, ctx.clocks, ctx.snapshot)
    got = download(
        ctx,
        params.get("export"),
        "queue",
        lambda: queue_table(ctx, data.as_rows(found, data.active_locks(db, now))),
    )
    if got is not None:
        return got
    n, pages, shown = page_of(ctx.settings.page_size, params, found)
    return ctx.page(
        request,
        "queue.html",
        v,
        rows=data.as_rows(shown, data.active_locks(db, now)),
        total=len(found),
        f=f,
        page_no=n,
        pages=pages,
        query=f.as_query(),
        statuses=data.STATUS_NAMES,
        untriaged=sum(1 for e in found if e.untriaged),
    )


@router.post("/queue/bulk")
def queue_bulk(f: CheckedForm, v: CurrentViewer, ctx: Ctx, db: Db, w: Flow) -> Response:
    """One transaction per incident: one refusal does not undo the others; the outcome lists both."""
    action, reason = f.get("action"), f.get("reason")
    back_to = "/queue" + ("?" + f.get("query") if f.get("query") else "")
    if action == "assign" and not f.get("body"):  # nothing preselected: a body is chosen, never assumed
        return ctx.back(back_to, v, "Выберите орган, которому назначить.")
    ids = _bulk_ids(f, v, ctx, db)
    if not ids:
        return ctx.back(back_to, v, "Не выбрано ни одного инцидента.")
    done: list[int] = []
    refused: list[str] = []
    for iid in ids:
        db.expire_all()  # each incident read afresh, as by a session of its own
        try:
            with db.begin():
                visible_incident(db, v, iid)
                _bulk_step(w, v, iid, action, f.get("body"), reason)
            done.append(iid)
        except (*REFUSALS, HTTPException) as exc:
            refused.append(f"#{iid}: {getattr(exc, 'detail', None) or exc}")
    msg = f"{BULK_VERBS.get(action, action)}: {len(done)}"
    if refused:
        msg += f"; отказано: {len(refused)} — " + "; ".join(refused[:5])
    return ctx.back(back_to, v, msg)


def _bulk_ids(f: Form, v: Viewer, ctx: Ctx, db: Db) -> list[int]:
    """The ticked rows, or — for a backlog — everything the filter shows, not only this page (read
    anew, not from the shared snapshot)."""
    if f.get("all_matching") != "1":
        return f.ints("ids")
    flt = data.ListFilters.from_query({k: x[0] for k, x in parse_qs(f.get("query")).items()})
    with db.begin():
        rows = data.queue(db, ctx.engine, ctx.cfg, v.actor, flt, ctx.now(), ctx.clocks)
    return [row_id(r.inc) for r in rows]


def _bulk_step(w: Workflow, v: Viewer, incident_id: int, action: str, body: str, reason: str) -> None:
    if action == "assign":
        w.assign(v.actor, incident_id, body, reason or None)
    elif action == "reject":
        w.reject(v.actor, incident_id, reason)
    else:
        raise WorkflowError(f"неизвестное действие {action!r}")
