"""`incidents train LABELS.jsonl […]`: train the model that signals.yaml → model combines with the rules."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from cli.context import EXIT_OK, EXIT_USAGE, Context, console, err


def cmd_train(ctx: Context, args: argparse.Namespace) -> int:
    from incidents.services.training import (
        appeal_rows,
        cross_validate,
        fit_and_save,
        labelled_examples,
        negative_examples,
    )
    from pipelines.signals import SignalBuilder, model_path

    builder = SignalBuilder(ctx.cfg, use_ner=False, use_model=False)
    items: list[dict[str, Any]] = []
    for name in args.labels:
        path = Path(name)
        if not path.is_file():
            err.print(f"[red]{path}: файл не найден[/]")
            return EXIT_USAGE
        items.extend(labelled_examples(builder, path))
    appeals: tuple[list[Any], list[str | None]] = ([], [])
    if args.appeals:
        appeals = appeal_rows(builder, Path(args.appeals))
    policy = ctx.cfg.signals.model
    negatives = negative_examples(builder, list(policy.negatives)) if policy and not args.no_negatives else []
    mapped = ([x for x, c in zip(*appeals, strict=True) if c], [c for c in appeals[1] if c])
    out: dict[str, Any] = {
        "posts": len(items),
        "candidates": sum(1 for it in items if it["sig"].rules),
        "appeals_for_category": len(mapped[1]),
        "negatives": len(negatives),
    }
    if args.cv:
        out["cv"] = cross_validate(
            items,
            args.cv,
            mapped,
            c=args.c,
            threshold=args.threshold,
            negatives=negatives,
            builder=builder if ctx.cfg.signals.model is not None else None,
        )
    target = fit_and_save(
        items,
        args.output or model_path(ctx.cfg),
        {"labels": [str(p) for p in args.labels], "appeals": args.appeals},
        c=args.c,
        negatives=negatives,
        appeals=appeals,
    )
    out["model"] = str(target)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return EXIT_OK
    console.print(
        f"Постов: {out['posts']}, из них кандидатов (сработало правило): {out['candidates']}; "
        f"обращений ПОС для категории: {out['appeals_for_category']}"
    )
    if "cv" in out:
        t = Table(
            title=f"Кросс-валидация, {args.cv} частей (ветка обсуждения — в одной части)",
            title_justify="left",
        )
        for col in ("", "точность", "полнота", "F1", "категория"):
            t.add_column(col)
        for name, s in out["cv"].items():
            t.add_row(
                name,
                f"{s['precision']:.3f}",
                f"{s['recall']:.3f}",
                f"{s['f1']:.3f}",
                f"{s['category_accuracy']:.3f} (n={s['category_n']})",
            )
        console.print(t)
    console.print(f"Модель: {target} — подключается в signals.yaml: model: {{path: {target}}}")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    p = sub.add_parser("train", help="обучить модель (scikit-learn), которая решает вместе с правилами")
    p.add_argument("labels", nargs="+", metavar="LABELS.jsonl", help="разметка; posts.jsonl рядом")
    p.add_argument(
        "-o", "--output", metavar="PATH", help="куда сохранить модель (по умолчанию var/models/signals.pkl)"
    )
    p.add_argument(
        "--cv", type=int, metavar="K", help="сначала сравнить правила и правила+модель на K частях"
    )
    p.add_argument(
        "--appeals",
        metavar="CSV",
        help="история обращений региона (CSV: text, topic/reason): жалобы и их категории",
    )
    p.add_argument(
        "--no-negatives",
        action="store_true",
        help="без отрицательных примеров языка (signals.yaml → model.negatives, CEDR)",
    )
    p.add_argument("--c", type=float, default=4.0, help="регуляризация логистической регрессии (C)")
    p.add_argument(
        "--threshold", type=float, default=0.5, help="вероятность, с которой модель говорит «жалоба»"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_train)
