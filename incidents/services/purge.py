"""`purge`: residents' raw payloads emptied after `region.yaml → privacy.raw_retention_days`,
resolved quarantine rows deleted after theirs (152-ФЗ; see incidents/domain/privacy.py for masking)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.config import RegionConfig
from storage.models import Post, QuarantineItem, row_id

Clock = Callable[[], datetime]


@dataclass(slots=True)
class PurgeStats:
    raw_emptied: int = 0
    quarantine_deleted: int = 0
    dry_run: bool = False


def _kept_raw(network: str, raw: dict[str, Any] | None) -> dict[str, Any]:
    """What the workflow still reads after the retention: the platform's own record of the message
    (status, rating, category, the problem's address and coordinates) — no author, no profile."""
    if network == "pos" and isinstance(raw, dict) and isinstance(raw.get("pos"), dict):
        return {"pos": raw["pos"], "purged": True}
    return {"purged": True}


def purge(
    engine: Engine, cfg: RegionConfig, now: Clock, *, dry_run: bool = False, batch: int = 1000
) -> PurgeStats:
    """Empty raw payloads fetched before the retention; delete resolved quarantine rows past theirs.

    Idempotent and resumable: each batch is one transaction and an emptied payload is marked
    `purged`, so a killed run loses nothing and the next one goes on."""
    policy = cfg.region.privacy
    ts = now()
    raw_before = ts - timedelta(days=policy.raw_retention_days)
    quarantine_before = ts - timedelta(days=policy.quarantine_retention_days)
    stats = PurgeStats(dry_run=dry_run)
    last_id = 0
    while True:
        with Session(engine) as session, session.begin():
            rows = session.exec(
                select(Post)
                .where(col(Post.id) > last_id, col(Post.fetched_at) < raw_before)
                .order_by(col(Post.id))
                .limit(batch)
            ).all()
            if not rows:
                break
            for row in rows:
                if isinstance(row.raw, dict) and row.raw.get("purged"):
                    continue
                stats.raw_emptied += 1
                if not dry_run:
                    row.raw = _kept_raw(row.network, row.raw)
                    session.add(row)
            last_id = row_id(rows[-1])
    with Session(engine) as session, session.begin():
        cond = col(QuarantineItem.resolved_at).is_not(None) & (
            col(QuarantineItem.resolved_at) < quarantine_before
        )
        stats.quarantine_deleted = session.exec(
            select(sa.func.count()).select_from(QuarantineItem).where(cond)
        ).one()
        if not dry_run:
            session.execute(sa.delete(QuarantineItem).where(cond))
    return stats


def stats_dict(stats: PurgeStats) -> dict[str, Any]:
    return asdict(stats)
