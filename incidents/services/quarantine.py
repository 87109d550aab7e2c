"""Replay quarantined records after a fix: `incidents quarantine retry`.

A record lands in the quarantine when it could not be accepted: an interchange line that
breaks the contract, a network payload an adapter could not read, a post the signal stage
failed on. Once the cause is fixed — the parser now reads that shape, or the operator
corrected the payload (`--payload-file`) — `retry` runs the same parser over the stored
payload, stores the post through the same admission and upsert as a crawl, and marks the row
resolved; a post that failed in the signal stage is simply processed again. A row that still
fails keeps its place with the new reason and one more attempt. Rows that are not one record
(a skipped wall, an answer without items) cannot be replayed: the next crawl reads the
network again, and `retry` says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.config import RegionConfig
from core.interchange import PayloadError, post_from_dict
from core.records import PostRecord
from storage.models import Post, QuarantineItem, Signal, row_id

Clock = Callable[[], datetime]
SIGNALS = "signals"


class NotReplayable(Exception):
    """The row is not a single record (a skipped object, a whole answer)."""


@dataclass(slots=True)
class RetryOutcome:
    id: int
    origin: str
    location: str | None
    status: str  # resolved | failed | not_replayable
    detail: str


# --------------------------------------------------------------------------- parsers by location
def _source_params(cfg: RegionConfig, source_id: str) -> dict[str, Any]:
    for s in cfg.sources.sources:
        if s.id == source_id:
            return dict(s.params)
    return {}


def _vk_post(m: re.Match, item: Any, origin: str, cfg: RegionConfig) -> PostRecord:
    from crawlers.vk import post_record

    return post_record(item, origin, {})


def _vk_comment(m: re.Match, item: Any, origin: str, cfg: RegionConfig) -> PostRecord:
    from crawlers.vk import comment_record

    return comment_record(item, int(m["owner"]), int(m["post"]), origin, {})


def _ok_topic(m: re.Match, item: Any, origin: str, cfg: RegionConfig) -> PostRecord:
    from crawlers.ok import topic_record

    return topic_record(item, m["gid"], origin, {})


def _ok_comment(m: re.Match, item: Any, origin: str, cfg: RegionConfig) -> PostRecord:
    from crawlers.ok import comment_record

    gid = str(_source_params(cfg, origin).get("gid") or "")
    return comment_record(item, gid, m["topic"], origin, {})


def _pos(m: re.Match, item: Any, origin: str, cfg: RegionConfig) -> PostRecord:
    from crawlers.pos import PosMessagesSource

    params = _source_params(cfg, origin)
    source = PosMessagesSource(
        source_id=origin,
        client=None,  # type: ignore[arg-type]  # a replay only parses the stored message, never fetches
        fields=dict(params.get("fields") or {}),
        deleted_statuses=tuple(params.get("deleted_statuses") or ("withdrawn", "deleted")),
    )
    return source.record(item)


def _tg_preview(m: re.Match, item: Any, origin: str, cfg: RegionConfig) -> PostRecord:
    from crawlers.tg_preview import TgPreviewSource

    if not isinstance(item, dict) or item.get("kind") != "post":
        raise NotReplayable("a preview page's HTML, not a post: the next crawl reads the channel again")
    return TgPreviewSource(source_id=origin, channels=[]).record(item)


def _line(m: re.Match, item: Any, origin: str, cfg: RegionConfig) -> PostRecord:
    return post_from_dict(item)


PARSERS: list[tuple[re.Pattern[str], Callable[[re.Match, Any, str, RegionConfig], PostRecord]]] = [
    (re.compile(r"^line \d+$"), _line),
    (re.compile(r"^wall\.getComments wall(?P<owner>-?\d+)_(?P<post>\d+)"), _vk_comment),
    (re.compile(r"^(wall\.get|newsfeed\.search) "), _vk_post),
    (re.compile(r"^(?:group\.getStatTopics|mediatopic\.getTopics) gid (?P<gid>\S+)"), _ok_topic),
    (re.compile(r"^discussions\.getComments topic (?P<topic>\S+)"), _ok_comment),
    (re.compile(r"^GET /messages"), _pos),
    (re.compile(r"^preview "), _tg_preview),
]


def parse_payload(row: QuarantineItem, payload: str, cfg: RegionConfig) -> PostRecord:
    """The post a quarantined network or file record holds, by the parser that refused it."""
    if row.reason.startswith(("skipped:", "answer has no")):
        raise NotReplayable(
            f"{row.reason.split(':')[0]}: not one record; the next crawl reads the network again"
        )
    for pattern, parser in PARSERS:
        m = pattern.match(row.location or "")
        if m is None:
            continue
        try:
            item = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise PayloadError(f"broken JSON: {exc.msg}") from exc
        return parser(m, item, row.origin, cfg)
    raise NotReplayable(f"no parser for {row.location!r}")


# --------------------------------------------------------------------------- retry
def _select(session: Session, ids: Sequence[int] | None, origin: str | None) -> list[QuarantineItem]:
    stmt = (
        select(QuarantineItem)
        .where(col(QuarantineItem.resolved_at).is_(None))
        .order_by(col(QuarantineItem.id))
    )
    if ids:
        stmt = stmt.where(col(QuarantineItem.id).in_(list(ids)))
    if origin:
        stmt = stmt.where(QuarantineItem.origin == origin)
    return list(session.exec(stmt).all())


def retry(
    engine: Engine,
    cfg: RegionConfig,
    now: Clock,
    *,
    ids: Sequence[int] | None = None,
    origin: str | None = None,
    payload: str | None = None,
    process: bool = True,
    builder: Any = None,
) -> list[RetryOutcome]:
    """Replay unresolved quarantine rows (all, the given ids, or one origin's); see the module doc.

    `payload` replaces the stored payload of the single row given in `ids` (a corrected line)."""
    from incidents.services.processing import process_pending
    from storage.store import admit, save_posts

    if payload is not None and (not ids or len(ids) != 1):
        raise ValueError("a corrected payload is for exactly one quarantine row")
    out: list[RetryOutcome] = []
    signal_rows: dict[int, tuple[str, str]] = {}
    with Session(engine, expire_on_commit=False) as session, session.begin():
        ts = now()
        for row in _select(session, ids, origin):
            text = payload if payload is not None else row.payload
            if row.origin == SIGNALS:
                net, _, ext = (row.location or "").partition(":")
                post = session.exec(select(Post).where(Post.network == net, Post.external_id == ext)).first()
                if post is None:
                    out.append(
                        RetryOutcome(
                            row_id(row),
                            row.origin,
                            row.location,
                            "not_replayable",
                            "the post is no longer stored",
                        )
                    )
                    continue
                post.processed = False  # the next processing builds its signal again
                session.add(post)
                signal_rows[row_id(row)] = (net, ext)
                continue
            try:
                rec = parse_payload(row, text, cfg)
            except NotReplayable as exc:
                out.append(RetryOutcome(row_id(row), row.origin, row.location, "not_replayable", str(exc)))
                continue
            except PayloadError as exc:
                row.attempts += 1
                row.reason = str(exc)
                if payload is not None:
                    row.payload = payload
                session.add(row)
                out.append(RetryOutcome(row_id(row), row.origin, row.location, "failed", str(exc)))
                continue
            good, refused = admit([rec])
            if refused:
                row.attempts += 1
                row.reason = refused[0].reason
                session.add(row)
                out.append(RetryOutcome(row_id(row), row.origin, row.location, "failed", refused[0].reason))
                continue
            save_posts(session, good, ts)
            row.attempts += 1
            row.resolved_at = ts
            if payload is not None:
                row.payload = payload
            session.add(row)
            out.append(
                RetryOutcome(row_id(row), row.origin, row.location, "resolved", f"stored as {rec.key}")
            )
    stored = any(o.status == "resolved" for o in out)
    if signal_rows or (process and stored):
        process_pending(engine, cfg, now, builder=builder)
    if signal_rows:
        with Session(engine) as session, session.begin():
            ts = now()
            for qid, (net, ext) in signal_rows.items():
                item = session.get(QuarantineItem, qid)
                assert item is not None  # read above, resolved only here
                has_signal = session.exec(
                    select(Signal.id)
                    .join(Post, col(Post.id) == col(Signal.post_id))
                    .where(Post.network == net, Post.external_id == ext)
                ).first()
                item.attempts += 1
                if has_signal is not None:
                    item.resolved_at = ts
                    out.append(RetryOutcome(qid, SIGNALS, item.location, "resolved", "signal built"))
                else:
                    out.append(RetryOutcome(qid, SIGNALS, item.location, "failed", item.reason))
                session.add(item)
    return sorted(out, key=lambda o: o.id)
