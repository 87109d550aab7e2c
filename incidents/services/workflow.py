"""The workflow of an incident after it is found: triage, assignment, answer, approval, publication,
resolution, closing — each step checked against the actor's role and body, each an audit event.

`Workflow` works inside a caller's `Session` transaction (the CLI and the flows open one per
command), with an injected clock. States and their allowed moves live in `core.states`,
the permissions in `core.roles`; this module only composes them:

1. `triage` (moderator) — the incident is a real complaint, to be assigned;
2. `assign` / `reassign` (moderator, administrator) — to a body, with a reason; every
   assignment is a row in `assignments` (the history), the previous one ended;
3. `hand_back` (executor) — "not ours": back to triage with a reason;
4. `reject` (moderator) — not a complaint, with a reason;
5. `draft_answer` (executor) — from a template (sandboxed Jinja2) or free text; interim or final;
6. `return_draft` / `approve` (controller) — approval is required when `replies.yaml` says so;
7. `publish` — queues one outbox row per post (all the incident's posts or chosen ones);
   `incidents.services.outbox` sends them; «отвечено» once one is sent (`services.answered`);
8. `resolve` (executor) after a final answer, `close` (controller, administrator);
9. `reopen` — by hand, by a feedback-platform rating of 1–2 (`apply_ratings`), or by a new
   post after closing (the pipeline).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from core.config import RegionConfig
from core.roles import SYSTEM, Action, Actor, PermissionDenied, Role, authorize
from core.states import ANSWER_STATUS_NAMES, IncidentState, InvalidTransition, check_transition
from incidents.domain.sla import SlaPolicyEngine
from incidents.domain.sla_clocks import SlaClocks
from incidents.domain.templates import TemplateNotFound, choose, is_over, placeholders, render
from incidents.services.errors import WorkflowError
from incidents.services.users import add_user, get_actor, revoke_user_sessions, set_active, set_password
from pipelines.inflect import inflect_name
from storage.models import (
    Answer,
    Assignment,
    AuditEvent,
    Incident,
    IncidentPost,
    Post,
    Reply,
    row_id,
)
from storage.store import audit

Clock = Callable[[], datetime]
S = IncidentState


__all__ = ["Workflow", "WorkflowError", "PermissionDenied", "InvalidTransition", "TemplateNotFound"]
__all__ += ["add_user", "get_actor", "revoke_user_sessions", "set_active", "set_password"]


def idempotency_key(incident_id: int, answer_id: int, post_id: int) -> str:
    """One key per (answer, post): the same answer is never published twice under one post."""
    digest = hashlib.sha256(f"incident:{incident_id}/answer:{answer_id}/post:{post_id}".encode()).hexdigest()[
        :24
    ]
    return f"cur-{incident_id}-{answer_id}-{post_id}-{digest}"


_ANSWER_STATES = {
    "draft": "черновик",
    "approved": "утверждён",
    "returned": "возвращён",
    "published": "опубликован",
}


# --------------------------------------------------------------------------- the service
class Workflow:
    def __init__(self, session: Session, cfg: RegionConfig, now: Clock) -> None:
        self.session, self.cfg, self.now = session, cfg, now
        self.sla = SlaPolicyEngine(cfg.sla, cfg.region.timezone)
        self.clocks = SlaClocks(cfg.sla, cfg.region.timezone)

    # -- helpers
    def incident(self, incident_id: int) -> Incident:
        inc = self.session.get(Incident, incident_id)
        if inc is None:
            raise WorkflowError(f"инцидент #{incident_id} не найден")
        if inc.merged_into_id is not None:
            raise WorkflowError(
                f"инцидент #{incident_id} объединён с #{inc.merged_into_id}: действуйте в нём"
            )
        return inc

    def _check(self, actor: Actor, action: Action, inc: Incident) -> None:
        authorize(actor, action, inc.body_code, incident_id=inc.id)

    def _move(
        self,
        inc: Incident,
        actor: Actor,
        target: IncidentState,
        action: str,
        *,
        reason: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """The only place an incident's state changes: checked, then recorded as an audit event."""
        check_transition(inc.status, target.value)
        ts = self.now()
        audit(
            self.session,
            actor=actor.login,
            action=action,
            incident_id=inc.id,
            from_state=inc.status,
            to_state=target.value,
            reason=reason,
            data=data,
            now=ts,
        )
        inc.status = target.value
        inc.updated_at = ts
        self.session.add(inc)

    @staticmethod
    def _need_reason(reason: str | None, what: str) -> str:
        if not reason or not reason.strip():
            raise WorkflowError(f"нужна причина ({what})")
        return reason.strip()

    def _current_assignment(self, inc: Incident) -> Assignment | None:
        return self.session.exec(
            select(Assignment)
            .where(Assignment.incident_id == inc.id, col(Assignment.ended_at).is_(None))
            .order_by(col(Assignment.assigned_at).desc(), col(Assignment.id).desc())
        ).first()

    def _end_assignment(self, inc: Incident, ts: datetime) -> None:
        for a in self.session.exec(
            select(Assignment).where(Assignment.incident_id == inc.id, col(Assignment.ended_at).is_(None))
        ).all():
            a.ended_at = ts
            self.session.add(a)

    # -- 1. triage
    def triage(self, actor: Actor, incident_id: int, reason: str | None = None) -> Incident:
        inc = self.incident(incident_id)
        self._check(actor, Action.TRIAGE, inc)
        self._move(inc, actor, S.TRIAGED, "triaged", reason=reason)
        inc.triaged_at = inc.triaged_at or self.now()
        return inc

    # -- 2. assign / reassign
    def assign(
        self, actor: Actor, incident_id: int, body: str, reason: str | None = None, *, rule: str | None = None
    ) -> Incident:
        inc = self.incident(incident_id)
        self._check(actor, Action.ASSIGN, inc)
        if body not in self.cfg.body_by_code:
            raise WorkflowError(f"unknown body {body!r}: нет такого органа в bodies.yaml")
        reassign = inc.status in (S.ASSIGNED.value, S.ANSWER_DRAFTED.value) and inc.body_code is not None
        if reassign:
            reason = self._need_reason(reason, "переназначение")
            if body == inc.body_code:
                raise WorkflowError(
                    f"инцидент #{inc.id} уже назначен этому органу ({self.cfg.body_by_code[body].name})"
                )
        ts = self.now()
        previous = inc.body_code
        self._move(
            inc,
            actor,
            S.ASSIGNED,
            "reassigned" if reassign else "assigned",
            reason=reason,
            data={"body": body, "from_body": previous, "rule": rule},
        )
        self._end_assignment(inc, ts)
        self.session.add(
            Assignment(
                incident_id=row_id(inc),
                body_code=body,
                assigned_at=ts,
                assigned_by=actor.login,
                reason=reason,
                rule=rule,
            )
        )
        inc.body_code, inc.assigned_at = body, ts
        inc.triaged_at = inc.triaged_at or ts
        return inc

    # -- 3. "not ours"
    def hand_back(self, actor: Actor, incident_id: int, reason: str | None) -> Incident:
        inc = self.incident(incident_id)
        self._check(actor, Action.HAND_BACK, inc)
        reason = self._need_reason(reason, "возврат инцидента на разбор")
        ts = self.now()
        self._move(inc, actor, S.TRIAGED, "handed_back", reason=reason, data={"from_body": inc.body_code})
        self._end_assignment(inc, ts)
        triage = self.cfg.bodies.triage_body
        self.session.add(
            Assignment(
                incident_id=row_id(inc),
                body_code=triage,
                assigned_at=ts,
                assigned_by=actor.login,
                reason=f"возвращено: {reason}",
            )
        )
        inc.body_code, inc.assigned_at = triage, None
        return inc

    # -- 4. reject
    def reject(self, actor: Actor, incident_id: int, reason: str | None) -> Incident:
        inc = self.incident(incident_id)
        self._check(actor, Action.REJECT, inc)
        reason = self._need_reason(reason, "отклонение инцидента")
        self._move(inc, actor, S.REJECTED, "rejected", reason=reason)
        inc.rejected_reason, inc.closed_at = reason, self.now()
        inc.triaged_at = inc.triaged_at or self.now()
        return inc

    # -- 5. draft
    def default_deadline(self, inc: Incident, interim: bool) -> datetime | None:
        """None when the platform's date is over: the reply says «в ближайшее время», not a new guess."""
        ts = self.now()
        if interim:
            return self.clocks.follow_up_due(ts, inc.urgent) or ts + timedelta(days=5)
        if inc.resolution_due_at is not None:
            return None if is_over(inc.resolution_due_at, ts) else inc.resolution_due_at
        days = self.cfg.sla.pos_resolution_days.get(inc.category, self.cfg.sla.pos_resolution_default_days)
        return ts + timedelta(days=days)

    def render_template(
        self,
        inc: Incident,
        template_id: str | None,
        *,
        interim: bool = False,
        deadline: datetime | None = None,
        override: bool = False,
    ) -> tuple[str, str]:
        tpl = choose(
            self.cfg.replies,
            template_id=template_id,
            category=inc.category,
            subcategory=inc.subcategory,
            fact=inc.fact,
            interim=interim,
            override=override,
            category_name=next(
                (c.name for c in self.cfg.rubricator.categories if c.code == inc.category), None
            ),
        )
        body = self.cfg.body_by_code.get(inc.body_code or "")
        muni = self.cfg.municipality_by_code.get(inc.municipality or "")
        values = placeholders(
            incident=inc,
            body_name=body.name if body else None,
            deadline=deadline or self.default_deadline(inc, interim or tpl.interim),
            tz=self.cfg.region.timezone,
            municipality_name=muni.name if muni else None,
            now=self.now(),
        )
        return tpl.id, render(tpl.text, values, inflect_name)

    def draft_answer(
        self,
        actor: Actor,
        incident_id: int,
        *,
        text: str | None = None,
        template: str | None = None,
        interim: bool = False,
        deadline: datetime | None = None,
        override: bool = False,
    ) -> Answer:
        inc = self.incident(incident_id)
        self._check(actor, Action.DRAFT, inc)
        if override:  # a template of another category: the controller's decision only
            authorize(actor, Action.APPROVE, inc.body_code, incident_id=inc.id)
        tpl_id = None
        if text is None or not text.strip():
            tpl_id, text = self.render_template(
                inc, template, interim=interim, deadline=deadline, override=override
            )
            interim = interim or next(t.interim for t in self.cfg.replies.templates if t.id == tpl_id)
        ts = self.now()
        for old in self._answers(inc, "draft", "approved"):
            old.status, old.note = "superseded", f"replaced by a new draft at {ts.isoformat()}"
            self.session.add(old)
        if inc.status == S.ANSWER_DRAFTED.value:
            audit(
                self.session,
                actor=actor.login,
                action="answer_redrafted",
                incident_id=inc.id,
                now=ts,
                from_state=inc.status,
                to_state=inc.status,
                data={"template": tpl_id, "interim": interim},
            )
        else:
            self._move(
                inc, actor, S.ANSWER_DRAFTED, "answer_drafted", data={"template": tpl_id, "interim": interim}
            )
        answer = Answer(
            incident_id=row_id(inc),
            text=text.strip(),
            template=tpl_id,
            interim=interim,
            status="draft",
            created_by=actor.login,
            created_at=ts,
        )
        self.session.add(answer)
        inc.drafted_at = ts
        self.session.flush()
        return answer

    def _answers(self, inc: Incident, *statuses: str) -> list[Answer]:
        stmt = select(Answer).where(Answer.incident_id == inc.id)
        if statuses:
            stmt = stmt.where(col(Answer.status).in_(statuses))
        return list(self.session.exec(stmt.order_by(col(Answer.id))).all())

    def _draft(self, inc: Incident, *statuses: str) -> Answer:
        rows = self._answers(inc, *statuses)
        if not rows:
            raise WorkflowError(
                f"у инцидента #{inc.id} нет ответа в состоянии: {', '.join(ANSWER_STATUS_NAMES.get(x, x) for x in statuses)}"
            )
        return rows[-1]

    # -- 6. controller
    def return_draft(self, actor: Actor, incident_id: int, reason: str | None) -> Incident:
        inc = self.incident(incident_id)
        self._check(actor, Action.RETURN_DRAFT, inc)
        reason = self._need_reason(reason, "возврат ответа на доработку")
        answer = self._draft(inc, "draft", "approved")
        answer.status, answer.note = "returned", reason
        self.session.add(answer)
        self._move(inc, actor, S.ASSIGNED, "draft_returned", reason=reason, data={"answer": answer.id})
        inc.drafted_at = None  # the draft clock runs again for the rework
        return inc

    def approve(self, actor: Actor, incident_id: int) -> Answer:
        inc = self.incident(incident_id)
        self._check(actor, Action.APPROVE, inc)
        answer = self._draft(inc, "draft")
        ts = self.now()
        answer.status, answer.approved_by, answer.approved_at = "approved", actor.login, ts
        self.session.add(answer)
        self._move(inc, actor, S.ANSWER_APPROVED, "answer_approved", data={"answer": answer.id})
        return answer

    # -- 7. publish
    def answer_posts(self, inc: Incident) -> list[Post]:
        """The posts an answer goes under: every live post of the incident but the bodies' own."""
        official = set(self.cfg.signals.official_authors)
        for b in self.cfg.bodies.bodies:
            official.update(b.accounts)
        rows = self.session.exec(
            select(Post)
            .join(IncidentPost, col(IncidentPost.post_id) == col(Post.id))
            .where(IncidentPost.incident_id == inc.id)
            .order_by(col(Post.created_at), col(Post.id))
        ).all()
        return [p for p in rows if not p.deleted and (p.author_id or "") not in official]

    def publish(self, actor: Actor, incident_id: int, post_ids: Sequence[int] | None = None) -> list[Reply]:
        """Queue the approved answer (or the draft, when approval is not required) for the chosen posts."""
        inc = self.incident(incident_id)
        needs_approval = self.cfg.replies.approval_required
        if not needs_approval and actor.role is Role.EXECUTOR:
            authorize(actor, Action.DRAFT, inc.body_code, incident_id=inc.id)  # their own body's incident
        else:
            self._check(actor, Action.PUBLISH, inc)
        answer = self._draft(inc, "approved") if needs_approval else self._draft(inc, "approved", "draft")
        ts = self.now()
        if answer.status == "draft":
            answer.approved_by, answer.approved_at = actor.login, ts
        posts = self.answer_posts(inc)
        if post_ids is not None:
            wanted = set(post_ids)
            unknown = wanted - {p.id for p in posts}
            if unknown:
                raise WorkflowError(f"под постами {sorted(unknown)} инцидента #{inc.id} ответить нельзя")
            posts = [p for p in posts if p.id in wanted]
        if not posts:
            raise WorkflowError(f"у инцидента #{inc.id} нет поста, под которым можно ответить")
        replies = self._queue(inc, answer, posts, actor.login, ts)
        answer.status, answer.published_at = "published", ts
        self.session.add(answer)
        data = {"answer": answer.id, "interim": answer.interim, "posts": [p.id for p in posts]}
        # «отвечено» only once a channel confirms a reply sent, or by hand (services/answered.py)
        audit(self.session, actor=actor.login, action="answer_queued", incident_id=inc.id, now=ts, data=data)
        return replies

    def _queue(
        self, inc: Incident, answer: Answer, posts: Sequence[Post], by: str, ts: datetime
    ) -> list[Reply]:
        from incidents.services.channels import target_for

        text = answer.text
        if self.cfg.replies.signature:
            text = f"{text}\n\n{self.cfg.replies.signature}"
        out: list[Reply] = []
        for p in posts:
            key = idempotency_key(row_id(inc), row_id(answer), row_id(p))
            if self.session.exec(select(Reply).where(Reply.idempotency_key == key)).first() is not None:
                continue
            try:
                target = target_for(p.network, p.external_id, p.parent_id)
                if p.network == "pos":
                    target["final"] = not answer.interim  # the platform tells an interim answer apart
                status, error = "queued", None
            except ValueError as exc:
                target, status, error = None, "failed", f"no place to answer: {exc}"
            row = Reply(
                incident_id=row_id(inc),
                post_id=p.id,
                text=text,
                status=status,
                idempotency_key=key,
                error=error,
                interim=answer.interim,
                created_by=by,
                created_at=ts,
                answer_id=answer.id,
                network=p.network,
                target=target,
            )
            self.session.add(row)
            out.append(row)
        self.session.flush()
        return out

    def auto_answer_new_posts(self) -> int:
        """Posts that joined an answered incident after its answer get that answer too (as ЕЦУР does for
        duplicates), when `replies.yaml: auto_answer_joined_posts` is on. Returns the replies queued."""
        if not self.cfg.replies.auto_answer_joined_posts:
            return 0
        answered = (S.ANSWERED.value, S.RESOLVED.value, S.CLOSED.value)
        n = 0
        for inc in self.session.exec(select(Incident).where(col(Incident.status).in_(answered))).all():
            published = self._answers(inc, "published")
            if not published:
                continue
            latest = published[-1]
            answered_posts = set(
                self.session.exec(select(Reply.post_id).where(Reply.incident_id == inc.id)).all()
            )
            new = [p for p in self.answer_posts(inc) if p.id not in answered_posts]
            if not new:
                continue
            rows = self._queue(inc, latest, new, SYSTEM.login, self.now())
            audit(
                self.session,
                actor=SYSTEM.login,
                action="auto_answer_queued",
                incident_id=inc.id,
                now=self.now(),
                data={"answer": latest.id, "posts": [p.id for p in new]},
            )
            n += len(rows)
        return n

    # -- 8. resolve, close
    def resolve(self, actor: Actor, incident_id: int, reason: str | None = None) -> Incident:
        inc = self.incident(incident_id)
        self._check(actor, Action.RESOLVE, inc)
        if not any(not a.interim for a in self._answers(inc, "published")):
            raise WorkflowError(
                f"у инцидента #{inc.id} только промежуточный ответ: сначала опубликуйте окончательный"
            )
        self._move(inc, actor, S.RESOLVED, "resolved", reason=reason)
        inc.resolved_at = self.now()
        return inc

    def close(self, actor: Actor, incident_id: int, reason: str | None = None) -> Incident:
        inc = self.incident(incident_id)
        self._check(actor, Action.CLOSE, inc)
        self._move(inc, actor, S.CLOSED, "closed", reason=reason)
        inc.closed_at = self.now()
        return inc

    # -- 9. reopen
    def reopen(
        self, actor: Actor, incident_id: int, reason: str | None, *, data: dict[str, Any] | None = None
    ) -> Incident:
        inc = self.incident(incident_id)
        self._check(actor, Action.REOPEN, inc)
        reason = self._need_reason(reason, "повторное открытие")
        self._move(inc, actor, S.REOPENED, "reopened", reason=reason, data=data)
        ts = self.now()
        inc.closed_at = inc.resolved_at = None
        inc.first_answer_at = inc.final_answer_at = inc.interim_answer_at = inc.follow_up_due_at = None
        inc.drafted_at = inc.assigned_at = None
        inc.rejected_reason = None
        inc.due_at = self.sla.due(ts, category=inc.category, network=None, urgent=inc.urgent)
        return inc

    def apply_ratings(self) -> list[int]:
        """Feedback-platform ratings of 1–2 (`replies.yaml: reopen_ratings`) reopen an answered incident
        for re-review, as the platform requires; each rating of a message acts once."""
        reopened: list[int] = []
        bad = set(self.cfg.replies.reopen_ratings)
        rows = self.session.exec(
            select(Post, Incident)
            .join(IncidentPost, col(IncidentPost.post_id) == col(Post.id))
            .join(Incident, col(Incident.id) == col(IncidentPost.incident_id))
            .where(
                Post.network == "pos",
                col(Incident.status).in_([S.ANSWERED.value, S.RESOLVED.value, S.CLOSED.value]),
            )
        ).all()
        for post, inc in rows:
            pos = (post.raw or {}).get("pos") or {}
            rating = pos.get("rating")
            if rating not in bad:
                continue
            mark = {"post": f"pos:{post.external_id}", "rating": rating, "rated_at": pos.get("updated_at")}
            seen = self.session.exec(
                select(AuditEvent).where(AuditEvent.incident_id == inc.id, AuditEvent.action == "reopened")
            ).all()
            if any((e.data or {}).get("rating_of") == mark for e in seen):
                continue
            self.reopen(
                SYSTEM,
                row_id(inc),
                f"оценка {rating} на платформе обратной связи: повторное рассмотрение",
                data={"rating_of": mark},
            )
            reopened.append(row_id(inc))
        return reopened
