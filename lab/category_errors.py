"""Category confusions of real appeals on the development part (issue 22, docs/quality.md).

    python -m lab.category_errors [--n 500] [--dump FILE.jsonl]

Scores the shipped model (as `lab.signals_cross` builds it) with the rules on the development
part of both appeal files (`--split dev` only: the held-back 20 % is never read here) and
tabulates every wrong category by (gold code → predicted code) and by what decided it:

* **strong rule** — the rules named the category with at least one strong rule's weight and no
  rival nearly as heavy (the model could not overrule them);
* **unsure rule** — the rules named it lightly or against a close rival (`rules_unsure`);
* **topic model** — no rule fired; the text-only topic classifier named it;
* **missed** — not flagged or no category at all.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path
from typing import Any

from lab.signals_cross import KURSK, ROOT, SPB, _split


def cause(sig: Any) -> str:
    from pipelines.model_decision import rules_unsure

    if not sig.is_complaint or sig.category is None:
        return "missed"
    if not sig.rules:
        return "topic model"
    return "unsure rule" if rules_unsure(sig) else "strong rule"


def shipped_model(builder: Any, appeals: list[dict[str, str]] | None = None) -> Any:
    """The shipped model as `incidents train` fits it; with `appeals`, the regional one (their
    topics mapped through the taxonomy train the topic classifier too)."""
    from incidents.domain.taxonomy import appeal_category
    from incidents.services.training import _row_example, labelled_examples, negative_examples, training_set
    from pipelines.model import fit

    mp = builder.cfg.signals.model
    items: list[dict[str, Any]] = []
    for name in mp.train:
        items.extend(labelled_examples(builder, ROOT / name))
    negs = negative_examples(builder, [str(ROOT / n) for n in mp.negatives])
    rows = appeals or []
    ax = [_row_example(builder, "pos", f"a{i}", r["text"]) for i, r in enumerate(rows)]
    t = training_set(items, negs, (ax, [appeal_category(r) for r in rows]))
    return fit(t["cx"], t["cy"], t["kx"], t["ky"], category=False, complaint_w=t["w"])


def over_table(args: Any, kb: Any, sb: Any, data: Path) -> None:
    """Category on both development parts for each `model.topic_over_unsure`, with the shipped
    model and the regional ones (fitted on other rows of the development part: one city's, or
    the other city's)."""
    k_dev, k_tr = _split(data / "kursk_appeals_train.csv", args.n, args.train_n, False, seed=3)
    s_dev, s_tr = _split(data / "spb_appeals_2020.csv.gz", args.n, args.train_n, False, seed=5)
    models = {
        "shipped": shipped_model(kb),
        "+kursk (other rows)": shipped_model(kb, k_tr),
        "+spb (other rows)": shipped_model(kb, s_tr),
    }
    for over in [float(x) for x in args.over.split(",")]:
        for b in (kb, sb):
            object.__setattr__(b.policy.model, "topic_over_unsure", over)
        for mname, m in models.items():
            k = score_rows(kb, m, k_dev)
            sp = score_rows(sb, m, s_dev)
            ka, sa = sum(r["ok"] for r in k) / len(k), sum(r["ok"] for r in sp) / len(sp)
            print(f"over {over}: {mname}: kursk {ka:.3f} spb {sa:.3f}")


def score_rows(builder: Any, model: Any, rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    from core.records import PostRecord
    from incidents.domain.taxonomy import appeal_accepts, appeal_category
    from lab.signals_cross import _EPOCH

    builder.model = model
    posts = [
        PostRecord(network="pos", external_id=str(i), source_id="eval", text=r["text"], created_at=_EPOCH)
        for i, r in enumerate(rows)
    ]
    out = []
    for s, r in zip(builder.many(posts), rows, strict=True):
        acc = appeal_accepts(r)
        w: dict[str, float] = collections.defaultdict(float)
        for h in s.rules:
            w[h.category] += h.weight
        out.append(
            {
                "id": r.get("id"),
                "topic": r.get("topic") or r.get("reason"),
                "gold": appeal_category(r),
                "accepts": sorted(acc),
                "pred": s.category,
                "ok": s.category in acc,
                "cause": cause(s),
                "rules": {k: round(v, 2) for k, v in sorted(w.items(), key=lambda kv: -kv[1])},
                "hits": [f"{h.category}.{h.subcategory}:{h.weight}" for h in s.rules][:6],
                "text": r["text"][:300],
            }
        )
    builder.model = None
    return out


def table(rows: list[dict[str, Any]], top: int = 25) -> list[tuple[str, str, str, int, str]]:
    c: collections.Counter[tuple[str, str, str]] = collections.Counter()
    topics: dict[tuple[str, str, str], collections.Counter[str]] = collections.defaultdict(
        collections.Counter
    )
    for r in rows:
        if r["ok"] or not r["accepts"]:
            continue
        k = (r["gold"] or "?", r["pred"] or "—", r["cause"])
        c[k] += 1
        topics[k][(r["topic"] or "")[:50]] += 1
    return [
        (g, p, why, n, "; ".join(t for t, _ in topics[(g, p, why)].most_common(2)))
        for (g, p, why), n in c.most_common(top)
    ]


def labels_table(labels: Path, config: Path, over: float | None = None) -> list[dict[str, Any]]:
    """The same causes on a labelled set (gold complaints in the region with a category), with the
    region's default model (trained on first use, as `incidents evaluate` does)."""
    from core.config import load_region
    from incidents.services.training import labelled_examples, signal_builder

    b = signal_builder(load_region(config), use_ner=False)
    if over is not None and b.policy.model is not None:
        object.__setattr__(b.policy.model, "topic_over_unsure", over)
    out = []
    for it in labelled_examples(b, labels):
        g, sig = it["gold"], it["sig"]
        if not (g.is_complaint and g.in_region and g.category):
            continue
        w: dict[str, float] = collections.defaultdict(float)
        for h in sig.rules:
            w[h.category] += h.weight
        out.append(
            {
                "id": it["group"].rsplit(":", 1)[-1],
                "topic": "",
                "gold": g.category,
                "accepts": [g.category],
                "pred": sig.category,
                "ok": sig.category == g.category,
                "cause": cause(sig),
                "rules": {k: round(v, 2) for k, v in sorted(w.items(), key=lambda kv: -kv[1])},
                "hits": [f"{h.category}.{h.subcategory}:{h.weight}" for h in sig.rules][:6],
                "text": it["norm"].text[:300],
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    from core.config import load_region
    from pipelines.signals import SignalBuilder

    ap = argparse.ArgumentParser(prog="python -m lab.category_errors")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--dump", default="")
    ap.add_argument("--train-n", type=int, default=1000)
    ap.add_argument("--labels", default="", help="comma-separated labels files (spent sets, dev_kursk)")
    ap.add_argument("--over", default="", help="e.g. 1,0.7,0.5: model.topic_over_unsure to compare")
    args = ap.parse_args(argv)
    data = Path(args.data)
    kb = SignalBuilder(load_region(KURSK), use_ner=False, use_model=False)
    sb = SignalBuilder(load_region(SPB), use_ner=False, use_model=False)
    if args.labels and args.over:
        for name in args.labels.split(","):
            cfg = ROOT / "config" / "regions" / ("orel" if "orel" in name else "kursk")
            for over in [float(x) for x in args.over.split(",")]:
                scored = labels_table(ROOT / name, cfg, over)
                ok = sum(r["ok"] for r in scored)
                print(f"over {over}: {name}: {ok}/{len(scored)} = {ok / max(1, len(scored)):.3f}")
        return 0
    if args.labels:
        dump: list[dict[str, Any]] = []
        for name in args.labels.split(","):
            lab_path = ROOT / name
            cfg = ROOT / "config" / "regions" / ("orel" if "orel" in name else "kursk")
            scored = labels_table(lab_path, cfg)
            ok = sum(r["ok"] for r in scored)
            by = collections.Counter(r["cause"] for r in scored if not r["ok"])
            print(
                f"## {name}: category {ok}/{len(scored)} = {ok / max(1, len(scored)):.3f}; wrong by cause {dict(by)}"
            )
            for row in table(scored):
                print(" | ".join(str(x) for x in row))
            dump.extend({"set": name, **r} for r in scored)
        if args.dump:
            with open(args.dump, "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in dump)
        return 0
    if args.over:
        over_table(args, kb, sb, data)
        return 0
    model = shipped_model(kb)
    k_dev, _ = _split(data / "kursk_appeals_train.csv", args.n, 0, False, seed=3)
    s_dev, _ = _split(data / "spb_appeals_2020.csv.gz", args.n, 0, False, seed=5)
    dump = []
    for name, b, rows in (("kursk", kb, k_dev), ("spb", sb, s_dev)):
        scored = score_rows(b, model, rows)
        ok = sum(r["ok"] for r in scored)
        by = collections.Counter(r["cause"] for r in scored if not r["ok"] and r["accepts"])
        print(f"## {name}: category {ok}/{len(scored)} = {ok / len(scored):.3f}; wrong by cause {dict(by)}")
        for row in table(scored):
            print(" | ".join(str(x) for x in row))
        dump.extend({"city": name, **r} for r in scored)
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as fh:
            for r in dump:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
