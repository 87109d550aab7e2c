"""The scheduled refresh of the learned routing table from the dispatchers' corrections.

Every reassignment with a reason (console or CLI, `Workflow.assign` on an assigned incident:
audit action "reassigned") says "an incident like this belongs to that body": it is a training
example, keyed by the incident's card as the router saw it. The refresh adds the corrections
made since the last refresh (the table remembers the last audit event it read) to the counts
of the current table, writes the new table and audits the change (entries added, removed,
bodies changed), so that an administrator sees what the corrections taught it. An entry whose
body dispatchers confirmed by reassignment wins over the text model at run time (which learns
the corrections only at its next `routing learn`).

The same reassignments move the desk step's current desk (`incidents.domain.desk_routing`):
each says which desk of an organisation took a complaint, so an organisation whose head has
begun to take its desks' complaints (or stopped) is followed within a night, not at the next
`routing learn` (on the Kursk time split the desk step is worth 0.610 exact with its state 10
appeals behind, and 0.546 with nothing fed since learning, when the history-wide share decides:
docs/quality-routing.md).
"""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from core.config import RegionConfig
from incidents.domain.desk_routing import desk_model_path, load_desk_router
from incidents.domain.learned_routing import (
    Case,
    Example,
    LearnedTable,
    load_learned,
    normalise_street,
    save_learned,
)
from storage.models import AuditEvent, Incident
from storage.store import audit

CORRECTION_WEIGHT = 2
"""A correction counts as two earlier appeals: a dispatcher decided it knowing the first
routing was wrong, while a history row only says where one appeal went."""


def corrections(session: Session, *, after_event: int = 0) -> tuple[list[Example], int]:
    """Reassignments with a reason after audit event `after_event`: examples and the last event id."""
    events = session.exec(
        select(AuditEvent)
        .where(AuditEvent.action == "reassigned", col(AuditEvent.id) > after_event)
        .order_by(col(AuditEvent.id))
    ).all()
    out: list[Example] = []
    last = after_event
    for ev in events:
        last = max(last, ev.id or 0)
        body = (ev.data or {}).get("body")
        if not ev.reason or not body or ev.incident_id is None:
            continue
        inc = session.get(Incident, ev.incident_id)
        if inc is None:
            continue
        case = Case(inc.category, inc.subcategory, inc.fact, inc.municipality, normalise_street(inc.street))
        out.append(Example(case, str(body), CORRECTION_WEIGHT, correction=True))
    return out, last


def refresh_learned_routing(session: Session, cfg: RegionConfig, now: datetime) -> dict[str, Any]:
    """Fold the new corrections into the region's table, write it and audit the diff."""
    old = load_learned(cfg.root) or LearnedTable()
    after = int(old.meta.get("corrections_until", 0))
    examples, last = corrections(session, after_event=after)
    if not examples:
        return {"corrections": 0, "written": False}
    meta = {**old.meta, "corrections_until": last, "refreshed_at": now.isoformat(timespec="seconds")}
    new = LearnedTable.learn(
        examples, min_support=old.min_support, min_share=old.min_share, meta=meta, base=old
    )
    diff = old.diff(new)
    path = save_learned(cfg.root, new)
    summary = {k: len(v) for k, v in diff.items()}
    audit(
        session,
        actor="system",
        action="routing_table_refreshed",
        now=now,
        reason=f"исправлений диспетчеров: {len(examples)}",
        data={"file": str(path), "counts": summary, "diff": {k: v[:50] for k, v in diff.items()}},
    )
    return {"corrections": len(examples), "written": True, "diff": summary}


def refresh_desk_state(
    session: Session, cfg: RegionConfig, now: datetime, *, path: Path | None = None
) -> dict[str, Any]:
    """Fold the reassignments since the last refresh into the desk step's current desk, write
    it and audit the change (per organisation: its head's share of its latest known appeals)."""
    path = path or desk_model_path(cfg)
    loaded = load_desk_router(path)
    if loaded is None:
        return {"desk": False}
    desk = copy.copy(loaded)  # the loaded model is shared by the process: change a copy
    desk.recent = copy.deepcopy(loaded.recent)
    examples, last = corrections(session, after_event=int(loaded.meta.get("corrections_until", 0)))
    if not examples:
        return {"desk": True, "observed": 0}
    before = {h: desk.current(h) for h in desk.models}
    for ex in examples:
        desk.observe(ex.body)
    after = {h: desk.current(h) for h in desk.models}
    desk.meta = {**loaded.meta, "corrections_until": last, "refreshed_at": now.isoformat(timespec="seconds")}
    desk.save(path)
    audit(
        session,
        actor="system",
        action="routing_desk_refreshed",
        now=now,
        reason=f"исправлений диспетчеров: {len(examples)}",
        data={"file": str(path), "head_share_before": before, "head_share_after": after},
    )
    return {"desk": True, "observed": len(examples), "head_share": after}
