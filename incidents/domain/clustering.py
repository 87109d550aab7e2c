"""Streaming clustering: each new complaint joins the best incident or opens one.

How a post finds its incident, and why each step is there:

1. **Blocking.** Candidates come only from blocking keys — (municipality, category),
   (municipality, street), and for a post whose municipality is unknown the category alone
   — plus the incident of the post it replies to. At most `max_candidates` incidents are
   looked at, newest first, so the comparisons per post stay bounded however long the
   history is.
2. **Hard rules.** Another municipality, another street, or another category (unless the
   same house) is another incident: the confusers residents produce every day («the same
   street, another problem», «the same problem, another town», «по всей области» and one town).
3. **Cheap ranking.** The share of the post's content lemmas that the incident's vocabulary
   already holds, plus address and time, ranks the candidates with plain set operations.
4. **Exact score** for the `rescore_top` best only: rapidfuzz token-set ratio of the
   stop-word-free lemma texts (max over the incident's kept texts), address agreement
   (street and house, or the places named: «Боева дача», «Союзная»), time proximity.
5. **Decision.** Join the best incident scoring at least `threshold`. A closed incident
   within `reopen_window_days` of its closing is joined and reopened; after that window,
   within `link_window_days`, a matching post opens a new incident linked to the old one.

Memory stays flat on an endless stream: incidents whose last post is older than twice the
window (and closed ones past the link window) are evicted from the snapshot every few
thousand posts; a post that arrives later than that is compared only with what is left.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict, deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from sys import intern
from typing import Any

from rapidfuzz import fuzz

from core.config import ClusteringPolicy, Territories
from core.records import THREAD_CATEGORY_REASON, SignalRecord

_Index = dict[Any, list[int | str]]
"""One of the snapshot's lookups: a place, street or category key → incident refs."""

MAX_COMPARE_TOKENS = 120
MAX_VOCABULARY = 400

EVICT_EVERY = 2000


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words carry no problem and no place; with them any two complaints look alike.
STOPWORDS = _words("""
и в во на не ни что чтобы с со у к ко о об обо от до по за из изо а но же ли бы б то это этот
тот такой как так уже ещё еще всё все весь мы вы они он она оно я ты наш ваш их его её ее свой
кто где когда там тут вот да нет для при про над под через или тоже также даже только очень
можно нужно быть мой меня мне нас нам вас вам ну ведь раз бы ой просто вообще опять снова
""")
# Words that say what kind of place, not which place.
PLACE_GENERIC = _words("""
улица ул проспект пр пр-т прт переулок пер бульвар б-р площадь пл шоссе проезд тупик набережная
микрорайон мкр район р-н город г село с деревня дер д поселок посёлок пос п снт дом область
округ городской сельский муниципальный станция ст остановка
""")
_WORD = re.compile(r"[а-яёa-z0-9]+(?:-[а-яёa-z0-9]+)?")


def street_key(street: str | None) -> str | None:
    if not street:
        return None
    return " ".join(w for w in street.lower().replace("ё", "е").replace("ул. ", "").split())


def _short(text: str) -> str:
    words = text.split()
    return " ".join(words[:MAX_COMPARE_TOKENS])


def content_tokens(lemma_text: str) -> list[str]:
    """Lemmas that can tell one problem from another: no function words, no long numbers (dates, phones)."""
    out = []
    for w in lemma_text.split()[:MAX_COMPARE_TOKENS]:
        if w in STOPWORDS or len(w) < 2 and not w.isdigit():
            continue
        if w.isdigit() and len(w) > 3:
            continue
        out.append(intern(w))  # one string per word however many incidents hold it: flat memory
    return out


def place_stems(name: str | None) -> set[str]:
    """«улица Молодёжная», «Молодёжной» → {"молод"}: five-letter stems of the naming words."""
    if not name:
        return set()
    out = set()
    for w in _WORD.findall(name.lower().replace("ё", "е")):
        if w in PLACE_GENERIC or w.isdigit() or len(w) < 3:
            continue
        out.add(w[:5])
    return out


def ignored_place_stems(territories: Territories) -> frozenset[str]:
    """Names of municipalities: every post of a town names it, so they tell no two incidents apart."""
    out: set[str] = set()
    for m in territories.municipalities:
        for name in (m.name, *m.aliases):
            out |= place_stems(name)
    return frozenset(out)


def _order(ref: int | str) -> tuple[int, int]:
    """The order incidents were opened in: stored ones by id, then this batch's by their number."""
    return (0, ref) if isinstance(ref, int) else (1, int(str(ref).split(":", 1)[1]))


def _insert(refs: list[int | str], ref: int | str) -> None:
    """Add `ref` to a blocking list in opening order, where a reload from storage lists it (F2)."""
    if ref not in refs:
        bisect.insort(refs, ref, key=_order)


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
    streets: set[str] = field(default_factory=set)
    houses: set[str] = field(default_factory=set)
    places: set[str] = field(default_factory=set)
    vocabulary: set[str] = field(default_factory=set)  # five-letter stems of its content lemmas
    region_wide: bool = False  # about the whole region, no municipality («по всей области»)


@dataclass(slots=True, frozen=True)
class Decision:
    incident: int | str
    new: bool
    similarity: float
    compared: int
    reopen: bool = False
    linked: int | str | None = None  # a closed incident the new one continues (after the reopen window)


@dataclass(slots=True)
class _PostView:
    """The parts of a signal the scoring reads, computed once per post."""

    sig: SignalRecord
    street: str | None
    house: str | None
    places: set[str]
    tokens: list[str]
    token_set: set[str]
    text: str
    stems: set[str]


class Clusterer:
    def __init__(self, policy: ClusteringPolicy, *, ignore_places: Iterable[str] = ()) -> None:
        self.policy = policy
        self.window = timedelta(hours=policy.window_hours)
        self.reopen_window = timedelta(days=policy.reopen_window_days)
        self.link_window = timedelta(days=max(policy.link_window_days, policy.reopen_window_days))
        self.ignore_places = frozenset(ignore_places)
        self._views: dict[int | str, IncidentView] = {}
        # Blocking indexes, refs in the order incidents were opened (newest last): by
        # (municipality, category); the same, incidents with no street; (municipality|None, street)
        self._by_place: dict[tuple[str | None, str], list[int | str]] = defaultdict(list)
        self._by_unnamed: dict[tuple[str | None, str], list[int | str]] = defaultdict(list)
        self._by_street: dict[tuple[str | None, str], list[int | str]] = defaultdict(list)
        self._by_category: dict[str, list[int | str]] = defaultdict(list)
        self._by_post: dict[str, int | str] = {}
        self._new_count = 0
        self._since_evict = 0
        self.watermark: datetime | None = None
        self.comparisons = 0  # exact (rapidfuzz) text comparisons
        self.evicted = 0

    # ---------------------------------------------------------------- state
    def load(self, view: IncidentView) -> None:
        """Add an incident to the snapshot (from storage, or opened here)."""
        if view.street and not view.streets:
            view.streets.add(view.street)
        if view.house and not view.houses:
            view.houses.add(view.house)
        for s in view.streets:
            view.places |= self._places(s)
        if not view.vocabulary:  # storage builds it from every post, as `_join` grew it (F2)
            for t in view.texts:
                self._grow_vocabulary(view, content_tokens(t))
        self._views[view.ref] = view
        self._index(view)
        for key in view.post_keys:
            self._by_post[key] = view.ref

    def _index(self, view: IncidentView) -> None:
        self._by_place[(view.municipality, view.category)].append(view.ref)
        self._by_category[view.category].append(view.ref)
        if not view.streets:
            self._by_unnamed[(view.municipality, view.category)].append(view.ref)
        for s in view.streets:
            self._add_street(view, s)

    def _add_street(self, view: IncidentView, street: str) -> None:
        _insert(self._by_street[(None, street)], view.ref)
        if view.municipality is not None:
            _insert(self._by_street[(view.municipality, street)], view.ref)

    def _keys_of(self, v: IncidentView) -> list[tuple[_Index, Hashable]]:
        """Every (index, key) the incident may be listed under."""
        keys = [(v.municipality, v.category), (None, v.category)]
        out: list[tuple[_Index, Hashable]] = [
            (index, k) for index in (self._by_place, self._by_unnamed) for k in keys
        ]
        out.append((self._by_category, v.category))
        for s in v.streets:
            out += [(self._by_street, (None, s)), (self._by_street, (v.municipality, s))]
        return out

    def _lists_of(self, v: IncidentView) -> list[list[int | str]]:
        return [index.get(key, []) for index, key in self._keys_of(v)]

    def view(self, ref: int | str) -> IncidentView:
        return self._views[ref]

    def __len__(self) -> int:
        return len(self._views)

    def _places(self, name: str | None) -> set[str]:
        return place_stems(name) - self.ignore_places

    @staticmethod
    def _grow_vocabulary(view: IncidentView, tokens: Iterable[str]) -> None:
        if len(view.vocabulary) < MAX_VOCABULARY:
            view.vocabulary.update(intern(t[:5]) for t in tokens)

    def _post_view(self, sig: SignalRecord) -> _PostView:
        street = street_key(sig.street)
        places = self._places(street)
        for loc in sig.entities.locations:
            places |= self._places(loc)
        if sig.entities.address.settlement:
            places |= self._places(sig.entities.address.settlement)
        tokens = content_tokens(sig.lemma_text)
        token_set = set(tokens)
        return _PostView(
            sig=sig,
            street=street,
            house=sig.entities.address.house,
            places=places,
            tokens=tokens,
            token_set=token_set,
            text=" ".join(tokens),
            stems={t[:5] for t in token_set},
        )

    # ---------------------------------------------------------------- candidates
    def _candidates(self, pv: _PostView, parent_key: str | None) -> list[tuple[IncidentView, str]]:
        """Incidents the post may join ('join', 'reopen') or continue ('link'), newest first, bounded."""
        sig = pv.sig
        limit = self.policy.max_candidates
        cat, muni = sig.category or "", sig.municipality
        at = sig.created_at
        # A post naming its street meets the incidents of that street and those naming none:
        # incidents of other streets cannot be joined, so they do not use up the bound.
        # Newest first; only an entry that still belongs under the list's key (one that learnt its
        # town or a street stays in its old lists) and could take this post counts toward the
        # bound: the same candidates from memory (stale entries) and from a reload (none) — F2.
        if pv.street and muni:
            lists = [
                (self._by_street.get((muni, pv.street), []), "street", muni),
                (self._by_unnamed.get((muni, cat), []), "unnamed", muni),
                (self._by_unnamed.get((None, cat), []), "unnamed", None),
                # the same street in an incident whose town is unknown («ул. Ленина» is in several)
                (self._by_street.get((None, pv.street), []), "townless", None),
            ]
        elif pv.street:
            lists = [
                (self._by_street.get((None, pv.street), []), "street", None),
                (self._by_category.get(cat, []), "", None),
            ]
        elif muni:
            lists = [
                (self._by_place.get((muni, cat), []), "place", muni),
                (self._by_place.get((None, cat), []), "place", None),
            ]
        else:
            lists = [(self._by_category.get(cat, []), "", None)]
        modes: dict[int | str, str] = {}
        parent = self._views.get(self._by_post.get(parent_key or "", ""))
        if parent is not None and (mode := self._mode(parent, at)) is not None:
            modes[parent.ref] = mode
        for lst, kind, key_muni in lists:
            for ref in reversed(lst):
                if len(modes) >= limit:
                    break
                if ref in modes:
                    continue
                v = self._views.get(ref)
                if v is None or not self._listed(v, kind, key_muni, pv.street):
                    continue
                mode = self._mode(v, at)
                if mode is not None:
                    modes[ref] = mode
        return [(self._views[ref], mode) for ref, mode in modes.items()]

    @staticmethod
    def _listed(v: IncidentView, kind: str, muni: str | None, street: str | None) -> bool:
        """Whether the incident belongs, as it is now, under the key of a list of this kind."""
        if kind in ("street", "townless"):
            return street in v.streets and (
                v.municipality is None if kind == "townless" else muni in (None, v.municipality)
            )
        if kind == "unnamed":
            return v.municipality == muni and not v.streets
        if kind == "place":
            return v.municipality == muni
        return True

    def _mode(self, v: IncidentView, at: datetime) -> str | None:
        if v.closed_at is not None:
            if v.first_at - self.window <= at and at - v.closed_at <= self.reopen_window:
                return "reopen"
            if at - v.closed_at <= self.link_window and at > v.closed_at:
                return "link"
            return None
        if v.first_at - self.window <= at <= v.last_at + self.window:
            return "join"
        return None

    # ---------------------------------------------------------------- scoring
    def _address(self, pv: _PostView, v: IncidentView) -> float | None:
        """Agreement of places in [0, 1]; None when they contradict (another street)."""
        if pv.street and v.streets:
            if pv.street not in v.streets:
                return None  # the same problem on another street is another incident
            if not pv.house or not v.houses or pv.house in v.houses:
                return 1.0
            return 0.6
        if pv.places and v.places:
            return 0.9 if pv.places & v.places else 0.0  # «Боева дача» is not «Гагарина»
        if v.places and v.places & pv.stems:
            return 0.8  # the post names the incident's street in words the gazetteer missed
        if pv.places and pv.places & v.vocabulary:
            return 0.8
        if pv.places or v.places:
            return 0.4
        return 0.5

    def _structure(
        self, pv: _PostView, v: IncidentView, parent_key: str | None
    ) -> tuple[float, float] | None:
        """(address agreement, multiplier) or None when the hard rules say «another incident»."""
        sig = pv.sig
        if sig.municipality and v.municipality and sig.municipality != v.municipality:
            return None
        if (sig.entities.region_wide and v.municipality) or (v.region_wide and sig.municipality):
            return None  # the whole region's problem is not one town's
        addr = self._address(pv, v)
        if addr is None:
            return None
        if sig.category != v.category:
            # Another category is another problem, unless it is the same house: residents and
            # the rules name one burst sewer «канализация», «вонь» or «лужа во дворе».
            if not (pv.street and pv.street in v.streets and pv.house and pv.house in v.houses):
                return None
            return addr, self.policy.other_category_factor
        if sig.subcategory and v.subcategory and sig.subcategory != v.subcategory:
            return addr, self.policy.other_subcategory_factor
        return addr, 1.0

    def _time(self, at: datetime, v: IncidentView) -> float:
        end = v.last_at if v.closed_at is None else max(v.last_at, v.closed_at)
        if v.first_at <= at <= end:
            return 1.0
        gap = min(abs(at - end), abs(at - v.first_at))
        return max(0.0, 1.0 - gap / self.window)

    def _text(self, pv: _PostView, v: IncidentView) -> float:
        self.comparisons += len(v.texts)
        return max((fuzz.token_set_ratio(pv.text, t) for t in v.texts), default=0.0) / 100.0

    def similarity(self, sig: SignalRecord, v: IncidentView, parent_key: str | None) -> float:
        """The exact score of a post against one incident (0 when a hard rule separates them)."""
        pv = self._post_view(sig)
        if parent_key and parent_key in v.post_keys:
            return 0.95
        st = self._structure(pv, v, parent_key)
        if st is None:
            return 0.0
        addr, factor = st
        p = self.policy
        return factor * (
            p.text_weight * self._text(pv, v)
            + p.address_weight * addr
            + p.time_weight * self._time(sig.created_at, v)
        )

    # ---------------------------------------------------------------- decision
    def assign(self, sig: SignalRecord, parent_key: str | None = None) -> Decision:
        if not sig.category:
            raise ValueError("only classified complaints are clustered")
        self._advance(sig.created_at)
        pv = self._post_view(sig)
        p = self.policy
        cands = self._candidates(pv, parent_key)
        ranked: list[tuple[float, float, IncidentView, str]] = []  # (estimate, partial, view, mode)
        forced: tuple[IncidentView, str] | None = None
        for v, mode in cands:
            if parent_key and parent_key in v.post_keys and mode != "link":
                forced = (v, mode)  # a reply under a post of an incident belongs to it
                continue
            st = self._structure(pv, v, parent_key)
            if st is None:
                continue
            addr, factor = st
            partial = p.address_weight * addr + p.time_weight * self._time(sig.created_at, v)
            if factor * (p.text_weight + partial) < p.threshold:
                continue  # even identical texts would not reach the threshold
            overlap = len(pv.stems & v.vocabulary) / len(pv.stems) if pv.stems else 0.0
            ranked.append((factor * (p.text_weight * overlap + partial), factor, v, mode))
        if forced is not None:
            v, mode = forced
            self._join(v, pv)
            return Decision(v.ref, False, 0.95, len(cands), mode == "reopen")
        ranked.sort(key=lambda r: (-r[0], str(r[2].ref)))
        best: tuple[float, IncidentView, str] | None = None
        best_link: tuple[float, IncidentView] | None = None
        for _est, factor, v, mode in ranked[: p.rescore_top]:
            partial = p.address_weight * (self._address(pv, v) or 0.0) + p.time_weight * self._time(
                sig.created_at, v
            )
            score = factor * (p.text_weight * self._text(pv, v) + partial)
            if mode == "link":
                if best_link is None or score > best_link[0]:
                    best_link = (score, v)
            elif best is None or score > best[0]:
                best = (score, v, mode)
        if best is not None and best[0] >= p.threshold:
            score, v, mode = best
            self._join(v, pv)
            return Decision(v.ref, False, round(score, 3), len(cands), mode == "reopen")
        ref = self._open(pv)
        linked = best_link[1].ref if best_link is not None and best_link[0] >= p.threshold else None
        return Decision(ref, True, round(best[0] if best else 0.0, 3), len(cands), linked=linked)

    def follow_thread(self, sig: SignalRecord, parent_key: str | None) -> Decision | None:
        """A reply that backs a complaint («и у нас такая же ржавчина») joins the parent's incident.

        Such replies are too weak to be complaints on their own, but they are more voices
        about the same problem (priority counts authors). One joins the incident of the post it
        answers when a problem rule of that incident's category fired on it (advice, blame
        and «у нас всё есть» under the same post do not) and the incident is still open or
        reopenable. Nothing else is compared.
        """
        if not parent_key or parent_key not in self._by_post or not sig.category:
            return None
        if any(r.startswith(THREAD_CATEGORY_REASON) for r in sig.reasons):
            return None  # a category taken from the thread is no voice about the problem
        v = self._views.get(self._by_post[parent_key])
        if v is None or v.category != sig.category:
            return None
        mode = self._mode(v, sig.created_at)
        if mode not in ("join", "reopen"):
            return None
        self._advance(sig.created_at)
        self._join(v, self._post_view(sig))
        return Decision(v.ref, False, 0.9, 1, mode == "reopen")

    def _join(self, v: IncidentView, pv: _PostView) -> None:
        sig = pv.sig
        v.texts.append(pv.text)
        self._grow_vocabulary(v, pv.tokens)
        v.post_keys.add(sig.post_key)
        self._by_post[sig.post_key] = v.ref
        v.first_at = min(v.first_at, sig.created_at)
        v.last_at = max(v.last_at, sig.created_at)
        if v.closed_at is not None:
            v.closed_at = None
            v.status = "reopened"
        if pv.street and pv.street not in v.streets:
            v.streets.add(pv.street)
            v.street = v.street or pv.street
            self._add_street(v, pv.street)
        if pv.house:
            v.houses.add(pv.house)
            v.house = v.house or pv.house
        v.places |= pv.places
        v.region_wide |= sig.entities.region_wide
        if v.municipality is None and sig.municipality:
            v.municipality = sig.municipality
            _insert(self._by_place[(v.municipality, v.category)], v.ref)
            if not v.streets:
                _insert(self._by_unnamed[(v.municipality, v.category)], v.ref)
            for street in v.streets:
                _insert(self._by_street[(v.municipality, street)], v.ref)

    def _open(self, pv: _PostView) -> str:
        sig = pv.sig
        self._new_count += 1
        ref = f"new:{self._new_count}"
        v = IncidentView(
            ref=ref,
            category=sig.category or "other",
            subcategory=sig.subcategory,
            municipality=sig.municipality,
            street=pv.street,
            house=pv.house,
            first_at=sig.created_at,
            last_at=sig.created_at,
            region_wide=sig.entities.region_wide,
        )
        v.texts.append(pv.text)
        v.post_keys.add(sig.post_key)
        if pv.street:
            v.streets.add(pv.street)
        if pv.house:
            v.houses.add(pv.house)
        v.places |= pv.places
        self._grow_vocabulary(v, pv.tokens)
        self._views[ref] = v
        self._index(v)
        self._by_post[sig.post_key] = ref
        return ref

    def rekey(self, old: int | str, new: int) -> None:
        """After storage gives a temporary incident its id, index it under that id."""
        v = self._views.pop(old)
        v.ref = new
        self._views[new] = v
        lists = self._lists_of(v)
        for refs in lists:
            for i in range(len(refs) - 1, -1, -1):
                if refs[i] == old:
                    refs[i] = new
                    break
        for key in v.post_keys:
            self._by_post[key] = new

    # ---------------------------------------------------------------- memory
    def _advance(self, at: datetime) -> None:
        if self.watermark is None or at > self.watermark:
            self.watermark = at
        self._since_evict += 1
        if self._since_evict >= EVICT_EVERY:
            self._since_evict = 0
            self.evict()

    def evict(self) -> int:
        """Forget incidents no new post can join any more (flat memory on an endless stream)."""
        if self.watermark is None:
            return 0
        horizon = self.watermark - 2 * self.window
        link_horizon = self.watermark - self.link_window
        gone = [
            ref
            for ref, v in self._views.items()
            if (v.last_at < horizon and v.closed_at is None)
            or (v.closed_at is not None and v.closed_at < link_horizon and v.last_at < horizon)
        ]
        if not gone:
            return 0
        gone_set = set(gone)
        dirty: dict[tuple[int, Hashable], tuple[_Index, Hashable]] = {}
        for ref in gone:
            v = self._views.pop(ref)
            for key in v.post_keys:
                if self._by_post.get(key) == ref:
                    del self._by_post[key]
            for index, k in self._keys_of(v):
                dirty[(id(index), k)] = (index, k)
        # Only the lists that held an evicted incident are rebuilt: the cost follows what is
        # evicted, not how many streets and places the snapshot knows.
        for index, k in dirty.values():
            lst = index.get(k)
            if lst is None:
                continue
            kept = [r for r in lst if r not in gone_set]
            if kept:
                index[k] = kept
            else:
                del index[k]
        self.evicted += len(gone)
        return len(gone)
