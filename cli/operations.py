"""`incidents merge`, `incidents split`, `incidents move`: the administrator's corrections.

Wired into the main parser by `add_commands(subparsers)`; conventions of `cli/main.py`
(`cmd(ctx, args) -> exit code`; 0 ok, 1 failed, 2 bad usage). Every command needs `--by`
(who) and `--reason` (why): both go into the incidents' history. Nothing heavy is imported
at module import time.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

console = Console(stderr=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _now() -> datetime:
    return datetime.now(UTC)


def _run(ctx: Any, op: str, **kw: Any) -> int:
    from sqlmodel import Session

    from incidents.services import operations

    funcs: dict[str, Callable[..., operations.OperationResult]] = {
        "merge": operations.merge_incidents,
        "split": operations.split_incident,
        "move": operations.move_post,
    }
    func = funcs[op]
    try:
        with Session(ctx.engine) as session, session.begin():
            result = func(session, ctx.cfg, now=_now(), **kw)
    except operations.OperationError as exc:
        err.print(f"[red]{exc}[/]")
        return EXIT_USAGE
    words = {"merge": "объединено в", "split": "выделено в новый инцидент", "move": "перенесено в"}[op]
    console.print(
        f"{words} #{result.incident_id}: постов {len(result.posts)}; "
        f"затронуты инциденты {', '.join(f'#{i}' for i in result.touched)}"
    )
    return EXIT_OK


def cmd_merge(ctx: Any, args: argparse.Namespace) -> int:
    return _run(ctx, "merge", target_id=args.target, source_ids=args.others, by=args.by, reason=args.reason)


def cmd_split(ctx: Any, args: argparse.Namespace) -> int:
    return _run(ctx, "split", incident_id=args.id, post_keys=args.post, by=args.by, reason=args.reason)


def cmd_move(ctx: Any, args: argparse.Namespace) -> int:
    return _run(ctx, "move", post_key=args.post, to_id=args.to, by=args.by, reason=args.reason)


def _who_why(p: argparse.ArgumentParser) -> None:
    p.add_argument("--by", required=True, metavar="USER", help="кто выполняет операцию (в историю)")
    p.add_argument("--reason", required=True, help="почему (в историю инцидента)")


def add_commands(sub: Any) -> None:
    s = sub.add_parser("merge", help="объединить инциденты: посты B… переходят в A, история сохраняется")
    s.add_argument("target", type=int, metavar="A", help="инцидент, который остаётся")
    s.add_argument("others", type=int, nargs="+", metavar="B", help="инциденты, которые присоединяются к A")
    _who_why(s)
    s.set_defaults(func=cmd_merge)

    s = sub.add_parser("split", help="выделить посты инцидента в новый инцидент")
    s.add_argument("id", type=int, help="инцидент, из которого выделить")
    s.add_argument(
        "--post",
        action="append",
        required=True,
        metavar="NETWORK:EXTERNAL_ID",
        help="пост, который выделить (можно несколько раз)",
    )
    _who_why(s)
    s.set_defaults(func=cmd_split)

    s = sub.add_parser("move", help="перенести пост в другой инцидент")
    s.add_argument("post", metavar="NETWORK:EXTERNAL_ID")
    s.add_argument("--to", type=int, required=True, metavar="ID", help="инцидент, в который перенести")
    _who_why(s)
    s.set_defaults(func=cmd_move)
