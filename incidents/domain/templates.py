"""Answer templates: Jinja2 in a sandbox, chosen by category / subcategory / fact.

The sandbox (`SandboxedEnvironment`) refuses access to Python internals, so a template written
by a region's staff cannot read files or settings; undefined placeholders render empty
(an address that is not known simply does not appear).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Undefined, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from core.config import AnswerTemplate, RepliesPolicy
from incidents.domain.reply_text import CASE_FILTERS, SOON, fits, is_over, with_cases


class TemplateNotFound(LookupError):
    pass


class TemplateMismatch(TemplateNotFound):
    """The template named does not fit the incident's category (refused like an unknown one
    wherever a template is chosen, unless the controller overrides)."""


__all__ = ["TemplateMismatch", "TemplateNotFound", "choose", "is_over", "placeholders", "render"]


_ENV = SandboxedEnvironment(autoescape=False, undefined=Undefined, keep_trailing_newline=False)


def _case_filter(case: str) -> Any:
    @pass_context
    def apply(ctx: Context, value: Any) -> str:
        """`{{ body|accs }}`: the name in that case, by the inflector the caller passed (as written without one)."""
        inflect = ctx.get("_inflect")
        text = str(value or "")
        return inflect(text, case) if inflect and text else text

    return apply


for _case in CASE_FILTERS:
    _ENV.filters[_case] = _case_filter(_case)


def choose(
    policy: RepliesPolicy,
    *,
    template_id: str | None = None,
    category: str | None = None,
    subcategory: str | None = None,
    fact: str | None = None,
    interim: bool = False,
    override: bool = False,
    category_name: str | None = None,
) -> AnswerTemplate:
    """The template named, or the most specific one for the incident's classification. A named
    template that does not fit the category is refused unless `override` (the controller's
    decision): the README once sent the waste-collection answer to a water incident."""
    if template_id is not None:
        for t in policy.templates:
            if t.id == template_id:
                if not override and category is not None and not fits(t, category):
                    raise TemplateMismatch(
                        f"шаблон {t.id!r} ({t.name or t.id}) не подходит для категории «{category_name or category}»; "
                        "выберите другой или подтвердите выбор (override)"
                    )
                return t
        raise TemplateNotFound(
            f"нет шаблона {template_id!r} в replies.yaml; есть: "
            f"{', '.join(t.id for t in policy.templates) or 'ни одного'}"
        )
    best: tuple[int, AnswerTemplate] | None = None
    for t in policy.templates:
        if t.interim != interim:
            continue
        if (
            not fits(t, category)
            or (t.subcategory and t.subcategory != subcategory)
            or (t.fact and t.fact != fact)
        ):
            continue
        score = bool(t.category or t.categories) + 2 * (t.subcategory is not None) + 4 * (t.fact is not None)
        if best is None or score > best[0]:
            best = (score, t)
    if best is None:
        raise TemplateNotFound(
            f"нет {'промежуточного ' if interim else ''}шаблона ответа для категории «{category_name or category}» (replies.yaml)"
        )
    return best[1]


def render(text: str, values: dict[str, Any], inflect: Any = None) -> str:
    """The template filled in; `inflect(name, case)` puts names in the case the text needs."""
    out = _ENV.from_string(with_cases(text)).render(**values, _inflect=inflect)
    return " ".join(out.split())


def placeholders(
    *,
    incident: Any,
    body_name: str | None,
    deadline: datetime | None,
    tz: str,
    municipality_name: str | None = None,
    author: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The values a template may use; a deadline that is over is not offered (see `until`)."""
    if deadline is not None and now is not None and is_over(deadline, now):
        deadline = None
    local = deadline.astimezone(ZoneInfo(tz)) if deadline else None
    return {
        "incident_id": incident.id,
        "title": incident.title,
        "category": incident.category,
        "address": incident.address or "",
        "municipality": municipality_name or "",
        "body": body_name or "",
        "deadline": local.strftime("%d.%m.%Y") if local else "",
        "until_deadline": f"до {local:%d.%m.%Y}" if local else SOON,
        "author": author or "",
    }
