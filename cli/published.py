"""`incidents published ID`: a person says the released answer was published by hand.

An answer counts as given only when a reply was confirmed sent or a person marks it published
(issue 18): with no credentials for a network (a dry run) or when staff post the answer themselves
(a phone call, a reply typed in the platform's own cabinet), this is how the incident becomes
answered and its clocks stop. The controller's or the executor's `publish` permission is checked by
the service, as for sending."""

from __future__ import annotations

import argparse
from typing import Any

from cli.workflow import _act, _by


def cmd_published(ctx: Any, args: argparse.Namespace) -> int:
    from incidents.services.answered import mark_published

    def go(w: Any, a: Any, s: Any) -> str:
        answer = mark_published(s, a, w.incident(args.id), w.now(), args.note)
        return f"#{args.id}: ответ {answer.id} отмечен опубликованным вручную — инцидент отвечен"

    return _act(ctx, args, go)


def add_commands(sub: Any) -> None:
    s = sub.add_parser(
        "published",
        help="отметить, что утверждённый ответ опубликован вручную (инцидент станет отвеченным)",
    )
    s.add_argument("id", type=int)
    s.add_argument("--note", help="как и где опубликован (например: «ответили в кабинете ПОС»)")
    _by(s)
    s.set_defaults(func=cmd_published)
