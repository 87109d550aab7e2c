"""Learning and scoring the desk step (`incidents.domain.desk_routing`) on a history file.

Each row is read through the signal stage (category, subcategory, municipality, scale, street:
what the router sees of a post) and routed by the rules; the desk step then learns from the
earlier rows and is scored on the later ones. The current desk (which desk of an organisation is
taking its complaints now) moves with the bodies known to have taken appeals, so the honest
measurement walks the later rows in order and lets the state see each row's real body only
`lag` rows after it was routed: a region whose dispatchers' assignments reach the state within a
day has a small lag, one that refreshes from a history file once a month a large one. A lag of
None freezes the state at the end of the training period.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import RegionConfig
from incidents.domain.desk_routing import DeskExample, DeskRouter
from incidents.domain.routing import Router
from incidents.services.routing_history import TIME_COLUMNS, CaseReader, read_rows, time_split


@dataclass(frozen=True, slots=True)
class DeskRow:
    """One earlier appeal: what the signal stage read, the rules' body, the body that took it."""

    id: str
    when: str
    item: DeskExample  # its `body` is the body that really took the appeal
    rules_body: str


def desk_row(
    cfg: RegionConfig, reader: CaseReader, router: Router, row: dict[str, str], i: int
) -> DeskRow | None:
    """A history row as the desk step sees it; None when its body is not in bodies.yaml."""
    from datetime import UTC, datetime

    from core.records import PostRecord
    from incidents.domain.assess import scale_of_signal

    code, _written = reader.body_of(row)
    if code is None:
        return None
    text = row.get("text") or ""
    address = (row.get("address") or "").strip()
    post = PostRecord(
        network="pos",
        external_id=str(row.get("id") or i),
        source_id="routing-history",
        text=f"{text}\n{address}" if address else text,
        created_at=datetime(2022, 1, 1, tzinfo=UTC),
    )
    sig = reader.builder(post)
    scale = scale_of_signal(sig, text)
    d = router.route_signal(sig, scale)
    item = DeskExample(text, code, sig.category, sig.subcategory, sig.municipality, scale, sig.street)
    when = next((row[c] for c in TIME_COLUMNS if row.get(c)), "")
    return DeskRow(str(row.get("id") or i), when, item, d.body)


def read_desk_rows(cfg: RegionConfig, path: Path, *, builder: Any = None) -> list[DeskRow]:
    """Every row with a known body, in time order (the file's order without dates)."""
    reader = CaseReader(cfg, text_only=True, builder=builder)
    router = Router(cfg, learned=False)
    rows = [r for i, row in enumerate(read_rows(path)) if (r := desk_row(cfg, reader, router, row, i))]
    if rows and all(r.when for r in rows):
        rows.sort(key=lambda r: r.when)
    return rows


def learn_desk_router(cfg: RegionConfig, rows: Sequence[DeskRow], **kw: Any) -> DeskRouter:
    """The desk step learned from `rows` (time order): its state ends at their last row."""
    org = cfg.bodies.organisation_of
    return DeskRouter.fit([r.item for r in rows], org, [b.code for b in cfg.bodies.bodies], **kw)


def route_in_order(
    router: DeskRouter,
    rows: Sequence[DeskRow],
    lag: int | None,
    *,
    corrections_only: bool = False,
    desks: bool = True,
) -> list[str]:
    """The desk step's body for each row in order; each row's real body reaches the state `lag`
    rows after it was routed (None: never). `corrections_only`: only the rows routed wrong reach
    it — what the nightly refresh sees when dispatchers' reassignments are its only feed;
    `desks=False`: the current desk alone, the rules' body where the desks take the complaints.
    The router itself is not changed."""
    state = copy.copy(router)
    state.recent = copy.deepcopy(router.recent)
    state.fed = dict(router.fed)
    out: list[str] = []
    for i, r in enumerate(rows):
        j = i - (lag or 0) - 1
        if lag is not None and j >= 0 and not (corrections_only and out[j] == rows[j].item.body):
            state.observe(rows[j].item.body)
        d = state.choose(r.rules_body, r.item, desks=desks)
        out.append(d.body if d is not None else r.rules_body)
    return out


def score_bodies(cfg: RegionConfig, bodies: Iterable[str], rows: Sequence[DeskRow]) -> dict[str, Any]:
    """Exact body and right organisation of `bodies` against the rows' real bodies."""
    org = cfg.bodies.organisation_of
    pairs = list(zip(bodies, rows, strict=True))
    n = len(pairs) or 1
    return {
        "n": len(pairs),
        "exact": round(sum(b == r.item.body for b, r in pairs) / n, 3),
        "organisation": round(sum(org(b) == org(r.item.body) for b, r in pairs) / n, 3),
    }


def evaluate_desk_split(
    cfg: RegionConfig,
    rows: Sequence[DeskRow],
    *,
    train_share: float = 0.75,
    lags: Sequence[int | None] = (None, 0, 10, 25, 50, 100),
    window: int | None = None,
) -> dict[str, Any]:
    """Learn on the earlier rows, score the later: the rules alone, and the rules with the desk
    step at each lag (None: the state frozen at the end of the training period)."""
    train, test = time_split(list(rows), train_share)
    router = learn_desk_router(cfg, train, **({"window": window} if window else {}))
    out: dict[str, Any] = {
        "train": len(train),
        "test": len(test),
        "organisations": router.meta["organisations"],
        "rules": score_bodies(cfg, [r.rules_body for r in test], test),
    }
    for lag in lags:
        name = "frozen" if lag is None else f"lag {lag}"
        out[f"desk {name}"] = score_bodies(cfg, route_in_order(router, test, lag), test)
        if lag is not None:
            bodies = route_in_order(router, test, lag, corrections_only=True)
            out[f"desk {name}, corrections only"] = score_bodies(cfg, bodies, test)
            bodies = route_in_order(router, test, lag, desks=False)
            out[f"desk {name}, current desk alone"] = score_bodies(cfg, bodies, test)
    return out
