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
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from crawlers.base import BadRecord, SourceAdapter, SourceNotConfigured, SourceStopped
from crawlers.registry import build_adapter
from incidents.assess import PostFacts, is_urgent, priority_of, scale_of, summary_of, title_of
from incidents.clustering import Clusterer, IncidentView, street_key
from incidents.config import RegionConfig, SourceConfig
from incidents.models import Assignment, Incident, IncidentPost, Post, Signal
from incidents.records import SignalRecord
from incidents.routing import Router
from incidents.sla import SlaPolicyEngine
from incidents.sla_clocks import SlaClocks
from incidents.states import OPEN_STATES, IncidentState
from incidents.store import (
    admit,
    audit,
    get_cursor,
    pending_posts,
    post_record,
    quarantine,
    save_posts,
    set_cursor,
    sync_reference,
    upsert_signal,
)
from pipelines.signals import SignalBuilder

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


# --------------------------------------------------------------------------- crawl
@dataclass(slots=True)
class CrawlStats:
    source_id: str
    pages: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    error: str | None = None


def crawl_adapter(engine: Engine, adapter: SourceAdapter, now: Clock, *, max_pages: int | None = None) -> CrawlStats:
    """Fetch pages until the adapter is done; posts, bad records and cursor in one transaction per page."""
    stats = CrawlStats(adapter.source_id)
    with Session(engine) as session:
        cursor = get_cursor(session, adapter.source_id)
    while max_pages is None or stats.pages < max_pages:
        result = adapter.fetch(cursor)
        posts, refused = admit(result.posts)
        result.bad.extend(refused)
        with Session(engine) as session, session.begin():
            ts = now()
            ins, upd, same = save_posts(session, posts, ts)
            quarantine(session, adapter.source_id, result.bad, ts)  # a record already held is not added twice
            stats.quarantined += len(result.bad)
            set_cursor(session, adapter.source_id, result.next_cursor, ts)
        for b in result.bad:
            log.warning("%s: %s: %s", adapter.source_id, b.location, b.reason)
        stats.pages += 1
        stats.inserted += ins
        stats.updated += upd
        stats.unchanged += same
        cursor = result.next_cursor
        if result.done:
            break
    return stats


def crawl_source(engine: Engine, cfg: RegionConfig, source: SourceConfig, now: Clock) -> CrawlStats:
    """Run one configured source; a missing credential or a stop is reported, not raised."""
    try:
        adapter = build_adapter(source, cfg.root)
    except SourceNotConfigured as exc:
        return CrawlStats(source.id, error=f"not configured: {exc}")
    try:
        return crawl_adapter(engine, adapter, now)
    except SourceStopped as exc:
        return CrawlStats(source.id, error=f"stopped for now: {exc}")


# --------------------------------------------------------------------------- process
@dataclass(slots=True)
class ProcessStats:
    posts: int = 0
    complaints: int = 0
    off_region: int = 0
    incidents_opened: int = 0
    incidents_joined: int = 0
    reopened: int = 0
    comparisons: int = 0
    failed: int = 0
    by_category: Counter = field(default_factory=Counter)


def _view_from(inc: Incident, texts: list[str], keys: list[str], house: str | None) -> IncidentView:
    v = IncidentView(
        ref=inc.id,  # type: ignore[arg-type]
        category=inc.category,
        subcategory=inc.subcategory,
        municipality=inc.municipality,
        street=street_key(inc.street),
        house=house,
        first_at=inc.first_post_at or inc.opened_at,
        last_at=inc.last_post_at or inc.opened_at,
        closed_at=inc.closed_at if inc.status in ("closed", "resolved") else None,
        status=inc.status,
    )
    v.texts.extend(texts[-5:])
    v.post_keys.update(keys)
    return v


def load_clusterer(session: Session, cfg: RegionConfig, since: datetime) -> Clusterer:
    """Snapshot of the incidents a new post could join: active since `since`, or recently closed."""
    clusterer = Clusterer(cfg.clustering)
    window = timedelta(hours=cfg.clustering.window_hours)
    reopen = timedelta(days=cfg.clustering.reopen_window_days)
    stmt = select(Incident).where(
        Incident.merged_into_id == None,  # noqa: E711
        Incident.status != IncidentState.REJECTED.value,
        (Incident.last_post_at >= since - window) | (Incident.closed_at >= since - reopen),  # type: ignore[operator]
    )
    # In id order, which is the order they were opened in: the candidate lists a reloaded snapshot
    # builds are then those of the run that was killed (at most `max_candidates` are compared).
    incidents = list(session.exec(stmt.order_by(Incident.id)).all())
    if not incidents:
        return clusterer
    ids = [i.id for i in incidents]
    texts: dict[int, list[str]] = {i: [] for i in ids}
    keys: dict[int, list[str]] = {i: [] for i in ids}
    houses: dict[int, str | None] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.exec(
            select(IncidentPost.incident_id, Post.network, Post.external_id, Signal.lemma_text, Signal.entities)
            .join(Post, Post.id == IncidentPost.post_id)
            .join(Signal, Signal.post_id == Post.id, isouter=True)
            .where(IncidentPost.incident_id.in_(chunk))  # type: ignore[attr-defined]
            .order_by(Post.created_at)
        ).all()
        for iid, net, ext, lemma_text, ents in rows:
            keys[iid].append(f"{net}:{ext}")
            if lemma_text:
                texts[iid].append(" ".join(lemma_text.split()[:120]))
            house = ((ents or {}).get("address") or {}).get("house")
            if house and not houses.get(iid):
                houses[iid] = house
    for inc in incidents:
        clusterer.load(_view_from(inc, texts[inc.id], keys[inc.id], houses.get(inc.id)))
    return clusterer


class Processor:
    """Turns pending posts into signals and incidents, page by page; rerunnable at any point."""

    def __init__(self, engine: Engine, cfg: RegionConfig, now: Clock, *, builder: SignalBuilder | None = None,
                 batch_size: int = 1000) -> None:
        self.engine = engine
        self.cfg = cfg
        self.now = now
        self.builder = builder or SignalBuilder(cfg)
        self.router = Router(cfg)
        self.sla = SlaPolicyEngine(cfg.sla, cfg.region.timezone)
        self.clocks = SlaClocks(cfg.sla, cfg.region.timezone)
        self.batch_size = batch_size
        self.clusterer: Clusterer | None = None

    def run(self, progress: Callable[[int], None] | None = None) -> ProcessStats:
        stats = ProcessStats()
        while True:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                rows = pending_posts(session, self.batch_size)
                if not rows:
                    break
                if self.clusterer is None:
                    self.clusterer = load_clusterer(session, self.cfg, min(r.created_at for r in rows))
                self._process_batch(session, rows, stats)
            if progress:
                progress(len(rows))
        if self.clusterer is not None:
            stats.comparisons = self.clusterer.comparisons
        return stats

    def _process_batch(self, session: Session, rows: list[Post], stats: ProcessStats) -> None:
        ts = self.now()
        ids = [r.id for r in rows]
        existing = {s.post_id: s for s in session.exec(select(Signal).where(Signal.post_id.in_(ids))).all()}  # type: ignore[attr-defined]
        linked = set(session.exec(select(IncidentPost.post_id).where(IncidentPost.post_id.in_(ids))).all())  # type: ignore[attr-defined]
        touched: set[int] = set()
        new_refs: dict[str, Incident] = {}
        threads = self._thread_places(session, rows)
        built = self.builder.build_many([post_record(row) for row in rows],
                                        [threads.get((row.network, row.parent_id or "")) for row in rows])
        for row, sig in zip(rows, built, strict=True):
            if isinstance(sig, Exception):  # one bad post never stops the batch
                exc = sig
                log.error("post %s:%s could not be analysed: %r", row.network, row.external_id, exc)
                # held once per text (a rerun meets it again); `incidents quarantine retry` replays it
                quarantine(session, "signals", [BadRecord(f"{row.network}:{row.external_id}",
                                                          f"{type(exc).__name__}: {exc}", row.text[:100_000])], ts)
                row.processed = True
                session.add(row)
                stats.failed += 1
                continue
            upsert_signal(session, row.id, sig, ts, existing.get(row.id))  # type: ignore[arg-type]
            row.processed = True
            session.add(row)
            stats.posts += 1
            if not sig.is_complaint:
                continue
            if not sig.in_region:
                stats.off_region += 1
                continue
            stats.complaints += 1
            stats.by_category[sig.category] += 1
            if row.id in linked or row.deleted:
                continue  # already placed (maybe by hand): automation never moves it
            parent_key = f"{row.network}:{row.parent_id}" if row.parent_id else None
            decision = self.clusterer.assign(sig, parent_key)  # type: ignore[union-attr]
            if decision.new:
                inc = self._open_incident(session, sig, ts)
                new_refs[decision.incident] = inc  # type: ignore[index]
                self.clusterer.rekey(decision.incident, inc.id)  # type: ignore[union-attr, arg-type]
                incident_id = inc.id
                stats.incidents_opened += 1
            else:
                incident_id = decision.incident  # type: ignore[assignment]
                stats.incidents_joined += 1
                if decision.reopen:
                    self._reopen(session, incident_id, ts, row)  # type: ignore[arg-type]
                    stats.reopened += 1
            session.add(IncidentPost(post_id=row.id, incident_id=incident_id, added_at=ts, similarity=decision.similarity))  # type: ignore[arg-type]
            touched.add(incident_id)  # type: ignore[arg-type]
        session.flush()
        self._refresh(session, touched, ts)

    @staticmethod
    def _thread_places(session: Session, rows: list[Post]) -> dict[tuple[str, str], str]:
        """Where the posts that these rows reply to are placed (for replies that name no place)."""
        parents = {(r.network, r.parent_id) for r in rows if r.parent_id}
        if not parents:
            return {}
        out: dict[tuple[str, str], str] = {}
        keys = list(parents)
        for start in range(0, len(keys), 500):
            stmt = (
                select(Post.network, Post.external_id, Signal.municipality)
                .join(Signal, Signal.post_id == Post.id)
                .where(sa.tuple_(Post.network, Post.external_id).in_(keys[start : start + 500]))  # type: ignore[arg-type]
            )
            for net, ext, muni in session.exec(stmt).all():
                if muni:
                    out[(net, ext)] = muni
        return out

    def _open_incident(self, session: Session, sig: SignalRecord, ts: datetime) -> Incident:
        urgent = is_urgent(sig.category or "other", sig.subcategory)
        inc = Incident(
            title="…", category=sig.category or "other", subcategory=sig.subcategory, fact=sig.fact,
            municipality=sig.municipality, address=sig.address, street=sig.street, scale=sig.scale,
            status=IncidentState.NEW.value, opened_at=ts,
            due_at=self.sla.due(ts, category=sig.category, network=sig.network, urgent=urgent),
            first_post_at=sig.created_at, last_post_at=sig.created_at, updated_at=ts, urgent=urgent,
        )
        session.add(inc)
        session.flush()
        audit(session, actor="system", action="opened", incident_id=inc.id, to_state=inc.status, now=ts,
              data={"post": sig.post_key, "rules": [h.rule_id for h in sig.rules]})
        return inc

    def _reopen(self, session: Session, incident_id: int, ts: datetime, row: Post) -> None:
        inc = session.get(Incident, incident_id)
        if inc is None or inc.status not in ("closed", "resolved"):
            return
        audit(session, actor="system", action="reopened", incident_id=incident_id, from_state=inc.status,
              to_state=IncidentState.REOPENED.value, now=ts, reason=f"new post {row.network}:{row.external_id}")
        inc.status, inc.closed_at = IncidentState.REOPENED.value, None
        inc.first_answer_at = None
        inc.due_at = self.sla.due(ts, category=inc.category, network=row.network)
        session.add(inc)

    def _refresh(self, session: Session, incident_ids: set[int], ts: datetime) -> None:
        """Recompute what an incident shows from its posts, and route new ones."""
        if not incident_ids:
            return
        ids = sorted(incident_ids)
        facts: dict[int, list[PostFacts]] = {i: [] for i in ids}
        meta: dict[int, dict] = {i: {"networks": set(), "first": None, "last": None} for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            stmt = (
                select(IncidentPost.incident_id, Post, Signal)
                .join(Post, Post.id == IncidentPost.post_id)
                .join(Signal, Signal.post_id == Post.id, isouter=True)
                .where(IncidentPost.incident_id.in_(chunk))  # type: ignore[attr-defined]
            )
            for iid, post, sig in session.exec(stmt).all():
                addr = ((sig.entities if sig else None) or {}).get("address") or {}
                facts[iid].append(PostFacts(
                    text=post.text, network=post.network, author_id=post.author_id,
                    municipality=sig.municipality if sig else None, street=sig.street if sig else None,
                    house=addr.get("house"), settlement=addr.get("settlement"),
                    subcategory=sig.subcategory if sig else None, score=sig.score if sig else 0.0,
                    reach=post.likes + post.reposts + post.views // 100,
                    municipalities=tuple(((sig.entities if sig else None) or {}).get("municipalities") or ()),
                ))
                m = meta[iid]
                m["networks"].add(post.network)
                if post.network == "pos" and "pos_post" not in m:
                    m["pos_post"] = post
                m["first"] = post.created_at if m["first"] is None else min(m["first"], post.created_at)
                m["last"] = post.created_at if m["last"] is None else max(m["last"], post.created_at)
        for iid in ids:
            inc = session.get(Incident, iid)
            posts = facts[iid]
            if inc is None or not posts:
                continue
            inc.scale = scale_of(posts)
            inc.priority = priority_of(inc.category, inc.subcategory, posts, inc.scale)
            inc.title = title_of(self.cfg, inc.category, inc.subcategory, posts)[:300]
            inc.summary = summary_of(posts)
            inc.post_count = len(posts)
            inc.reach = sum(p.reach for p in posts)
            inc.networks = ",".join(sorted(meta[iid]["networks"]))
            inc.first_post_at, inc.last_post_at = meta[iid]["first"], meta[iid]["last"]
            if not inc.street:
                streets = [p.street for p in posts if p.street]
                inc.street = streets[0] if streets else None
            if not inc.municipality:
                munis = [p.municipality for p in posts if p.municipality]
                inc.municipality = munis[0] if munis else None
            inc.updated_at = ts
            pos_post = meta[iid].get("pos_post")
            if inc.resolution_due_at is None and pos_post is not None:
                # a feedback-platform message carries its own resolution deadline (5–30 days)
                inc.resolution_due_at = self.clocks.pos_resolution_due(pos_post.created_at, inc.category, pos_post.raw)
            if inc.status == IncidentState.NEW.value and inc.body_code is None:
                places = Counter(p.settlement for p in posts if p.settlement)
                self._route(session, inc, ts, settlement=places.most_common(1)[0][0] if places else None)
            session.add(inc)

    def _route(self, session: Session, inc: Incident, ts: datetime, *, settlement: str | None = None) -> None:
        d = self.router.route(category=inc.category, subcategory=inc.subcategory, fact=inc.fact,
                              municipality=inc.municipality, scale=inc.scale, settlement=settlement)
        inc.body_code = d.body
        session.add(Assignment(incident_id=inc.id, body_code=d.body, assigned_at=ts, assigned_by="system",  # type: ignore[arg-type]
                               reason=d.reason, rule=None if d.rule is None else str(d.rule)))
        if d.rule is not None:
            inc.status = IncidentState.ASSIGNED.value
            inc.assigned_at = inc.triaged_at = ts  # routed by a rule: triage done, the draft clock starts
            audit(session, actor="system", action="assigned", incident_id=inc.id, from_state="new",
                  to_state=inc.status, reason=d.reason, data={"body": d.body, "rule": d.rule}, now=ts)
        else:
            audit(session, actor="system", action="queued_for_triage", incident_id=inc.id, reason=d.reason,
                  data={"body": d.body}, now=ts)


def process_pending(engine: Engine, cfg: RegionConfig, now: Clock, *, builder: SignalBuilder | None = None,
                    progress: Callable[[int], None] | None = None, batch_size: int = 1000) -> ProcessStats:
    """Process every pending post, one transaction per batch; a crash loses at most the open batch,
    which the rerun processes again (see docs/reliability.md)."""
    return Processor(engine, cfg, now, builder=builder, batch_size=batch_size).run(progress)


# --------------------------------------------------------------------------- SLA
def sla_check(engine: Engine, cfg: RegionConfig, now: Clock) -> Counter:
    """Refresh the SLA state of every open incident; returns counts by state."""
    engine_sla = SlaPolicyEngine(cfg.sla, cfg.region.timezone)
    counts: Counter = Counter()
    ts = now()
    with Session(engine) as session, session.begin():
        stmt = select(Incident).where(Incident.status.in_([s.value for s in OPEN_STATES]))  # type: ignore[attr-defined]
        for inc in session.exec(stmt).all():
            st = engine_sla.status(inc.due_at, inc.first_answer_at, ts)
            counts[st.state] += 1
            if inc.sla_state != st.state:
                inc.sla_state = st.state
                session.add(inc)
    return counts


def prepare(engine: Engine, cfg: RegionConfig) -> None:
    with Session(engine) as session, session.begin():
        sync_reference(session, cfg)
