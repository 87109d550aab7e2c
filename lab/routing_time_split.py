"""Time-split figures of the learned routing table on the real history files (docs/quality-routing.md).

`python -m lab.routing_time_split --config DIR FILE [--every N] [--text-only]` reads the file
once through the signal stage (the slow part) and scores, on the later part, the rules alone
and the rules with tables learned at several confidence thresholds: which threshold a region
should learn at is a measurement, not a guess. With `--text` it also learns the text model
(`incidents.domain.text_routing`) on the earlier part of the WHOLE file (no signal stage, so
no sampling) at several validation precisions, and scores it alone on every later row, and in
front of the rules (and the table) on the sampled later rows the signal stage read. The files
stay in ../shared/data; nothing learned from them is written anywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.routing import _sampler
from core.config import load_region
from incidents.domain.learned_routing import LearnedTable
from incidents.domain.routing import Router
from incidents.services.routing_history import CaseReader, examples_of, load_history, score, time_split


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.routing_time_split")
    p.add_argument("file")
    p.add_argument("--config", required=True)
    p.add_argument("--every", type=int)
    p.add_argument("--text-only", action="store_true")
    p.add_argument("--train-share", type=float, default=0.75)
    p.add_argument("--text", action="store_true", help="also the text model at several precisions")
    p.add_argument("--precisions", default="0.95,0.85,0.75,0.0")
    args = p.parse_args(argv)
    cfg = load_region(Path(args.config))
    loaded = load_history(
        cfg, Path(args.file), reader=CaseReader(cfg, text_only=args.text_only), keep=_sampler(args.every)
    )
    train, test = time_split(loaded.rows, args.train_share)
    out: dict[str, object] = {
        "train": len(train),
        "test": len(test),
        "rules": score(cfg, Router(cfg, learned=False), test, "rules").as_dict(),
    }
    for support in (3, 5):
        for share in (0.6, 0.75, 0.9):
            table = LearnedTable.learn(examples_of(train), min_support=support, min_share=share)
            out[f"learned s{support} p{share}"] = score(
                cfg, Router(cfg, learned=table), test, "learned"
            ).as_dict()
    if args.text:
        from incidents.services.routing_text import (
            learn_text_router,
            read_text_rows,
            score_text_router,
            score_with_fallback,
        )

        rows, _unknown = read_text_rows(cfg, Path(args.file))
        early, late = time_split(rows, args.train_share)
        out["text_split"] = {"train": len(early), "test": len(late)}
        table = LearnedTable.learn(examples_of(train), min_support=3, min_share=0.75)
        for precision in (float(x) for x in args.precisions.split(",")):
            model = learn_text_router(cfg, early, min_precision=precision)
            s = score_text_router(cfg, model, late)
            decisions = {r.id: d for r, d in zip(late, s.pop("_decisions"), strict=True)}
            s["threshold"] = round(model.threshold, 3)
            s["validation"] = model.meta.get("validation")
            out[f"text p{precision}"] = s
            out[f"text p{precision} + rules"] = score_with_fallback(
                cfg, Router(cfg, learned=False), test, decisions, "text + rules"
            )
            out[f"text p{precision} + table s3 p0.75 + rules"] = score_with_fallback(
                cfg, Router(cfg, learned=table), test, decisions, "text + table + rules"
            )
            print(precision, json.dumps(out[f"text p{precision} + rules"]), file=sys.stderr, flush=True)
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
