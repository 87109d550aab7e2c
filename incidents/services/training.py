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
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def labelled_examples(builder: Any, labels: Path) -> list[dict[str, Any]]:
    """The rules' signal, the model's example and the gold label of every labelled post."""
    from core.interchange import post_from_dict
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
            out.append({"sig": sig, "ex": example(sig, norm), "norm": norm, "gold": g, "group": root})
    return out


def _row_example(builder: Any, network: str, ident: str, text: str) -> Any:
    from core.records import PostRecord
    from pipelines.model import example

    post = PostRecord(network=network, external_id=ident, source_id="training", text=text, created_at=_EPOCH)
    norm = builder.normalize(post.text)
    return example(builder.decide(post, norm, run_ner=False, run_model=False), norm)


_CACHE: dict[tuple[Any, ...], list[Any]] = {}


def negative_examples(builder: Any, paths: list[str], limit: int | None = None) -> list[Any]:
    """Everyday sentences that are not complaints (CSV with a `text` column: the CEDR
    sentences of config/language/ru), as the model's examples; kept per process."""
    from core.tabular import read_csv

    out: list[Any] = []
    for name in paths:
        path = Path(name)
        if not path.is_file():
            continue
        key = (str(path.resolve()), path.stat().st_mtime_ns, id(builder.cfg.rubricator), limit)
        if key not in _CACHE:
            rows = [r.get("text") or "" for r in read_csv(path)]
            rows = [t for t in rows if t.strip()][:limit]
            _CACHE[key] = [_row_example(builder, "vk", f"neg-{i}", t) for i, t in enumerate(rows)]
        out.extend(_CACHE[key])
    return out


def appeal_rows(builder: Any, path: Path, limit: int | None = None) -> tuple[list[Any], list[str | None]]:
    """Every row of an appeal history (each one a complaint) and its code
    (`incidents.domain.taxonomy.appeal_category`; None where it maps to none or several)."""
    import random

    from core.tabular import read_csv
    from incidents.domain.taxonomy import appeal_category

    rows = [r for r in read_csv(path) if (r.get("text") or "").strip()]
    if limit and limit < len(rows):
        rows = random.Random(7).sample(rows, limit)
    xs = [_row_example(builder, "pos", f"appeal-{r.get('id') or i}", r["text"]) for i, r in enumerate(rows)]
    return xs, [appeal_category(r) for r in rows]


def appeal_examples(builder: Any, path: Path) -> tuple[list[Any], list[str]]:
    """The appeals whose topic (or platform category) maps to one of our codes, for the category."""
    xs, cats = appeal_rows(builder, path)
    keep = [(x, c) for x, c in zip(xs, cats, strict=True) if c]
    return [x for x, _ in keep], [c for _, c in keep]


def _split(items: list[dict[str, Any]]) -> tuple[list[Any], list[int], list[Any], list[str]]:
    """Complaint training: every labelled post; category: the gold complaints with a category."""
    cx = [it["ex"] for it in items]
    cy = [int(it["gold"].is_complaint) for it in items]
    kx = [it["ex"] for it in items if it["gold"].is_complaint and it["gold"].category]
    ky = [it["gold"].category for it in items if it["gold"].is_complaint and it["gold"].category]
    return cx, cy, kx, ky


def training_set(
    items: list[dict[str, Any]],
    negatives: list[Any] | None,
    appeals: tuple[list[Any], list[str | None]] = ([], []),
    extra: tuple[list[Any], list[str]] = ([], []),
    *,
    negatives_share: float = 2.0,
    appeals_share: float = 1.0,
) -> dict[str, Any]:
    """The examples, labels and weights of both classifiers. The negatives (thousands of
    everyday sentences) weigh together `negatives_share` × the labelled non-complaints, the
    appeals `appeals_share` × the labelled complaints (at least 1 each): no source drowns the
    posts the team labelled."""
    cx, cy, kx, ky = _split(items)
    w = [1.0] * len(cx)
    n_neg = max(1, cy.count(0))
    n_pos = max(1, cy.count(1))
    if negatives:
        wn = min(1.0, negatives_share * n_neg / len(negatives))
        cx, cy, w = cx + list(negatives), cy + [0] * len(negatives), w + [wn] * len(negatives)
    ax, ac = appeals
    if ax:
        wa = max(1.0, appeals_share * n_pos / len(ax))
        cx, cy, w = cx + list(ax), cy + [1] * len(ax), w + [wa] * len(ax)
        kx = kx + [x for x, c in zip(ax, ac, strict=True) if c]
        ky = ky + [c for c in ac if c]
    return {"cx": cx, "cy": cy, "w": w, "kx": kx + list(extra[0]), "ky": ky + list(extra[1])}


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
    negatives: list[Any] | None = None,
    builder: Any = None,
) -> dict[str, dict[str, float]]:
    """`builder` (a rules-only SignalBuilder of the region): each fold's model decides as the
    signal stage does (`SignalBuilder._apply_model`: the platform's prior, the topic where the
    rules are silent, signals.yaml → model); without it, p ≥ `threshold` and the category
    classifier where a rule points to its category."""
    import copy

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
        t = training_set([items[i] for i in train_i], negatives, extra=extra)
        model = fit(t["cx"], t["cy"], t["kx"], t["ky"], c=c, complaint_w=t["w"])
        test = list(test_i)
        if builder is not None:
            builder.model = model
            sigs = [copy.deepcopy(items[i]["sig"]) for i in test]
            norms = [items[i]["norm"] for i in test]
            asked = [
                j for j, (sg, n) in enumerate(zip(sigs, norms, strict=True)) if builder._model_asked(sg, n)
            ]
            if asked:
                builder._apply_model([sigs[j] for j in asked], [norms[j] for j in asked])
            for i, sg in zip(test, sigs, strict=True):
                comb_c[i], comb_k[i] = sg.is_complaint, sg.category
            builder.model = None
            continue
        exs = [items[i]["ex"] for i in test]
        for i, p, (kc, _) in zip(test, model.complaint_probability(exs), model.categories(exs), strict=True):
            comb_c[i] = p >= threshold
            if not items[i]["sig"].rules or any(h.category == kc for h in items[i]["sig"].rules):
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
    negatives: list[Any] | None = None,
    appeals: tuple[list[Any], list[str | None]] = ([], []),
) -> Path:
    """Fit the classifiers on the labelled examples, the negatives and the appeals (see
    `training_set`; `extra`: more examples for the category only; `category=False`: no
    classifier overrules the rules' category) and save the model with `meta`; deterministic:
    the same examples give the same model."""
    from pipelines.model import fit

    t = training_set(items, negatives or [], appeals, extra)
    model = fit(t["cx"], t["cy"], t["kx"], t["ky"], c=c, category=category, complaint_w=t["w"])
    model.meta.update(meta)
    model.meta.update({"negatives_n": len(negatives or []), "appeals_n": len(appeals[0])})
    return model.save(output)


def train_to(
    builder: Any,
    labels: list[str],
    output: str | Path,
    *,
    c: float = 4.0,
    fingerprint: str | None = None,
    category: bool = True,
    negatives: Sequence[str] = (),
    appeals: Path | None = None,
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
        {
            "labels": [str(p) for p in labels],
            "appeals": str(appeals) if appeals else None,
            "fingerprint": fingerprint,
            "kind": "regional" if appeals else "shipped",
        },
        c=c,
        category=category,
        negatives=negative_examples(builder, list(negatives)),
        appeals=appeal_rows(builder, appeals) if appeals else ([], []),
    )


def ensure_model(cfg: Any) -> None:
    """signals.yaml → model.train: on first use (a fresh clone), or when the labels or rules
    changed since the file was written, train the model from the team's labelled files into
    `model.path` (seeded and deterministic, ≈20 s). Without scikit-learn (the `ml` extra) or
    the files, nothing is trained and the rules decide alone."""
    import logging

    from pipelines import model as _model
    from pipelines.signals import SignalBuilder, appeals_path, model_path, training_fingerprint

    log = logging.getLogger("incidents.training")
    policy = cfg.signals.model
    if policy is None or not policy.train:
        return
    path = model_path(cfg)  # never relative to the working directory (F3)
    fingerprint = training_fingerprint(cfg, policy.train)
    if path.is_file():
        try:
            found = _model.load(path).meta.get("fingerprint")
            if found == fingerprint or found is None:  # None: written by `incidents train` by hand
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
    appeals = appeals_path(cfg)
    if appeals is not None and not appeals.is_file():
        log.info("signals.yaml → model.appeals %s not found: the shipped model", appeals)
        appeals = None
    train_to(
        SignalBuilder(cfg, use_ner=False, use_model=False),
        labels,
        path,
        fingerprint=fingerprint,
        category=policy.category,
        negatives=[str(cfg.project_path(name)) for name in policy.negatives],
        appeals=appeals,
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
