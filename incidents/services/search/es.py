"""Elasticsearch: templates, incremental idempotent sync from the database, and search.

Sync (`incidents index`):

* Setup is idempotent: the ILM policy, both composable index templates, and the incidents
  index are PUT every run (cheap, and a changed policy reaches the cluster).
* Each kind has a cursor in `crawl_cursors` (`search:posts`, `search:incidents`) holding the
  clock time the last complete sync started. The next sync re-reads everything changed since
  then minus `sync_overlap_minutes` (transactions that committed late): a post changes when
  its row, its signal or its incident link changes, or when its incident changes (status,
  merge); an incident when its row changes or its SLA deadline (or the at-risk margin before
  it) passed since the last sync.
* Documents go through `helpers.streaming_bulk`. Items rejected with 429/502/503/504 are retried
  with exponential backoff; what still fails that way leaves the cursor where it was (the next
  run sends it again: index and delete are idempotent). Items rejected for good (a mapping
  error) are recorded in the quarantine table and the cursor moves on.
* Deleted posts and merged incidents are deleted from the index (a 404 counts as done).
* A full pass (`--full`, or the first run) walks the tables by id and saves its place after
  every batch, so an interrupted first sync resumes where it stopped. `--full` first deletes
  the indexes by their exact names (clusters refuse wildcard deletes) and recreates them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.config import RegionConfig
from incidents.services.search import mappings
from incidents.services.search.documents import DocumentBuilder, IncidentRef, coordinates_of
from incidents.services.search.query import SearchFilters, SearchHit
from incidents.services.search.settings import SearchPolicy, SearchSettings
from storage.models import Incident, IncidentPost, Post, QuarantineItem, Signal, row_id, stored_ids
from storage.store import get_cursor, set_cursor

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]

RETRY_STATUSES: tuple[int, ...] = (429, 502, 503, 504)
POSTS_CURSOR = "search:posts"
INCIDENTS_CURSOR = "search:incidents"
MAX_MERGE_HOPS = 10


class SearchNotConfigured(Exception):
    """ELASTICSEARCH_URL is not set: the embedded full-text search is used instead."""


def make_client(settings: SearchSettings, policy: SearchPolicy) -> Elasticsearch:
    """The one Elasticsearch client. Bulk retries are the helper's (with backoff), so the
    transport itself retries only connection errors and timeouts."""
    from elasticsearch import Elasticsearch

    if not settings.elasticsearch_url:
        raise SearchNotConfigured("ELASTICSEARCH_URL is not set")
    kw: dict[str, Any] = {
        "request_timeout": policy.request_timeout_seconds,
        "max_retries": 3,
        "retry_on_timeout": True,
        "retry_on_status": (),
    }
    if settings.elasticsearch_api_key is not None:
        kw["api_key"] = settings.elasticsearch_api_key.get_secret_value()
    elif settings.elasticsearch_username:
        password = (
            settings.elasticsearch_password.get_secret_value() if settings.elasticsearch_password else ""
        )
        kw["basic_auth"] = (settings.elasticsearch_username, password)
    if settings.elasticsearch_ca_certs is not None:
        kw["ca_certs"] = str(settings.elasticsearch_ca_certs)
    if not settings.elasticsearch_verify_certs:
        kw["verify_certs"] = False
        kw["ssl_show_warn"] = False
    return Elasticsearch(settings.elasticsearch_url, **kw)


@dataclass(slots=True)
class SyncStats:
    kind: str
    full: bool = False
    sent: int = 0
    indexed: int = 0
    deleted: int = 0
    skipped: int = 0
    permanent_failures: int = 0
    transient_failures: int = 0
    cursor_advanced: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.transient_failures == 0 and not self.errors


def _parse_ts(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class Indexer:
    """Keeps the Elasticsearch indexes in step with the database for one region."""

    def __init__(
        self,
        client: Elasticsearch,
        engine: Engine,
        cfg: RegionConfig,
        policy: SearchPolicy,
        *,
        now: Clock,
        builder: DocumentBuilder | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.client = client
        self.engine = engine
        self.cfg = cfg
        self.policy = policy
        self.now = now
        self.builder = builder or DocumentBuilder(cfg)
        self.batch_size = batch_size or max(policy.bulk_chunk_size * 4, 1)
        self.overlap = timedelta(minutes=policy.sync_overlap_minutes)
        self.at_risk_margin = timedelta(hours=cfg.sla.at_risk_margin_hours)

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        """ILM policy, index templates, incidents index: created or updated, never duplicated."""
        self.client.ilm.put_lifecycle(
            name=mappings.posts_policy_name(self.policy), policy=mappings.ilm_policy(self.policy)
        )
        for name, body in mappings.templates(self.policy).items():
            self.client.indices.put_index_template(
                name=name, **{("meta" if k == "_meta" else k): v for k, v in body.items()}
            )
        index = mappings.incidents_index(self.policy)
        if not self.client.indices.exists(index=index):
            self.client.indices.create(index=index)

    def our_indexes(self) -> list[str]:
        pattern = f"{mappings.posts_index_pattern(self.policy)},{mappings.incidents_index(self.policy)}"
        found = self.client.indices.get(index=pattern, ignore_unavailable=True, allow_no_indices=True)
        return sorted(found.body)

    def rebuild(self) -> list[str]:
        """Delete our indexes (by exact name), reset the cursors, set up again."""
        names = self.our_indexes()
        for name in names:
            self.client.indices.delete(index=name)
        with Session(self.engine) as session, session.begin():
            ts = self.now()
            set_cursor(session, POSTS_CURSOR, None, ts)
            set_cursor(session, INCIDENTS_CURSOR, None, ts)
        self.setup()
        return names

    def sync(self, *, full: bool = False) -> list[SyncStats]:
        if full:
            self.rebuild()
        else:
            self.setup()
        return [self.sync_posts(), self.sync_incidents()]

    # ------------------------------------------------------------------ bulk
    def _bulk(self, actions: list[dict[str, Any]], stats: SyncStats, origin: str) -> list[QuarantineItem]:
        """Send actions; tally results; return the permanent failures to record."""
        from elastic_transport import TransportError
        from elasticsearch import ApiError, helpers

        failures: list[QuarantineItem] = []
        if not actions:
            return failures
        stats.sent += len(actions)
        by_id = {(a["_index"], a["_id"]): a for a in actions}
        p = self.policy
        try:
            for ok, item in helpers.streaming_bulk(
                self.client,
                actions,
                chunk_size=p.bulk_chunk_size,
                max_retries=p.bulk_max_retries,
                initial_backoff=p.bulk_initial_backoff_seconds,
                max_backoff=p.bulk_max_backoff_seconds,
                retry_on_status=RETRY_STATUSES,
                raise_on_error=False,
                raise_on_exception=True,
                yield_ok=True,
            ):
                op, info = next(iter(item.items()))
                status = int(info.get("status") or 0)
                if ok or (op == "delete" and status == 404):
                    if op == "delete":
                        stats.deleted += 1
                    else:
                        stats.indexed += 1
                    continue
                error = info.get("error")
                reason = _error_text(status, error)
                if status in RETRY_STATUSES or status >= 500 or status == 0:
                    stats.transient_failures += 1
                    log.warning(
                        "%s %s/%s: %s (will be sent again)", op, info.get("_index"), info.get("_id"), reason
                    )
                    continue
                stats.permanent_failures += 1
                action = by_id.get((info.get("_index"), info.get("_id")), {"_id": info.get("_id")})
                failures.append(
                    QuarantineItem(
                        origin=origin,
                        location=f"{info.get('_index')}/{info.get('_id')}",
                        reason=f"{op}: {reason}"[:1000],
                        payload=json.dumps(action, ensure_ascii=False, default=str),
                        created_at=self.now(),
                    )
                )
                log.error(
                    "%s %s/%s rejected: %s (recorded in quarantine)",
                    op,
                    info.get("_index"),
                    info.get("_id"),
                    reason,
                )
        except (ApiError, TransportError) as exc:
            stats.errors.append(f"{type(exc).__name__}: {exc}")
            log.error("bulk request failed: %s", exc)
        return failures

    def _record(self, session: Session, failures: list[QuarantineItem]) -> None:
        for f in failures:
            dup = session.exec(
                select(QuarantineItem.id).where(
                    QuarantineItem.origin == f.origin,
                    QuarantineItem.location == f.location,
                    QuarantineItem.reason == f.reason,
                    QuarantineItem.resolved_at == None,  # noqa: E711
                )
            ).first()
            if dup is None:
                session.add(f)

    # ------------------------------------------------------------------ the walk
    def _run(
        self,
        kind: str,
        cursor_id: str,
        changed: Callable[[Session, datetime], set[int]],
        all_after: Callable[[Session, int, int], list[int]],
        actions_for: Callable[[Session, list[int], datetime], Iterator[dict[str, Any]]],
        stats: SyncStats,
    ) -> SyncStats:
        started = self.now()
        with Session(self.engine) as session:
            cursor = get_cursor(session, cursor_id) or {}
        since = _parse_ts(cursor.get("since"))
        stats.full = since is None
        origin = f"search:{kind}"
        if since is not None:
            with Session(self.engine) as session:
                ids = sorted(changed(session, since - self.overlap))
            for start in range(0, len(ids), self.batch_size):
                chunk = ids[start : start + self.batch_size]
                with Session(self.engine) as session:
                    actions = list(actions_for(session, chunk, started))
                stats.skipped += len(chunk) - len(actions)
                failures = self._bulk(actions, stats, origin)
                with Session(self.engine) as session, session.begin():
                    self._record(session, failures)
                if not stats.complete:
                    return stats
        else:
            # A full pass: resumable by id, the start time kept from its first batch.
            started = _parse_ts(cursor.get("started")) or started
            after = int(cursor.get("after_id") or 0)
            while True:
                with Session(self.engine) as session:
                    chunk = all_after(session, after, self.batch_size)
                    if not chunk:
                        break
                    actions = list(actions_for(session, chunk, self.now()))
                stats.skipped += len(chunk) - len(actions)
                failures = self._bulk(actions, stats, origin)
                with Session(self.engine) as session, session.begin():
                    self._record(session, failures)
                    if not stats.complete:
                        return stats
                    after = chunk[-1]
                    set_cursor(
                        session,
                        cursor_id,
                        {"since": None, "started": started.isoformat(), "after_id": after},
                        self.now(),
                    )
        with Session(self.engine) as session, session.begin():
            set_cursor(session, cursor_id, {"since": started.isoformat()}, self.now())
        stats.cursor_advanced = True
        return stats

    # ------------------------------------------------------------------ posts
    def sync_posts(self) -> SyncStats:
        return self._run(
            "posts",
            POSTS_CURSOR,
            self._changed_posts,
            _ids_after(Post.id),
            self._post_actions,
            SyncStats("posts"),
        )

    def _changed_posts(self, session: Session, lower: datetime) -> set[int]:
        ids = set(stored_ids(session.exec(select(col(Post.id)).where(col(Post.updated_at) > lower))))
        ids.update(session.exec(select(col(Signal.post_id)).where(col(Signal.updated_at) > lower)))
        ids.update(session.exec(select(IncidentPost.post_id).where(IncidentPost.added_at > lower)).all())
        ids.update(
            session.exec(
                select(IncidentPost.post_id)
                .join(Incident, col(Incident.id) == col(IncidentPost.incident_id))
                .where(Incident.updated_at > lower)
            ).all()
        )
        return ids

    def _post_actions(self, session: Session, ids: list[int], now: datetime) -> Iterator[dict[str, Any]]:
        rows = session.exec(
            select(Post, Signal)
            .join(Signal, col(Signal.post_id) == col(Post.id), isouter=True)
            .where(col(Post.id).in_(ids))
            .order_by(col(Post.id))
        ).all()
        links = dict(
            session.exec(
                select(col(IncidentPost.post_id), col(IncidentPost.incident_id)).where(
                    col(IncidentPost.post_id).in_(ids)
                )
            ).all()
        )
        refs = resolve_incidents(session, set(links.values()))
        oldest = now - timedelta(days=self.policy.posts_retention_days)
        for post, sig in rows:
            if post.created_at < oldest:
                continue  # its monthly index is gone (ILM): never recreate it
            index = mappings.posts_index(self.policy, post.created_at)
            key = f"{post.network}:{post.external_id}"
            if post.deleted:
                yield {"_op_type": "delete", "_index": index, "_id": key}
                continue
            ref = refs.get(links[post.id]) if post.id in links else None
            yield {
                "_op_type": "index",
                "_index": index,
                "_id": key,
                "_source": self.builder.post_document(post, sig, ref, now),
            }

    # ------------------------------------------------------------------ incidents
    def sync_incidents(self) -> SyncStats:
        return self._run(
            "incidents",
            INCIDENTS_CURSOR,
            self._changed_incidents,
            _ids_after(Incident.id),
            self._incident_actions,
            SyncStats("incidents"),
        )

    def _changed_incidents(self, session: Session, lower: datetime) -> set[int]:
        ids = set(stored_ids(session.exec(select(col(Incident.id)).where(col(Incident.updated_at) > lower))))
        # SLA state depends on the clock: it changes when the deadline or the at-risk margin
        # before it passes, which no row update records.
        upper = self.now() + self.at_risk_margin
        ids.update(
            stored_ids(
                session.exec(
                    select(col(Incident.id)).where(
                        col(Incident.due_at) > lower, col(Incident.due_at) <= upper
                    )
                )
            )
        )
        return ids

    def _incident_actions(self, session: Session, ids: list[int], now: datetime) -> Iterator[dict[str, Any]]:
        incidents = session.exec(
            select(Incident).where(col(Incident.id).in_(ids)).order_by(col(Incident.id))
        ).all()
        persons: dict[int, list[str]] = {}
        coords: dict[int, tuple[float, float]] = {}
        if not self.builder.keep_person_names:
            for iid, ents in session.exec(
                select(IncidentPost.incident_id, Signal.entities)
                .join(Signal, col(Signal.post_id) == col(IncidentPost.post_id))
                .where(col(IncidentPost.incident_id).in_(ids))
            ).all():
                persons.setdefault(iid, []).extend((ents or {}).get("persons") or [])
        unplaced = [row_id(i) for i in incidents if i.municipality not in self.cfg.municipality_by_code]
        if unplaced:
            for iid, payload in session.exec(
                select(col(IncidentPost.incident_id), col(Post.raw))
                .join(Post, col(Post.id) == col(IncidentPost.post_id))
                .where(col(IncidentPost.incident_id).in_(unplaced))
                .order_by(col(Post.created_at))
            ).all():
                c = coordinates_of(payload)
                if c is not None and iid not in coords:
                    coords[iid] = c
        index = mappings.incidents_index(self.policy)
        for inc in incidents:
            if inc.merged_into_id is not None:
                yield {"_op_type": "delete", "_index": index, "_id": str(inc.id)}
                continue
            yield {
                "_op_type": "index",
                "_index": index,
                "_id": str(inc.id),
                "_source": self.builder.incident_document(
                    inc, now, persons=persons.get(row_id(inc), ()), coords=coords.get(row_id(inc))
                ),
            }


def _ids_after(column: Any) -> Callable[[Session, int, int], list[int]]:
    def fetch(session: Session, after: int, limit: int) -> list[int]:
        return list(session.exec(select(column).where(column > after).order_by(column).limit(limit)).all())

    return fetch


def resolve_incidents(session: Session, ids: set[int]) -> dict[int, IncidentRef]:
    """incident id → the incident it ends up in after merges (id and status)."""
    rows: dict[int | None, tuple[int | None, str]] = {}
    todo = set(ids)
    for _ in range(MAX_MERGE_HOPS):
        todo -= set(rows)
        if not todo:
            break
        for iid, merged, status in session.exec(
            select(col(Incident.id), col(Incident.merged_into_id), col(Incident.status)).where(
                col(Incident.id).in_(sorted(todo))
            )
        ).all():
            rows[iid] = (merged, status)
        todo = {m for m, _ in rows.values() if m is not None}
    out: dict[int, IncidentRef] = {}
    for iid in ids:
        cur, hops = iid, 0
        while cur in rows and (merged_into := rows[cur][0]) is not None and hops < MAX_MERGE_HOPS:
            cur, hops = merged_into, hops + 1
        if cur in rows:
            out[iid] = IncidentRef(cur, rows[cur][1])
    return out


def _error_text(status: int, error: Any) -> str:
    if isinstance(error, dict):
        text = f"{status} {error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            text += f" (caused by {cause.get('type')}: {cause.get('reason')})"
        return text
    return f"{status} {error}"


# --------------------------------------------------------------------------- search
def search_posts(
    client: Elasticsearch,
    policy: SearchPolicy,
    query: str,
    filters: SearchFilters | None = None,
    *,
    limit: int = 20,
) -> list[SearchHit]:
    """The same search as the embedded one, answered by Elasticsearch (Russian stemming)."""
    filters = filters or SearchFilters()
    must: list[dict[str, Any]] = []
    if query and query.strip():
        must.append({"match": {"text": {"query": query, "operator": "and"}}})
    flt: list[dict[str, Any]] = []
    for name, value in (
        ("category", filters.category),
        ("municipality", filters.municipality),
        ("network", filters.network),
        ("incident_status", filters.status),
    ):
        if value:
            flt.append({"term": {name: value}})
    rng: dict[str, str] = {}
    if filters.since:
        rng["gte"] = filters.since.isoformat()
    if filters.until:
        rng["lt"] = filters.until.isoformat()
    if rng:
        flt.append({"range": {"created_at": rng}})
    resp = client.search(
        index=mappings.posts_index_pattern(policy),
        query={"bool": {"must": must or [{"match_all": {}}], "filter": flt}},
        sort=["_score", {"created_at": {"order": "desc"}}],
        size=limit,
        highlight={
            "fields": {"text": {"fragment_size": 200, "number_of_fragments": 1}},
            "pre_tags": [""],
            "post_tags": [""],
        },
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    hits = []
    for h in resp.body.get("hits", {}).get("hits", []):
        src = h.get("_source") or {}
        frag = ((h.get("highlight") or {}).get("text") or [None])[0]
        text = " ".join((frag or src.get("text") or "").split())
        hits.append(
            SearchHit(
                post_id=src.get("post_id"),
                post_key=src.get("post_key") or h.get("_id"),
                network=src.get("network", ""),
                created_at=_parse_ts(src.get("created_at")),
                url=src.get("url"),
                snippet=text[:220],
                category=src.get("category"),
                municipality=src.get("municipality"),
                incident_id=src.get("incident_id"),
                incident_status=src.get("incident_status"),
                score=h.get("_score"),
            )
        )
    return hits


def run_sync(
    engine: Engine,
    cfg: RegionConfig,
    now: Clock,
    *,
    full: bool = False,
    settings: SearchSettings | None = None,
    policy: SearchPolicy | None = None,
) -> list[SyncStats]:
    """What a flow calls after a processing pass: sync if Elasticsearch is configured, else nothing."""
    from incidents.services.search.settings import get_search_settings

    settings = settings or get_search_settings()
    if not settings.elasticsearch_configured:
        return []
    policy = policy or cfg.search
    client = make_client(settings, policy)
    try:
        return Indexer(client, engine, cfg, policy, now=now).sync(full=full)
    finally:
        client.close()
