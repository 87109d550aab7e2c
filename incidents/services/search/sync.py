"""Keeping search current after a monitoring pass (what `incidents run` does last).

The embedded index is always brought up to date (the posts the pass stored are lemmatized now,
so the first search after a run does not pay for it). Elasticsearch is synced only when
`ELASTICSEARCH_URL` is set. Neither may fail the pass: posts and incidents are already stored,
and the next pass — or `incidents index` — sends whatever is missing, because the cursors only
move past what was accepted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from core.config import RegionConfig
from incidents.services.search.settings import SearchSettings, get_search_settings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SearchPassStats:
    embedded_indexed: int = 0
    elasticsearch: list[dict[str, object]] = field(default_factory=list)  # one SyncStats per kind, as dicts
    errors: list[str] = field(default_factory=list)


def after_pass(
    engine: Engine, cfg: RegionConfig, now: Callable[[], datetime], *, settings: SearchSettings | None = None
) -> SearchPassStats:
    """Catch the embedded index up; sync Elasticsearch if configured. Never raises for the
    search services' sake: failures are logged and returned."""
    from dataclasses import asdict

    from incidents.services.search import fts

    out = SearchPassStats()
    try:
        out.embedded_indexed = fts.catch_up(engine)
    except Exception as exc:  # the index is rebuilt from the queue next time
        log.exception("embedded search index not updated")
        out.errors.append(f"embedded: {type(exc).__name__}: {exc}")
    settings = settings or get_search_settings()
    if not settings.elasticsearch_configured:
        return out
    from incidents.services.search.es import run_sync

    try:
        stats = run_sync(engine, cfg, now, settings=settings)
    except Exception as exc:  # unreachable cluster, refused setup: the cursors did not move
        log.warning("Elasticsearch sync failed (%s); the next run sends what is missing", exc)
        out.errors.append(f"elasticsearch: {type(exc).__name__}: {exc}")
        return out
    for s in stats:
        out.elasticsearch.append({**asdict(s), "complete": s.complete})
        out.errors.extend(f"elasticsearch {s.kind}: {e}" for e in s.errors)
    return out
