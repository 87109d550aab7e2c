"""Who may do what: the five roles and the one permission check.

Roles follow the control centres' practice (ЕЦУР, «Инцидент Менеджмент»):

* regional administrator (`admin`) — sees everything, triages, assigns, rejects, closes, can
  do anything a controller or a moderator does;
* moderator (`moderator`) — triages and assigns, rejects what is not a complaint;
* executor (`executor`) — staff of ONE body: sees and acts only on that body's incidents
  (drafts the answer, hands an incident back as "not ours", marks it resolved);
* controller (`controller`) — checks drafts, returns them or approves and publishes;
* observer (`observer`) — read-only oversight (federal staff, leadership).

Residents' personal data (152-ФЗ: only to whom the work needs it; issue 19, F13): an author's
name and account, and a link to a person's own page or wall (`SEE_AUTHORS`), are shown to the
administrator, moderators and controllers (they triage, decide what is a complaint and answer
in public, often by name) and to an executor on their own body's incidents (the body may have
to reach the resident to fix the problem); an observer sees them masked, and so would the staff
of any other body (an executor sees other bodies' incidents not at all).

`authorize()` is the only place these rules live; the workflow calls it before every action.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"
    EXECUTOR = "executor"
    CONTROLLER = "controller"
    OBSERVER = "observer"


class Action(StrEnum):
    VIEW = "view"
    TRIAGE = "triage"
    ASSIGN = "assign"
    REJECT = "reject"
    HAND_BACK = "hand_back"
    DRAFT = "draft"
    APPROVE = "approve"
    RETURN_DRAFT = "return_draft"
    PUBLISH = "publish"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    MANAGE_USERS = "manage_users"
    SEE_AUTHORS = "see_authors"


R, A = Role, Action
ROLE_NAMES: dict[str, str] = {
    "admin": "региональный администратор",
    "moderator": "модератор",
    "executor": "исполнитель",
    "controller": "контролёр",
    "observer": "наблюдатель",
}
ACTION_NAMES: dict[str, str] = {
    "view": "смотреть инциденты",
    "triage": "разбирать",
    "assign": "назначать",
    "reject": "отклонять",
    "hand_back": "возвращать на разбор",
    "draft": "готовить ответ",
    "approve": "утверждать ответ",
    "return_draft": "возвращать ответ на доработку",
    "publish": "публиковать ответ",
    "resolve": "отмечать решённым",
    "close": "закрывать",
    "reopen": "открывать повторно",
    "manage_users": "управлять пользователями",
    "see_authors": "видеть авторов",
}
PERMISSIONS: dict[Role, frozenset[Action]] = {
    R.ADMIN: frozenset(A),
    R.MODERATOR: frozenset({A.VIEW, A.TRIAGE, A.ASSIGN, A.REJECT, A.REOPEN, A.SEE_AUTHORS}),
    R.EXECUTOR: frozenset({A.VIEW, A.HAND_BACK, A.DRAFT, A.RESOLVE, A.SEE_AUTHORS}),
    R.CONTROLLER: frozenset(
        {A.VIEW, A.APPROVE, A.RETURN_DRAFT, A.PUBLISH, A.DRAFT, A.CLOSE, A.REOPEN, A.SEE_AUTHORS}
    ),
    R.OBSERVER: frozenset({A.VIEW}),
}
BODY_SCOPED: frozenset[Role] = frozenset({R.EXECUTOR})
"""Roles that act only on the incidents of their own body."""


class PermissionDenied(Exception):
    """The actor's role or body does not allow the action; the message says which and why."""


@dataclass(slots=True, frozen=True)
class Actor:
    login: str
    role: Role
    body_code: str | None = None

    def __post_init__(self) -> None:
        if self.role in BODY_SCOPED and not self.body_code:
            raise ValueError(f"user {self.login!r}: an executor belongs to one body; body_code is required")


SYSTEM = Actor("system", Role.ADMIN)
"""The pipeline itself (routing, SLA watch, auto-answers, ratings): acts as the administrator."""


def can(actor: Actor, action: Action, incident_body: str | None = None) -> bool:
    if action not in PERMISSIONS[actor.role]:
        return False
    return not (actor.role in BODY_SCOPED and incident_body != actor.body_code)


def authorize(
    actor: Actor, action: Action, incident_body: str | None = None, *, incident_id: int | None = None
) -> None:
    """Raise PermissionDenied unless `actor` may do `action` on an incident of `incident_body`."""
    if action not in PERMISSIONS[actor.role]:
        allowed = ", ".join(sorted(ACTION_NAMES.get(a.value, a.value) for a in PERMISSIONS[actor.role]))
        raise PermissionDenied(
            f"{actor.login} ({ROLE_NAMES.get(actor.role.value, actor.role.value)}) не может "
            f"{ACTION_NAMES.get(action.value, action.value)}; роль позволяет: {allowed}"
        )
    if actor.role in BODY_SCOPED and incident_body != actor.body_code:
        what = f"инцидент #{incident_id}" if incident_id is not None else "этот инцидент"
        raise PermissionDenied(
            f"{actor.login} работает в органе {actor.body_code}, а {what} назначен "
            f"{'органу ' + incident_body if incident_body else 'никому'}: исполнитель работает только с "
            "инцидентами своего органа"
        )
