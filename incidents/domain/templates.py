"""Answer templates: Jinja2 in a sandbox, chosen by category / subcategory / fact.

The sandbox (`SandboxedEnvironment`) refuses access to Python internals, so a template written
by a region's staff cannot read files or settings; undefined placeholders render empty
(an address that is not known simply does not appear).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Undefined
from jinja2.sandbox import SandboxedEnvironment

from incidents.core.config import AnswerTemplate, RepliesPolicy


class TemplateNotFound(LookupError):
    pass


_ENV = SandboxedEnvironment(autoescape=False, undefined=Undefined, keep_trailing_newline=False)


def choose(
    policy: RepliesPolicy,
    *,
    template_id: str | None = None,
    category: str | None = None,
    subcategory: str | None = None,
    fact: str | None = None,
    interim: bool = False,
) -> AnswerTemplate:
    """The template named, or the most specific one for the incident's classification."""
    if template_id is not None:
        for t in policy.templates:
            if t.id == template_id:
                return t
        raise TemplateNotFound(
            f"no template {template_id!r} in replies.yaml; have: "
            f"{', '.join(t.id for t in policy.templates) or 'none'}"
        )
    best: tuple[int, AnswerTemplate] | None = None
    for t in policy.templates:
        if t.interim != interim:
            continue
        if (
            (t.category and t.category != category)
            or (t.subcategory and t.subcategory != subcategory)
            or (t.fact and t.fact != fact)
        ):
            continue
        score = (t.category is not None) + 2 * (t.subcategory is not None) + 4 * (t.fact is not None)
        if best is None or score > best[0]:
            best = (score, t)
    if best is None:
        raise TemplateNotFound(f"no {'interim ' if interim else ''}template fits category {category!r}")
    return best[1]


def render(text: str, values: dict[str, Any]) -> str:
    out = _ENV.from_string(text).render(**values)
    return " ".join(out.split())


def placeholders(
    *,
    incident: Any,
    body_name: str | None,
    deadline: datetime | None,
    tz: str,
    municipality_name: str | None = None,
    author: str | None = None,
) -> dict[str, Any]:
    local = deadline.astimezone(ZoneInfo(tz)) if deadline else None
    return {
        "incident_id": incident.id,
        "title": incident.title,
        "category": incident.category,
        "address": incident.address or "",
        "municipality": municipality_name or "",
        "body": body_name or "",
        "deadline": local.strftime("%d.%m.%Y") if local else "",
        "author": author or "",
    }
