"""Cross-source figures of the complaint and category models (docs/quality-signals.md).

    python -m lab.signals_cross [--data ../shared/data] [--n 1000] [--news 2000] [--json]

Every figure is measured on a source its model did not see:

* **shipped** model (what ships: our labelled posts, the written posts, CEDR negatives) on
  Kursk appeals, St Petersburg complaints and Telegram news — none of which it saw;
* **regional** models: + Kursk appeals (tested on St Petersburg), + St Petersburg complaints
  (tested on Kursk) — the "train without one source, test on it" protocol;
* **our posts**: the labelled posts (sample + dev) scored by 5-fold cross-validation grouped
  by thread, with appeals of both cities in every training fold (the regional setting).

Appeals are read as network `pos` (the feedback platform: the strong prior applies), news as
`telegram`. Category accuracy counts the appeal's mapped code and the boundary codes of its
topic (`incidents.domain.taxonomy.appeal_accepts`). Sampled (seeded): the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

from incidents.core.config import load_region
from incidents.core.tabular import read_csv

ROOT = Path(__file__).resolve().parent.parent
KURSK = ROOT / "config" / "regions" / "kursk"


def _rows(path: Path, n: int, seed: int = 11) -> list[dict[str, str]]:
    rows = [r for r in read_csv(path) if (r.get("text") or "").strip()]
    return random.Random(seed).sample(rows, min(n, len(rows)))


def _score(builder: Any, model: Any, rows: list[dict[str, str]], network: str) -> dict[str, Any]:
    """Share flagged and category accuracy of `model` (combined with the rules) on the rows."""
    from incidents.core.records import PostRecord
    from incidents.domain.taxonomy import appeal_accepts

    builder.model = model
    posts = [
        PostRecord(network=network, external_id=str(i), source_id="eval", text=r["text"], created_at=_EPOCH)
        for i, r in enumerate(rows)
    ]
    sigs = builder.many(posts)
    flagged = sum(s.is_complaint for s in sigs)
    cat = [(s.category, appeal_accepts(r)) for s, r in zip(sigs, rows, strict=True) if appeal_accepts(r)]
    ok = sum(1 for c, acc in cat if c in acc)
    return {
        "n": len(rows),
        "flagged": round(flagged / max(1, len(rows)), 4),
        "category_n": len(cat),
        "category": round(ok / max(1, len(cat)), 4),
    }


from datetime import UTC, datetime  # noqa: E402

_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    from incidents.services.training import (
        cross_validate,
        labelled_examples,
        negative_examples,
        training_set,
    )
    from pipelines.model import fit
    from pipelines.signals import SignalBuilder

    ap = argparse.ArgumentParser(prog="python -m lab.signals_cross")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--n", type=int, default=1000, help="appeals sampled per city for testing")
    ap.add_argument("--train-n", type=int, default=2000, help="appeals per city for the regional models")
    ap.add_argument("--news", type=int, default=2000)
    ap.add_argument("--cv", type=int, default=0, help="also K-fold CV on our posts")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    data = Path(args.data)
    t0 = time.process_time()
    cfg = load_region(KURSK)
    mp = cfg.signals.model
    assert mp is not None
    builder = SignalBuilder(cfg, use_ner=False, use_model=False)
    builder_m = SignalBuilder(cfg, use_ner=False, use_model=False)
    items: list[dict[str, Any]] = []
    for name in mp.train:
        items.extend(labelled_examples(builder, ROOT / name))
    negs = negative_examples(builder, [str(ROOT / n) for n in mp.negatives])
    kursk_file, spb_file = data / "kursk_appeals_train.csv", data / "spb_appeals_2020.csv.gz"
    news_file = data / "telegram_news_dev.csv.gz"
    # test samples are drawn first; the regional training rows are the others
    k_all = [r for r in read_csv(kursk_file) if (r.get("text") or "").strip()]
    s_all = _rows(spb_file, args.n + args.train_n, seed=5)
    random.Random(3).shuffle(k_all)
    k_test, k_train = k_all[: args.n], k_all[args.n :][: args.train_n]
    s_test, s_train = s_all[: args.n], s_all[args.n :]
    news = _rows(news_file, args.news)

    def rows_ex(rows: list[dict[str, str]]) -> tuple[list[Any], list[str | None]]:
        from incidents.domain.taxonomy import appeal_category
        from incidents.services.training import _row_example

        return [_row_example(builder, "pos", f"a{i}", r["text"]) for i, r in enumerate(rows)], [
            appeal_category(r) for r in rows
        ]

    def model(appeals: tuple[list[Any], list[str | None]]) -> Any:
        t = training_set(items, negs, appeals)
        return fit(t["cx"], t["cy"], t["kx"], t["ky"], category=False, complaint_w=t["w"])

    out: dict[str, Any] = {}
    kx, sx = rows_ex(k_train), rows_ex(s_train)
    models = {
        "shipped": model(([], [])),
        "regional+kursk": model(kx),
        "regional+spb": model(sx),
    }
    tests = {
        "kursk_appeals": (k_test, "pos"),
        "spb_appeals": (s_test, "pos"),
        "telegram_news": (news, "telegram"),
    }
    for mname, m in models.items():
        for tname, (rows, net) in tests.items():
            if mname == "regional+kursk" and tname == "kursk_appeals":
                continue  # trained on that source (other rows): not cross-source
            if mname == "regional+spb" and tname == "spb_appeals":
                continue
            out[f"{mname} → {tname}"] = _score(builder_m, m, rows, net)
    out["rules alone → kursk_appeals"] = _score(builder_m, None, k_test, "pos")
    out["rules alone → spb_appeals"] = _score(builder_m, None, s_test, "pos")
    out["rules alone → telegram_news"] = _score(builder_m, None, news, "telegram")
    if args.cv:
        both = (kx[0] + sx[0], kx[1] + sx[1])
        out["our posts, CV shipped"] = cross_validate(
            items, args.cv, ([], []), c=4.0, threshold=mp.threshold, negatives=negs
        )
        out["our posts, CV regional"] = cross_validate(
            items,
            args.cv,
            ([x for x, c in zip(*both, strict=True) if c], [c for c in both[1] if c]),
            c=4.0,
            threshold=mp.threshold,
            negatives=negs,
        )
    out["_meta"] = {
        "labelled": len(items),
        "negatives": len(negs),
        "kursk_train": len(k_train),
        "spb_train": len(s_train),
        "cpu_seconds": round(time.process_time() - t0, 1),
    }
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        for k, v in out.items():
            print(k, v)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
