"""Learning and scoring the text routing model (`incidents.domain.text_routing`) on a history file.

The text model needs no signal stage to learn: it reads each row's text, address line, body and
(when the file has one) district column, so the whole St Petersburg file (22,445 complaints)
is read in seconds and fitted in a minute or two. The confidence threshold is chosen on a
validation slice — the last months (or, without dates, the last rows) of the training
period — as the lowest probability at which the model's covered decisions are right at least
`min_precision` of the time; the model is then refitted on the whole training period with
that threshold. `evaluate_text_split` does the same on the earlier part of the file and scores
the later part: the figure a region can expect, since a model is always applied to appeals
newer than its history.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.config import RegionConfig
from incidents.domain.point_routing import CELLS_M, Okrug, PointHistory, desk_labels
from incidents.domain.routing import Router
from incidents.domain.text_routing import (
    PlaceParser,
    Point,
    TextDecision,
    TextExample,
    TextRouter,
    fit_temperature,
)
from incidents.services.routing_history import (
    PLACE_COLUMNS,
    TIME_COLUMNS,
    CaseReader,
    HistoryRow,
    read_rows,
    time_split,
)

MIN_PRECISION = 0.75
"""The covered decisions of the model must be right this often on validation: above what the
rules reach (0.53–0.61 exact on the time splits), so that a decision taken from them is a gain.
Measured on St Petersburg (docs/quality-routing.md): 0.75 lets the model decide 86 % of
December at 0.784, and the order model → rules scores 0.695 against 0.648 at 0.85 and 0.607 at
0.95; on Kursk no threshold reaches it on validation, so the rules decide as before."""


C_TEXT = 0.3
C_POINTS = 0.1
"""The SVM's C: with the point's features and the desks as classes, 0.1 scored 0.755 exact on the
St Petersburg validation slice against 0.749 at 0.3 and 0.735 at 1.0 (docs/quality-routing.md)."""


@dataclass(frozen=True, slots=True)
class TextRow:
    """One earlier appeal as the text model sees it, with its time (or "") and its body."""

    id: str
    when: str
    example: TextExample


def read_text_rows(
    cfg: RegionConfig, path: Path, *, text_only: bool = True
) -> tuple[list[TextRow], Counter[str]]:
    """Every row with a body known in bodies.yaml, in the file's order (fast: no signal stage).

    The district column, when the file has one, is used for learning only (which district's desk
    a body is, and where a street lies): `text_only` keeps it out of the features either way."""
    reader = CaseReader(cfg)
    places = {n.lower(): m.code for m in cfg.territories.municipalities for n in (m.code, m.name, *m.aliases)}
    rows: list[TextRow] = []
    unknown: Counter[str] = Counter()
    for i, row in enumerate(read_rows(path)):
        code, written = reader.body_of(row)
        if code is None:
            unknown[written or "—"] += 1
            continue
        muni = next(
            (places[v] for c in PLACE_COLUMNS if (v := (row.get(c) or "").strip().lower()) in places), None
        )
        when = next((row[c] for c in TIME_COLUMNS if row.get(c)), "")
        lat, lon = _coordinate(row.get("lat")), _coordinate(row.get("lon"))
        reason = (row.get("reason") or "").strip() or None  # a learning target, never a feature
        ex = TextExample(
            row.get("text") or "", (row.get("address") or "").strip(), code, muni, lat, lon, reason
        )
        rows.append(TextRow(str(row.get("id") or i), when, ex))
    del text_only  # the features never read the district column; kept for the CLI's symmetry
    return rows, unknown


def _coordinate(value: object) -> float | None:
    """A latitude or longitude cell of the file, or None when empty or not a number."""
    try:
        x = float(str(value).strip().replace(",", "."))
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def has_points(rows: Sequence[TextRow]) -> bool:
    """Whether the history gives points (at least half of its rows have one)."""
    placed = sum(r.example.lat is not None and r.example.lon is not None for r in rows)
    return bool(rows) and placed * 2 >= len(rows)


def region_okrugs(cfg: RegionConfig) -> tuple[Okrug, ...]:
    """Every feature of the region's boundaries file (`region.yaml → map.boundaries`) with the
    municipality it was matched to: St Petersburg's 111 okrugs, each in its district. None: ()."""
    from core import boundaries as geometry

    name = cfg.region.map.boundaries
    if not name:
        return ()
    features = geometry.read_file(cfg.resolve_path(name))
    codes = geometry.match_features(features, cfg.municipals, cfg.region.map.features).codes
    return PointHistory.make_okrugs((f.name, codes.get(i), f.polygons) for i, f in enumerate(features))


def learn_points(
    cfg: RegionConfig, examples: Sequence[TextExample], cells_m: Sequence[float] = CELLS_M
) -> PointHistory:
    """The point history of these examples: the region's okrugs and the bodies per grid cell."""
    return PointHistory.learn(((e.lat, e.lon, e.body) for e in examples), region_okrugs(cfg), cells_m)


def points_of(rows: Sequence[TextRow]) -> list[Point]:
    return [(r.example.lat, r.example.lon) for r in rows]


def gazetteer(cfg: RegionConfig) -> dict[str, str]:
    """Street, town and okrug names that lie in one municipality only (lower case, ё as е) → its code."""
    seen: dict[str, set[str]] = {}
    for m in cfg.territories.municipalities:
        for place in (*m.streets, *m.settlements, *m.subdivisions):
            for name in (place.name, *place.aliases):
                seen.setdefault(" ".join(name.lower().replace("ё", "е").split()), set()).add(m.code)
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}


def choose_threshold(correct: Sequence[bool], probs: Sequence[float], min_precision: float) -> float:
    """The lowest probability whose covered decisions are right at least `min_precision` of the time."""
    pairs = sorted(zip(probs, correct, strict=True), reverse=True)
    best = 1.0
    right = 0
    for i, (p, ok) in enumerate(pairs, 1):
        right += ok
        if right / i >= min_precision:
            best = p
    return best


def learn_text_router(
    cfg: RegionConfig,
    rows: Sequence[TextRow],
    *,
    min_precision: float = MIN_PRECISION,
    validation_share: float = 0.8,
    c: float | None = None,
    half_life: float | None = None,
    meta: dict[str, Any] | None = None,
    points: bool | None = None,
    cells_m: Sequence[float] = CELLS_M,
    desks: bool | None = None,
    reasons: bool = True,
) -> TextRouter:
    """Fit on the earlier part, choose temperature and threshold on the later slice, refit on all.

    `points`: learn from the rows' points too (`point_routing`); None: when the history has them.
    `desks`: each family of district desks as one class (`point_routing.desk_labels`); None:
    with points. `c`: the SVM's C; None: 0.3 without points, 0.1 with them (both chosen on the
    St Petersburg validation slice, docs/quality-routing.md). `reasons`: learn the portal's
    reason as a second target where the rows carry one (`reason_routing`; False: never)."""

    if points is None:
        points = has_points(rows)
    if desks is None:
        desks = points
    if c is None:
        c = C_POINTS if points else C_TEXT
    known = {b.code for b in cfg.bodies.bodies}
    labels = desk_labels(known, (m.code for m in cfg.territories.municipalities)) if desks else {}

    def fit(examples: Sequence[TextExample], info: Mapping[str, Any] | None = None) -> TextRouter:
        examples = [replace(e, body=labels.get(e.body, e.body)) for e in examples]
        return TextRouter.fit(
            examples,
            PlaceParser.learn(gaz, examples),
            c=c,
            half_life=half_life,
            meta=info,
            points=learn_points(cfg, examples, cells_m) if points else None,
            reasons=reasons,
        )

    if rows and all(r.when for r in rows):
        rows = sorted(rows, key=lambda r: r.when)  # the validation slice and the half-life count back in time
    gaz = gazetteer(cfg)
    fit_rows, val_rows = time_split(rows, validation_share, whole_months=False)
    validation: dict[str, Any] = {"n": len(val_rows)}
    temperature, threshold = 5.0, 0.5
    reason_weight: float | None = None
    if len(fit_rows) >= 20 and val_rows:
        first = fit([r.example for r in fit_rows])
        items = [(r.example.text, r.example.address, None) for r in val_rows]
        if first.reason_prior is not None:
            reason_weight = choose_reason_weight(first, items, known, val_rows)
        docs = first._docs(
            [(t, a, first.place_of(a, None)) for t, a, _m in items],
            first.place_tokens(points_of(val_rows), len(val_rows)),
        )
        margins = first.margins(docs)
        classes = [str(k) for k in first.classifier.classes_]
        truth = [
            classes.index(label) if (label := labels.get(r.example.body, r.example.body)) in classes else -1
            for r in val_rows
        ]
        temperature = fit_temperature(margins, truth)
        first.temperature = temperature
        decisions = first.predict_many(items, known, points_of(val_rows))
        probs = [d.probability if d else 0.0 for d in decisions]
        correct = [
            d is not None and d.body == r.example.body for d, r in zip(decisions, val_rows, strict=True)
        ]
        threshold = choose_threshold(correct, probs, min_precision)
        covered = [ok for ok, p in zip(correct, probs, strict=True) if p >= threshold]
        validation.update(
            exact=round(sum(correct) / len(correct), 3),
            coverage=round(len(covered) / len(correct), 3),
            covered_exact=round(sum(covered) / len(covered), 3) if covered else None,
        )
    examples = [r.example for r in rows]
    info = {
        **(meta or {}),
        "rows": len(rows),
        "min_precision": min_precision,
        "half_life": half_life,
        "points": bool(points),
        "desks": sorted(set(labels.values())),
        "reasons": bool(reasons) and any(e.reason for e in examples),
        "c": c,
        "temperature": temperature,
        "threshold": round(threshold, 4),
        "validation": validation,
        "bodies": len({e.body for e in examples}),
    }
    router = fit(examples, info)
    router.temperature, router.threshold = temperature, threshold
    prior = router.reason_prior
    if prior is not None and reason_weight is not None:
        prior.weight = reason_weight
        if not reason_weight:
            router.reasons = None  # the reasons did not help on validation: the model goes without
    router.meta["reason_weight"] = router.reason_prior.weight if router.reason_prior is not None else 0.0
    return router


REASON_WEIGHTS = (0.0, 0.5, 1.0, 1.5)
"""The reason prior's weights tried on the validation slice (0: without it). On St Petersburg
1.0 with the point (0.774 exact against 0.755) and 0.5 without (0.725 against 0.696; at 1.0 the
organisation fell from 0.863 to 0.843): docs/quality-routing.md, «St Petersburg: second round»."""


def choose_reason_weight(
    router: TextRouter, items: Sequence[tuple[str, str, str | None]], known: set[str], rows: Sequence[TextRow]
) -> float:
    """The weight of the reason prior (`reason_routing`) with the most exact bodies on the
    validation rows, the smallest on a tie; sets it on the router's prior (0: prior dropped)."""
    prior = router.reason_prior
    assert prior is not None
    best, best_w = -1, 0.0
    for w in REASON_WEIGHTS:
        prior.weight = w
        router.reasons = prior if w else None
        decisions = router.predict_many(items, known, points_of(rows))
        hits = sum(d is not None and d.body == r.example.body for d, r in zip(decisions, rows, strict=True))
        if hits > best:
            best, best_w = hits, w
    prior.weight = best_w
    router.reasons = prior if best_w else None
    return best_w


def score_text_router(cfg: RegionConfig, router: TextRouter, rows: Sequence[TextRow]) -> dict[str, Any]:
    """Exact body and right organisation of the model alone, its coverage at its threshold and
    its accuracy there; the decisions for a fallback to score the rest."""
    org = cfg.bodies.organisation_of
    known = {b.code for b in cfg.bodies.bodies}
    decisions = router.predict_many(
        [(r.example.text, r.example.address, None) for r in rows], known, points_of(rows)
    )
    n = len(rows) or 1
    exact = org_ok = cov = cov_exact = cov_org = 0
    for d, r in zip(decisions, rows, strict=True):
        body = d.body if d else cfg.bodies.triage_body
        ok = body == r.example.body
        same = org(body) == org(r.example.body)
        exact += ok
        org_ok += same
        if d is not None and d.confident:
            cov += 1
            cov_exact += ok
            cov_org += same
    return {
        "n": len(rows),
        "exact": round(exact / n, 3),
        "organisation": round(org_ok / n, 3),
        "coverage": round(cov / n, 3),
        "covered_exact": round(cov_exact / cov, 3) if cov else None,
        "covered_organisation": round(cov_org / cov, 3) if cov else None,
        "_decisions": decisions,
    }


def period(rows: Sequence[TextRow]) -> list[str] | None:
    return [rows[0].when[:10], rows[-1].when[:10]] if rows and rows[0].when else None


def place_accuracy(router: TextRouter, rows: Sequence[TextRow]) -> dict[str, float]:
    """How often the fast address parse names the district the history gives (rows that have one)."""
    known = [r for r in rows if r.example.municipality]
    hit = sum(router.places(r.example.address) == r.example.municipality for r in known)
    found = sum(router.places(r.example.address) is not None for r in known)
    n = len(known) or 1
    return {"n": len(known), "found": round(found / n, 3), "right": round(hit / n, 3)}


def point_place_accuracy(router: TextRouter, rows: Sequence[TextRow]) -> dict[str, float] | None:
    """How often the point's polygon names the district the history gives (None: no points)."""
    hist = router.point_history
    if hist is None:
        return None
    known = [r for r in rows if r.example.municipality]
    got = [hist.district(r.example.lat, r.example.lon) for r in known]
    n = len(known) or 1
    return {
        "n": len(known),
        "found": round(sum(g is not None for g in got) / n, 3),
        "right": round(sum(g == r.example.municipality for g, r in zip(got, known, strict=True)) / n, 3),
    }


TEXT_SUMMARY_FILE = "learned_text_routing.yaml"


def text_summary(cfg: RegionConfig, router: TextRouter, rows: Sequence[TextRow], model_file: Path) -> str:
    """The reviewable side of the text model, for the region folder: per body, how many earlier
    appeals it took and the words that most send a complaint to it; the threshold, the
    validation figures and the SHA-256 of the model file it describes."""
    import yaml

    from core.signed_pickle import checksum_path

    classes = [str(k) for k in router.classifier.classes_]
    desks = desk_labels({b.code for b in cfg.bodies.bodies}, (m.code for m in cfg.territories.municipalities))
    counts = Counter(r.example.body for r in rows)
    counts.update(Counter(desks[r.example.body] for r in rows if desks.get(r.example.body) in classes))
    vocab = router.vectorizer.transformer_list[0][1].named_steps["tfidfvectorizer"].vocabulary_
    names = {j: w for w, j in vocab.items()}  # the word part comes first in the feature union
    coef = router.classifier.coef_
    per_body: list[dict[str, Any]] = []
    for i, body in enumerate(classes):
        row = coef[i if coef.shape[0] == len(classes) else 0][: len(names)]
        top = [int(j) for j in row.argsort()[::-1][:8] if row[j] > 0]
        name = cfg.body_by_code[body].name if body in cfg.body_by_code else body
        if "{" in body:
            name = f"орган своего района ({body})"
        per_body.append(
            {"body": body, "name": name, "appeals": counts[body], "words": [names[j] for j in top]}
        )
    per_body.sort(key=lambda b: (-b["appeals"], b["body"]))
    digest = (
        checksum_path(model_file).read_text(encoding="ascii").split()[0]
        if checksum_path(model_file).is_file()
        else None
    )
    head = {
        "version": 1,
        "model": str(model_file),
        "sha256": digest,
        "threshold": router.threshold,
        "temperature": router.temperature,
        "learned_from": {k: v for k, v in router.meta.items() if k != "validation"},
        "validation": router.meta.get("validation"),
    }
    lines = [
        "# learned_text_routing.yaml — written by `incidents routing learn`: what the text model learned,",
        "# for review (the model itself is in the data directory). Per body: the earlier appeals it took",
        "# and the words that most send a complaint to it. Explicit rules of routing.yaml win over it.",
        yaml.safe_dump(head, allow_unicode=True, sort_keys=False).rstrip(),
        "bodies:",
    ]
    for b in per_body:
        lines.append(
            "- "
            + yaml.safe_dump(
                b, allow_unicode=True, sort_keys=False, default_flow_style=True, width=10_000
            ).strip()
        )
    return "\n".join(lines) + "\n"


def score_with_fallback(
    cfg: RegionConfig,
    fallback: Router,
    rows: Sequence[HistoryRow],
    decisions: Mapping[str, TextDecision | None],
    name: str,
) -> dict[str, Any]:
    """The run-time order on the rows the signal stage read: the text model where it is
    confident, else `fallback` (the rules, with or without the table). Rows whose id the text
    model did not score (another split of a sampled file) are left out."""
    org = cfg.bodies.organisation_of
    n = exact = same = by_text = 0
    for r in rows:
        if r.id not in decisions:
            continue
        td = decisions[r.id]
        if td is not None and td.confident:
            body = td.body
            by_text += 1
        else:
            body = fallback.route_case(r.case).body
        n += 1
        exact += body == r.body
        same += org(body) == org(r.body)
    d = n or 1
    return {
        "name": name,
        "n": n,
        "exact": round(exact / d, 3),
        "organisation": round(same / d, 3),
        "learned_share": round(by_text / d, 3),
    }
