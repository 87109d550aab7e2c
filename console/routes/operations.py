"""The administrator's operations from the card — merge, split, move a post — through `console.ops`
(which adds the role check to `incidents.services.operations`). Every incident named in the form must be
visible to the viewer, like the card's own; an operation refused is shown on the card."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from console import ops
from console.deps import IncidentStep, visible_incident

router = APIRouter(prefix="/incidents/{incident_id}")


@router.post("/merge")
def merge(incident_id: int, step: IncidentStep) -> Response:
    """The other incidents (`others`: «12, #13») join this one."""
    others = [i for i in step.form.ints("others") if i != incident_id]
    with step.transaction(incident_id):
        for other in others:
            visible_incident(step.db, step.viewer, other)
        ops.merge(
            step.db,
            step.ctx.cfg,
            step.actor,
            incident_id,
            others,
            reason=step.form.get("reason"),
            now=step.ctx.now(),
        )
    return step.done("Объединено: " + ", ".join(f"#{i}" for i in others) + f" → #{incident_id}.")


@router.post("/split")
def split(incident_id: int, step: IncidentStep) -> Response:
    """The chosen posts (`posts`: "network:external_id") leave for a new incident."""
    with step.transaction(incident_id):
        result = ops.split(
            step.db,
            step.ctx.cfg,
            step.actor,
            incident_id,
            step.form.all("posts"),
            reason=step.form.get("reason"),
            now=step.ctx.now(),
        )
    return step.done(f"Выделено в новый инцидент #{result.incident_id}.")


@router.post("/move")
def move(incident_id: int, step: IncidentStep) -> Response:
    """One post (`post`) moves to the incident `to`."""
    target = (step.form.ints("to") or [0])[0]
    post = step.form.get("post")
    with step.transaction(incident_id):
        visible_incident(step.db, step.viewer, target)
        ops.move(
            step.db,
            step.ctx.cfg,
            step.actor,
            post,
            target,
            reason=step.form.get("reason"),
            now=step.ctx.now(),
        )
    return step.done(f"Пост {post} перенесён в #{target}.")
