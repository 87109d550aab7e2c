"""Embedded full-text search over lemmas: SQLite FTS5, or PostgreSQL tsvector + GIN.

Used when no Elasticsearch is configured (`incidents search`, the console's search box).

How the index stays current without anyone calling it (migration 0002):

* Triggers on `posts` put the id of every inserted post, and of every post whose text or
  `deleted` flag changes, into `search_queue`. A post marked deleted (or removed) leaves the
  index at once, in the same transaction.
* Lemmatizing needs pymorphy3, which SQL cannot call, so `catch_up()` drains the queue: it
  lemmatizes the queued posts and writes their documents. `search_posts()` calls it first, so a
  search always sees every stored post; a flow may call it after a crawl to keep searches quick.

The document of a post holds *every* candidate lemma of every word (and the word itself), as
the keyword matcher does (see ../shared/STACK.md on ambiguous forms): «ямы» is indexed as
«яма», «ямы»; a query word matches when any of its candidate lemmas is among them, so «яма»
finds «ямы», «ямам», «ямах», and «ямы» finds «яма». Filters (category, municipality, network,
incident status, dates) are joins at query time, so they are never stale.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from incidents.services.search.query import SearchFilters, SearchHit
from storage.models import Incident, IncidentPost, Post, Signal, table_of
from storage.types import UTCDateTime

log = logging.getLogger(__name__)

FTS_TABLE = "search_posts_fts"  # SQLite: FTS5 table, rowid = posts.id
DOC_TABLE = "search_documents"  # PostgreSQL: post_id, lemmas, tsv (generated) + GIN index
QUEUE_TABLE = "search_queue"  # both: id, post_id

# Prepositions, conjunctions and particles dropped from queries (kept if nothing else is left).
STOP_WORDS = frozenset(
    {
        "и",
        "в",
        "во",
        "на",
        "с",
        "со",
        "к",
        "ко",
        "по",
        "о",
        "об",
        "обо",
        "от",
        "до",
        "из",
        "за",
        "у",
        "а",
        "но",
        "же",
        "ли",
        "бы",
        "для",
        "при",
        "про",
        "над",
        "под",
        "или",
        "что",
        "как",
        "это",
        "то",
    }
)

_lock = threading.Lock()
_shared_normalizer: Any = None


def _normalizer() -> Any:
    """One Normalizer per process: it holds the lemma cache."""
    global _shared_normalizer
    with _lock:
        if _shared_normalizer is None:
            from pipelines.normalize import Normalizer

            _shared_normalizer = Normalizer()
        return _shared_normalizer


# --------------------------------------------------------------------------- documents
def document_text(lemmas: Sequence[Sequence[str]]) -> str:
    """All candidate lemmas of every token, space separated (the indexed document)."""
    out: list[str] = []
    for cands in lemmas:
        out.extend(cands)
    return " ".join(out)


def query_terms(text: str, normalizer: Any = None) -> list[tuple[str, ...]]:
    """Candidate lemmas of each query word, stop words dropped (unless only stop words remain)."""
    norm = (normalizer or _normalizer())(text)
    terms = [tuple(dict.fromkeys(c)) for c, tok in zip(norm.lemmas, norm.tokens, strict=True) if c]
    kept = [t for t, tok in zip(terms, norm.tokens, strict=True) if tok not in STOP_WORDS]
    return kept or terms


def _fts5_quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def fts5_match(terms: Sequence[Sequence[str]]) -> str:
    """An FTS5 MATCH expression: every word, each as any of its lemmas. Terms are quoted,
    so nothing a user types is read as FTS5 syntax."""
    groups = []
    for cands in terms:
        alts = " OR ".join(_fts5_quote(c) for c in cands)
        groups.append(f"({alts})")
    return " AND ".join(groups)


def _pg_tsquery(terms: Sequence[Sequence[str]]) -> Any:
    """(q(a1) || q(a2)) && (q(b1) || …) built from bound parameters: nothing user-typed is parsed as tsquery syntax."""
    word_queries: list[sa.ColumnElement[Any]] = []
    for cands in terms:
        alts: list[sa.ColumnElement[Any]] = [
            sa.func.plainto_tsquery(sa.literal_column("'simple'"), sa.bindparam(None, c, type_=sa.Text()))
            for c in cands
        ]
        q = alts[0]
        for a in alts[1:]:
            q = q.op("||")(a)
        word_queries.append(q)
    tsq = word_queries[0]
    for w in word_queries[1:]:
        tsq = tsq.op("&&")(w)
    return tsq


# --------------------------------------------------------------------------- schema check
def _is_sqlite(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "sqlite"


SQLITE_TRIGGERS = {
    "search_posts_ai": f"""CREATE TRIGGER IF NOT EXISTS search_posts_ai AFTER INSERT ON posts
        BEGIN INSERT INTO {QUEUE_TABLE}(post_id) VALUES (NEW.id); END""",
    "search_posts_au": f"""CREATE TRIGGER IF NOT EXISTS search_posts_au AFTER UPDATE OF text, deleted ON posts
        BEGIN INSERT INTO {QUEUE_TABLE}(post_id) VALUES (NEW.id); END""",
    "search_posts_deleted": f"""CREATE TRIGGER IF NOT EXISTS search_posts_deleted AFTER UPDATE OF deleted ON posts
        WHEN NEW.deleted BEGIN DELETE FROM {FTS_TABLE} WHERE rowid = NEW.id; END""",
    "search_posts_ad": f"""CREATE TRIGGER IF NOT EXISTS search_posts_ad AFTER DELETE ON posts
        BEGIN DELETE FROM {FTS_TABLE} WHERE rowid = OLD.id; END""",
}


def ensure_triggers(conn: Connection) -> bool:
    """Re-create the SQLite triggers if a table rebuild (Alembic batch mode on `posts`) dropped
    them, and queue every post once. Returns True when something was repaired."""
    if not _is_sqlite(conn):
        return False
    have = {
        r[0]
        for r in conn.execute(
            sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'posts'")
        )
    }
    missing = [name for name in SQLITE_TRIGGERS if name not in have]
    if not missing:
        return False
    log.warning(
        "search triggers %s were missing on posts: re-created, all posts queued for indexing", missing
    )
    for name in missing:
        conn.execute(sa.text(SQLITE_TRIGGERS[name]))
    conn.execute(sa.text(f"INSERT INTO {QUEUE_TABLE}(post_id) SELECT id FROM posts"))
    return True


# --------------------------------------------------------------------------- indexing
def without_persons(text: str | None, entities: dict | None) -> str:
    """The text with the persons' names NER found in it (the signal's entities) blanked out,
    so that names stay out of the index unless `signals.yaml: keep_person_names` allows them."""
    import re

    text = text or ""
    names = sorted(
        {n.strip() for n in (entities or {}).get("persons") or [] if n and len(n.strip()) >= 2},
        key=len,
        reverse=True,
    )
    if not names:
        return text
    return re.sub("|".join(re.escape(n) for n in names), " ", text, flags=re.IGNORECASE)


def refresh(
    conn: Connection, post_ids: Iterable[int], normalizer: Any = None, *, keep_person_names: bool = False
) -> int:
    """(Re)write the documents of these posts now; deleted or missing posts are removed.
    Returns the number of documents written. Runs in the caller's transaction. Persons'
    names found by NER are left out of the documents unless `keep_person_names`."""
    ids = sorted(set(post_ids))
    if not ids:
        return 0
    norm = normalizer or _normalizer()
    P, S = table_of(Post), table_of(Signal)
    written = 0
    sqlite = _is_sqlite(conn)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = {
            r.id: r
            for r in conn.execute(
                sa.select(P.c.id, P.c.text, P.c.deleted, S.c.entities)
                .select_from(P.outerjoin(S, S.c.post_id == P.c.id))
                .where(P.c.id.in_(chunk))
            )
        }
        if sqlite:
            conn.execute(
                sa.text(f"DELETE FROM {FTS_TABLE} WHERE rowid IN ({','.join(str(int(i)) for i in chunk)})")
            )
        else:
            conn.execute(sa.text(f"DELETE FROM {DOC_TABLE} WHERE post_id = ANY(:ids)"), {"ids": chunk})
        docs = []
        for pid in chunk:
            row = rows.get(pid)
            if row is None or row.deleted:
                continue
            text = row.text or "" if keep_person_names else without_persons(row.text, row.entities)
            docs.append({"id": pid, "lemmas": document_text(norm(text).lemmas)})
        if docs:
            if sqlite:
                conn.execute(sa.text(f"INSERT INTO {FTS_TABLE}(rowid, lemmas) VALUES (:id, :lemmas)"), docs)
            else:
                conn.execute(
                    sa.text(
                        f"INSERT INTO {DOC_TABLE}(post_id, lemmas) VALUES (:id, :lemmas) "
                        "ON CONFLICT (post_id) DO UPDATE SET lemmas = EXCLUDED.lemmas"
                    ),
                    docs,
                )
            written += len(docs)
    return written


def _queue() -> sa.TableClause:
    return sa.table(QUEUE_TABLE, sa.column("id"), sa.column("post_id"))


def pending(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {QUEUE_TABLE}")).scalar_one())


def catch_up(
    engine: Engine, normalizer: Any = None, *, batch: int = 1000, keep_person_names: bool = False
) -> int:
    """Index every post queued by the triggers; safe to run concurrently and to interrupt.

    Only queue rows up to the highest id seen at the start are consumed: a post queued again
    meanwhile stays queued and is indexed next time. Returns the number of posts refreshed."""
    with engine.begin() as conn:
        ensure_triggers(conn)
        top = conn.execute(sa.text(f"SELECT max(id) FROM {QUEUE_TABLE}")).scalar()
    if top is None:
        return 0
    done = 0
    last = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                sa.text(
                    f"SELECT id, post_id FROM {QUEUE_TABLE} WHERE id > :last AND id <= :top ORDER BY id LIMIT :n"
                ),
                {"last": last, "top": top, "n": batch},
            ).all()
            if not rows:
                break
            last = rows[-1][0]
            done += refresh(conn, [r[1] for r in rows], normalizer, keep_person_names=keep_person_names)
            # Exactly the rows read: on PostgreSQL a row with a lower id may commit later.
            q = _queue()
            conn.execute(sa.delete(q).where(q.c.id.in_([r[0] for r in rows])))
    return done


def rebuild(engine: Engine, normalizer: Any = None, *, keep_person_names: bool = False) -> int:
    """Queue every post and index them all (after a schema repair or a change of lemmatizer)."""
    with engine.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO {QUEUE_TABLE}(post_id) SELECT id FROM posts"))
    return catch_up(engine, normalizer, keep_person_names=keep_person_names)


# --------------------------------------------------------------------------- searching
def _filtered(stmt: Any, filters: SearchFilters, P: Any, S: Any, INC: Any, MRG: Any) -> Any:
    if filters.category:
        stmt = stmt.where(S.c.category == filters.category)
    if filters.municipality:
        stmt = stmt.where(S.c.municipality == filters.municipality)
    if filters.network:
        stmt = stmt.where(P.c.network == filters.network)
    if filters.status:
        stmt = stmt.where(sa.func.coalesce(MRG.c.status, INC.c.status) == filters.status)
    if filters.since:
        stmt = stmt.where(P.c.created_at >= sa.bindparam("since", filters.since, type_=UTCDateTime()))
    if filters.until:
        stmt = stmt.where(P.c.created_at < sa.bindparam("until", filters.until, type_=UTCDateTime()))
    return stmt


def search_posts(
    engine: Engine,
    query: str,
    filters: SearchFilters | None = None,
    *,
    limit: int = 20,
    normalizer: Any = None,
    refresh_first: bool = True,
) -> list[SearchHit]:
    """Posts whose text contains every query word in any inflected form, best first.

    An empty query lists the newest posts that pass the filters. Deleted posts never appear."""
    norm = normalizer or _normalizer()
    if refresh_first:
        catch_up(engine, norm)
    terms = query_terms(query, norm) if query and query.strip() else []
    stmt = _statement(engine, query, terms, filters or SearchFilters())
    if stmt is None:
        return []
    with engine.connect() as conn:
        found = [(r[0], r[1]) for r in conn.execute(stmt.limit(limit))]
        return _hits(conn, found, terms, norm)


def search_incident_ids(
    engine: Engine, query: str, filters: SearchFilters | None = None, *, limit: int = 2000
) -> list[int]:
    """The incidents (a merged one's survivor) of the best `limit` posts `search_posts` finds, best
    first, each once: what the console's queue filters by. The same query, without reading the hits'
    rows: building 2,000 hits to keep their incident numbers was most of a queue search's cost."""
    norm = _normalizer()
    catch_up(engine, norm)
    terms = query_terms(query, norm) if query and query.strip() else []
    stmt = _statement(engine, query, terms, filters or SearchFilters(), incidents=True)
    if stmt is None:
        return []
    with engine.connect() as conn:
        rows = conn.execute(stmt.limit(limit)).all()
    return list(dict.fromkeys(r[2] for r in rows if r[2] is not None))


def _statement(
    engine: Engine,
    query: str,
    terms: list[tuple[str, ...]],
    filters: SearchFilters,
    *,
    incidents: bool = False,
) -> Any:
    """The search as one SELECT of (post id, rank[, incident id]) in rank order, without a limit;
    None when the query has only punctuation."""
    P, S, IP = table_of(Post), table_of(Signal), table_of(IncidentPost)
    INC = table_of(Incident).alias("i")
    MRG = table_of(Incident).alias("m")
    joined = (
        P.outerjoin(S, S.c.post_id == P.c.id)
        .outerjoin(IP, IP.c.post_id == P.c.id)
        .outerjoin(INC, INC.c.id == IP.c.incident_id)
        .outerjoin(MRG, MRG.c.id == INC.c.merged_into_id)
    )
    sqlite = _is_sqlite(engine)
    if not terms:
        if query and query.strip():
            return None  # only punctuation: nothing to look for
        stmt = sa.select(P.c.id, sa.literal(None).label("rank")).select_from(joined)
        order = [P.c.created_at.desc(), P.c.id.desc()]
    elif sqlite:
        fts = sa.table(FTS_TABLE, sa.column("rowid"))
        rank: sa.ColumnElement[Any] = sa.literal_column(f"bm25({FTS_TABLE})")
        stmt = (
            sa.select(P.c.id, rank.label("rank"))
            .select_from(fts.join(joined, P.c.id == fts.c.rowid))
            .where(sa.text(f"{FTS_TABLE} MATCH :match").bindparams(match=fts5_match(terms)))
        )
        order = [rank.asc(), P.c.created_at.desc()]
    else:
        docs = sa.table(DOC_TABLE, sa.column("post_id"), sa.column("tsv"))
        tsq = _pg_tsquery(terms)
        rank = sa.func.ts_rank(docs.c.tsv, tsq)
        stmt = (
            sa.select(P.c.id, rank.label("rank"))
            .select_from(docs.join(joined, P.c.id == docs.c.post_id))
            .where(docs.c.tsv.op("@@")(tsq))
        )
        order = [rank.desc(), P.c.created_at.desc()]
    if incidents:
        stmt = stmt.add_columns(sa.func.coalesce(MRG.c.id, INC.c.id))
    return _filtered(stmt.where(P.c.deleted == sa.false()), filters, P, S, INC, MRG).order_by(*order)


def _hits(
    conn: Connection,
    found: list[tuple[int, Any]],
    terms: list[tuple[str, ...]],
    norm: Any,
) -> list[SearchHit]:
    if not found:
        return []
    P, S, IP = table_of(Post), table_of(Signal), table_of(IncidentPost)
    INC = table_of(Incident).alias("i")
    MRG = table_of(Incident).alias("m")
    ids = [pid for pid, _ in found]
    stmt = (
        sa.select(
            P.c.id,
            P.c.network,
            P.c.external_id,
            P.c.created_at,
            P.c.url,
            P.c.text,
            S.c.category,
            S.c.municipality,
            IP.c.incident_id,
            INC.c.status,
            MRG.c.id.label("merged_id"),
            MRG.c.status.label("merged_status"),
        )
        .select_from(
            P.outerjoin(S, S.c.post_id == P.c.id)
            .outerjoin(IP, IP.c.post_id == P.c.id)
            .outerjoin(INC, INC.c.id == IP.c.incident_id)
            .outerjoin(MRG, MRG.c.id == INC.c.merged_into_id)
        )
        .where(P.c.id.in_(ids))
    )
    rows = {r.id: r for r in conn.execute(stmt)}
    wanted = {lemma for cands in terms for lemma in cands}
    out = []
    for pid, rank in found:
        r = rows.get(pid)
        if r is None:
            continue
        snippet, match = make_snippet(r.text, wanted, norm)
        out.append(
            SearchHit(
                post_id=pid,
                post_key=f"{r.network}:{r.external_id}",
                network=r.network,
                created_at=r.created_at,
                url=r.url,
                snippet=snippet,
                category=r.category,
                municipality=r.municipality,
                incident_id=r.merged_id or r.incident_id,
                incident_status=r.merged_status or r.status,
                score=None if rank is None else float(rank),
                extra={"match": match} if match else {},
            )
        )
    return out


def make_snippet(text: str, wanted: set[str], norm: Any, width: int = 220) -> tuple[str, str | None]:
    """A piece of the display text around the first word whose lemmas were searched for."""
    from pipelines.normalize import display_text

    display = " ".join(display_text(text or "").split())
    if not wanted:
        return (display[:width] + ("…" if len(display) > width else "")), None
    n = norm(display)
    hay = display.lower().replace("ё", "е")
    pos, match = 0, None
    for tok, cands in zip(n.tokens, n.lemmas, strict=True):
        at = hay.find(tok, pos)
        if at >= 0:
            pos = at + len(tok)
        if wanted.intersection(cands):
            if at >= 0:
                match = display[at : at + len(tok)]
                start = max(0, at - width // 3)
                piece = display[start : start + width]
                return ("…" if start else "") + piece + ("…" if start + width < len(display) else ""), match
            break
    return (display[:width] + ("…" if len(display) > width else "")), match
