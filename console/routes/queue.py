"""The triage queue: the open incidents, new and unassigned first, filtered and paged; and its bulk
actions (assign or reject the selected rows, or everything the filter shows)."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from console import data
from console.deps import CheckedForm, Ctx, CurrentViewer, Db, Flow, visible_incident
from console.routes.exports import download, queue_table
from console.web import REFUSALS, Form, Viewer
from incidents.services.workflow import Workflow, WorkflowError
from incidents.storage.models import row_id

router = APIRouter()
BULK_VERBS = {"assign": "назначено", "reject": "отклонено"}


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, v: CurrentViewer, ctx: Ctx, db: Db) -> Response:
    params = request.query_params
    f = data.ListFilters.from_query(params)
    if v.is_executor:
        f.body = ""  # an executor's list is their body's whatever the URL says
    rows = data.queue(db, ctx.engine, ctx.cfg, v.actor, f, ctx.now(), ctx.clocks, ctx.snapshot)
    got = download(ctx, params.get("export"), "queue", *queue_table(ctx, rows))
    if got is not None:
        return got
    size = ctx.settings.page_size
    pages = max(1, -(-len(rows) // size))
    try:
        asked = int(params.get("page") or 1)
    except ValueError:  # «abc», «1e3»: a bad request, not a server error (F11)
        raise HTTPException(400, "Номер страницы должен быть целым числом.") from None
    n = min(max(1, asked), pages)
    return ctx.page(
        request,
        "queue.html",
        v,
        rows=rows[(n - 1) * size : n * size],
        total=len(rows),
        f=f,
        page_no=n,
        pages=pages,
        query=f.as_query(),
        statuses=data.STATUS_NAMES,
        untriaged=sum(1 for r in rows if r.untriaged),
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
