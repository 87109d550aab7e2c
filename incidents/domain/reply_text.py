"""What a reply may say: names in the right case, no promise of a date that is over, and a
template that fits the incident (issue 18).

- Names. A template writes `{{ body|accs }}` (or gent, datv, ablt, loct) for the case it needs;
  `в {{ body }}` / `на {{ body }}` (and the same with `{{ municipality }}`) is read as the
  accusative, the case of «передано в …», so the templates regions already have read right.
  The inflection itself (pymorphy3) is injected by the caller: the domain does not load
  dictionaries.
- Dates. `{{ until_deadline }}` is «до 03.12.2026» when the date is still ahead and «в ближайшее
  время» when no future date can be promised; `до {{ deadline }}` in a template is read as
  `{{ until_deadline }}`, so an old template cannot promise a date that has passed.
- Fit. A template declares the categories it fits (`category` or `categories`); one that
  declares none fits all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from core.config import AnswerTemplate

Inflect = Callable[[str, str], str]
CASE_FILTERS = ("gent", "datv", "accs", "ablt", "loct")
SOON = "в ближайшее время"

_PREP = re.compile(r"(?<![А-Яа-яЁё])(в|во|на)(\s+)\{\{\s*(body|municipality)\s*\}\}", re.IGNORECASE)
_UNTIL = re.compile(r"(?<![А-Яа-яЁё])до\s+\{\{\s*deadline\s*\}\}")


def with_cases(text: str) -> str:
    """The template's source with the preposition rules applied (see the module's docstring)."""
    text = _PREP.sub(lambda m: f"{m.group(1)}{m.group(2)}{{{{ {m.group(3)}|accs }}}}", text)
    return _UNTIL.sub("{{ until_deadline }}", text)


def is_over(deadline: datetime, now: datetime) -> bool:
    """The date has passed (SQLite gives naive UTC datetimes back; the clock is aware)."""
    if deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return deadline <= now


def fit_categories(t: AnswerTemplate) -> set[str]:
    """The categories a template declares it fits; empty: it fits every category."""
    out = set(t.categories or ())
    if t.category:
        out.add(t.category)
    return out


def fits(t: AnswerTemplate, category: str | None) -> bool:
    cats = fit_categories(t)
    return not cats or category in cats
