"""The steps a flow composes: crawl a source, process pending posts, check the SLA.

Each step is a plain function over an engine, the region config and an injected clock; the
Prefect flows in `flows.monitoring` only wrap them. Every step is safe to rerun: it picks up
from stored cursors and flags, and writes each page in one transaction.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.config import RegionConfig
from core.records import PostRecord, SignalRecord
from core.states import OPEN_STATES, IncidentState, InvalidTransition, check_transition
from crawlers.base import BadRecord
from incidents.domain.assess import is_urgent
from incidents.domain.clustering import (
    Clusterer,
    Decision,
)
from incidents.domain.routing import Router
from incidents.domain.sla import SlaPolicyEngine
from incidents.domain.sla_clocks import SlaClocks
from incidents.services.crawling import CrawlStats, crawl_adapter, crawl_source  # noqa: F401 - callers take them here
from incidents.services.leaving import after_leaving
from incidents.services.open_incidents import load_clusterer
from incidents.services.refresh import refresh_incidents
from incidents.services.signal_worker import Pending, SignalWorker, WorkerFailed
from incidents.services.training import signal_builder
from pipelines.signals import SignalBuilder
from storage.models import Incident, IncidentPost, Post, Signal, row_id, table_of
from storage.store import (
    PROCESSING_LOCK,
    audit,
    pending_posts,
    post_key_filters,
    post_record,
    prepare,  # noqa: F401 - flows and callers take it here
    processing_mark,
    quarantine,
    signal_values,
    upsert_signal,
    writer_lock,
)

log = logging.getLogger(__name__)
CLOSED_STATES = frozenset({IncidentState.CLOSED.value, IncidentState.RESOLVED.value})
Clock = Callable[[], datetime]


# --------------------------------------------------------------------------- process
@dataclass(slots=True)
class ProcessStats:
    posts: int = 0
    complaints: int = 0
    off_region: int = 0
    incidents_opened: int = 0
    incidents_joined: int = 0
    reopened: int = 0
    linked: int = 0
    thread_replies: int = 0
    comparisons: int = 0
    failed: int = 0
    by_category: Counter = field(default_factory=Counter)


class Processor:
    """Turns pending posts into signals and incidents, page by page; rerunnable at any point."""

    def __init__(
        self,
        engine: Engine,
        cfg: RegionConfig,
        now: Clock,
        *,
        builder: SignalBuilder | None = None,
        batch_size: int = 1000,
        workers: int | None = None,
    ) -> None:
        self.engine = engine
        self.cfg = cfg
        self.now = now
        self.builder = builder or signal_builder(cfg)
        self.router = Router(cfg)
        self.sla = SlaPolicyEngine(cfg.sla, cfg.region.timezone)
        self.clocks = SlaClocks(cfg.sla, cfg.region.timezone)
        self.batch_size = batch_size
        self.clusterer: Clusterer | None = None
        self._mark: tuple[int, int, int] | None = None  # storage's processing mark after our last batch
        self._compared = 0  # comparisons of the clustering views reloaded since
        # signals of the next batch built in a second process (incidents/services/signal_worker.py)
        self.workers = cfg.signals.workers if workers is None else workers
        self._worker: SignalWorker | None = None

    def run(self, progress: Callable[[int], None] | None = None) -> ProcessStats:
        stats = ProcessStats()
        ahead: Pending | None = None  # the signals of the next batch, being built by the worker
        self._refresh_stale()
        try:
            while True:
                with Session(self.engine, expire_on_commit=False) as session, session.begin():
                    # The batch's lease (issue 19, F9): one batch at a time over all runs on this
                    # database; a run that waited while another committed reloads its view.
                    writer_lock(session, PROCESSING_LOCK)
                    rows = pending_posts(session, self.batch_size, claim=True)
                    if not rows:
                        break
                    if self.clusterer is None or processing_mark(session) != self._mark:
                        self._compared += self.clusterer.comparisons if self.clusterer is not None else 0
                        self.clusterer = load_clusterer(session, self.cfg, min(r.created_at for r in rows))
                    built = self._collect(ahead)
                    ahead = None
                    if self.workers and len(rows) == self.batch_size:
                        ahead = self._build_ahead(session)
                    self._process_batch(session, rows, stats, built)
                    self._mark = processing_mark(session)
                if progress:
                    progress(len(rows))
        finally:
            if self._worker is not None:
                self._worker.close()
                self._worker = None
        stats.comparisons = self._compared + (self.clusterer.comparisons if self.clusterer is not None else 0)
        return stats

    def _refresh_stale(self) -> None:
        """Rebuild the cards whose posts got new likes, reposts or views from a recrawl (card_stale)."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            writer_lock(session, PROCESSING_LOCK)  # another run may be rebuilding (and routing) them too
            stale = {
                iid
                for iid in session.exec(select(col(Incident.id)).where(col(Incident.card_stale) == sa.true()))
                if iid is not None
            }
            if stale:
                self._refresh(session, stale, self.now())

    def _build_ahead(self, session: Session) -> Pending | None:
        """Hand the batch after this one to the worker (read before this one is written: the
        pending posts after the first `batch_size`); None when there is none."""
        cols = table_of(Post).c
        stmt = (
            sa.select(
                cols.id,
                cols.network,
                cols.external_id,
                cols.source_id,
                cols.text,
                cols.created_at,
                cols.parent_id,
                cols.url,
                cols.author_id,
                cols.author_name,
                cols.likes,
                cols.reposts,
                cols.views,
                cols.deleted,
                cols.address,
                cols.lat,
                cols.lon,
            )
            .where(cols.processed == sa.false())
            .order_by(cols.created_at, cols.id)
            .offset(self.batch_size)
            .limit(self.batch_size)
        )
        records = {r.id: post_record(r) for r in session.execute(stmt)}
        if not records:
            return None
        try:
            if self._worker is None:
                self._worker = SignalWorker(self.cfg, use_ner=self.builder.entities.ner is not None)
            return self._worker.submit(records)
        except (WorkerFailed, OSError) as exc:
            self._drop_worker(exc)
            return None

    def _drop_worker(self, exc: Exception) -> None:
        log.warning("the signal worker failed (%s); building signals in this process", exc)
        self.workers = 0
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def _collect(self, ahead: Pending | None) -> dict[int, tuple[PostRecord, SignalRecord | None]]:
        """The worker's signals by post id, with the record each was built from ({} if none)."""
        if ahead is None:
            return {}
        try:
            sigs = ahead.result()
        except WorkerFailed as exc:  # the worker is an optimisation: build in place instead
            self._drop_worker(exc)
            return {}
        records = ahead.records
        return {pid: (rec, sig) for (pid, rec), sig in zip(records.items(), sigs, strict=True)}

    def _signals(
        self,
        rows: list[Post],
        threads: dict[tuple[str, str], tuple[str | None, str | None]],
        built: dict[int, tuple[PostRecord, SignalRecord | None]],
    ) -> list[SignalRecord | Exception]:
        """The batch's signals: the worker's for unchanged posts (with the thread's place added),
        the others built here — the same signals either way."""
        records = [post_record(row) for row in rows]
        of_thread = [threads.get((row.network, row.parent_id or ""), (None, None)) for row in rows]
        places = [t[0] for t in of_thread]
        topics = [t[1] for t in of_thread]
        ready: dict[int, SignalRecord | Exception] = {}
        todo: list[int] = []
        for i, (row, rec) in enumerate(zip(rows, records, strict=True)):
            got = built.get(row_id(row))
            if got is not None and got[1] is not None and got[0] == rec and self._can_rethread(places[i]):
                ready[i] = self.builder.rethread(rec, got[1], places[i], topics[i])
            else:
                todo.append(i)
        if todo:
            here = self.builder.build_many(
                [records[i] for i in todo], [places[i] for i in todo], [topics[i] for i in todo]
            )
            for i, sig in zip(todo, here, strict=True):
                ready[i] = sig
        out = [ready[i] for i in range(len(rows))]
        self._in_batch_threads(rows, records, threads, out)
        return out

    def _in_batch_threads(
        self,
        rows: list[Post],
        records: list[PostRecord],
        threads: dict[tuple[str, str], tuple[str | None, str | None]],
        out: list[SignalRecord | Exception],
    ) -> None:
        """Replies whose post is in the same batch (a post and its comments are often crawled
        together): the thread's place and category come from that post's signal, just built
        (posts are in time order, so the post comes first) — as if it had been stored before."""
        at = {(row.network, row.external_id): i for i, row in enumerate(rows)}
        for i, row in enumerate(rows):
            if not row.parent_id or (row.network, row.parent_id) in threads:
                continue
            j = at.get((row.network, row.parent_id))
            sig, parent = out[i], out[j] if j is not None and j < i else None
            if not isinstance(sig, SignalRecord) or not isinstance(parent, SignalRecord):
                continue
            place, topic = parent.municipality, parent.category
            if not place and not topic:
                continue
            if self._can_rethread(place):
                out[i] = self.builder.rethread(records[i], sig, place, topic)
            else:
                out[i] = self.builder.build_many([records[i]], [place], [topic])[0]

    def _can_rethread(self, thread_place: str | None) -> bool:
        """Whether a signal built without its thread can take the thread afterwards
        (`SignalBuilder.rethread`); with a trained model the thread's place is one of the
        model's inputs, so such a reply is built again with it."""
        return thread_place is None or self.builder.model is None

    def _process_batch(
        self,
        session: Session,
        rows: list[Post],
        stats: ProcessStats,
        built: dict[int, tuple[PostRecord, SignalRecord | None]] | None = None,
    ) -> None:
        ts = self.now()
        clusterer = self.clusterer
        assert clusterer is not None  # loaded before the first batch
        ids = [row_id(r) for r in rows]
        existing = {
            s.post_id: s for s in session.exec(select(Signal).where(col(Signal.post_id).in_(ids))).all()
        }
        # posts already placed and processed again (an edited text): their incidents are rebuilt
        links = {
            link.post_id: link
            for link in session.exec(select(IncidentPost).where(col(IncidentPost.post_id).in_(ids))).all()
        }
        linked = {pid: link.incident_id for pid, link in links.items()}
        left: dict[int, list[Post]] = {}  # incident → its posts that are no complaint any more (F10)
        # Incidents opened in this batch get their ids in one flush at the end of the batch (a
        # flush per incident was a fifth of the processing time); until then the clusterer and
        # the placements know them by their temporary reference.
        touched: set[int | str] = set()
        new_refs: dict[str, tuple[Incident, SignalRecord]] = {}
        placements: list[tuple[Post, int | str, Decision, str]] = []
        recurrences: list[tuple[str, int]] = []
        threads = self._thread_places(session, rows)
        new_signals: list[dict] = []
        for row, sig in zip(rows, self._signals(rows, threads, built or {}), strict=True):
            if isinstance(sig, Exception):  # one bad post never stops the batch
                exc = sig
                log.error("post %s:%s could not be analysed: %r", row.network, row.external_id, exc)
                # held once per text (a rerun meets it again); `incidents quarantine retry` replays it
                quarantine(
                    session,
                    "signals",
                    [
                        BadRecord(
                            f"{row.network}:{row.external_id}",
                            f"{type(exc).__name__}: {exc}",
                            row.text[:100_000],
                        )
                    ],
                    ts,
                )
                stats.failed += 1
                continue
            if row.id in existing:
                upsert_signal(session, row.id, sig, ts, existing[row.id])
            else:
                new_signals.append(signal_values(row.id, sig, ts))
            stats.posts += 1
            parent_key = f"{row.network}:{row.parent_id}" if row.parent_id else None
            link = links.get(row.id)  # type: ignore[arg-type]
            if link is not None and not (sig.is_complaint and sig.in_region) and self._leaves(link):
                session.delete(link)  # re-sent with a text that is no complaint: it leaves (F10)
                left.setdefault(link.incident_id, []).append(row)
            if not sig.is_complaint:
                if sig.in_region and parent_key and row.id not in linked and not row.deleted:
                    # A reply backing a complaint of its thread («и у нас то же») joins its incident.
                    follow = clusterer.follow_thread(sig, parent_key)
                    if follow is not None:
                        placements.append((row, follow.incident, follow, "auto:thread"))
                        stats.thread_replies += 1
                        stats.reopened += self._after_join(session, follow, ts, row)
                        touched.add(follow.incident)
                continue
            if not sig.in_region:
                stats.off_region += 1
                continue
            stats.complaints += 1
            stats.by_category[sig.category] += 1
            if row.id in linked or row.deleted:
                continue  # already placed (maybe by hand): automation never moves it
            decision = clusterer.assign(sig, parent_key)
            if decision.new:
                assert isinstance(decision.incident, str)  # a new incident's temporary reference
                new_refs[decision.incident] = (self._new_incident(session, sig, ts), sig)
                stats.incidents_opened += 1
                if decision.linked is not None:
                    assert isinstance(decision.linked, int)  # a closed incident: a stored one
                    recurrences.append((decision.incident, decision.linked))
                    stats.linked += 1
            else:
                stats.incidents_joined += 1
                stats.reopened += self._after_join(session, decision, ts, row)
            placements.append((row, decision.incident, decision, "auto"))
            touched.add(decision.incident)
        # New signals and the processed flags in two statements (executemany), not one ORM
        # object each: building and flushing them was a fifth of the processing time.
        if new_signals:
            session.execute(sa.insert(table_of(Signal)), new_signals)
        session.execute(sa.update(table_of(Post)).where(table_of(Post).c.id.in_(ids)).values(processed=True))
        session.flush()  # the new incidents get their ids
        new_ids: dict[str, int] = {}
        for ref, (inc, sig) in new_refs.items():
            new_ids[ref] = row_id(inc)
            clusterer.rekey(ref, new_ids[ref])
            audit(
                session,
                actor="system",
                action="opened",
                incident_id=inc.id,
                to_state=inc.status,
                now=ts,
                data={"post": sig.post_key, "rules": [h.rule_id for h in sig.rules]},
            )
        for ref, old_id in recurrences:
            self._link_recurrence(session, new_refs[ref][0], old_id, ts)
        added: dict[int, list[int]] = {}

        def stored(ref: int | str) -> int:
            return new_ids[ref] if isinstance(ref, str) else ref

        for row, target, decision, by in placements:
            iid = stored(target)
            self._place(session, row, iid, decision, ts, by)
            added.setdefault(iid, []).append(row_id(row))
        session.flush()
        edited = set(linked.values())
        self._refresh(
            session,
            {stored(r) for r in touched} | edited,
            ts,
            {iid: pids for iid, pids in added.items() if iid not in edited},
        )
        for iid, gone in sorted(left.items()):
            after_leaving(session, iid, gone, ts)
        if linked:
            self._compared += self.clusterer.comparisons  # type: ignore[union-attr]
            # An edited post changed what storage knows of its incident (its text, or it left):
            # the next batch clusters against storage's view, as a rerun after a crash would.
            self.clusterer = None

    @staticmethod
    def _leaves(link: IncidentPost) -> bool:
        """Whether a placed post whose new text is no complaint leaves its incident: only what
        the clustering placed as a complaint; a person's link and a reply that joined its thread
        («и у нас то же», never a complaint) stay."""
        return not link.manual and link.added_by == "auto"

    @staticmethod
    def _thread_places(
        session: Session, rows: list[Post]
    ) -> dict[tuple[str, str], tuple[str | None, str | None]]:
        """Where the posts that these rows reply to are placed and what they are about (for
        replies that name no place, or no problem: «у нас тоже»): (municipality, category)."""
        parents = {(r.network, r.parent_id) for r in rows if r.parent_id}
        if not parents:
            return {}
        out: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        for where in post_key_filters(parents):
            stmt = (
                select(Post.network, Post.external_id, Signal.municipality, Signal.category)
                .join(Signal, col(Signal.post_id) == col(Post.id))
                .where(where)
            )
            for net, ext, muni, cat in session.exec(stmt).all():
                if muni or cat:
                    out[(net, ext)] = (muni or None, cat or None)
        return out

    def _new_incident(self, session: Session, sig: SignalRecord, ts: datetime) -> Incident:
        urgent = is_urgent(sig.category or "other", sig.subcategory)
        inc = Incident(
            title="…",
            category=sig.category or "other",
            subcategory=sig.subcategory,
            fact=sig.fact,
            municipality=sig.municipality,
            address=sig.address,
            street=sig.street,
            scale=sig.scale,
            status=IncidentState.NEW.value,
            opened_at=ts,
            due_at=self.sla.due(ts, category=sig.category, network=sig.network, urgent=urgent),
            first_post_at=sig.created_at,
            last_post_at=sig.created_at,
            updated_at=ts,
            urgent=urgent,
        )
        session.add(inc)
        return inc

    @staticmethod
    def _place(
        session: Session, row: Post, incident_id: int, decision: Decision, ts: datetime, by: str
    ) -> None:
        session.add(
            IncidentPost(
                post_id=row_id(row),
                incident_id=incident_id,
                added_at=ts,
                added_by=by,
                similarity=decision.similarity,
            )
        )

    def _after_join(self, session: Session, decision: Decision, ts: datetime, row: Post) -> int:
        if not decision.reopen:
            return 0
        assert isinstance(decision.incident, int)  # only a stored incident is closed
        return int(self._reopen(session, decision.incident, ts, row))

    def _reopen(self, session: Session, incident_id: int, ts: datetime, row: Post) -> bool:
        """A new post soon after closing: the problem is back, the incident goes back into the loop."""
        inc = session.get(Incident, incident_id)
        if inc is None or inc.status not in CLOSED_STATES:
            return False
        try:
            target = check_transition(inc.status, IncidentState.REOPENED.value)
        except InvalidTransition:
            log.warning("incident %s in state %s cannot be reopened", incident_id, inc.status)
            return False
        closed_at = inc.closed_at or inc.updated_at
        audit(
            session,
            actor="system",
            action="reopened",
            incident_id=incident_id,
            from_state=inc.status,
            to_state=target.value,
            now=ts,
            reason=f"new post {row.network}:{row.external_id}",
            data={
                "post": f"{row.network}:{row.external_id}",
                "closed_at": closed_at.isoformat() if closed_at else None,
                "reopen_window_days": self.cfg.clustering.reopen_window_days,
            },
        )
        inc.status, inc.closed_at = target.value, None
        inc.first_answer_at = None
        inc.due_at = self.sla.due(
            ts, category=inc.category, network=row.network, urgent=is_urgent(inc.category, inc.subcategory)
        )
        inc.updated_at = ts
        session.add(inc)
        return True

    def _link_recurrence(self, session: Session, inc: Incident, old_id: int, ts: datetime) -> None:
        """The same problem again, after the reopen window: a new incident that points to the old one."""
        inc.linked_incident_id = old_id
        session.add(inc)
        days = self.cfg.clustering.reopen_window_days
        audit(
            session,
            actor="system",
            action="linked",
            incident_id=inc.id,
            now=ts,
            reason=f"the same problem as closed incident #{old_id}, more than {days:g} days after closing",
            data={"linked_incident": old_id},
        )
        audit(
            session,
            actor="system",
            action="recurred",
            incident_id=old_id,
            now=ts,
            reason=f"a new incident #{inc.id} continues it",
            data={"new_incident": inc.id},
        )

    def _refresh(
        self,
        session: Session,
        incident_ids: set[int],
        ts: datetime,
        added: dict[int, list[int]] | None = None,
    ) -> None:
        """Bring what an incident shows up to date with its posts (`added`: the posts that just
        joined, the only change), and route new ones."""
        for inc in refresh_incidents(session, self.cfg, incident_ids, ts, router=self.router, added=added):
            if inc.resolution_due_at is None and "pos" in (inc.networks or "").split(","):
                # a feedback-platform message carries its own resolution deadline (5–30 days)
                pos_post = session.exec(
                    select(Post)
                    .join(IncidentPost, col(IncidentPost.post_id) == col(Post.id))
                    .where(IncidentPost.incident_id == inc.id, Post.network == "pos")
                    .order_by(col(Post.created_at))
                    .limit(1)
                ).first()
                if pos_post is not None:
                    inc.resolution_due_at = self.clocks.pos_resolution_due(
                        pos_post.created_at, inc.category, pos_post.raw
                    )
                    session.add(inc)


def process_pending(
    engine: Engine,
    cfg: RegionConfig,
    now: Clock,
    *,
    builder: SignalBuilder | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 1000,
    workers: int | None = None,
) -> ProcessStats:
    """Process every pending post, one transaction per batch; a crash loses at most the open batch,
    which the rerun processes again (see docs/reliability.md). `workers` (default: the region's
    `signals.workers`): 1 builds the next batch's signals in a second process meanwhile."""
    return Processor(engine, cfg, now, builder=builder, batch_size=batch_size, workers=workers).run(progress)


# --------------------------------------------------------------------------- SLA
def sla_check(engine: Engine, cfg: RegionConfig, now: Clock) -> Counter:
    """Refresh the SLA state of every open incident; returns counts by state."""
    engine_sla = SlaPolicyEngine(cfg.sla, cfg.region.timezone)
    counts: Counter = Counter()
    ts = now()
    with Session(engine) as session, session.begin():
        stmt = select(Incident).where(
            col(Incident.status).in_([s.value for s in OPEN_STATES]),
            col(Incident.merged_into_id).is_(None),
        )
        for inc in session.exec(stmt).all():
            st = engine_sla.status(inc.due_at, inc.first_answer_at, ts)
            counts[st.state] += 1
            if inc.sla_state != st.state:
                inc.sla_state = st.state
                session.add(inc)
    return counts
