"""Speed of the signal stage, and our lemmas against spaCy's, on one core.

    python -m bench.signals [--posts 20000] [--candidates 0.33] [--data ../shared/data] [--json]

What it measures (figures in README.md, "Speed"):

1. **normalize + keyword filter**: `Normalizer` and the compiled `KeywordRules` on every post
   of the stream (target ≥ 5,000 posts/s). Reported cold (empty lemma cache: the first
   minutes after a start) and warm (a running stream, where words repeat).
2. **the whole signal stage**: `SignalBuilder` — normalization, rules, markers, gazetteer and
   address on every post, natasha NER on the candidates (target ≥ 1,000 posts/s on a stream
   where about a third of the posts are candidates) — one post at a time and batched
   (`SignalBuilder.many`).
3. **spaCy or ours**: the `ru` blank pipeline with its pymorphy3 lemmatizer (one lemma per
   word) against `pipelines.lemmas` (every candidate lemma, cached): lemmatization speed, and
   how often the same keyword rules fire on known complaints (the bundled sample's gold
   complaints, and St Petersburg portal complaints when ../shared/data is there).

Rates are posts per second of CPU time of this process (`time.process_time`): on a shared
machine wall-clock rates drop with the load of other jobs, CPU time does not; the wall-clock
rates are reported beside them.

The stream: the bundled sample's posts, plus, when ../shared/data is present, Telegram news
posts and St Petersburg portal complaints; drawn (seeded) so that the requested share of posts
are candidates (a rule fires). One core: BLAS threads are pinned to 1 before numpy loads.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KURSK = ROOT / "config" / "regions" / "kursk"


def _texts(data: Path | None) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """(bundled sample texts, gold complaint texts of the sample, real texts by file)."""
    posts = {}
    with (KURSK / "sample" / "posts.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            o = json.loads(line)
            posts[f"{o['network']}:{o['external_id']}"] = o["text"]
    gold = []
    with (KURSK / "sample" / "labels.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            g = json.loads(line)
            if g["is_complaint"] and g["post"] in posts:
                gold.append(posts[g["post"]])
    real: dict[str, list[str]] = {}
    if data is not None:
        from lab.corpus import SPB_FILE, TELEGRAM_FILE, read_csv

        for name in (TELEGRAM_FILE, SPB_FILE):
            if (data / name).is_file():
                real[name] = [r["text"] for r in read_csv(data / name) if r.get("text")]
    return list(posts.values()), gold, real


def build_stream(
    texts: list[str], is_candidate: Any, n: int, share: float, seed: int
) -> tuple[list[str], float]:
    """n texts drawn (seeded, with repetition) so that `share` of them are candidates."""
    rng = random.Random(seed)
    cands = [t for t in texts if is_candidate(t)]
    others = [t for t in texts if not is_candidate(t)]
    if not cands or not others:
        return [rng.choice(texts) for _ in range(n)], sum(map(is_candidate, texts)) / len(texts)
    k = round(n * share)
    stream = [rng.choice(cands) for _ in range(k)] + [rng.choice(others) for _ in range(n - k)]
    rng.shuffle(stream)
    return stream, k / n


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def bench_filter(stream: list[str]) -> dict[str, float]:
    from core.config import load_region
    from pipelines.keywords import KeywordRules
    from pipelines.lemmas import Lemmatizer
    from pipelines.normalize import Normalizer

    cfg = load_region(KURSK)
    lem = Lemmatizer()
    norm = Normalizer(lemmatizer=lem)
    rules = KeywordRules(cfg.rubricator, lem)

    def run() -> tuple[float, float, int]:
        t0, c0 = time.perf_counter(), time.process_time()
        hits = 0
        for text in stream:
            n = norm(text)
            hits += bool(rules(n.lemmas, n.tokens))
        return time.process_time() - c0, time.perf_counter() - t0, hits

    cold, cold_wall, hits = run()
    warm, warm_wall, _ = run()
    n = len(stream)
    return {
        "posts": n,
        "cold_posts_per_s": _rate(n, cold),
        "warm_posts_per_s": _rate(n, warm),
        "cold_posts_per_wall_s": _rate(n, cold_wall),
        "warm_posts_per_wall_s": _rate(n, warm_wall),
        "candidates": hits / n,
    }


def bench_stage(stream: list[str], *, batch: int = 64) -> dict[str, float]:
    from core.config import load_region
    from core.records import PostRecord
    from incidents.services.training import signal_builder

    cfg = load_region(KURSK)
    b = signal_builder(cfg, use_ner=True)
    when = datetime(2026, 11, 20, tzinfo=UTC)
    posts = [
        PostRecord(network="vk", external_id=str(i), source_id="bench", text=t, created_at=when)
        for i, t in enumerate(stream)
    ]
    b.many(posts[:50])  # load natasha (≈1.5 s) and warm the caches outside the timing
    for p in posts:  # warm lemma cache: a running stream's state
        b.normalize(p.text)
    t0, c0 = time.perf_counter(), time.process_time()
    one = [b(p) for p in posts]
    t_one, c_one = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    for start in range(0, len(posts), batch):
        b.many(posts[start : start + batch])
    t_many, c_many = time.perf_counter() - t0, time.process_time() - c0
    cands = sum(bool(s.rules) for s in one)
    persons = sum(bool(s.entities.persons) for s in one)
    return {
        "posts": len(posts),
        "candidates": cands / len(posts),
        "with_persons": persons / len(posts),
        "one_by_one_posts_per_s": _rate(len(posts), c_one),
        "batched_posts_per_s": _rate(len(posts), c_many),
        "one_by_one_posts_per_wall_s": _rate(len(posts), t_one),
        "batched_posts_per_wall_s": _rate(len(posts), t_many),
        "batch": batch,
    }


def bench_spacy(texts: list[str], complaints: dict[str, list[str]]) -> dict[str, Any]:
    """spaCy `ru` + pymorphy3 lemmatizer (one lemma per token) against ours (all candidates)."""
    import spacy

    from core.config import load_region
    from pipelines.keywords import KeywordRules
    from pipelines.lemmas import Lemmatizer
    from pipelines.normalize import Normalizer, matching_text

    nlp = spacy.blank("ru")
    nlp.add_pipe("lemmatizer", config={"mode": "pymorphy3"})
    nlp.initialize()
    cfg = load_region(KURSK)
    lem = Lemmatizer()
    ours = Normalizer(lemmatizer=lem)
    rules = KeywordRules(cfg.rubricator, lem)

    def spacy_lemmas(text: str) -> tuple[list[tuple[str, ...]], list[str]]:
        # the same cleaned matching text, tokenized and lemmatized by spaCy
        mtext = matching_text(text)[0]
        doc = nlp(mtext)
        toks = [t for t in doc if not t.is_punct and not t.is_space]
        return [(t.lemma_.lower().replace("ё", "е"),) for t in toks], [t.text for t in toks]

    out: dict[str, Any] = {}
    c0 = time.process_time()
    n_tok = 0
    for t in texts:
        n_tok += len(spacy_lemmas(t)[1])
    out["spacy_tokens_per_s"] = _rate(n_tok, time.process_time() - c0)
    fresh = Normalizer(lemmatizer=Lemmatizer(), max_chars=ours.max_chars)
    fresh.lemmatizer._cache.clear()
    c0 = time.process_time()
    n_tok = sum(len(fresh(t).tokens) for t in texts)
    out["ours_cold_tokens_per_s"] = _rate(n_tok, time.process_time() - c0)
    c0 = time.process_time()
    n_tok = sum(len(fresh(t).tokens) for t in texts)
    out["ours_warm_tokens_per_s"] = _rate(n_tok, time.process_time() - c0)
    for name, items in complaints.items():
        hit_s = hit_o = 0
        for t in items:
            lemmas, toks = spacy_lemmas(t)
            hit_s += bool(rules(lemmas, toks))
            n = ours(t)
            hit_o += bool(rules(n.lemmas, n.tokens))
        out[f"rule_fires_{name}"] = {"n": len(items), "spacy": hit_s / len(items), "ours": hit_o / len(items)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.signals", description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=20000, help="posts in the stream (default 20000)")
    ap.add_argument("--candidates", type=float, default=0.33, help="share of candidate posts (default 0.33)")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="../shared/data (optional)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip", action="append", choices=["filter", "stage", "spacy"], default=[])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    data = Path(args.data)
    sample, gold, real = _texts(data if data.is_dir() else None)

    from core.config import load_region
    from pipelines.keywords import KeywordRules
    from pipelines.lemmas import Lemmatizer
    from pipelines.normalize import Normalizer

    lem = Lemmatizer()
    norm = Normalizer(lemmatizer=lem)
    rules = KeywordRules(load_region(KURSK).rubricator, lem)

    def is_candidate(text: str) -> bool:
        n = norm(text)
        return bool(rules(n.lemmas, n.tokens))

    pool = sample + [t for texts in real.values() for t in texts]
    stream, share = build_stream(pool, is_candidate, args.posts, args.candidates, args.seed)
    report: dict[str, Any] = {
        "stream": {
            "posts": len(stream),
            "candidate_share": share,
            "sources": "bundled sample" + (" + ../shared/data" if real else ""),
            "mean_chars": sum(map(len, stream)) / len(stream),
        }
    }
    if "filter" not in args.skip:
        report["normalize_and_filter"] = bench_filter(stream)
    if "stage" not in args.skip:
        report["signal_stage"] = bench_stage(stream)
    if "spacy" not in args.skip:
        rng = random.Random(args.seed)
        from lab.corpus import SPB_FILE

        spb = real.get(SPB_FILE, [])
        complaints = {"sample_gold_complaints": gold}
        if spb:
            complaints["spb_portal_complaints_2000"] = rng.sample(spb, min(2000, len(spb)))
        report["spacy_vs_ours"] = bench_spacy(rng.sample(pool, min(3000, len(pool))), complaints)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print(report)
    return 0


def _print(report: dict[str, Any]) -> None:
    s = report["stream"]
    print(
        f"stream: {s['posts']} posts ({s['sources']}), candidates {s['candidate_share']:.0%}, "
        f"mean {s['mean_chars']:.0f} characters"
    )
    if "normalize_and_filter" in report:
        f = report["normalize_and_filter"]
        print(
            f"normalize + keyword filter: cold {f['cold_posts_per_s']:,.0f} posts/s, "
            f"warm {f['warm_posts_per_s']:,.0f} posts/s of CPU (target ≥ 5,000); wall clock "
            f"{f['cold_posts_per_wall_s']:,.0f} / {f['warm_posts_per_wall_s']:,.0f}"
        )
    if "signal_stage" in report:
        g = report["signal_stage"]
        print(
            f"whole signal stage with NER on candidates ({g['candidates']:.0%}): "
            f"one by one {g['one_by_one_posts_per_s']:,.0f} posts/s, batched ({g['batch']}) "
            f"{g['batched_posts_per_s']:,.0f} posts/s of CPU (target ≥ 1,000); wall clock "
            f"{g['one_by_one_posts_per_wall_s']:,.0f} / {g['batched_posts_per_wall_s']:,.0f}"
        )
    if "spacy_vs_ours" in report:
        c = report["spacy_vs_ours"]
        print(
            f"lemmas: spaCy ru + pymorphy3 {c['spacy_tokens_per_s']:,.0f} tokens/s; ours cold "
            f"{c['ours_cold_tokens_per_s']:,.0f}, warm {c['ours_warm_tokens_per_s']:,.0f} tokens/s"
        )
        for k, v in c.items():
            if k.startswith("rule_fires_"):
                print(
                    f"  a rule fires on {k[11:]} (n={v['n']}): spaCy {v['spacy']:.1%}, ours {v['ours']:.1%}"
                )


if __name__ == "__main__":
    raise SystemExit(main())
