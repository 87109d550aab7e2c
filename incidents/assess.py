"""What an incident is, derived from its posts: title, summary, scale and priority."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from incidents.config import RegionConfig

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


def scale_of(posts: Sequence[PostFacts]) -> str:
    """A problem named in several municipalities — by different posts, or by one post about a
    route or a road between them — is the region's; else the finest place the posts share."""
    munis = {p.municipality for p in posts if p.municipality}
    munis.update(m for p in posts for m in p.municipalities)
    if len(munis) > 1:
        return "region"
    streets = {p.street for p in posts if p.street}
    houses = {(p.street, p.house) for p in posts if p.street and p.house}
    if len(streets) == 1:
        return "house" if len(houses) <= 1 and houses else "street"
    if len(streets) > 1:
        return "settlement"
    if any(p.settlement for p in posts):
        return "settlement"
    return "municipality"


def is_urgent(category: str, subcategory: str | None) -> bool:
    if category in URGENT_CATEGORIES:
        return True
    return bool(subcategory and any(w in subcategory for w in URGENT_SUBCATEGORY_WORDS))


def priority_of(category: str, subcategory: str | None, posts: Sequence[PostFacts], scale: str) -> int:
    """1 is the most urgent, 5 the least. Many voices, wide reach, urgent problems go first."""
    p = 3
    authors = {x.author_id for x in posts if x.author_id} or {None}
    reach = sum(x.reach for x in posts)
    if len(authors) >= 3 or reach >= 500:
        p -= 1
    if is_urgent(category, subcategory):
        p -= 1
    if scale in ("region", "settlement"):
        p -= 1
    if len(posts) == 1 and reach < 20 and not is_urgent(category, subcategory):
        p += 1
    return max(1, min(5, p))


def title_of(cfg: RegionConfig, category: str, subcategory: str | None, posts: Sequence[PostFacts]) -> str:
    names = {c.code: c for c in cfg.rubricator.categories}
    cat = names.get(category)
    problem = cat.name if cat else category
    if cat and subcategory:
        for sub in cat.subcategories:
            if sub.code == subcategory:
                problem = sub.name
                break
    place = address_of(cfg, posts)
    return f"{problem} — {place}" if place else problem


def address_of(cfg: RegionConfig, posts: Sequence[PostFacts]) -> str | None:
    munis = Counter(p.municipality for p in posts if p.municipality)
    muni = munis.most_common(1)[0][0] if munis else None
    streets = Counter((p.street, p.house) for p in posts if p.street)
    parts: list[str] = []
    if muni:
        m = cfg.municipality_by_code.get(muni)
        parts.append(m.name if m else muni)
    settlements = Counter(p.settlement for p in posts if p.settlement)
    if settlements:
        s = settlements.most_common(1)[0][0]
        if not parts or s not in parts[0]:
            parts.append(s)
    if streets:
        (street, _), _n = streets.most_common(1)[0]
        houses = Counter(p.house for p in posts if p.street == street and p.house)
        parts.append(f"{street}, {houses.most_common(1)[0][0]}" if houses else street)
    return ", ".join(parts) if parts else None


def representative(posts: Sequence[PostFacts]) -> PostFacts:
    """The post that best stands for the incident: highest complaint score, then reach."""
    return max(posts, key=lambda p: (p.score, p.reach, len(p.text) < 600))


def summary_of(posts: Sequence[PostFacts], limit: int = 400) -> str:
    text = " ".join(representative(posts).text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
