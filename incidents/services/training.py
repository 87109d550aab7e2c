"""`incidents train LABELS.jsonl […]`: train the model that signals.yaml → model combines with the rules.

Each labels file needs its `posts.jsonl` beside it (the format of `incidents evaluate`). The
rules run on every post first (no database, no NER); the model learns from their findings and
the text (`pipelines/model.py`): complaint / not a complaint on every post where a rule fired,
the category on the gold complaints. `--appeals CSV` adds, for the category only, the
feedback-platform appeals whose platform category maps to exactly one of our codes
(`incidents.domain.taxonomy.POS_CATEGORIES`; read in place, nothing is copied).

`--cv K` first scores the rules alone against rules + model on K folds of the labelled posts
(a thread — a post and the comments under it — stays in one fold): complaint precision,
recall and F1 over all posts, category accuracy over the gold complaints in the region — the
figures `incidents evaluate` reports, on posts the model did not see.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def labelled_examples(builder: Any, labels: Path) -> list[dict[str, Any]]:
    """The rules' signal, the model's example and the gold label of every labelled post."""
    from incidents.core.interchange import post_from_dict
    from incidents.domain.evaluate import load_labels
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
    from incidents.core.records import PostRecord
    from incidents.core.tabular import read_csv
    from incidents.domain.taxonomy import POS_CATEGORIES
    from pipelines.model import example

    xs, ys = [], []
    for i, row in enumerate(read_csv(path)):
        pc = POS_CATEGORIES.get((row.get("category_code") or "").strip())
        if pc is None or len(pc.codes) != 1:
            continue
        post = PostRecord(
            network="pos",
            external_id=f"appeal-{row.get('id') or i}",
            source_id="appeals",
            text=row.get("text") or "",
            created_at=_EPOCH,
        )
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
    ky = [
        it["gold"].category
        for it in items
        if it["sig"].rules and it["gold"].is_complaint and it["gold"].category
    ]
    return cx, cy, kx, ky


def _scores(
    items: list[dict[str, Any]], complaint: list[bool], category: list[str | None]
) -> dict[str, float]:
    from incidents.domain.evaluate import prf

    tp = sum(1 for it, c in zip(items, complaint, strict=True) if c and it["gold"].is_complaint)
    fp = sum(1 for it, c in zip(items, complaint, strict=True) if c and not it["gold"].is_complaint)
    fn = sum(1 for it, c in zip(items, complaint, strict=True) if not c and it["gold"].is_complaint)
    p, r, f = prf(tp, fp, fn)
    cat = [
        (k, it["gold"].category)
        for it, k in zip(items, category, strict=True)
        if it["gold"].is_complaint and it["gold"].in_region and it["gold"].category
    ]
    acc = sum(1 for k, g in cat if k == g) / len(cat) if cat else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f, 4),
        "category_accuracy": round(acc, 4),
        "category_n": len(cat),
    }


def cross_validate(
    items: list[dict[str, Any]],
    k: int,
    extra: tuple[list[Any], list[str]],
    *,
    c: float,
    threshold: float,
    seed: int = 7,
) -> dict[str, dict[str, float]]:
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


def fit_and_save(
    items: list[dict[str, Any]],
    output: str | Path,
    meta: dict[str, Any],
    *,
    c: float = 4.0,
    extra: tuple[list[Any], list[str]] = ([], []),
    category: bool = True,
) -> Path:
    """Fit the classifiers on the labelled examples (`extra`: more examples for the category
    only; `category=False`: the complaint classifier only) and save the model with `meta`;
    deterministic: the same examples give the same model."""
    from pipelines.model import fit

    cx, cy, kx, ky = _split(items)
    model = fit(cx, cy, kx + extra[0], ky + extra[1], c=c, category=category)
    model.meta.update(meta)
    return model.save(output)


def train_to(
    builder: Any,
    labels: list[str],
    output: str | Path,
    *,
    c: float = 4.0,
    fingerprint: str | None = None,
    category: bool = True,
) -> Path:
    """What `incidents train LABELS… -o PATH` does without cross-validation, with a rules-only
    builder: signals.yaml → model.train calls it on first use (without the category classifier
    when `model.category` is off: nothing would ask it)."""
    items: list[dict[str, Any]] = []
    for name in labels:
        items.extend(labelled_examples(builder, Path(name)))
    return fit_and_save(
        items,
        output,
        {"labels": [str(p) for p in labels], "appeals": None, "fingerprint": fingerprint},
        c=c,
        category=category,
    )


def ensure_model(cfg: Any) -> None:
    """signals.yaml → model.train: on first use (a fresh clone), or when the labels or rules
    changed since the file was written, train the model from the team's labelled files into
    `model.path` (seeded and deterministic, ≈20 s). Without scikit-learn (the `ml` extra) or
    the files, nothing is trained and the rules decide alone."""
    import logging

    from pipelines import model as _model
    from pipelines.signals import SignalBuilder, training_fingerprint

    log = logging.getLogger("incidents.training")
    policy = cfg.signals.model
    if policy is None or not policy.train:
        return
    path = cfg.project_path(policy.path)  # never the working directory (F3)
    fingerprint = training_fingerprint(cfg, policy.train)
    if path.is_file():
        try:
            if _model.load(path).meta.get("fingerprint") == fingerprint:
                return
        except Exception as exc:  # noqa: BLE001 - an unreadable file is trained again
            log.warning("signals.yaml → model.path %s: cannot load it (%s); training it again", path, exc)
    labels = [str(cfg.project_path(name)) for name in policy.train]
    missing = [name for name in labels if not Path(name).is_file()]
    if missing:
        log.warning(
            "signals.yaml → model.train: %s not found; deciding by the rules alone", ", ".join(missing)
        )
        return
    try:
        import sklearn  # noqa: F401
    except ImportError:
        log.warning("signals.yaml → model: scikit-learn is not installed (the `ml` extra); rules alone")
        return
    log.info(
        "signals.yaml → model: %s absent or trained from other rules or labels, training it from %s",
        path,
        ", ".join(labels),
    )
    train_to(
        SignalBuilder(cfg, use_ner=False, use_model=False),
        labels,
        path,
        fingerprint=fingerprint,
        category=policy.category,
    )


def signal_builder(cfg: Any, **options: Any) -> Any:
    """The signal stage of `cfg`, with its model trained first if it is due (see `ensure_model`):
    how every service and command builds it, so that the stage itself never trains."""
    from pipelines.signals import SignalBuilder

    use_model = options.get("use_model")
    if use_model is None:  # INCIDENTS_SIGNALS_MODEL=off: rules alone whatever signals.yaml says (tests)
        use_model = os.environ.get("INCIDENTS_SIGNALS_MODEL", "on") != "off"
    if use_model:
        ensure_model(cfg)
    return SignalBuilder(cfg, **options)
