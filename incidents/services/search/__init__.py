"""Search: Elasticsearch + Kibana when configured, an embedded full-text index otherwise.

* `incidents.services.search.fts` — SQLite FTS5 / PostgreSQL tsvector over lemmas, kept current by
  triggers (migration 0002); the default, needs nothing running.
* `incidents.services.search.es` — index templates, ILM, incremental sync with `helpers.streaming_bulk`.
* `incidents.services.search.kibana` — checks the saved objects against the mappings and imports them.
* `cli.search` — `incidents index`, `incidents search`, `incidents kibana import`.

`search()` is what the console calls: the same question, answered by whichever engine is set up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from incidents.services.search.query import SearchFilters, SearchHit

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from core.config import RegionConfig

__all__ = ["SearchFilters", "SearchHit", "search", "search_incidents"]


def search(
    engine: Engine,
    cfg: RegionConfig,
    query: str,
    filters: SearchFilters | None = None,
    *,
    limit: int = 20,
) -> list[SearchHit]:
    """Posts matching `query` (any inflected form) and the filters, best first."""
    from incidents.services.search.settings import get_search_settings

    settings = get_search_settings()
    if settings.elasticsearch_configured:
        from incidents.services.search.es import make_client, search_posts

        policy = cfg.search
        client = make_client(settings, policy)
        try:
            return search_posts(client, policy, query, filters, limit=limit)
        finally:
            client.close()
    from incidents.services.search import fts

    return fts.search_posts(engine, query, filters, limit=limit)


def search_incidents(engine: Engine, cfg: RegionConfig, query: str, *, limit: int = 2000) -> list[int]:
    """The incidents of the best `limit` posts matching `query`, best first, each once (the console's
    queue search). The embedded index answers in one query; Elasticsearch through its hits."""
    from incidents.services.search.settings import get_search_settings

    if get_search_settings().elasticsearch_configured:
        hits = search(engine, cfg, query, None, limit=limit)
        return list(dict.fromkeys(h.incident_id for h in hits if h.incident_id is not None))
    from incidents.services.search import fts

    return fts.search_incident_ids(engine, query, limit=limit)
