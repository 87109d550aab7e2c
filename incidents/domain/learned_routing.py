"""A routing table learned from the region's own history: which body took which problem where.

The hand-written rules of routing.yaml are read from topics and places; the platform's history
already knows which body took what, and every dispatcher's reassignment adds to it. This table
counts, for each key of the incident's card — category × subcategory × fact × municipality ×
street — the bodies that handled the earlier appeals with that key, and keeps the top body with
its support (`n`, the earlier appeals with the key) and `hits` (how many of them went to it).

The keys back off from the most specific (the street) to the broadest (the category alone); a
lookup takes the first level whose entry is confident (`n ≥ min_support`, `hits / n ≥
min_share`). A district's own desks (`adm_{municipality}`, `zha_{municipality}`) are counted as
the template on keys without a municipality, so that "the district's housing agency takes the
entrances" is learned from all districts at once and applied to the district of the incident.

The table is a reviewable file in the region folder (`learned_routing.yaml`, one entry per
line, sorted, so a refresh's change reads as a diff); a region without it routes on its rules
as before. It is written at the user's site from the user's history: the real appeal files the
team measures on never enter the repository, not even as such a table.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LEARNED_FILE = "learned_routing.yaml"
MIN_SUPPORT = 3
MIN_SHARE = 0.6

# Most specific first; each level is the tuple of Case fields its key is made of.
LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("street", ("category", "subcategory", "fact", "municipality", "street")),
    ("street_category", ("category", "municipality", "street")),
    ("fact_place", ("category", "subcategory", "fact", "municipality")),
    ("place", ("category", "subcategory", "municipality")),
    ("category_place", ("category", "municipality")),
    ("fact", ("category", "subcategory", "fact")),
    ("subcategory", ("category", "subcategory")),
    ("category", ("category",)),
)
_LEVEL_FIELDS = dict(LEVELS)
TEMPLATE = "{municipality}"
OTHERS = "\0others"  # a base table's appeals that went to bodies other than its top one


@dataclass(frozen=True, slots=True)
class Case:
    """What routing knows of one appeal or incident: our codes and its place."""

    category: str | None
    subcategory: str | None = None
    fact: str | None = None
    municipality: str | None = None
    street: str | None = None

    def key(self, level: str) -> tuple[str | None, ...] | None:
        """The key at one level, or None when a field the level needs is unknown."""
        values = tuple(getattr(self, f) for f in _LEVEL_FIELDS[level])
        return None if any(v is None or v == "" for v in values) else values


def normalise_street(street: str | None) -> str | None:
    """One spelling per street: lower case, ё as е, single spaces."""
    if not street:
        return None
    s = " ".join(street.lower().replace("ё", "е").split())
    return s or None


@dataclass(frozen=True, slots=True)
class Entry:
    """One learned key: the body most of its earlier appeals went to."""

    level: str
    key: tuple[str | None, ...]
    body: str  # a body code or a template such as "zha_{municipality}"
    n: int
    hits: int
    corrections: int = 0  # of the hits, the weight of dispatchers' reassignments to the body

    @property
    def share(self) -> float:
        return self.hits / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"level": self.level}
        d.update(zip(_LEVEL_FIELDS[self.level], self.key, strict=True))
        d.update(body=self.body, n=self.n, hits=self.hits)
        if self.corrections:
            d["corrections"] = self.corrections
        return d


@dataclass(frozen=True, slots=True)
class Example:
    """One earlier appeal (or reassignment) and the body that took it."""

    case: Case
    body: str
    weight: int = 1
    correction: bool = False  # a dispatcher's reassignment, not a history row


def _templated(body: str, municipality: str | None) -> str:
    """`zha_nevsky` for a Невский appeal → `zha_{municipality}`; any other body unchanged."""
    if municipality and body.endswith("_" + municipality):
        return body[: -len(municipality)] + TEMPLATE
    return body


@dataclass(slots=True)
class LearnedTable:
    """The learned entries by level and key, with the thresholds they were kept at."""

    entries: dict[tuple[str, tuple[str | None, ...]], Entry] = field(default_factory=dict)
    min_support: int = MIN_SUPPORT
    min_share: float = MIN_SHARE
    meta: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ learning
    @classmethod
    def learn(
        cls,
        examples: Iterable[Example],
        *,
        min_support: int = MIN_SUPPORT,
        min_share: float = MIN_SHARE,
        meta: Mapping[str, Any] | None = None,
        base: LearnedTable | None = None,
    ) -> LearnedTable:
        """Count bodies per key at every level; keep the keys whose top body is confident.

        `base`: a table whose counts the examples add to (a refresh from corrections): each of
        its entries counts as `hits` appeals to its body and `n − hits` to others."""
        counts: dict[tuple[str, tuple[str | None, ...]], Counter[str]] = defaultdict(Counter)
        fixed: dict[tuple[str, tuple[str | None, ...]], Counter[str]] = defaultdict(Counter)
        for k, e in base.entries.items() if base is not None else ():
            counts[k][e.body] += e.hits
            fixed[k][e.body] += e.corrections
            if e.n > e.hits:
                counts[k][OTHERS] += e.n - e.hits
        for ex in examples:
            for level, fields in LEVELS:
                key = ex.case.key(level)
                if key is None:
                    continue
                body = ex.body if "municipality" in fields else _templated(ex.body, ex.case.municipality)
                counts[(level, key)][body] += ex.weight
                if ex.correction:
                    fixed[(level, key)][body] += ex.weight
        table = cls(min_support=min_support, min_share=min_share, meta=dict(meta or {}))
        for (level, key), c in counts.items():
            body, hits = next((b, h) for b, h in c.most_common() if b != OTHERS)
            n = sum(c.values())
            if n >= min_support and hits / n >= min_share:
                table.entries[(level, key)] = Entry(level, key, body, n, hits, fixed[(level, key)][body])
        return table

    # ------------------------------------------------------------------ lookup
    def lookup(self, case: Case, known_bodies: Iterable[str] | None = None) -> Entry | None:
        """The first confident entry from the most specific level down whose body exists here."""
        known = set(known_bodies) if known_bodies is not None else None
        for level, _fields in LEVELS:
            key = case.key(level)
            if key is None:
                continue
            e = self.entries.get((level, key))
            if e is None:
                continue
            body = self.resolve(e, case)
            if body is None or (known is not None and body not in known):
                continue
            return e
        return None

    @staticmethod
    def resolve(entry: Entry, case: Case) -> str | None:
        """The entry's body for this case: a template filled with the case's municipality."""
        if TEMPLATE not in entry.body:
            return entry.body
        return entry.body.replace(TEMPLATE, case.municipality) if case.municipality else None

    # ------------------------------------------------------------------ the file
    def to_yaml(self) -> str:
        """One entry per line, sorted by level and key: a refresh reads as a line diff."""
        order = {name: i for i, (name, _f) in enumerate(LEVELS)}
        head = {
            "version": 1,
            "min_support": self.min_support,
            "min_share": self.min_share,
            "learned_from": self.meta,
        }
        lines = [
            "# learned_routing.yaml — written by `incidents routing learn`; review it, do not hand-edit:",
            "# the next learn or refresh rewrites it. Each entry: the earlier appeals with this key (n),",
            "# how many of them the body took (hits). Explicit rules of routing.yaml win over it.",
            yaml.safe_dump(head, allow_unicode=True, sort_keys=False).rstrip(),
            "entries:",
        ]
        for e in sorted(self.entries.values(), key=lambda e: (order[e.level], tuple(str(k) for k in e.key))):
            one = yaml.safe_dump(
                e.as_dict(), allow_unicode=True, sort_keys=False, default_flow_style=True, width=math.inf
            )
            lines.append("- " + one.strip())
        return "\n".join(lines) + "\n"

    @classmethod
    def from_yaml(cls, text: str) -> LearnedTable:
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise ValueError("learned routing: the top level must be a mapping")
        table = cls(
            min_support=int(data.get("min_support", MIN_SUPPORT)),
            min_share=float(data.get("min_share", MIN_SHARE)),
            meta=dict(data.get("learned_from") or {}),
        )
        for raw in data.get("entries") or []:
            level = raw.get("level")
            if level not in _LEVEL_FIELDS:
                raise ValueError(f"learned routing: unknown level {level!r}")
            key = tuple(None if raw.get(f) is None else str(raw[f]) for f in _LEVEL_FIELDS[level])
            table.entries[(level, key)] = Entry(
                level, key, str(raw["body"]), int(raw["n"]), int(raw["hits"]), int(raw.get("corrections", 0))
            )
        return table

    def diff(self, new: LearnedTable) -> dict[str, list[dict[str, Any]]]:
        """What a refresh changed: entries added, removed, and those whose body changed."""
        added = [new.entries[k].as_dict() for k in new.entries.keys() - self.entries.keys()]
        removed = [self.entries[k].as_dict() for k in self.entries.keys() - new.entries.keys()]
        changed = [
            {**new.entries[k].as_dict(), "was": self.entries[k].body}
            for k in new.entries.keys() & self.entries.keys()
            if new.entries[k].body != self.entries[k].body
        ]
        recounted = [
            {**new.entries[k].as_dict(), "was_n": self.entries[k].n, "was_hits": self.entries[k].hits}
            for k in new.entries.keys() & self.entries.keys()
            if new.entries[k].body == self.entries[k].body
            and (new.entries[k].n, new.entries[k].hits) != (self.entries[k].n, self.entries[k].hits)
        ]
        return {"added": added, "removed": removed, "changed": changed, "recounted": recounted}


_CACHE: dict[Path, tuple[float, LearnedTable]] = {}


def load_learned(root: Path) -> LearnedTable | None:
    """The region folder's learned table, or None without one (cached until the file changes)."""
    path = root / LEARNED_FILE
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    hit = _CACHE.get(path)
    if hit is not None and hit[0] == mtime:
        return hit[1]
    table = LearnedTable.from_yaml(path.read_text(encoding="utf-8"))
    _CACHE[path] = (mtime, table)
    return table


def save_learned(root: Path, table: LearnedTable) -> Path:
    """Write the table into the region folder (atomically: the router never reads half a file)."""
    path = root / LEARNED_FILE
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(table.to_yaml(), encoding="utf-8")
    tmp.replace(path)
    return path
