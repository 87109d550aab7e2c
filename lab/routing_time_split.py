"""Time-split figures of the learned routing table on the real history files (docs/quality-routing.md).

`python -m lab.routing_time_split --config DIR FILE [--every N] [--text-only]` reads the file
once through the signal stage (the slow part) and scores, on the later part, the rules alone
and the rules with tables learned at several confidence thresholds: which threshold a region
should learn at is a measurement, not a guess. The files stay in ../shared/data; nothing
learned from them is written anywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from incidents.cli.routing import _sampler
from incidents.core.config import load_region
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
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
