"""The text model with the complaint's point (docs/quality-routing.md, «St Petersburg: the point»).

`python -m lab.routing_points --config DIR FILE --stage validation [--variants a,b]` fits each
variant on the first four fifths of the training period (the months before the test month)
and scores the last fifth: the figures variants are chosen on. `--stage test --variants a,b`
learns each named variant as `incidents routing learn` does (validation threshold, refit on the
whole training period) and scores the test month once. The file stays in ../shared/data;
nothing learned is written anywhere.

Variants (NAME: what differs from the product's text model):
  text     — no point (the strict "text and address" reading)
  district — the point's district and okrug only (no cell history)
  points   — district, okrug and the bodies per cell at 15/60/250 m (the product's default)
  cells60  — one cell size, 60 m;  cells4 — 15/60/250/1000 m
  c0.1, c1 — points with C = 0.1, 1.0
  balanced — points with class_weight="balanced"
  template — points; the district desks (`zha_*`, `adm_*`) learned as one class each, the
             district filled from the point (else the address)
  template-… — the same with another C, cell sizes, class weights or half-life (VARIANTS);
             `template-c0.1` is what `incidents routing learn` did with points before reasons
  …-reasons — the portal's reason learned as a second target (`reason_routing`; a training
             target only): `template-c0.1-reasons` is what `routing learn` does now with points,
             `text-reasons` with `--no-points`
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.config import RegionConfig, load_region
from incidents.domain.point_routing import CELLS_M
from incidents.domain.text_routing import PlaceParser, TextRouter, _vectorizer
from incidents.services.routing_history import time_split
from incidents.services.routing_text import (
    TextRow,
    gazetteer,
    learn_points,
    learn_text_router,
    points_of,
    read_text_rows,
    score_text_router,
)

VARIANTS: dict[str, dict[str, Any]] = {
    "text": {"points": False},
    "district": {"cells": ()},
    "points": {},
    "cells60": {"cells": (60.0,)},
    "cells4": {"cells": (15.0, 60.0, 250.0, 1000.0)},
    "c0.1": {"c": 0.1},
    "c1": {"c": 1.0},
    "balanced": {"class_weight": "balanced"},
    "template": {"template": True},
    "template-district": {"template": True, "cells": ()},
    "template-cells60": {"template": True, "cells": (60.0,)},
    "template-c0.1": {"template": True, "c": 0.1},
    "template-c1": {"template": True, "c": 1.0},
    "template-balanced": {"template": True, "class_weight": "balanced"},
    "text-template": {"template": True, "points": False},
    "template-c0.05": {"template": True, "c": 0.05},
    "template-c0.1-district": {"template": True, "c": 0.1, "cells": ()},
    "template-c0.1-cells4": {"template": True, "c": 0.1, "cells": (15.0, 60.0, 250.0, 1000.0)},
    "template-c0.2": {"template": True, "c": 0.2},
    "template-c0.1-hl0.5": {"template": True, "c": 0.1, "half_life": 0.5},
    "template-c0.1-hl0.25": {"template": True, "c": 0.1, "half_life": 0.25},
    "template-c0.1-reasons": {"template": True, "c": 0.1, "reasons": True},
    "text-reasons": {"points": False, "reasons": True},
}
"""Chosen on the validation slice: `template-c0.1` (the product's default with points)."""


def _desk(body: str, districts: set[str]) -> str:
    """«zha_primorsky» → «zha_{d}»: a district's desk as one class."""
    head, _, tail = body.partition("_")
    return f"{head}_{{d}}" if tail in districts and head in ("zha", "adm") else body


def fit_variant(cfg: RegionConfig, rows: Sequence[TextRow], v: dict[str, Any]) -> TextRouter:
    """TextRouter.fit with the variant's options (class weights and templates are lab-only)."""
    from sklearn.svm import LinearSVC

    ex = [r.example for r in rows]
    districts = {m.code for m in cfg.territories.municipalities}
    if v.get("template"):
        ex = [replace(e, body=_desk(e.body, districts)) for e in ex]
    places = PlaceParser.learn(gazetteer(cfg), ex)
    hist = None
    if v.get("points", True):
        hist = learn_points(cfg, ex, v.get("cells", CELLS_M))
    if "class_weight" not in v:
        return TextRouter.fit(
            ex,
            places,
            c=v.get("c", 0.3),
            points=hist,
            half_life=v.get("half_life"),
            reasons=v.get("reasons", False),
        )
    items = [(e.text, e.address, places(e.address)) for e in ex]
    point_docs = [hist.tokens(e.lat, e.lon, exclude=e.body) for e in ex] if hist else None
    vec = _vectorizer(with_place=hist is not None)
    x = vec.fit_transform(TextRouter._docs(items, point_docs))
    clf = LinearSVC(C=v.get("c", 0.3), class_weight=v["class_weight"]).fit(x, [e.body for e in ex])
    return TextRouter(vec, clf, places, points=hist)


def score_variant(
    cfg: RegionConfig, model: TextRouter, rows: Sequence[TextRow], v: dict[str, Any]
) -> dict[str, Any]:
    """Exact body and right organisation of the model alone (argmax) on these rows."""
    org = cfg.bodies.organisation_of
    known = {b.code for b in cfg.bodies.bodies}
    if v.get("template"):
        known |= {_desk(b, {m.code for m in cfg.territories.municipalities}) for b in known}
    ds = model.predict_many([(r.example.text, r.example.address, None) for r in rows], known, points_of(rows))
    exact = same = 0
    hist = model.point_history
    for d, r in zip(ds, rows, strict=True):
        body = d.body if d else cfg.bodies.triage_body
        if "{d}" in body:
            place = (hist.district(r.example.lat, r.example.lon) if hist else None) or (
                d.municipality if d else None
            )
            body = body.format(d=place) if place else cfg.bodies.triage_body
        exact += body == r.example.body
        same += org(body) == org(r.example.body)
    n = len(rows) or 1
    return {"n": len(rows), "exact": round(exact / n, 3), "organisation": round(same / n, 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.routing_points")
    p.add_argument("file")
    p.add_argument("--config", required=True)
    p.add_argument("--stage", choices=("validation", "test"), default="validation")
    p.add_argument("--variants", default=",".join(VARIANTS))
    args = p.parse_args(argv)
    cfg = load_region(Path(args.config))
    rows, _unknown = read_text_rows(cfg, Path(args.file))
    train, test = time_split(rows, 0.75)
    out: dict[str, Any] = {"train": len(train), "test": len(test), "stage": args.stage}
    if args.stage == "validation":
        fit_rows, val_rows = time_split(train, 0.8, whole_months=False)
        out.update(fit=len(fit_rows), validation=len(val_rows))
        for name in args.variants.split(","):
            t0 = time.process_time()
            v = VARIANTS[name]
            model = fit_variant(cfg, fit_rows, v)
            out[name] = score_variant(cfg, model, val_rows, v) | {"cpu_s": round(time.process_time() - t0)}
            print(name, json.dumps(out[name]), file=sys.stderr, flush=True)
    else:
        for name in args.variants.split(","):
            v = VARIANTS[name]
            if set(v) - {"points", "cells", "c", "template", "reasons"}:
                raise SystemExit(f"{name}: only the product's options are learned for the test month")
            model = learn_text_router(
                cfg,
                train,
                points=v.get("points", True),
                cells_m=v.get("cells", CELLS_M),
                c=v.get("c", 0.3),
                desks=v.get("template", False),
                reasons=v.get("reasons", False),
            )
            s = score_text_router(cfg, model, test)
            s.pop("_decisions")
            s["threshold"] = round(model.threshold, 3)
            s["validation"] = model.meta.get("validation")
            hist = model.point_history
            if hist is not None:
                known = [r for r in test if r.example.municipality]
                hit = sum(
                    hist.district(r.example.lat, r.example.lon) == r.example.municipality for r in known
                )
                s["point_district_right"] = round(hit / (len(known) or 1), 3)
            out[name] = s
            print(name, json.dumps(s), file=sys.stderr, flush=True)
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
