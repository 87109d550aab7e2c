"""What an incident is, derived from its posts: title, summary, scale and priority.

Everything here is a pure function of the incident's posts (`PostFacts`), so the same card is
computed when the clustering adds a post, when an administrator merges, splits or moves
posts, and when `incidents show` prints it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from rapidfuzz import fuzz, process

from core.config import RegionConfig
from core.records import SignalRecord

URGENT_SUBCATEGORY_WORDS = ("heating", "no_water", "gas", "outage", "accident", "emergency", "sewer")
URGENT_CATEGORIES = frozenset({"safety"})


@dataclass(slots=True)
class PostFacts:
    """The parts of a post and its signal that the incident summary needs."""

    text: str
    network: str
    author_id: str | None
    municipality: str | None
    street: str | None
    house: str | None
    settlement: str | None
    subcategory: str | None
    score: float
    reach: int
    municipalities: tuple[str, ...] = ()  # every municipality the text names (Entities.municipalities)
    key: str = ""
    created_at: datetime | None = None
    author_name: str | None = None
    likes: int = 0
    reposts: int = 0
    views: int = 0
    lemma_text: str = ""
    region_wide: bool = False  # about the whole region, naming no narrower place (Entities.region_wide)


def reach_of(likes: int, reposts: int, views: int) -> int:
    """One number for «how many people saw or backed it»: a view counts a hundredth of a like."""
    return likes + reposts + views // 100


def scale_of(posts: Sequence[PostFacts]) -> str:
    """A problem named in several municipalities — by different posts, or by one post about a
    route or a road between them — or said to be the whole region's («по всей области») by
    posts that name no narrower place is the region's; else the finest place the posts share."""
    munis = {p.municipality for p in posts if p.municipality}
    munis.update(m for p in posts for m in p.municipalities)
    return scale_from(
        munis,
        {p.street for p in posts if p.street},
        {(p.street, p.house) for p in posts if p.street and p.house},
        {p.settlement for p in posts if p.settlement},
        region_wide=any(p.region_wide for p in posts),
    )


def scale_of_signal(sig: SignalRecord, text: str) -> str:
    """The scale an incident of this one post would have: the routing studies and the desk step
    read a history one appeal at a time, and must see the scale the processing would give it."""
    ent = sig.entities
    return scale_of(
        [
            PostFacts(
                text=text,
                network="pos",
                author_id=None,
                municipality=sig.municipality,
                street=sig.street,
                house=ent.address.house,
                settlement=ent.address.settlement,
                subcategory=sig.subcategory,
                score=sig.score,
                reach=0,
                municipalities=tuple(ent.municipalities),
                region_wide=ent.region_wide,
            )
        ]
    )


def scale_from(
    munis: Collection[str],
    streets: Collection[str],
    houses: Collection[tuple[str, str]],
    settlements: Collection[str],
    *,
    region_wide: bool = False,
) -> str:
    """`scale_of` from the sets of places an incident's posts name (kept on the incident);
    `region_wide`: a post says the whole region («по всей области»)."""
    if len(munis) > 1 or (region_wide and not (munis or streets or settlements)):
        return "region"
    if len(streets) == 1:
        return "house" if len(houses) <= 1 and houses else "street"
    if len(streets) > 1:
        return "settlement"
    if len(settlements) > 1:
        return "municipality"  # several villages of one okrug: the okrug's administration
    if settlements:
        return "settlement"
    return "municipality"


def is_urgent(category: str, subcategory: str | None) -> bool:
    if category in URGENT_CATEGORIES:
        return True
    return bool(subcategory and any(w in subcategory for w in URGENT_SUBCATEGORY_WORDS))


def priority_of(category: str, subcategory: str | None, posts: Sequence[PostFacts], scale: str) -> int:
    """1 is the most urgent, 5 the least. Many voices, wide reach, urgent problems go first."""
    authors: set[str | None] = {x.author_id for x in posts if x.author_id} or {None}
    return priority_from(category, subcategory, len(authors), sum(x.reach for x in posts), len(posts), scale)


def priority_from(
    category: str, subcategory: str | None, authors: int, reach: int, posts: int, scale: str
) -> int:
    """`priority_of` from an incident's counts (kept on the incident); `authors` counts a post
    without an author as one."""
    p = 3
    if authors >= 3 or reach >= 500:
        p -= 1
    if is_urgent(category, subcategory):
        p -= 1
    if scale in ("region", "settlement"):
        p -= 1
    if posts == 1 and reach < 20 and not is_urgent(category, subcategory):
        p += 1
    return max(1, min(5, p))


def title_of(cfg: RegionConfig, category: str, subcategory: str | None, posts: Sequence[PostFacts]) -> str:
    return title_from(cfg, category, subcategory, address_of(cfg, posts))


def title_from(cfg: RegionConfig, category: str, subcategory: str | None, place: str | None) -> str:
    names = {c.code: c for c in cfg.rubricator.categories}
    cat = names.get(category)
    problem = cat.name if cat else category
    if cat and subcategory:
        for sub in cat.subcategories:
            if sub.code == subcategory:
                problem = sub.name
                break
    return f"{problem} — {place}" if place else problem


def address_of(cfg: RegionConfig, posts: Sequence[PostFacts]) -> str | None:
    return address_from(
        cfg,
        Counter(p.municipality for p in posts if p.municipality),
        Counter((p.street, p.house) for p in posts if p.street),
        Counter(p.settlement for p in posts if p.settlement),
    )


def address_from(
    cfg: RegionConfig,
    munis: Counter[str],
    street_houses: Counter[tuple[str, str | None]],
    settlements: Counter[str],
) -> str | None:
    """The place most posts name, from the counts of municipalities, (street, house) pairs
    (house may be None) and settlements, each in order of first mention (ties go to the first)."""
    muni = munis.most_common(1)[0][0] if munis else None
    parts: list[str] = []
    if muni:
        m = cfg.municipality_by_code.get(muni)
        parts.append(m.name if m else muni)
    if settlements:
        s = settlements.most_common(1)[0][0]
        if not parts or s not in parts[0]:
            parts.append(s)
    if street_houses:
        (street, _), _n = street_houses.most_common(1)[0]
        houses: Counter[str] = Counter()
        for (st, house), n in street_houses.items():
            if st == street and house:
                houses[house] += n
        parts.append(f"{street}, {houses.most_common(1)[0][0]}" if houses else street)
    return ", ".join(parts) if parts else None


REPRESENTATIVE_POOL = 25


def representative(posts: Sequence[PostFacts]) -> PostFacts:
    """The post that best stands for the incident: typical of its posts and a strong complaint.

    Among the posts scoring at least half the strongest complaint (a one-line «+» or «у нас
    тоже» reply never stands for the incident), the one with the highest centrality (mean
    token-set similarity of its content lemmas to the others': it says what they say) times
    its complaint score (the score counts the concrete address and problem, what makes the
    ideal signal). Ties go to wider reach. At most
    `REPRESENTATIVE_POOL` posts are compared, so the cost stays bounded on an incident with
    hundreds of posts.
    """
    top = max(p.score for p in posts)
    floor = 0.5 * top if top > 0 else top  # a complaint the model kept may score below zero by the rules
    pool = sorted((p for p in posts if p.score >= floor), key=lambda p: (-p.score, -p.reach))[
        :REPRESENTATIVE_POOL
    ]
    if len(pool) <= 2 or not any(p.lemma_text for p in pool):
        return max(pool, key=lambda p: (p.score, p.reach, len(p.text) < 600))
    from incidents.domain.clustering import content_tokens

    texts = [" ".join(content_tokens(p.lemma_text)) for p in pool]
    # all pairs in one call (C loop: ≈3× the pairs one by one); summed in the same order as
    # one by one, so the rounding below, and the choice, stay the same
    matrix = process.cdist(texts, texts, scorer=fuzz.token_set_ratio, dtype=np.float64).tolist()

    def centrality(i: int) -> float:
        row: list[float] = matrix[i]
        return sum(row[:i] + row[i + 1 :]) / (len(row) - 1)

    best = max(
        range(len(pool)),
        key=lambda i: (round(centrality(i) * pool[i].score, 1), pool[i].score, pool[i].reach),
    )
    return pool[best]


def summary_of(posts: Sequence[PostFacts], limit: int = 400) -> str:
    return summary_from(representative(posts), limit)


def summary_from(post: PostFacts, limit: int = 400) -> str:
    text = " ".join(post.text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(slots=True)
class IncidentCard:
    """What an incident shows: derived from its posts, recomputed whenever they change."""

    title: str
    summary: str
    address: str | None
    scale: str
    priority: int
    representative: str
    networks: list[str]
    authors: list[str]
    likes: int
    reposts: int
    views: int
    reach: int
    post_count: int
    first_post_at: datetime | None
    last_post_at: datetime | None
    street: str | None = None
    municipality: str | None = None
    by_network: dict[str, int] = field(default_factory=dict)
    settlement: str | None = (
        None  # the one its posts name most often: towns of a district have their own body
    )


def card_of(
    cfg: RegionConfig, category: str, subcategory: str | None, posts: Sequence[PostFacts]
) -> IncidentCard:
    """The whole card of an incident from its posts (at least one)."""
    if not posts:
        raise ValueError("an incident card needs at least one post")
    scale = scale_of(posts)
    times = [p.created_at for p in posts if p.created_at is not None]
    authors = Counter(a for p in posts if (a := p.author_name or p.author_id))
    streets = Counter(p.street for p in posts if p.street)
    munis = Counter(p.municipality for p in posts if p.municipality)
    settlements = Counter(p.settlement for p in posts if p.settlement)
    return IncidentCard(
        title=title_of(cfg, category, subcategory, posts)[:300],
        summary=summary_of(posts),
        address=address_of(cfg, posts),
        scale=scale,
        priority=priority_of(category, subcategory, posts, scale),
        representative=representative(posts).key,
        networks=sorted({p.network for p in posts}),
        authors=[a for a, _ in authors.most_common()],
        likes=sum(p.likes for p in posts),
        reposts=sum(p.reposts for p in posts),
        views=sum(p.views for p in posts),
        reach=sum(p.reach for p in posts),
        post_count=len(posts),
        first_post_at=min(times) if times else None,
        last_post_at=max(times) if times else None,
        street=streets.most_common(1)[0][0] if streets else None,
        municipality=munis.most_common(1)[0][0] if munis else None,
        by_network=dict(Counter(p.network for p in posts)),
        settlement=settlements.most_common(1)[0][0] if settlements else None,
    )
