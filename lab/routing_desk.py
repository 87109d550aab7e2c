"""Time-split figures of the desk step (`incidents.domain.desk_routing`) on a history file.

`python -m lab.routing_desk --config DIR FILE` reads the file once through the signal stage and
the rules, then scores on the validation slice (the training period's last fifth, learned on
the rest) and on the test period (the last quarter, learned on the first three): the rules
alone and the rules with the desk step, its current desk frozen at the end of the training
period or refreshed `lag` appeals behind. The files stay in ../shared/data; nothing learned
from them is written anywhere (docs/quality-routing.md, Kursk).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from incidents.core.config import load_region
from incidents.services.routing_desk import evaluate_desk_split, read_desk_rows
from incidents.services.routing_history import time_split


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.routing_desk")
    p.add_argument("file")
    p.add_argument("--config", required=True)
    p.add_argument("--train-share", type=float, default=0.75)
    p.add_argument("--windows", default="10,30")
    p.add_argument("--test", action="store_true", help="also the test period (once per final setting)")
    args = p.parse_args(argv)
    cfg = load_region(Path(args.config))
    rows = read_desk_rows(cfg, Path(args.file))
    train, _test = time_split(rows, args.train_share)
    out: dict[str, object] = {}
    for w in (int(x) for x in args.windows.split(",")):
        out[f"validation window {w}"] = evaluate_desk_split(cfg, train, train_share=0.8, window=w)
        if args.test:
            out[f"test window {w}"] = evaluate_desk_split(cfg, rows, train_share=args.train_share, window=w)
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
