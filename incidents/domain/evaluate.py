"""Quality against gold labels: complaint detection, category, municipality, clustering.

Labels are JSONL: {post: "network:external_id", is_complaint, in_region, category,
municipality, incident}. Clustering is scored on the in-region complaints of the gold set
(pairwise and B-cubed precision/recall/F1); a post the system did not put in an incident
counts as a singleton.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class LabelsError(ValueError):
    pass


@dataclass(slots=True)
class Gold:
    post: str
    is_complaint: bool
    in_region: bool
    category: str | None
    municipality: str | None
    incident: str | None


@dataclass(slots=True)
class Predicted:
    is_complaint: bool = False
    in_region: bool = True
    category: str | None = None
    municipality: str | None = None
    incident: str | None = None


def load_labels(path: Path) -> list[Gold]:
    out: list[Gold] = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                out.append(
                    Gold(
                        post=str(obj["post"]),
                        is_complaint=bool(obj["is_complaint"]),
                        in_region=bool(obj.get("in_region", True)),
                        category=obj.get("category"),
                        municipality=obj.get("municipality"),
                        incident=obj.get("incident"),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise LabelsError(f"{path}:{n}: bad label line: {exc}") from exc
    return out


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def pairwise(gold: dict[str, str], pred: dict[str, str]) -> tuple[float, float, float]:
    """Pairwise P/R/F1 over the items of `gold` (pred must cover the same items)."""

    def pairs(assign: dict[str, str]) -> set[tuple[str, str]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for item, c in assign.items():
            groups[c].append(item)
        out: set[tuple[str, str]] = set()
        for members in groups.values():
            members.sort()
            for i in range(len(members)):
                for j in range(i + 1, len(members)):
                    out.add((members[i], members[j]))
        return out

    g, p = pairs(gold), pairs(pred)
    tp = len(g & p)
    return prf(tp, len(p - g), len(g - p))


def bcubed(gold: dict[str, str], pred: dict[str, str]) -> tuple[float, float, float]:
    gclusters: dict[str, set[str]] = defaultdict(set)
    pclusters: dict[str, set[str]] = defaultdict(set)
    for item, c in gold.items():
        gclusters[c].add(item)
    for item, c in pred.items():
        pclusters[c].add(item)
    if not gold:
        return 0.0, 0.0, 0.0
    precision = recall = 0.0
    for item in gold:
        g, p = gclusters[gold[item]], pclusters[pred[item]]
        inter = len(g & p)
        precision += inter / len(p)
        recall += inter / len(g)
    precision /= len(gold)
    recall /= len(gold)
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f


@dataclass(slots=True)
class Report:
    posts: int
    missing: int
    complaint: tuple[float, float, float]
    complaint_counts: dict[str, int]
    in_region_accuracy: float
    category_accuracy: float
    category_n: int
    municipality_accuracy: float
    municipality_n: int
    pairwise: tuple[float, float, float]
    bcubed: tuple[float, float, float]
    clusters_gold: int
    clusters_pred: int
    errors: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        def t(x: tuple[float, float, float]) -> dict[str, float]:
            return {"precision": round(x[0], 4), "recall": round(x[1], 4), "f1": round(x[2], 4)}

        return {
            "posts": self.posts,
            "missing": self.missing,
            "complaint": t(self.complaint),
            "complaint_counts": self.complaint_counts,
            "in_region_accuracy": round(self.in_region_accuracy, 4),
            "category_accuracy": round(self.category_accuracy, 4),
            "category_n": self.category_n,
            "municipality_accuracy": round(self.municipality_accuracy, 4),
            "municipality_n": self.municipality_n,
            "clustering_pairwise": t(self.pairwise),
            "clustering_bcubed": t(self.bcubed),
            "clusters_gold": self.clusters_gold,
            "clusters_pred": self.clusters_pred,
        }


def evaluate(labels: Iterable[Gold], predicted: dict[str, Predicted]) -> Report:
    labels = list(labels)
    tp = fp = fn = tn = 0
    missing = 0
    region_ok = region_n = 0
    cat_ok = cat_n = mun_ok = mun_n = 0
    gold_inc: dict[str, str] = {}
    pred_inc: dict[str, str] = {}
    errors: dict[str, list[str]] = defaultdict(list)
    for g in labels:
        p = predicted.get(g.post)
        if p is None:
            missing += 1
            p = Predicted()
        if g.is_complaint and p.is_complaint:
            tp += 1
        elif p.is_complaint:
            fp += 1
            errors["false_positive"].append(g.post)
        elif g.is_complaint:
            fn += 1
            errors["false_negative"].append(g.post)
        else:
            tn += 1
        if g.is_complaint:
            region_n += 1
            region_ok += int(p.in_region == g.in_region)
        if g.is_complaint and g.in_region and g.category:
            cat_n += 1
            if p.category == g.category:
                cat_ok += 1
            else:
                errors["category"].append(f"{g.post}: {p.category} ≠ {g.category}")
        if g.is_complaint and g.in_region and g.municipality:
            mun_n += 1
            if p.municipality == g.municipality:
                mun_ok += 1
            else:
                errors["municipality"].append(f"{g.post}: {p.municipality} ≠ {g.municipality}")
        if g.is_complaint and g.in_region and g.incident:
            gold_inc[g.post] = g.incident
            pred_inc[g.post] = p.incident or f"singleton:{g.post}"
    return Report(
        posts=len(labels),
        missing=missing,
        complaint=prf(tp, fp, fn),
        complaint_counts={"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        in_region_accuracy=region_ok / region_n if region_n else 0.0,
        category_accuracy=cat_ok / cat_n if cat_n else 0.0,
        category_n=cat_n,
        municipality_accuracy=mun_ok / mun_n if mun_n else 0.0,
        municipality_n=mun_n,
        pairwise=pairwise(gold_inc, pred_inc),
        bcubed=bcubed(gold_inc, pred_inc),
        clusters_gold=len(set(gold_inc.values())),
        clusters_pred=len(set(pred_inc.values())),
        errors=dict(errors),
    )
