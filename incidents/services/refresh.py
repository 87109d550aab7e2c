"""Keep an incident's card true to its posts, and route incidents that have no body yet.

Shared by the processing step (posts join incidents) and by the administrator operations
(merge, split, move): whoever changes an incident's posts calls `refresh_incidents` in the
same transaction, so title, scale, priority, reach and post times never lag behind.

The card is kept incrementally: each incident stores its `CardState` (counts of the places its
posts name, distinct authors, reach, networks, post times and its best complaints), and a batch
that adds posts folds only those posts in. Rereading an incident's posts on every batch made
the time per post grow with the length of the stream (the card refresh was 80 % of the
processing at 2×10⁵ posts). The state is rebuilt from every post when the posts change other
than by joining: merge, split, move, an edited text, new likes or views from a recrawl
(`card_stale`). The summary's representative post is chosen again whenever the pool of best
complaints changes while the incident is small, and after it has grown by a fifth since the
last choice once it is big (that choice compares up to 25 posts pairwise).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from core.config import RegionConfig
from core.states import IncidentState
from incidents.domain.assess import (
    REPRESENTATIVE_POOL,
    PostFacts,
    address_from,
    priority_from,
    reach_of,
    representative,
    scale_from,
    summary_from,
    title_from,
)
from incidents.domain.routing import Router
from storage.models import Assignment, Incident, IncidentPost, Post, Signal, row_id
from storage.store import audit

# A big incident's representative post is chosen again once it has this many times the posts it
# had at the last choice; below REPRESENTATIVE_POOL posts, whenever its best complaints change.
REPRESENTATIVE_REGROWTH = 1.2
STATE_VERSION = 1


def _places_of(entities: dict | None) -> tuple[str | None, str | None, tuple[str, ...]]:
    """House, settlement and every municipality named, from a signal's stored entities."""
    ents = entities or {}
    addr = ents.get("address") or {}
    return addr.get("house"), addr.get("settlement"), tuple(ents.get("municipalities") or ())


def _region_wide(entities: dict | None) -> bool:
    """Whether the stored entities say the whole region («по всей области»)."""
    return bool((entities or {}).get("region_wide"))


def post_facts(session: Session, incident_ids: Iterable[int]) -> dict[int, list[PostFacts]]:
    """All the posts of each incident as `PostFacts`, oldest first (one query per 500
    incidents): what `incidents show` draws the whole card from."""
    ids = sorted(set(incident_ids))
    out: dict[int, list[PostFacts]] = {i: [] for i in ids}
    # Columns, not ORM rows: a post's raw payload and the ORM bookkeeping are not needed.
    cols: tuple[Any, ...] = (
        IncidentPost.incident_id,
        Post.text,
        Post.network,
        Post.external_id,
        Post.author_id,
        Post.author_name,
        Post.created_at,
        Post.likes,
        Post.reposts,
        Post.views,
        Signal.municipality,
        Signal.street,
        Signal.subcategory,
        Signal.score,
        Signal.lemma_text,
        Signal.entities,
        Signal.id,
    )
    base = (
        select(*cols)
        .join(Post, Post.id == IncidentPost.post_id)
        .join(Signal, Signal.post_id == Post.id, isouter=True)
    )
    for start in range(0, len(ids), 500):
        stmt = base.where(col(IncidentPost.incident_id).in_(ids[start : start + 500])).order_by(
            Post.created_at, Post.id
        )
        for r in session.exec(stmt).all():
            has_sig = r[16] is not None
            house, settlement, munis = _places_of(r[15] if has_sig else None)
            out[r[0]].append(
                PostFacts(
                    text=r[1],
                    network=r[2],
                    author_id=r[4],
                    municipality=r[10],
                    street=r[11],
                    house=house,
                    settlement=settlement,
                    subcategory=r[12],
                    score=r[13] if has_sig else 0.0,
                    reach=reach_of(r[7], r[8], r[9]),
                    key=f"{r[2]}:{r[3]}",
                    created_at=r[6],
                    author_name=r[5],
                    likes=r[7],
                    reposts=r[8],
                    views=r[9],
                    lemma_text=(r[14] or "") if has_sig else "",
                    municipalities=munis,
                    region_wide=has_sig and _region_wide(r[15]),
                )
            )
    return out


def _fold_columns() -> tuple[Any, ...]:
    """The columns a post contributes to its incident's state: no text, no lemmas (the pool's
    few posts are read with their text only when the representative is chosen)."""
    return (
        IncidentPost.incident_id,
        Post.id,
        Post.network,
        Post.author_id,
        Post.created_at,
        Post.likes,
        Post.reposts,
        Post.views,
        Signal.municipality,
        Signal.street,
        Signal.score,
        Signal.entities,
        Signal.id,
        Signal.address,
        Post.lat,
        Post.lon,
    )


@dataclass(slots=True)
class FoldRow:
    """What one post adds to its incident's `CardState`."""

    post_id: int
    network: str
    author_id: str | None
    created_at: datetime | None
    likes: int
    reposts: int
    views: int
    municipality: str | None
    street: str | None
    house: str | None
    settlement: str | None
    municipalities: tuple[str, ...]
    score: float
    address: str | None
    lat: float | None = None
    lon: float | None = None
    region_wide: bool = False

    @property
    def reach(self) -> int:
        return reach_of(self.likes, self.reposts, self.views)


def _fold_row(r: Any) -> FoldRow:
    has_sig = r[12] is not None
    house, settlement, munis = _places_of(r[11] if has_sig else None)
    return FoldRow(
        post_id=r[1],
        network=r[2],
        author_id=r[3],
        created_at=r[4],
        likes=r[5] or 0,
        reposts=r[6] or 0,
        views=r[7] or 0,
        municipality=r[8],
        street=r[9],
        house=house,
        settlement=settlement,
        municipalities=munis,
        score=r[10] if has_sig else 0.0,
        address=r[13],
        lat=r[14],
        lon=r[15],
        region_wide=has_sig and _region_wide(r[11]),
    )


@dataclass(slots=True)
class CardState:
    """An incident's card inputs, summed over all its posts; kept on the incident as JSON.

    Counters keep the order of first mention, so ties resolve as `card_of` resolves them over
    the posts in time order. Only three distinct authors are kept: the priority asks «three or
    more». The pool is the best `REPRESENTATIVE_POOL` complaints by (score, reach): the
    representative is always among them.
    """

    n: int = 0
    munis: Counter = field(default_factory=Counter)
    named: list[str] = field(default_factory=list)
    street_houses: Counter = field(default_factory=Counter)
    settlements: Counter = field(default_factory=Counter)
    authors: list[str] = field(default_factory=list)
    nets: Counter = field(default_factory=Counter)
    likes: int = 0
    reposts: int = 0
    views: int = 0
    reach: int = 0
    first: datetime | None = None
    last: datetime | None = None
    pool: list[tuple[int, float, int]] = field(default_factory=list)  # (post id, score, reach), best first
    rep: int | None = None
    rep_n: int = 0
    wide: int = 0  # posts about the whole region (a state stored before they were counted: 0)

    def add(self, row: FoldRow) -> bool:
        """Fold one post in; True when the pool of best complaints changed."""
        self.n += 1
        self.wide += row.region_wide
        if row.municipality:
            self.munis[row.municipality] += 1
        for m in row.municipalities:
            if m not in self.named:
                self.named.append(m)
        if row.street:
            self.street_houses[(row.street, row.house)] += 1
        if row.settlement:
            self.settlements[row.settlement] += 1
        if row.author_id and len(self.authors) < 3 and row.author_id not in self.authors:
            self.authors.append(row.author_id)
        self.nets[row.network] += 1
        self.likes += row.likes
        self.reposts += row.reposts
        self.views += row.views
        self.reach += row.reach
        if row.created_at is not None:
            self.first = row.created_at if self.first is None else min(self.first, row.created_at)
            self.last = row.created_at if self.last is None else max(self.last, row.created_at)
        entry = (row.post_id, float(row.score), row.reach)
        bisect.insort_right(
            self.pool, entry, key=lambda e: (-e[1], -e[2])
        )  # a later post goes after its equals
        if len(self.pool) > REPRESENTATIVE_POOL:
            dropped = self.pool.pop()
            return dropped is not entry
        return True

    def wants_representative(self, pool_changed: bool) -> bool:
        if self.rep is None or self.rep not in {e[0] for e in self.pool}:
            return True
        if not pool_changed:
            return False
        return self.n < REPRESENTATIVE_POOL or self.n >= self.rep_n * REPRESENTATIVE_REGROWTH

    def to_json(self) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "n": self.n,
            "munis": dict(self.munis),
            "named": self.named,
            "street_houses": [[s, h, c] for (s, h), c in self.street_houses.items()],
            "settlements": dict(self.settlements),
            "authors": self.authors,
            "nets": dict(self.nets),
            "likes": self.likes,
            "reposts": self.reposts,
            "views": self.views,
            "reach": self.reach,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "pool": [list(e) for e in self.pool],
            "rep": self.rep,
            "rep_n": self.rep_n,
            "wide": self.wide,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> CardState | None:
        """None for a missing state or one of another version: the caller rebuilds it."""
        if not d or d.get("v") != STATE_VERSION:
            return None
        return cls(
            n=d["n"],
            munis=Counter(d["munis"]),
            named=list(d["named"]),
            street_houses=Counter({(s, h): c for s, h, c in d["street_houses"]}),
            settlements=Counter(d["settlements"]),
            authors=list(d["authors"]),
            nets=Counter(d["nets"]),
            likes=d["likes"],
            reposts=d["reposts"],
            views=d["views"],
            reach=d["reach"],
            first=_aware(d["first"]),
            last=_aware(d["last"]),
            pool=[(int(p), float(s), int(r)) for p, s, r in d["pool"]],
            rep=d["rep"],
            rep_n=d["rep_n"],
            wide=d.get("wide", 0),
        )


def _aware(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _fold_rows(
    session: Session, *, incident_ids: Sequence[int] = (), post_ids: Sequence[int] = ()
) -> dict[int, list[FoldRow]]:
    """The posts of these incidents (or just these posts) as `FoldRow`s by incident, oldest first."""
    out: dict[int, list[FoldRow]] = {}
    base = (
        select(*_fold_columns())
        .join(Post, Post.id == IncidentPost.post_id)
        .join(Signal, Signal.post_id == Post.id, isouter=True)
    )
    key_col, keys = (
        (col(IncidentPost.incident_id), list(incident_ids))
        if incident_ids
        else (col(IncidentPost.post_id), list(post_ids))
    )
    for start in range(0, len(keys), 500):
        stmt = base.where(key_col.in_(keys[start : start + 500])).order_by(col(Post.created_at), col(Post.id))
        for r in session.exec(stmt).all():
            out.setdefault(r[0], []).append(_fold_row(r))
    return out


def _pool_facts(session: Session, post_ids: Sequence[int]) -> dict[int, PostFacts]:
    """The pool's posts with their text and lemmas, for choosing the representative."""
    cols: tuple[Any, ...] = (
        Post.id,
        Post.text,
        Post.network,
        Post.external_id,
        Post.likes,
        Post.reposts,
        Post.views,
        Signal.score,
        Signal.lemma_text,
        Signal.id,
    )
    out: dict[int, PostFacts] = {}
    ids = sorted(set(post_ids))
    for start in range(0, len(ids), 500):
        stmt = (
            select(*cols)
            .join(Signal, Signal.post_id == Post.id, isouter=True)
            .where(col(Post.id).in_(ids[start : start + 500]))
        )
        for r in session.exec(stmt).all():
            has_sig = r[9] is not None
            out[r[0]] = PostFacts(
                text=r[1],
                network=r[2],
                author_id=None,
                municipality=None,
                street=None,
                house=None,
                settlement=None,
                subcategory=None,
                score=r[7] if has_sig else 0.0,
                reach=reach_of(r[4], r[5], r[6]),
                key=f"{r[2]}:{r[3]}",
                lemma_text=(r[8] or "") if has_sig else "",
            )
    return out


def apply_state(
    cfg: RegionConfig, inc: Incident, state: CardState, addresses: Sequence[str], ts: datetime
) -> str | None:
    """Write the card that `state` gives onto the incident; returns the settlement its posts
    name most often (towns of a district have their own body: routing asks for it)."""
    streets: Counter = Counter()
    for (street, _house), c in state.street_houses.items():
        streets[street] += c
    scale = scale_from(
        set(state.munis) | set(state.named),
        set(streets),
        {(s, h) for s, h in state.street_houses if h},
        set(state.settlements),
        region_wide=state.wide > 0,
    )
    inc.scale = scale
    inc.priority = priority_from(
        inc.category, inc.subcategory, max(1, len(state.authors)), state.reach, state.n, scale
    )
    place = address_from(cfg, state.munis, state.street_houses, state.settlements)
    inc.title = title_from(cfg, inc.category, inc.subcategory, place)[:300]
    inc.post_count, inc.reach = state.n, state.reach
    inc.networks = ",".join(sorted(state.nets))
    inc.first_post_at, inc.last_post_at = state.first, state.last
    if not inc.street and streets:
        inc.street = streets.most_common(1)[0][0]
    if not inc.municipality and state.munis:
        inc.municipality = state.munis.most_common(1)[0][0]
    if not inc.address and addresses:
        inc.address = Counter(addresses).most_common(1)[0][0]
    inc.card_state = state.to_json()
    inc.card_stale = False
    inc.updated_at = ts
    return state.settlements.most_common(1)[0][0] if state.settlements else None


def refresh_incidents(
    session: Session,
    cfg: RegionConfig,
    incident_ids: Iterable[int],
    ts: datetime,
    *,
    router: Router | None = None,
    added: Mapping[int, Sequence[int]] | None = None,
) -> list[Incident]:
    """Bring the card of each incident up to date; returns the incidents that have posts.

    `added` names, by incident, the posts that just joined it and are the only change: such an
    incident with a kept state folds in just those posts. Every other incident is rebuilt from
    all its posts. With a router, an incident never routed yet is routed from its fresh card.
    """
    ids = sorted(set(incident_ids))
    if not ids:
        return []
    incs: dict[int, Incident] = {}
    for start in range(0, len(ids), 500):  # into the session at once, not one `get` (one query) each
        for found in session.exec(
            select(Incident).where(col(Incident.id).in_(ids[start : start + 500]))
        ).all():
            incs[row_id(found)] = found
    added = added or {}
    states: dict[int, CardState] = {}
    new_rows: dict[int, list[FoldRow]] = {}
    rebuild: list[int] = []
    for iid, held in incs.items():
        st = None if held.card_stale or iid not in added else CardState.from_json(held.card_state)
        if st is None:
            rebuild.append(iid)
        else:
            states[iid] = st
    if states:
        wanted = {pid: iid for iid in states for pid in added[iid]}
        for rows in _fold_rows(session, post_ids=list(wanted)).values():
            for row in rows:
                new_rows.setdefault(wanted[row.post_id], []).append(row)
    choose: set[int] = set()
    for iid, rows in new_rows.items():
        st = states[iid]
        changed = False
        for row in rows:
            changed = st.add(row) or changed
        if st.wants_representative(changed):
            choose.add(iid)
    if rebuild:
        for iid, rows in _fold_rows(session, incident_ids=rebuild).items():
            st = states[iid] = CardState()
            for row in rows:
                st.add(row)
            new_rows[iid] = rows
            choose.add(iid)
    pool = _pool_facts(session, [pid for iid in choose for pid, _s, _r in states[iid].pool])
    out = []
    for iid in ids:
        inc, st = incs.get(iid), states.get(iid)
        if inc is None or st is None or st.n == 0:
            continue
        if iid in choose:
            facts = [pool[pid] for pid, _s, _r in st.pool if pid in pool]
            if facts:
                rep = representative(facts)
                st.rep, st.rep_n = next(pid for pid, _s, _r in st.pool if pool.get(pid) is rep), st.n
                inc.summary = summary_from(rep)
        # the address is chosen once (the first refresh that finds one); later posts do not move it
        addresses = [r.address for r in new_rows.get(iid, ()) if r.address] if not inc.address else []
        settlement = apply_state(cfg, inc, st, addresses, ts)
        if inc.lat is None:
            place_point(inc, new_rows.get(iid, ()))
        session.add(inc)
        if router is not None and inc.status == IncidentState.NEW.value and inc.body_code is None:
            route_incident(session, router, inc, ts, settlement=settlement)
        out.append(inc)
    return out


def place_point(inc: Incident, rows: Sequence[FoldRow]) -> None:
    """The incident's point on the map: the oldest post given a point in the incident's
    municipality, else the oldest given one. Chosen once, like the address: later posts do not
    move a marker someone may already be looking at."""
    placed = [r for r in rows if r.lat is not None and r.lon is not None]
    best = next((r for r in placed if r.municipality == inc.municipality), placed[0] if placed else None)
    if best is not None:
        inc.lat, inc.lon = best.lat, best.lon


def route_incident(
    session: Session, router: Router, inc: Incident, ts: datetime, *, settlement: str | None = None
) -> None:
    """An explicit rule, the learned table or a rule → assigned; none → the administrator's triage queue."""
    d = router.route(
        category=inc.category,
        subcategory=inc.subcategory,
        fact=inc.fact,
        municipality=inc.municipality,
        scale=inc.scale,
        settlement=settlement,
        street=inc.street,
        text=inc.summary or inc.title,
        address=inc.address,
        lat=inc.lat,
        lon=inc.lon,
    )
    inc.body_code = d.body
    session.add(
        Assignment(
            incident_id=row_id(inc),
            body_code=d.body,
            assigned_at=ts,
            assigned_by="system",
            reason=d.reason,
            rule=f"learned:{d.learned}" if d.learned else None if d.rule is None else str(d.rule),
        )
    )
    if d.assigned:
        inc.status = IncidentState.ASSIGNED.value
        inc.assigned_at = inc.triaged_at = ts  # routed by a rule: triage done, the draft clock starts
        audit(
            session,
            actor="system",
            action="assigned",
            incident_id=inc.id,
            from_state="new",
            to_state=inc.status,
            reason=d.reason,
            data={"body": d.body, "rule": d.rule, "learned": d.learned, "probability": d.probability},
            now=ts,
        )
    else:
        audit(
            session,
            actor="system",
            action="queued_for_triage",
            incident_id=inc.id,
            reason=d.reason,
            data={"body": d.body},
            now=ts,
        )
    session.add(inc)
