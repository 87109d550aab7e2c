"""The SLA watch: escalate every clock that is at risk or overdue, once per step.

Run on a schedule (`incidents sla-watch`, `flows.jobs.sla_watch_flow`). For every open
incident it evaluates the clocks (`incidents.domain.sla_clocks`); a running clock that is

* at risk → notifies the body (its contacts and its executors),
* overdue → notifies the body, the body's head and the regional administrator (the
  contacts of `triage_body` and the users with the admin role),

as `sla.yaml: escalation` lists, through each configured channel (email, Telegram bot). Every
message is a row in `notifications`, unique on (incident, clock, step, channel, recipient,
deadline): a step is sent once, never again on the next run; a failed one is tried again on
the next run (up to five times); a new deadline (reopened, reassigned) is a new step.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.config import RegionConfig
from core.states import OPEN_STATES
from incidents.domain.sla import SlaPolicyEngine, format_left
from incidents.domain.sla_clocks import ClockState, SlaClocks
from incidents.services.notify import Notifier, NotifyFailed
from storage.models import Incident, Notification, User, row_id

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
MAX_ATTEMPTS = 5
CLOCK_NAMES = {
    "triage": "разбор инцидента",
    "draft": "подготовка ответа",
    "first_answer": "публичный ответ жителю",
    "follow_up": "окончательный ответ после промежуточного",
    "resolution": "решение по сообщению ПОС",
}


@dataclass(slots=True)
class WatchReport:
    checked: int = 0
    states: Counter = field(default_factory=Counter)  # (clock, state) → incidents
    sent: int = 0
    already: int = 0
    failed: int = 0
    dry_run: Counter = field(default_factory=Counter)  # channel → messages not sent (not configured)
    dry_run_reasons: dict[str, str] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)


def recipients(
    session: Session, cfg: RegionConfig, inc: Incident, clock: str, step: str
) -> list[tuple[str, str, str]]:
    """(channel, address, role) for this step of this clock; the triage clock belongs to the triage queue."""
    wanted = cfg.sla.escalation.at_risk if step == "at_risk" else cfg.sla.escalation.overdue
    body_code = cfg.bodies.triage_body if clock == "triage" else (inc.body_code or cfg.bodies.triage_body)
    body = cfg.body_by_code.get(body_code)
    admin = cfg.body_by_code[cfg.bodies.triage_body]
    users = session.exec(select(User).where(col(User.active).is_(True))).all()
    out: list[tuple[str, str, str]] = []

    def add(channel: str, address: str | None, who: str) -> None:
        if address and (channel, address) not in {(c, a) for c, a, _ in out}:
            out.append((channel, address, who))

    for who in wanted:
        if who == "body" and body is not None:
            add("email", body.contacts.email, who)
            add("telegram", body.contacts.telegram_chat_id, who)
            for u in users:
                if u.role == "executor" and u.body_code == body_code:
                    add("email", u.email, who)
                    add("telegram", u.telegram_chat_id, who)
        elif who == "body_head" and body is not None:
            add("email", body.contacts.head_email, who)
        elif who == "regional_admin":
            add("email", admin.contacts.email, who)
            add("telegram", admin.contacts.telegram_chat_id, who)
            for u in users:
                if u.role == "admin":
                    add("email", u.email, who)
                    add("telegram", u.telegram_chat_id, who)
    channels = set(cfg.sla.escalation.channels)
    return [r for r in out if r[0] in channels]


def message(cfg: RegionConfig, inc: Incident, st: ClockState) -> tuple[str, str]:
    tz = ZoneInfo(cfg.region.timezone)
    body = cfg.body_by_code.get(inc.body_code or "")
    due = st.due_at.astimezone(tz).strftime("%d.%m.%Y %H:%M") if st.due_at else "—"
    what = CLOCK_NAMES.get(st.name, st.name)
    if st.state == "overdue":
        subject = f"ПРОСРОЧЕНО: инцидент №{inc.id} — {what}"
        lead = f"Срок ({due}) истёк, просрочка {format_left(st.left)[1:]}."
    else:
        subject = f"Под угрозой срыва срока: инцидент №{inc.id} — {what}"
        lead = f"Срок {due}, осталось {format_left(st.left)}."
    text = (
        f"{lead}\n«{inc.title}»\nОтветственный: {body.name if body else inc.body_code or 'не назначен'}\n"
        f"Статус: {inc.status}. Карточка: incidents show {inc.id}"
    )
    return subject, text


def sla_watch(
    engine: Engine,
    cfg: RegionConfig,
    now: Clock,
    notifiers: dict[str, Notifier],
    missing: dict[str, str] | None = None,
) -> WatchReport:
    report = WatchReport()
    clocks = SlaClocks(cfg.sla, cfg.region.timezone)
    first = SlaPolicyEngine(cfg.sla, cfg.region.timezone)
    ts = now()
    with Session(engine) as session, session.begin():
        stmt = select(Incident).where(
            col(Incident.status).in_([s.value for s in OPEN_STATES]),
            col(Incident.merged_into_id).is_(None),
        )
        for inc in session.exec(stmt).all():
            report.checked += 1
            state = first.status(inc.due_at, inc.first_answer_at, ts).state
            if inc.sla_state != state:
                inc.sla_state = state
                session.add(inc)
            for st in clocks.evaluate(inc, ts).values():
                report.states[(st.name, st.state)] += 1
                if st.state in ("at_risk", "overdue"):
                    _escalate(session, cfg, inc, st, notifiers, missing or {}, report, ts)
    return report


def _escalate(
    session: Session,
    cfg: RegionConfig,
    inc: Incident,
    st: ClockState,
    notifiers: dict[str, Notifier],
    missing: dict[str, str],
    report: WatchReport,
    ts: datetime,
) -> None:
    subject, text = message(cfg, inc, st)
    for channel, address, _who in recipients(session, cfg, inc, st.name, st.state):
        row = session.exec(
            select(Notification).where(
                Notification.incident_id == inc.id,
                Notification.clock == st.name,
                Notification.step == st.state,
                Notification.channel == channel,
                Notification.recipient == address,
                Notification.due_at == st.due_at,
            )
        ).first()
        if row is not None and (row.status == "sent" or row.attempts >= MAX_ATTEMPTS):
            report.already += 1
            continue
        notifier = notifiers.get(channel)
        if notifier is None:
            report.dry_run[channel] += 1
            report.dry_run_reasons[channel] = missing.get(channel, "not configured")
            report.messages.append(f"[dry run] {channel} → {address}: {subject}")
            continue
        assert st.due_at is not None  # escalations are for clocks with a deadline
        row = row or Notification(
            incident_id=row_id(inc),
            clock=st.name,
            step=st.state,
            channel=channel,
            recipient=address,
            due_at=st.due_at,
            status="failed",
        )
        row.attempts += 1
        try:
            notifier.send(address, subject, text)
        except NotifyFailed as exc:
            row.status, row.error = "failed", str(exc)
            report.failed += 1
            log.warning("incident %s: %s %s → %s: %s", inc.id, st.name, st.state, address, exc)
        else:
            row.status, row.error, row.sent_at = "sent", None, ts
            report.sent += 1
            report.messages.append(f"{channel} → {address}: {subject}")
        session.add(row)
        session.flush()
