"""The administrator's operations on incidents — merge, split, move a post — as the console calls them.

The operations themselves belong to the domain (`incidents.services.operations`: audited, manual links
that automation never undoes, the card recomputed). The console adds only the role check: in
the centres' practice merging and splitting is the regional administrator's decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from core.config import RegionConfig
from core.roles import Actor, PermissionDenied, Role
from incidents.services import operations
from incidents.services.operations import OperationError, OperationResult

OPERATORS = frozenset({Role.ADMIN})

__all__ = ["OPERATORS", "OperationError", "merge", "move", "split"]


def _check(actor: Actor) -> None:
    if actor.role not in OPERATORS:
        raise PermissionDenied(
            f"{actor.login} ({actor.role.value}): объединять, разделять и переносить посты "
            "может только региональный администратор"
        )


def merge(
    session: Session,
    cfg: RegionConfig,
    actor: Actor,
    target_id: int,
    source_ids: Sequence[int],
    *,
    reason: str,
    now: datetime,
) -> OperationResult:
    _check(actor)
    return operations.merge_incidents(
        session, cfg, target_id, list(source_ids), by=actor.login, reason=reason, now=now
    )


def split(
    session: Session,
    cfg: RegionConfig,
    actor: Actor,
    incident_id: int,
    post_keys: Sequence[str],
    *,
    reason: str,
    now: datetime,
) -> OperationResult:
    _check(actor)
    return operations.split_incident(
        session, cfg, incident_id, list(post_keys), by=actor.login, reason=reason, now=now
    )


def move(
    session: Session,
    cfg: RegionConfig,
    actor: Actor,
    post_key: str,
    to_id: int,
    *,
    reason: str,
    now: datetime,
) -> OperationResult:
    _check(actor)
    return operations.move_post(session, cfg, post_key, to_id, by=actor.login, reason=reason, now=now)
