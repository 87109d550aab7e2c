"""`incidents train LABELS.jsonl […]`: train the model that signals.yaml → model combines with the rules.

Each labels file needs its `posts.jsonl` beside it (the format of `incidents evaluate`). The
rules run on every post first (no database, no NER); the model learns from their findings and
the text (`pipelines/model.py`): complaint / not a complaint on every post where a rule fired,
the category on the gold complaints. `--appeals CSV` adds, for the category only, the
feedback-platform appeals whose platform category maps to exactly one of our codes
(`incidents.routing_eval.POS_CATEGORIES`; read in place, nothing is copied).

`--cv K` first scores the rules alone against rules + model on K folds of the labelled posts
(a thread — a post and the comments under it — stays in one fold): complaint precision,
recall and F1 over all posts, category accuracy over the gold complaints in the region — the
figures `incidents evaluate` reports, on posts the model did not see.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
EXIT_OK, EXIT_USAGE = 0, 2
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def labelled_examples(builder: Any, labels: Path) -> list[dict[str, Any]]:
    """The rules' signal, the model's example and the gold label of every labelled post."""
    from incidents.evaluate import load_labels
    from incidents.interchange import post_from_dict
    from pipelines.model import example

    posts_path = labels.with_name("posts.jsonl")
    if not posts_path.is_file():
        raise FileNotFoundError(f"{posts_path}: no posts.jsonl beside the labels")
    gold = {g.post: g for g in load_labels(labels)}
    places: dict[tuple[str, str], str | None] = {}
    topics: dict[tuple[str, str], str | None] = {}
    out = []
    with posts_path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            post = post_from_dict(json.loads(line))
            thread = places.get((post.network, post.parent_id)) if post.parent_id else None
            topic = topics.get((post.network, post.parent_id)) if post.parent_id else None
            norm = builder.normalize(post.text)
            sig = builder.decide(post, norm, thread_municipality=thread, thread_category=topic, run_ner=False)
            places[(post.network, post.external_id)] = sig.municipality
            topics[(post.network, post.external_id)] = sig.category
            g = gold.get(post.key)
            if g is None:
                continue
            root = f"{labels}:{post.network}:{post.parent_id or post.external_id}"
            out.append({"sig": sig, "ex": example(sig, norm), "gold": g, "group": root})
    return out


def appeal_examples(builder: Any, path: Path) -> tuple[list[Any], list[str]]:
    from incidents.corpus import read_csv
    from incidents.records import PostRecord
    from incidents.routing_eval import POS_CATEGORIES
    from pipelines.model import example

    xs, ys = [], []
    for i, row in enumerate(read_csv(path)):
        pc = POS_CATEGORIES.get((row.get("category_code") or "").strip())
        if pc is None or len(pc.codes) != 1:
            continue
        post = PostRecord(network="pos", external_id=f"appeal-{row.get('id') or i}", source_id="appeals",
                          text=row.get("text") or "", created_at=_EPOCH)
        norm = builder.normalize(post.text)
        sig = builder.decide(post, norm, run_ner=False)
        if not sig.rules:
            continue
        xs.append(example(sig, norm))
        ys.append(next(iter(pc.codes)))
    return xs, ys


def _split(items: list[dict[str, Any]]) -> tuple[list[Any], list[int], list[Any], list[str]]:
    """Complaint training: posts where a rule fired; category: gold complaints in the region."""
    cx = [it["ex"] for it in items if it["sig"].rules]
    cy = [int(it["gold"].is_complaint) for it in items if it["sig"].rules]
    kx = [it["ex"] for it in items if it["sig"].rules and it["gold"].is_complaint and it["gold"].category]
    ky = [it["gold"].category for it in items if it["sig"].rules and it["gold"].is_complaint and it["gold"].category]
    return cx, cy, kx, ky


def _scores(items: list[dict[str, Any]], complaint: list[bool], category: list[str | None]) -> dict[str, float]:
    from incidents.evaluate import prf

    tp = sum(1 for it, c in zip(items, complaint, strict=True) if c and it["gold"].is_complaint)
    fp = sum(1 for it, c in zip(items, complaint, strict=True) if c and not it["gold"].is_complaint)
    fn = sum(1 for it, c in zip(items, complaint, strict=True) if not c and it["gold"].is_complaint)
    p, r, f = prf(tp, fp, fn)
    cat = [(k, it["gold"].category) for it, k in zip(items, category, strict=True)
           if it["gold"].is_complaint and it["gold"].in_region and it["gold"].category]
    acc = sum(1 for k, g in cat if k == g) / len(cat) if cat else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "category_accuracy": round(acc, 4),
            "category_n": len(cat)}


def cross_validate(items: list[dict[str, Any]], k: int, extra: tuple[list[Any], list[str]], *, c: float,
                   threshold: float, seed: int = 7) -> dict[str, dict[str, float]]:
    from sklearn.model_selection import StratifiedGroupKFold

    from pipelines.model import fit

    y = [int(it["gold"].is_complaint) for it in items]
    groups = [it["group"] for it in items]
    comp = [it["sig"].is_complaint for it in items]
    cat = [it["sig"].category for it in items]
    rules_only = _scores(items, comp, cat)
    comb_c, comb_k = list(comp), list(cat)
    folds = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for train_i, test_i in folds.split(items, y, groups):
        cx, cy, kx, ky = _split([items[i] for i in train_i])
        model = fit(cx, cy, kx + extra[0], ky + extra[1], c=c)
        test = [i for i in test_i if items[i]["sig"].rules]
        if not test:
            continue
        exs = [items[i]["ex"] for i in test]
        for i, p, (kc, _) in zip(test, model.complaint_probability(exs), model.categories(exs), strict=True):
            comb_c[i] = p >= threshold
            if any(h.category == kc for h in items[i]["sig"].rules):
                comb_k[i] = kc
    return {"rules": rules_only, "rules+model": _scores(items, comb_c, comb_k)}


def fit_and_save(items: list[dict[str, Any]], output: str | Path, meta: dict[str, Any], *, c: float = 4.0,
                 extra: tuple[list[Any], list[str]] = ([], []), category: bool = True) -> Path:
    """Fit the classifiers on the labelled examples (`extra`: more examples for the category
    only; `category=False`: the complaint classifier only) and save the model with `meta`;
    deterministic: the same examples give the same model."""
    from pipelines.model import fit

    cx, cy, kx, ky = _split(items)
    model = fit(cx, cy, kx + extra[0], ky + extra[1], c=c, category=category)
    model.meta.update(meta)
    return model.save(output)


def train_to(builder: Any, labels: list[str], output: str | Path, *, c: float = 4.0,
             fingerprint: str | None = None, category: bool = True) -> Path:
    """What `incidents train LABELS… -o PATH` does without cross-validation, with a rules-only
    builder: signals.yaml → model.train calls it on first use (without the category classifier
    when `model.category` is off: nothing would ask it)."""
    items: list[dict[str, Any]] = []
    for name in labels:
        items.extend(labelled_examples(builder, Path(name)))
    return fit_and_save(items, output, {"labels": [str(p) for p in labels], "appeals": None,
                                        "fingerprint": fingerprint}, c=c, category=category)


def cmd_train(ctx: Any, args: argparse.Namespace) -> int:
    from pipelines.model import DEFAULT_PATH
    from pipelines.signals import SignalBuilder

    builder = SignalBuilder(ctx.cfg, use_ner=False, use_model=False)
    items: list[dict[str, Any]] = []
    for name in args.labels:
        path = Path(name)
        if not path.is_file():
            err.print(f"[red]{path}: файл не найден[/]")
            return EXIT_USAGE
        items.extend(labelled_examples(builder, path))
    extra: tuple[list[Any], list[str]] = ([], [])
    if args.appeals:
        extra = appeal_examples(builder, Path(args.appeals))
    out: dict[str, Any] = {"posts": len(items), "candidates": sum(1 for it in items if it["sig"].rules),
                           "appeals_for_category": len(extra[1])}
    if args.cv:
        out["cv"] = cross_validate(items, args.cv, extra, c=args.c, threshold=args.threshold)
    target = fit_and_save(items, args.output or DEFAULT_PATH,
                          {"labels": [str(p) for p in args.labels], "appeals": args.appeals}, c=args.c, extra=extra)
    out["model"] = str(target)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return EXIT_OK
    console.print(f"Постов: {out['posts']}, из них кандидатов (сработало правило): {out['candidates']}; "
                  f"обращений ПОС для категории: {out['appeals_for_category']}")
    if "cv" in out:
        t = Table(title=f"Кросс-валидация, {args.cv} частей (ветка обсуждения — в одной части)", title_justify="left")
        for col in ("", "точность", "полнота", "F1", "категория"):
            t.add_column(col)
        for name, s in out["cv"].items():
            t.add_row(name, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}",
                      f"{s['category_accuracy']:.3f} (n={s['category_n']})")
        console.print(t)
    console.print(f"Модель: {target} — подключается в signals.yaml: model: {{path: {target}}}")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    p = sub.add_parser("train", help="обучить модель (scikit-learn), которая решает вместе с правилами")
    p.add_argument("labels", nargs="+", metavar="LABELS.jsonl", help="разметка; posts.jsonl рядом")
    p.add_argument("-o", "--output", metavar="PATH", help="куда сохранить модель (по умолчанию var/models/signals.pkl)")
    p.add_argument("--cv", type=int, metavar="K", help="сначала сравнить правила и правила+модель на K частях")
    p.add_argument("--appeals", metavar="CSV", help="обращения ПОС (kursk_appeals_train.csv) для обучения категории")
    p.add_argument("--c", type=float, default=4.0, help="регуляризация логистической регрессии (C)")
    p.add_argument("--threshold", type=float, default=0.5, help="вероятность, с которой модель говорит «жалоба»")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_train)
