"""The administrator's operations on incidents — merge, split, move a post — as the console calls them.

The operations themselves belong to the domain (`incidents.operations`, issue 5: audited,
manual links that automation never undoes, the card recomputed). This module is the thin
call the console makes: it checks the role, and it says plainly when the domain functions
are not installed, instead of doing the work differently here.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from incidents.config import RegionConfig
from incidents.roles import Actor, PermissionDenied, Role

OPERATORS = frozenset({Role.ADMIN})
"""Merging and splitting is the regional administrator's decision (the centres' practice)."""


class OperationsUnavailable(Exception):
    """`incidents.operations` is not part of this installation."""


def _module() -> Any:
    try:
        return importlib.import_module("incidents.operations")
    except ModuleNotFoundError as exc:
        raise OperationsUnavailable("объединение, разделение и перенос постов недоступны в этой версии "
                                    "(нет модуля incidents.operations)") from exc


def available() -> bool:
    try:
        _module()
    except OperationsUnavailable:
        return False
    return True


def errors() -> tuple[type[Exception], ...]:
    """The domain's own refusal (wrong ids, nothing left in the incident…), shown to the user as it is."""
    try:
        return (_module().OperationError,)
    except (OperationsUnavailable, AttributeError):
        return ()


def _check(actor: Actor) -> None:
    if actor.role not in OPERATORS:
        raise PermissionDenied(f"{actor.login} ({actor.role.value}): объединять, разделять и переносить посты "
                               "может только региональный администратор")


def merge(session: Session, cfg: RegionConfig, actor: Actor, target_id: int, source_ids: Sequence[int], *,
          reason: str, now: datetime) -> Any:
    _check(actor)
    return _module().merge_incidents(session, cfg, target_id, list(source_ids), by=actor.login, reason=reason, now=now)


def split(session: Session, cfg: RegionConfig, actor: Actor, incident_id: int, post_keys: Sequence[str], *,
          reason: str, now: datetime) -> Any:
    _check(actor)
    return _module().split_incident(session, cfg, incident_id, list(post_keys), by=actor.login, reason=reason, now=now)


def move(session: Session, cfg: RegionConfig, actor: Actor, post_key: str, to_id: int, *, reason: str,
         now: datetime) -> Any:
    _check(actor)
    return _module().move_post(session, cfg, post_key, to_id, by=actor.login, reason=reason, now=now)
