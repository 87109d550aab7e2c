"""The outbox: send queued replies to the networks, exactly once each, whatever crashes.

Each reply row (one per answer × post) goes through:

    queued ──(mark "sending", commit)──▶ send ──▶ sent (remote id, commit)
                                           ├──▶ queued again, with a back-off (rate limit, 5xx…)
                                           ├──▶ failed, with the reason (comments closed, bad request…)
                                           └──▶ stays "sending" (no answer came back)

The row is committed as "sending" *before* the network call. A row found "sending" later —
after a crash between the call and the record, or a lost answer — may already be published,
so it is never simply sent again: a channel whose remote deduplicates by our key (VK `guid`,
the feedback platform's `Idempotency-Key`) resends with the same key and gets the same remote
object back; a channel without such a key (OK, Telegram) first looks on the remote for our
reply under the same post and records it when found.

When a reply is recorded as sent, the incident's clocks stop: an interim answer stops the
first-answer clock and starts the follow-up deadline; a final one stops both. The first reply
sent of an answer is also what makes the incident «отвечено» (`incidents.services.answered`).

Networks without credentials are dry run: their replies stay queued and the report says so.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.config import RegionConfig
from incidents.domain.sla_clocks import SlaClocks
from incidents.services.answered import confirm_answered
from incidents.services.channels import Channel, Channels, SendRejected, SendRetry, SendUnknown
from storage.models import Incident, Reply
from storage.store import audit

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


@dataclass(slots=True)
class OutboxReport:
    sent: int = 0
    recovered: int = 0  # found already published after a crash or a lost answer
    retry: int = 0
    failed: int = 0
    unknown: int = 0
    dry_run: Counter = field(default_factory=Counter)  # network → replies waiting for credentials
    dry_run_reasons: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


class Outbox:
    def __init__(
        self, engine: Engine, cfg: RegionConfig, channels: Channels, now: Clock, *, dry_run: bool = False
    ) -> None:
        self.engine, self.cfg, self.channels, self.now = engine, cfg, channels, now
        self.dry_run = dry_run
        self.retry = cfg.replies.retry
        self.clocks = SlaClocks(cfg.sla, cfg.region.timezone)

    def backoff(self, attempts: int) -> timedelta:
        r = self.retry
        return timedelta(seconds=min(r.max_seconds, r.base_seconds * r.factor ** max(0, attempts - 1)))

    def due(self, limit: int | None = None) -> list[int]:
        ts = self.now()
        with Session(self.engine) as session:
            stmt = select(col(Reply.id), col(Reply.next_attempt_at)).where(
                col(Reply.status).in_(("queued", "sending"))
            )
            rows = session.exec(stmt.order_by(col(Reply.id))).all()
        ids = [rid for rid, nxt in rows if rid is not None and (nxt is None or nxt <= ts)]
        return ids[:limit] if limit else ids

    def run(self, limit: int | None = None) -> OutboxReport:
        report = OutboxReport()
        try:
            for rid in self.due(limit):
                self._one(rid, report)
        finally:  # one Telegram client per run, not per reply: closed here
            self.channels.close()
        return report

    # -- one reply
    def _one(self, rid: int, report: OutboxReport) -> None:
        with Session(self.engine) as session:
            row = session.get(Reply, rid)
            if row is None or row.status not in ("queued", "sending"):
                return
            network, target, text, key, status = (
                row.network or "",
                row.target or {},
                row.text,
                row.idempotency_key,
                row.status,
            )
        channel = None if self.dry_run else self.channels.get(network)
        if channel is None:
            report.dry_run[network] += 1
            report.dry_run_reasons[network] = (
                "--dry-run"
                if self.dry_run
                else self.channels.missing.get(network, f"no channel for {network!r}")
            )
            return
        if status == "sending" and not channel.idempotent:
            try:
                remote = channel.find_sent(target, text, key)
            except (SendRetry, SendUnknown, SendRejected) as exc:
                self._later(
                    rid, f"could not check {network} for an earlier send: {exc}", report, keep_sending=True
                )
                return
            if remote is not None:
                self._sent(rid, remote, report, recovered=True)
                return
        with Session(self.engine) as session, session.begin():
            row = session.get(Reply, rid)
            assert row is not None
            row.status, row.attempts, row.last_attempt_at = "sending", row.attempts + 1, self.now()
            session.add(row)
        # a resend of a row found "sending" (idempotent channel) returns what was published before
        self._send(rid, channel, target, text, key, report, resend=status == "sending")

    def _send(
        self,
        rid: int,
        channel: Channel,
        target: dict,
        text: str,
        key: str,
        report: OutboxReport,
        *,
        resend: bool = False,
    ) -> None:
        try:
            remote = channel.send(target, text, key)
        except SendRejected as exc:
            self._fail(rid, str(exc), report)
            return
        except SendRetry as exc:
            self._later(rid, str(exc), report, keep_sending=False)
            return
        except SendUnknown as exc:
            report.unknown += 1
            self._later(rid, f"no answer from {channel.network}: {exc}", report, keep_sending=True)
            return
        self._sent(rid, remote, report, recovered=resend)

    # -- records
    def _sent(self, rid: int, remote: str, report: OutboxReport, *, recovered: bool = False) -> None:
        ts = self.now()
        with Session(self.engine) as session, session.begin():
            row = session.get(Reply, rid)
            assert row is not None
            row.status, row.remote_id, row.sent_at, row.error, row.next_attempt_at = (
                "sent",
                remote,
                ts,
                None,
                None,
            )
            session.add(row)
            inc = session.get(Incident, row.incident_id)
            if inc is not None:
                self._stop_clocks(inc, row.interim, ts)
                confirm_answered(session, inc, row.answer_id, row.created_by or "system", ts, "reply_sent")
                session.add(inc)
            audit(
                session,
                actor="system",
                action="reply_sent",
                incident_id=row.incident_id,
                now=ts,
                data={
                    "reply": rid,
                    "post": row.post_id,
                    "network": row.network,
                    "remote_id": remote,
                    "recovered": recovered,
                },
            )
        if recovered:
            report.recovered += 1
        else:
            report.sent += 1

    def _stop_clocks(self, inc: Incident, interim: bool, ts: datetime) -> None:
        if inc.first_answer_at is None:
            inc.first_answer_at = ts
        if interim:
            if inc.interim_answer_at is None:
                inc.interim_answer_at = ts
                inc.follow_up_due_at = self.clocks.follow_up_due(ts, inc.urgent)
        elif inc.final_answer_at is None:
            inc.final_answer_at = ts
        inc.updated_at = ts

    def _later(self, rid: int, error: str, report: OutboxReport, *, keep_sending: bool) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(Reply, rid)
            assert row is not None
            if row.attempts >= self.retry.max_attempts:
                row.status = "failed"
                row.error = f"gave up after {row.attempts} tries: {error}"
                report.failed += 1
            else:
                row.status = "sending" if keep_sending else "queued"
                row.error = error
                row.next_attempt_at = self.now() + self.backoff(row.attempts)
                report.retry += 1
            session.add(row)
        report.errors.append(f"reply {rid}: {error}")
        log.warning("reply %s: %s", rid, error)

    def _fail(self, rid: int, error: str, report: OutboxReport) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(Reply, rid)
            assert row is not None
            row.status, row.error = "failed", error
            session.add(row)
            audit(
                session,
                actor="system",
                action="reply_failed",
                incident_id=row.incident_id,
                now=self.now(),
                reason=error,
                data={"reply": rid, "post": row.post_id, "network": row.network},
            )
        report.failed += 1
        report.errors.append(f"reply {rid}: {error}")
