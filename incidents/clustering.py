"""Streaming clustering: each new complaint joins the best open incident or opens one.

Candidates come only from blocking keys — (municipality, category) and (category, street) —
inside a time window, and at most `max_candidates` of them, so the comparisons per post stay
bounded however long the history is. The score mixes lemma-text similarity (rapidfuzz
token-set ratio), address agreement and time proximity; different streets never merge, and a
reply under a post that belongs to an incident joins that incident.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rapidfuzz import fuzz

from incidents.config import ClusteringPolicy
from incidents.records import SignalRecord

MAX_COMPARE_TOKENS = 120


def street_key(street: str | None) -> str | None:
    if not street:
        return None
    return " ".join(w for w in street.lower().replace("ё", "е").replace("ул. ", "").split())


def _short(text: str) -> str:
    words = text.split()
    return " ".join(words[:MAX_COMPARE_TOKENS])


@dataclass(slots=True)
class IncidentView:
    """What clustering needs to know of an incident (a read-only snapshot from storage)."""

    ref: int | str  # database id, or a temporary key for incidents opened in this batch
    category: str
    subcategory: str | None
    municipality: str | None
    street: str | None
    house: str | None
    first_at: datetime
    last_at: datetime
    texts: deque[str] = field(default_factory=lambda: deque(maxlen=5))
    post_keys: set[str] = field(default_factory=set)
    closed_at: datetime | None = None
    status: str = "new"


@dataclass(slots=True, frozen=True)
class Decision:
    incident: int | str
    new: bool
    similarity: float
    compared: int
    reopen: bool = False


class Clusterer:
    def __init__(self, policy: ClusteringPolicy) -> None:
        self.policy = policy
        self.window = timedelta(hours=policy.window_hours)
        self.reopen_window = timedelta(days=policy.reopen_window_days)
        self._views: dict[int | str, IncidentView] = {}
        self._by_place: dict[tuple[str | None, str], list[int | str]] = defaultdict(list)
        self._by_street: dict[tuple[str | None, str], list[int | str]] = defaultdict(list)
        self._by_post: dict[str, int | str] = {}
        self._new_count = 0
        self.comparisons = 0

    # ---------------------------------------------------------------- state
    def load(self, view: IncidentView) -> None:
        self._views[view.ref] = view
        self._by_place[(view.municipality, view.category)].append(view.ref)
        if view.street:
            self._by_street[(view.municipality, view.street)].append(view.ref)
        for key in view.post_keys:
            self._by_post[key] = view.ref

    def view(self, ref: int | str) -> IncidentView:
        return self._views[ref]

    def __len__(self) -> int:
        return len(self._views)

    # ---------------------------------------------------------------- scoring
    def _candidates(self, sig: SignalRecord, parent_key: str | None) -> list[IncidentView]:
        refs: dict[int | str, None] = {}
        if parent_key and parent_key in self._by_post:
            refs[self._by_post[parent_key]] = None
        street = street_key(sig.street)
        if street:
            for ref in reversed(self._by_street.get((sig.municipality, street), ())):
                refs.setdefault(ref, None)
        for ref in reversed(self._by_place.get((sig.municipality, sig.category), ())):
            if len(refs) >= self.policy.max_candidates:
                break
            refs.setdefault(ref, None)
        out = []
        for ref in list(refs)[: self.policy.max_candidates]:
            v = self._views[ref]
            outside = sig.created_at < v.first_at - self.window or sig.created_at > v.last_at + self.window
            reopenable = v.closed_at is not None and sig.created_at - v.closed_at <= self.reopen_window
            if outside and not reopenable:
                continue
            out.append(v)
        return out

    def similarity(self, sig: SignalRecord, v: IncidentView, parent_key: str | None) -> float:
        p = self.policy
        street = street_key(sig.street)
        if street and v.street and street != v.street:
            return 0.0  # the same problem on another street is another incident
        if sig.municipality and v.municipality and sig.municipality != v.municipality:
            return 0.0
        if parent_key and parent_key in v.post_keys:
            return 0.95
        if sig.category != v.category:
            # Another category is another problem, unless it is the same house: residents and
            # the rules name one burst sewer «канализация», «вонь» or «лужа во дворе».
            house = sig.entities.address.house
            if not (street and street == v.street and house and house == v.house):
                return 0.0
        text = _short(sig.lemma_text)
        text_sim = max((fuzz.token_set_ratio(text, t) for t in v.texts), default=0.0) / 100.0
        self.comparisons += len(v.texts)
        if street and v.street:
            house = 1.0 if (not sig.entities.address.house or not v.house or sig.entities.address.house == v.house) else 0.6
            addr = house
        elif street or v.street:
            addr = 0.4
        else:
            addr = 0.5
        gap = min(abs(sig.created_at - v.last_at), abs(sig.created_at - v.first_at))
        time_sim = max(0.0, 1.0 - gap / self.window)
        score = p.text_weight * text_sim + p.address_weight * addr + p.time_weight * time_sim
        if sig.category != v.category:
            score *= 0.85
        elif sig.subcategory and v.subcategory and sig.subcategory != v.subcategory:
            score *= 0.7
        return score

    # ---------------------------------------------------------------- decision
    def assign(self, sig: SignalRecord, parent_key: str | None = None) -> Decision:
        if not sig.category:
            raise ValueError("only classified complaints are clustered")
        cands = self._candidates(sig, parent_key)
        best, best_score = None, 0.0
        for v in cands:
            s = self.similarity(sig, v, parent_key)
            if s > best_score:
                best, best_score = v, s
        if best is not None and best_score >= self.policy.threshold:
            reopen = best.closed_at is not None
            self._join(best, sig)
            return Decision(best.ref, False, round(best_score, 3), len(cands), reopen)
        ref = self._open(sig)
        return Decision(ref, True, round(best_score, 3), len(cands))

    def _join(self, v: IncidentView, sig: SignalRecord) -> None:
        v.texts.append(_short(sig.lemma_text))
        v.post_keys.add(sig.post_key)
        self._by_post[sig.post_key] = v.ref
        v.first_at = min(v.first_at, sig.created_at)
        v.last_at = max(v.last_at, sig.created_at)
        if v.closed_at is not None:
            v.closed_at = None
            v.status = "reopened"
        if sig.municipality and not v.municipality:
            # Storage learns the place from this post (flows.steps refreshes the incident's
            # municipality from its posts); the snapshot must too, or a run that reloads it after
            # a crash decides otherwise than the run that was killed.
            self._by_place[(None, v.category)].remove(v.ref)
            if v.street:
                self._by_street[(None, v.street)].remove(v.ref)
                self._by_street[(sig.municipality, v.street)].append(v.ref)
            v.municipality = sig.municipality
            self._by_place[(v.municipality, v.category)].append(v.ref)
        street = street_key(sig.street)
        if street and not v.street:
            v.street = street
            self._by_street[(v.municipality, street)].append(v.ref)
        if sig.entities.address.house and not v.house:
            v.house = sig.entities.address.house

    def _open(self, sig: SignalRecord) -> str:
        self._new_count += 1
        ref = f"new:{self._new_count}"
        v = IncidentView(
            ref=ref,
            category=sig.category or "other",
            subcategory=sig.subcategory,
            municipality=sig.municipality,
            street=street_key(sig.street),
            house=sig.entities.address.house,
            first_at=sig.created_at,
            last_at=sig.created_at,
        )
        v.texts.append(_short(sig.lemma_text))
        v.post_keys.add(sig.post_key)
        self.load(v)
        return ref

    def rekey(self, old: int | str, new: int) -> None:
        """After storage gives a temporary incident its id, index it under that id."""
        v = self._views.pop(old)
        v.ref = new
        self._views[new] = v
        lists = [self._by_place.get((v.municipality, v.category), [])]
        if v.street:
            lists.append(self._by_street.get((v.municipality, v.street), []))
        for refs in lists:
            for i, r in enumerate(refs):
                if r == old:
                    refs[i] = new
        for key in v.post_keys:
            self._by_post[key] = new
