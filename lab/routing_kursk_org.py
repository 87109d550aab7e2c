"""What was tried for Kursk's right ORGANISATION, and the desk model with the platform's topic.

`python -m lab.routing_kursk_org --config config/regions/kursk FILE [--test]` reads the file
once through the signal stage and the rules (`services.routing_desk.read_desk_rows`), then on
the validation slice (rows 1,200–1,500 learned on the first 1,200; `--test`: the last 500
learned on the first 1,500) scores:

* an organisation model (the body's `parent` chain head, `bodies.organisation_of`): TF-IDF
  words and characters of the text, with our codes (category, subcategory, municipality, scale,
  street), the rules' body and organisation, the platform's topic as tokens or not; alone, and
  overriding the rules only where its margin is at least t (everywhere, or only where the text
  named no place and the rules assumed the city of Kursk);
* a table (the rules' organisation × the topic, …) → organisation, overriding the rules where
  it is confident;
* a model of ГЖИ against the city for the complaints the rules send to either;
* the desks' model of `incidents.domain.desk_routing` with the topic as a token, in the rolling
  evaluation of `services.routing_desk`.

The platform's `topic` is a form field the resident chooses; the interchange format does not
carry it (docs/interchange.schema.json), so figures with it say what a crawler that kept it
would add. Nothing learned is written anywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from core.config import load_region
from incidents.domain.desk_routing import DeskExample
from incidents.services.routing_desk import DeskRow, evaluate_desk_split, read_desk_rows
from incidents.services.routing_history import read_rows


def _features(
    rows: list[tuple[DeskRow, str]], org: Any, *, rules: bool, topic: bool, codes: bool
) -> list[str]:
    out = []
    for r, t in rows:
        e = r.item
        toks = []
        if rules:
            toks += [f"rb={r.rules_body}", f"ro={org(r.rules_body)}"]
        if codes:
            street = "_".join((e.street or "").lower().split())
            toks += [
                f"cat={e.category}",
                f"sub={e.subcategory}",
                f"muni={e.municipality}",
                f"scale={e.scale}",
            ]
            toks += [f"st={street}"]
        if topic:
            toks.append("topic=" + "_".join(t.split()))
        out.append(" ".join(toks))
    return out


def _model(train, test, target, org, *, rules: bool, topic: bool, codes: bool, c: float = 0.3):
    """Predictions and margins (best − second) of a linear SVM on text + tokens."""
    import numpy as np
    from scipy.sparse import hstack  # type: ignore[import-untyped]
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.svm import LinearSVC

    w = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    ch = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, max_features=100_000
    )
    tr_txt = [r.item.text for r, _ in train]
    te_txt = [r.item.text for r, _ in test]
    xs_tr = [w.fit_transform(tr_txt), ch.fit_transform(tr_txt)]
    xs_te = [w.transform(te_txt), ch.transform(te_txt)]
    if rules or topic or codes:
        m = CountVectorizer(token_pattern=r"\S+", binary=True, lowercase=False)
        xs_tr.append(m.fit_transform(_features(train, org, rules=rules, topic=topic, codes=codes)))
        xs_te.append(m.transform(_features(test, org, rules=rules, topic=topic, codes=codes)))
    clf = LinearSVC(C=c).fit(hstack(xs_tr).tocsr(), [target(r) for r, _ in train])
    margins = clf.decision_function(hstack(xs_te).tocsr())
    if margins.ndim == 1:
        margins = np.stack([-margins, margins], axis=1)
    s = np.sort(margins, axis=1)
    classes = [str(k) for k in clf.classes_]
    return [classes[i] for i in margins.argmax(1)], list(s[:, -1] - s[:, -2])


VARIANTS = {
    "text": {"rules": False, "topic": False, "codes": False},
    "text+codes": {"rules": False, "topic": False, "codes": True},
    "text+rules+codes": {"rules": True, "topic": False, "codes": True},
    "text+topic": {"rules": False, "topic": True, "codes": False},
    "text+rules+codes+topic": {"rules": True, "topic": True, "codes": True},
}


def organisation_study(train, test, org) -> dict[str, Any]:
    def gold(r: DeskRow) -> str:
        return org(r.item.body)

    n = len(test)
    rules_ok = sum(org(r.rules_body) == gold(r) for r, _ in test)
    out: dict[str, Any] = {"n": n, "rules": round(rules_ok / n, 3)}
    for name, kw in VARIANTS.items():
        pred, margin = _model(train, test, lambda r: org(r.item.body), org, **kw)
        res = {"alone": round(sum(p == gold(r) for p, (r, _) in zip(pred, test, strict=True)) / n, 3)}
        for t in (0.0, 0.4, 0.8, 1.2):
            for unplaced in (False, True):
                ok = 0
                for p, m, (r, _) in zip(pred, margin, test, strict=True):
                    take = m >= t and (not unplaced or r.item.municipality is None)
                    ok += (p if take else org(r.rules_body)) == gold(r)
                res[f"override t{t}{' unplaced' if unplaced else ''}"] = round(ok / n, 3)
        out[f"model {name}"] = res
    keys = {
        "rules org × topic": lambda r, t: (org(r.rules_body), t),
        "rules org × category × subcategory": lambda r, t: (
            org(r.rules_body),
            r.item.category,
            r.item.subcategory,
        ),
        "topic": lambda r, t: t,
    }
    for name, key in keys.items():
        counts: dict[Any, Counter[str]] = defaultdict(Counter)
        for r, t in train:
            counts[key(r, t)][gold(r)] += 1
        res = {}
        for support in (3, 5, 10):
            for share in (0.6, 0.75, 0.9):
                ok = 0
                for r, t in test:
                    p = org(r.rules_body)
                    c = counts.get(key(r, t))
                    if c:
                        best, hits = c.most_common(1)[0]
                        if sum(c.values()) >= support and hits / sum(c.values()) >= share:
                            p = best
                    ok += p == gold(r)
                res[f"s{support} p{share}"] = round(ok / n, 3)
        out[f"table {name}"] = res
    pair = {"gzhi", "adm_kursk"}
    tr2 = [(r, t) for r, t in train if org(r.rules_body) in pair and gold(r) in pair]
    te2 = [(r, t) for r, t in test if org(r.rules_body) in pair]
    for name in ("text+codes", "text+rules+codes+topic"):
        pred, margin = _model(tr2, te2, gold, org, **VARIANTS[name])
        res = {}
        for th in (0.0, 0.25, 0.5, 0.75, 1.0):
            gain = sum(
                (p == gold(r)) - (org(r.rules_body) == gold(r))
                for p, m, (r, _) in zip(pred, margin, te2, strict=True)
                if m >= th and p != org(r.rules_body)
            )
            res[f"t{th}"] = round((rules_ok + gain) / n, 3)
        out[f"ГЖИ or the city, {name}"] = res
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.routing_kursk_org")
    p.add_argument("file")
    p.add_argument("--config", required=True)
    p.add_argument("--test", action="store_true", help="also the test period (once per final setting)")
    args = p.parse_args(argv)
    cfg = load_region(Path(args.config))
    org = cfg.bodies.organisation_of
    topics = {
        str(row.get("id") or i): row.get("topic") or "" for i, row in enumerate(read_rows(Path(args.file)))
    }
    rows = read_desk_rows(cfg, Path(args.file))
    pairs = [(r, topics.get(r.id, "")) for r in rows]
    cut = int(len(pairs) * 0.75)
    splits = {"validation": (pairs[: int(cut * 0.8)], pairs[int(cut * 0.8) : cut])}
    if args.test:
        splits["test"] = (pairs[:cut], pairs[cut:])
    out: dict[str, Any] = {}
    for name, (train, test) in splits.items():
        out[f"{name}: organisation"] = organisation_study(train, test, org)
        with_topic = [
            DeskRow(r.id, r.when, DeskExample(f"{r.item.text}\nТема: {t}", *_rest(r.item)), r.rules_body)
            for r, t in train + test
        ]
        share = len(train) / (len(train) + len(test))
        out[f"{name}: desk step, topic in the text"] = evaluate_desk_split(cfg, with_topic, train_share=share)
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    return 0


def _rest(e: DeskExample) -> tuple[Any, ...]:
    return (e.body, e.category, e.subcategory, e.municipality, e.scale, e.street)


if __name__ == "__main__":
    sys.exit(main())
