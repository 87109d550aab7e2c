"""Incident states and the one table of allowed transitions.

new → triaged → assigned → answer_drafted → answer_approved → answered → resolved → closed;
rejected (not a complaint, with a reason); reopened (a new post after closing, or a rating of
1–2 on the feedback platform) goes back into the assignment loop.
"""

from __future__ import annotations

from enum import StrEnum


class IncidentState(StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    ASSIGNED = "assigned"
    ANSWER_DRAFTED = "answer_drafted"
    ANSWER_APPROVED = "answer_approved"
    ANSWERED = "answered"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    REOPENED = "reopened"


S = IncidentState
TRANSITIONS: dict[IncidentState, frozenset[IncidentState]] = {
    S.NEW: frozenset({S.TRIAGED, S.ASSIGNED, S.REJECTED}),
    S.TRIAGED: frozenset({S.ASSIGNED, S.REJECTED}),
    S.ASSIGNED: frozenset({S.ANSWER_DRAFTED, S.ANSWERED, S.TRIAGED, S.ASSIGNED, S.REJECTED}),
    S.ANSWER_DRAFTED: frozenset({S.ANSWER_APPROVED, S.ASSIGNED, S.ANSWERED}),
    S.ANSWER_APPROVED: frozenset({S.ANSWERED, S.ANSWER_DRAFTED}),
    S.ANSWERED: frozenset({S.RESOLVED, S.REOPENED, S.ANSWER_DRAFTED}),
    S.RESOLVED: frozenset({S.CLOSED, S.REOPENED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.REJECTED: frozenset({S.REOPENED, S.TRIAGED}),
    S.REOPENED: frozenset({S.TRIAGED, S.ASSIGNED, S.REJECTED}),
}
OPEN_STATES = frozenset(S) - {S.CLOSED, S.REJECTED, S.RESOLVED}
ANSWERED_STATES = frozenset({S.ANSWERED, S.RESOLVED, S.CLOSED})


class InvalidTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        allowed = (
            ", ".join(
                f"«{STATUS_NAMES.get(x, x)}»" for x in sorted(TRANSITIONS.get(IncidentState(current), ()))
            )
            if current in S._value2member_map_
            else ""
        )
        super().__init__(
            f"нельзя перевести инцидент из состояния «{STATUS_NAMES.get(current, current)}» в "
            f"«{STATUS_NAMES.get(target, target)}»; можно: {allowed or 'никуда'}"
        )
        self.current, self.target = current, target


def check_transition(current: str, target: str) -> IncidentState:
    """Return the target state, or raise InvalidTransition with the allowed ones."""
    try:
        cur, tgt = IncidentState(current), IncidentState(target)
    except ValueError as exc:
        raise InvalidTransition(current, target) from exc
    if tgt not in TRANSITIONS[cur]:
        raise InvalidTransition(current, target)
    return tgt


STATUS_NAMES: dict[str, str] = {
    "new": "новый",
    "triaged": "разобран",
    "assigned": "назначен",
    "answer_drafted": "ответ подготовлен",
    "answer_approved": "ответ утверждён",
    "answered": "отвечено",
    "resolved": "решён",
    "closed": "закрыт",
    "rejected": "отклонён",
    "reopened": "открыт повторно",
}
"""The Russian label of every incident status: what the console, the CLI and the exports show people."""

SLA_STATE_NAMES: dict[str, str] = {
    "ok": "в срок",
    "at_risk": "под угрозой",
    "overdue": "просрочен",
    "met": "выполнен",
    "missed": "нарушен",
    "off": "—",
}
"""The Russian label of every SLA clock state."""

EVENT_NAMES: dict[str, str] = {
    "queued_for_triage": "в очередь на разбор",
    "assigned": "назначен",
    "reassigned": "переназначен",
    "triaged": "разобран",
    "handed_back": "возвращён «не наше»",
    "rejected": "отклонён",
    "answer_drafted": "подготовлен ответ",
    "answer_redrafted": "ответ переписан",
    "draft_returned": "ответ возвращён",
    "answer_approved": "ответ утверждён",
    "answer_published": "ответ опубликован",
    "answer_queued": "ответ поставлен в очередь на отправку",
    "answer_marked_published": "ответ отмечен опубликованным вручную",
    "resolved": "решён",
    "closed": "закрыт",
    "reopened": "открыт повторно",
    "merged": "объединён",
    "merged_into": "присоединён к",
    "split": "выделены посты",
    "split_from": "выделен из",
    "post_moved_in": "пост перенесён сюда",
    "post_moved_out": "пост перенесён отсюда",
    "emptied": "остался без постов",
    "auto_answer_queued": "автоответ",
    "opened": "открыт",
    "reply_sent": "ответ отправлен",
    "reply_failed": "ответ не отправлен",
}
"""The Russian label of every audited event of an incident's history."""

CLOCK_NAMES: dict[str, str] = {
    "triage": "разбор",
    "draft": "черновик",
    "first_answer": "ответ жителю",
    "follow_up": "окончательный ответ",
    "resolution": "срок ПОС",
}
"""The Russian name of every SLA clock."""


SCALE_NAMES: dict[str, str] = {
    "house": "дом",
    "street": "улица",
    "settlement": "населённый пункт",
    "municipality": "муниципалитет",
    "region": "регион (вся область или несколько муниципалитетов)",  # «по всей области» too
}

ANSWER_STATUS_NAMES: dict[str, str] = {
    "draft": "черновик",
    "approved": "утверждён",
    "returned": "возвращён",
    "published": "отправлен на публикацию",
    "superseded": "заменён",
}

REPLY_STATUS_NAMES: dict[str, str] = {
    "queued": "в очереди",
    "sending": "отправляется",
    "sent": "отправлен",
    "failed": "ошибка",
    "manual": "опубликован вручную",
}
