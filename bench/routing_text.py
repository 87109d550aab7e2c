"""`python -m bench.routing_text --config DIR FILE [--model PKL] [--n 500]`: what the text
routing model adds to routing one post, and what learning it costs.

Without `--model` it learns the model from FILE (a history file, e.g.
../shared/data/spb_appeals_2020.csv.gz) into a temporary folder, timing it; then it routes the
last `--n` rows of the file one by one through the rules alone and through the rules with the
model in front (each with its point, when the file gives one), and prints the CPU time a post of each (process time: on a shared machine the
wall clock measures the neighbours). Nothing learned is kept.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from core.config import load_region
from incidents.domain.routing import Router
from incidents.domain.text_routing import TextExample, load_text_router
from incidents.services.routing_text import learn_text_router, read_text_rows


def route(router: Router, ex: TextExample) -> None:
    """One post as the product routes it: its words, its address line and its point, if any."""
    router.route(category=None, text=ex.text, address=ex.address, lat=ex.lat, lon=ex.lon)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.routing_text")
    p.add_argument("file")
    p.add_argument("--config", required=True)
    p.add_argument("--model")
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--no-points", action="store_true", help="learn without the rows' points")
    args = p.parse_args(argv)
    cfg = load_region(Path(args.config))
    rows, _unknown = read_text_rows(cfg, Path(args.file))
    out: dict[str, object] = {"rows": len(rows)}
    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            model = load_text_router(Path(args.model))
        else:
            cpu, wall = time.process_time(), time.monotonic()
            learned = learn_text_router(cfg, rows, points=False if args.no_points else None)
            out["learn_cpu_s"] = round(time.process_time() - cpu, 1)
            out["learn_wall_s"] = round(time.monotonic() - wall, 1)
            path = learned.save(Path(tmp) / "routing.pkl")
            out["model_mb"] = round(path.stat().st_size / 2**20, 1)
            model = load_text_router(path)
        sample = rows[-args.n :]
        for name, router in (
            ("rules", Router(cfg, learned=False)),
            ("rules + text model", Router(cfg, learned=False, text=model)),
        ):
            for r in sample[:20]:  # warm: the model's analysers are built on first use
                route(router, r.example)
            cpu = time.process_time()
            for r in sample:
                route(router, r.example)
            out[f"{name}: cpu ms/post"] = round((time.process_time() - cpu) / len(sample) * 1000, 3)
        out["points"] = model is not None and model.point_history is not None
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
