"""Time-split figures of the desk step (`incidents.domain.desk_routing`) on a history file.

`python -m lab.routing_desk --config DIR FILE` reads the file once through the signal stage and
the rules, then scores on the validation slice (the training period's last fifth, learned on
the rest) and on the test period (the last quarter, learned on the first three): the rules
alone and the rules with the desk step, its current desk frozen at the end of the training
period or refreshed `lag` appeals behind. The files stay in ../shared/data; nothing learned
from them is written anywhere (docs/quality-routing.md, Kursk).

The validation slice of the Kursk file (rows 1,200–1,500) is all one «the head takes
everything» period, so it cannot show what the desks' model does while the desks take the
complaints. `desks_validation` measures that on the training period's own desk rows: the
desks' model learned on all but the last `--desk-validation` rows a desk took, scored on those
last ones where the rules named the organisation (rules' body against the model where the rules
named the head).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.config import RegionConfig, load_region
from incidents.domain.desk_routing import DeskModel
from incidents.services.routing_desk import (
    DeskRow,
    evaluate_desk_split,
    learn_desk_router,
    read_desk_rows,
    route_in_order,
    score_bodies,
)
from incidents.services.routing_history import time_split


def desks_validation(cfg: RegionConfig, train: list[DeskRow], last: int) -> dict[str, object]:
    org = cfg.bodies.organisation_of
    by_head: dict[str, list[DeskRow]] = {}
    for r in train:
        head = org(r.item.body)
        if head != r.item.body:
            by_head.setdefault(head, []).append(r)
    out: dict[str, object] = {}
    for head, rows in by_head.items():
        if len(rows) < last + 30:
            continue
        model = DeskModel.fit([r.item for r in rows[:-last]])
        val = [r for r in rows[-last:] if org(r.rules_body) == head]
        pred = model.predict([r.item for r in val])
        n = len(val) or 1
        out[head] = {
            "fit": len(rows) - last,
            "n": len(val),
            "rules": round(sum(r.rules_body == r.item.body for r in val) / n, 3),
            "model where the rules name the head": round(
                sum(
                    (p if r.rules_body == head else r.rules_body) == r.item.body
                    for p, r in zip(pred, val, strict=True)
                )
                / n,
                3,
            ),
            "model everywhere": round(sum(p == r.item.body for p, r in zip(pred, val, strict=True)) / n, 3),
        }
    return out


def desks_always(cfg: RegionConfig, rows: list[DeskRow], train_share: float) -> dict[str, object]:
    """The desks' model as if the desks always took the complaints (no current desk): the state
    pinned to a desk, never moved."""
    from collections import deque

    train, test = time_split(rows, train_share)
    router = learn_desk_router(cfg, train)
    for head in router.models:
        desk = next(
            r.item.body
            for r in reversed(train)
            if cfg.bodies.organisation_of(r.item.body) == head != r.item.body
        )
        router.recent[head] = deque([desk] * router.window, maxlen=router.window)
    return score_bodies(cfg, route_in_order(router, test, None), test)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.routing_desk")
    p.add_argument("file")
    p.add_argument("--config", required=True)
    p.add_argument("--train-share", type=float, default=0.75)
    p.add_argument("--windows", default="10,30")
    p.add_argument("--desk-validation", type=int, default=300)
    p.add_argument("--test", action="store_true", help="also the test period (once per final setting)")
    args = p.parse_args(argv)
    cfg = load_region(Path(args.config))
    rows = read_desk_rows(cfg, Path(args.file))
    train, _test = time_split(rows, args.train_share)
    out: dict[str, object] = {
        f"desks' model, last {args.desk_validation} desk rows of training": desks_validation(
            cfg, train, args.desk_validation
        )
    }
    for w in (int(x) for x in args.windows.split(",")):
        val = evaluate_desk_split(cfg, train, train_share=0.8, window=w)
        out[f"validation window {w}"] = {**val, "desks always": desks_always(cfg, train, 0.8)}
        if args.test:
            test = evaluate_desk_split(cfg, rows, train_share=args.train_share, window=w)
            out[f"test window {w}"] = {**test, "desks always": desks_always(cfg, rows, args.train_share)}
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
