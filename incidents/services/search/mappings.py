"""Elasticsearch index templates, the ILM policy and index names — plain data, no client.

Posts go to monthly indexes `<prefix>-posts-YYYY.MM.01` chosen by the post's creation time
(never changes, so an edit or a deletion always finds its document). ILM parses the month
from the index name (`index.lifecycle.parse_origination_date`), so retention counts from the
month of the posts, not from when the index happened to be created. Incidents are few and are
the record: one index `<prefix>-incidents`, no retention.

Russian analysis: ё folded to е before tokenizing, lower case, Russian stop words, the Russian
Snowball stemmer. `.keyword` sub-fields carry aggregations; `text.exact` searches without
stemming.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from incidents.services.search.settings import SearchPolicy

ANALYSIS: dict[str, Any] = {
    "char_filter": {
        "ru_yo": {"type": "mapping", "mappings": ["ё => е", "Ё => Е"]},
    },
    "filter": {
        "ru_stop": {"type": "stop", "stopwords": "_russian_"},
        "ru_stemmer": {"type": "stemmer", "language": "russian"},
    },
    "analyzer": {
        "ru_text": {
            "type": "custom",
            "char_filter": ["html_strip", "ru_yo"],
            "tokenizer": "standard",
            "filter": ["lowercase", "ru_stop", "ru_stemmer"],
        },
        "ru_exact": {
            "type": "custom",
            "char_filter": ["html_strip", "ru_yo"],
            "tokenizer": "standard",
            "filter": ["lowercase"],
        },
    },
    "normalizer": {
        "ru_keyword": {"type": "custom", "char_filter": ["ru_yo"], "filter": ["lowercase"]},
    },
}

KEYWORD = {"type": "keyword"}
DATE = {"type": "date"}
BOOL = {"type": "boolean"}
INT = {"type": "integer"}
LONG = {"type": "long"}
GEO = {"type": "geo_point"}
# Names people type and filter by: case and ё do not matter.
NAME = {"type": "keyword", "normalizer": "ru_keyword"}
TEXT_RU = {
    "type": "text",
    "analyzer": "ru_text",
    "fields": {"exact": {"type": "text", "analyzer": "ru_exact"}},
}
TEXT_RU_KW = {
    "type": "text",
    "analyzer": "ru_text",
    "fields": {
        "exact": {"type": "text", "analyzer": "ru_exact"},
        "keyword": {"type": "keyword", "ignore_above": 512},
    },
}

_COMMON: dict[str, Any] = {
    "region": KEYWORD,
    "category": KEYWORD,
    "category_name": KEYWORD,
    "subcategory": KEYWORD,
    "subcategory_name": KEYWORD,
    "fact": KEYWORD,
    "problem": KEYWORD,
    "municipality": KEYWORD,
    "municipality_name": KEYWORD,
    "address": TEXT_RU_KW,
    "street": NAME,
    "scale": KEYWORD,
    "location": GEO,
    "location_source": KEYWORD,
    "reach": LONG,
    "updated_at": DATE,
    "indexed_at": DATE,
}

POST_PROPERTIES: dict[str, Any] = {
    **_COMMON,
    "post_key": KEYWORD,
    "post_id": LONG,
    "network": KEYWORD,
    "external_id": KEYWORD,
    "source_id": KEYWORD,
    "parent_id": KEYWORD,
    "url": {"type": "keyword", "index": False},
    "author_id": KEYWORD,
    "author_name": NAME,
    "text": TEXT_RU,
    "created_at": DATE,
    "edited": BOOL,
    "likes": LONG,
    "reposts": LONG,
    "views": LONG,
    "analysed": BOOL,
    "is_complaint": BOOL,
    "in_region": BOOL,
    "decision": KEYWORD,
    "score": {"type": "float"},
    "rules": KEYWORD,
    "organisations": NAME,
    "places": NAME,
    "persons": NAME,
    "incident_id": LONG,
    "incident_status": KEYWORD,
}

INCIDENT_PROPERTIES: dict[str, Any] = {
    **_COMMON,
    "incident_id": LONG,
    "title": TEXT_RU_KW,
    "summary": TEXT_RU,
    "status": KEYWORD,
    "open": BOOL,
    "priority": INT,
    "body_code": KEYWORD,
    "body_name": KEYWORD,
    "assigned": BOOL,
    "opened_at": DATE,
    "due_at": DATE,
    "first_answer_at": DATE,
    "closed_at": DATE,
    "first_post_at": DATE,
    "last_post_at": DATE,
    "post_count": INT,
    "networks": KEYWORD,
    "manual": BOOL,
    "linked_incident_id": LONG,
    "sla_state": KEYWORD,
    "sla_outcome": KEYWORD,
    "sla_met": BOOL,
    "overdue": BOOL,
    "answer_minutes": LONG,
}


def posts_policy_name(policy: SearchPolicy) -> str:
    return f"{policy.index_prefix}-posts"


def posts_template_name(policy: SearchPolicy) -> str:
    return f"{policy.index_prefix}-posts"


def incidents_template_name(policy: SearchPolicy) -> str:
    return f"{policy.index_prefix}-incidents"


def posts_index_pattern(policy: SearchPolicy) -> str:
    return f"{policy.index_prefix}-posts-*"


def incidents_index(policy: SearchPolicy) -> str:
    return f"{policy.index_prefix}-incidents"


def posts_index(policy: SearchPolicy, created_at: datetime) -> str:
    """The monthly index of a post: `<prefix>-posts-2026.11.01` (UTC month of creation).

    The name ends with a yyyy.MM.dd date, the form ILM parses into the origination date."""
    return f"{policy.index_prefix}-posts-{created_at:%Y.%m}.01"


def ilm_policy(policy: SearchPolicy) -> dict[str, Any]:
    """Retention of monthly post indexes. No rollover: the month is in the index name."""
    phases: dict[str, Any] = {"hot": {"min_age": "0ms", "actions": {"set_priority": {"priority": 100}}}}
    warm = policy.posts_warm_after_days
    if warm is not None and warm < policy.posts_retention_days:
        # No forcemerge/readonly: an edited or deleted old post must still be updatable.
        phases["warm"] = {"min_age": f"{warm}d", "actions": {"set_priority": {"priority": 50}}}
    phases["delete"] = {"min_age": f"{policy.posts_retention_days}d", "actions": {"delete": {}}}
    return {
        "phases": phases,
        "_meta": {"managed_by": "incident-monitor", "description": "monthly post indexes"},
    }


def _settings(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number_of_shards": 1,
        # 0 replicas on a single node (green, not yellow), 1 as soon as there is a second node.
        "auto_expand_replicas": "0-1",
        "analysis": ANALYSIS,
    }
    out.update(extra or {})
    return out


def posts_template(policy: SearchPolicy) -> dict[str, Any]:
    """Body of PUT _index_template/<prefix>-posts (composable template)."""
    return {
        "index_patterns": [posts_index_pattern(policy)],
        "priority": 500,
        "template": {
            "settings": _settings(
                {
                    "index.lifecycle.name": posts_policy_name(policy),
                    "index.lifecycle.parse_origination_date": True,
                }
            ),
            "mappings": {"dynamic": "strict", "properties": POST_PROPERTIES},
        },
        "_meta": {"managed_by": "incident-monitor", "kind": "posts"},
    }


def incidents_template(policy: SearchPolicy) -> dict[str, Any]:
    """Body of PUT _index_template/<prefix>-incidents."""
    return {
        "index_patterns": [incidents_index(policy)],
        "priority": 500,
        "template": {
            "settings": _settings(),
            "mappings": {"dynamic": "strict", "properties": INCIDENT_PROPERTIES},
        },
        "_meta": {"managed_by": "incident-monitor", "kind": "incidents"},
    }


def templates(policy: SearchPolicy) -> dict[str, dict[str, Any]]:
    """Template name → body, for both kinds."""
    return {
        posts_template_name(policy): posts_template(policy),
        incidents_template_name(policy): incidents_template(policy),
    }


def field_exists(properties: dict[str, Any], path: str) -> bool:
    """Does `a.b.c` name a field of these mappings (object properties or multi-fields)?"""
    node: dict[str, Any] | None = {"properties": properties}
    for part in path.split("."):
        if node is None:
            return False
        nxt = (node.get("properties") or {}).get(part) or (node.get("fields") or {}).get(part)
        if nxt is None:
            return False
        node = nxt
    return True


def field_type(properties: dict[str, Any], path: str) -> str | None:
    node: dict[str, Any] = {"properties": properties}
    for part in path.split("."):
        nxt = (node.get("properties") or {}).get(part) or (node.get("fields") or {}).get(part)
        if nxt is None:
            return None
        node = nxt
    return node.get("type", "object")
