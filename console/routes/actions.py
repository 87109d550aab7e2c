"""The workflow steps taken from the incident card: triage, assign, reject, hand back, draft, approve,
return, publish, resolve, close, reopen.

Each route is one `Step` (`console.deps`): the step in one transaction through
`incidents.services.workflow.Workflow` (which checks the role and the body), a refusal shown on the card,
and POST → redirect → GET with the outcome as a flash. A step that hands the incident on
(`release=True`) drops the actor's "working on it" mark and returns to their list."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from console.deps import IncidentStep, Step

router = APIRouter(prefix="/incidents/{incident_id}")


@router.post("/triage")
def triage(incident_id: int, step: IncidentStep) -> Response:
    with step.transaction(incident_id) as w:
        w.triage(step.actor, incident_id, step.form.get("reason") or None)
    return step.done("Инцидент разобран: это жалоба, её нужно назначить.")


@router.post("/assign")
def assign(incident_id: int, step: IncidentStep) -> Response:
    with step.transaction(incident_id, release=True) as w:
        inc = w.assign(step.actor, incident_id, step.form.get("body"), step.form.get("reason") or None)
        message = f"Назначен: {step.ctx.names.body(inc.body_code)}."
    return step.done(message)


@router.post("/reject")
def reject(incident_id: int, step: IncidentStep) -> Response:
    with step.transaction(incident_id, release=True) as w:
        w.reject(step.actor, incident_id, step.form.get("reason"))
    return step.done("Инцидент отклонён.")


@router.post("/hand-back")
def hand_back(incident_id: int, step: IncidentStep) -> Response:
    """An executor's "not ours": back to triage, and the executor back to their inbox."""
    with step.transaction(incident_id, release=True) as w:
        w.hand_back(step.actor, incident_id, step.form.get("reason"))
    return step.done("Инцидент возвращён на разбор.", then="/inbox")


@router.post("/draft")
def draft(incident_id: int, step: IncidentStep) -> Response:
    """A template's text sent back unedited is recorded as drafted from the template (not as free text),
    so the reports can tell the two apart."""
    f = step.form
    template, text, interim = f.get("template") or None, f.get("text") or None, f.get("interim") == "1"
    override = f.get("override") == "1"  # another category's template: the service checks the controller
    with step.transaction(incident_id, release=True) as w:
        if template and text:
            _, rendered = w.render_template(
                w.incident(incident_id), template, interim=interim, override=override
            )
            if rendered.split() == text.split():
                text = None
        ans = w.draft_answer(
            step.actor, incident_id, text=text, template=template, interim=interim, override=override
        )
        kind = " (промежуточный)" if ans.interim else ""
    need = " Ждёт утверждения контролёра." if step.ctx.cfg.replies.approval_required else ""
    return step.done(f"Ответ{kind} подготовлен.{need}")


@router.post("/approve")
def approve(incident_id: int, step: IncidentStep) -> Response:
    with step.transaction(incident_id) as w:
        w.approve(step.actor, incident_id)
    return step.done("Ответ утверждён.")


@router.post("/return")
def return_draft(incident_id: int, step: IncidentStep) -> Response:
    with step.transaction(incident_id) as w:
        w.return_draft(step.actor, incident_id, step.form.get("reason"))
    return step.done("Ответ возвращён на доработку.")


@router.post("/publish")
def publish(incident_id: int, step: IncidentStep) -> Response:
    """The replies are queued in the step's transaction and sent right after it commits (the outbox),
    so the person sees at once what went out, what waits for a retry and what waits for credentials."""
    chosen = step.form.ints("posts") or None
    with step.transaction(incident_id) as w:
        queued = [r.id for r in w.publish(step.actor, incident_id, chosen)]
    if not queued:
        return step.done("")
    return step.done(_send_queued(step, len(queued)))


def _send_queued(step: Step, queued: int) -> str:
    """Run the outbox once and say what it did."""
    from incidents.services.outbox import Outbox

    ctx = step.ctx
    report = Outbox(ctx.engine, ctx.cfg, ctx.build_channels(), ctx.now).run()
    parts = [f"Ответ поставлен в очередь под {queued} пост(ов); отправлено: {report.sent}"]
    if report.retry:
        parts.append(f"повтор позже: {report.retry}")
    if report.failed:
        parts.append(f"ошибок: {report.failed}")
    for network, n in sorted(report.dry_run.items()):
        reason = report.dry_run_reasons.get(network)
        parts.append(f"{ctx.names.network(network)}: {n} ждут учётных данных ({reason})")
    return "; ".join(parts) + "."


@router.post("/published")
def published(incident_id: int, step: IncidentStep) -> Response:
    """A person says the released answer was published another way: the incident is answered."""
    from incidents.services.answered import mark_published

    with step.transaction(incident_id) as w:
        mark_published(w.session, step.actor, w.incident(incident_id), w.now(), step.form.get("note") or None)
    return step.done("Ответ отмечен опубликованным вручную: инцидент отвечен.")


@router.post("/resolve")
def resolve(incident_id: int, step: IncidentStep) -> Response:
    with step.transaction(incident_id) as w:
        w.resolve(step.actor, incident_id, step.form.get("reason") or None)
    return step.done("Отмечен решённым.")


@router.post("/close")
def close(incident_id: int, step: IncidentStep) -> Response:
    with step.transaction(incident_id) as w:
        w.close(step.actor, incident_id, step.form.get("reason") or None)
    return step.done("Инцидент закрыт.")


@router.post("/reopen")
def reopen(incident_id: int, step: IncidentStep) -> Response:
    with step.transaction(incident_id) as w:
        w.reopen(step.actor, incident_id, step.form.get("reason"))
    return step.done("Инцидент открыт повторно.")
