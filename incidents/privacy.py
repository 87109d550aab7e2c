"""Residents' personal data (152-ФЗ): masked in exports, raw payloads purged after their retention.

What is personal here: an author's name and account id, and a post key that embeds a person's
account (a post on a VK user's own wall is `vk:wall505_311`, 505 being the user). The exports
carry neither by default: post keys of that kind are pseudonymised with a keyed hash
(`INCIDENTS_PSEUDONYM_KEY`; stable across exports when it is set, per run otherwise), and
authors' ids and names appear only with `--with-authors`, which `region.yaml →
privacy.export_personal_data` must allow. Raw payloads (every field the network sent, with
profiles and contacts) are emptied after `privacy.raw_retention_days` by `purge` — scheduled
as the `purge` job — except the feedback platform's status and rating the workflow reads.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from incidents.config import RegionConfig

Clock = Callable[[], datetime]
KEY_VAR = "INCIDENTS_PSEUDONYM_KEY"
# VK wall posts and comments on a person's own wall: the owner id is the person (groups are negative).
_PERSONAL_KEY = re.compile(r"^(vk:(?:wall|comment))(\d+)_(\d+)$")


@lru_cache(maxsize=1)
def _run_key() -> bytes:
    return secrets.token_bytes(32)


def pseudonym_key() -> bytes:
    value = os.environ.get(KEY_VAR, "")
    return value.encode("utf-8") if value else _run_key()


def pseudonym(value: str, key: bytes | None = None) -> str:
    """A short keyed hash of a personal identifier: the same person gives the same pseudonym."""
    return hmac.new(key or pseudonym_key(), value.encode("utf-8"), hashlib.sha256).hexdigest()[:12]


def mask_post_key(post_key: str, key: bytes | None = None) -> str:
    """`vk:wall505_311` → `vk:wall~3f2a…_311`; keys that name no person are returned as they are."""
    m = _PERSONAL_KEY.match(post_key)
    if m is None:
        return post_key
    return f"{m.group(1)}~{pseudonym(m.group(2), key)}_{m.group(3)}"


# --------------------------------------------------------------------------- purge
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


def purge(engine: Engine, cfg: RegionConfig, now: Clock, *, dry_run: bool = False, batch: int = 1000) -> PurgeStats:
    """Empty raw payloads fetched before the retention; delete resolved quarantine rows past theirs.

    Idempotent and resumable: each batch is one transaction and an emptied payload is marked
    `purged`, so a killed run loses nothing and the next one goes on."""
    from incidents.models import Post, QuarantineItem

    policy = cfg.region.privacy
    ts = now()
    raw_before = ts - timedelta(days=policy.raw_retention_days)
    quarantine_before = ts - timedelta(days=policy.quarantine_retention_days)
    stats = PurgeStats(dry_run=dry_run)
    last_id = 0
    while True:
        with Session(engine) as session, session.begin():
            rows = session.exec(select(Post).where(Post.id > last_id, Post.fetched_at < raw_before)
                                .order_by(Post.id).limit(batch)).all()
            if not rows:
                break
            for row in rows:
                if isinstance(row.raw, dict) and row.raw.get("purged"):
                    continue
                stats.raw_emptied += 1
                if not dry_run:
                    row.raw = _kept_raw(row.network, row.raw)
                    session.add(row)
            last_id = rows[-1].id  # type: ignore[assignment]
    with Session(engine) as session, session.begin():
        cond = (QuarantineItem.resolved_at != None) & (QuarantineItem.resolved_at < quarantine_before)  # type: ignore[operator]  # noqa: E711
        stats.quarantine_deleted = session.exec(select(sa.func.count()).select_from(QuarantineItem).where(cond)).one()
        if not dry_run:
            session.execute(sa.delete(QuarantineItem).where(cond))
    return stats


# --------------------------------------------------------------------------- command
def cmd_purge(ctx: Any, args: argparse.Namespace) -> int:
    from incidents.cli import EXIT_OK, _now, console

    stats = purge(ctx.engine, ctx.cfg, _now, dry_run=args.dry_run)
    policy = ctx.cfg.region.privacy
    verb = "было бы" if args.dry_run else ""
    console.print(f"исходные данные постов старше {policy.raw_retention_days} дн.: {verb} очищено {stats.raw_emptied}; "
                  f"разобранный карантин старше {policy.quarantine_retention_days} дн.: {verb} удалено "
                  f"{stats.quarantine_deleted}")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    s = sub.add_parser("purge", help="удалить исходные данные постов и разобранный карантин старше срока хранения")
    s.add_argument("--dry-run", action="store_true", help="только посчитать")
    s.set_defaults(func=cmd_purge)


def stats_dict(stats: PurgeStats) -> dict[str, Any]:
    return asdict(stats)
