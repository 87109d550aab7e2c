"""Embedded full-text search on real texts: indexing speed, query latency, and how many of the
posts that contain a word in some inflected form a query finds.

    python -m bench.search_embedded [--database URL] [--limit N]

Data: ../shared/data/kursk_appeals_train.csv (feedback-platform appeals, Kursk) and
spb_appeals_2020.csv.gz (city portal complaints, St Petersburg), read in place; the benchmark
says so and exits 0 when they are absent. The database is a temporary SQLite file unless
--database names another (a PostgreSQL database is emptied first: use a throw-away one).

Recall is measured against a regular expression over the raw text that lists the word's
case forms, independent of the lemmatizer; «found» counts posts the search returned, «extra»
the returned posts the expression does not match (other words sharing a lemma — e.g.
«стать» for «стали» — or ё/е spellings the expression lacks).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Query word → every case form of it in singular and plural (the independent check).
WORDS: dict[str, str] = {
    "яма": r"ям(а|ы|е|у|ой|ою|ам|ами|ах)?",
    "подъезд": r"подъезд(а|у|ом|е|ы|ов|ам|ами|ах)?",
    "отопление": r"отоплени(е|я|ю|ем|и)",
    "мусор": r"мусор(а|у|ом|е)?",
    "собака": r"собак(а|и|е|у|ой|ою|ам|ами|ах)?",
    "крыша": r"крыш(а|и|е|у|ей|ею|ам|ами|ах)?",
    "освещение": r"освещени(е|я|ю|ем|и)",
    "лифт": r"лифт(а|у|ом|е|ы|ов|ам|ами|ах)?",
}


def _rows(limit: int | None) -> list[tuple[str, str]]:
    """(external id, text) of real appeals."""
    out: list[tuple[str, str]] = []
    kursk = DATA / "kursk_appeals_train.csv"
    spb = DATA / "spb_appeals_2020.csv.gz"
    csv.field_size_limit(sys.maxsize)
    if kursk.is_file():
        with kursk.open(encoding="utf-8", newline="") as f:
            out += [(f"kursk-{r['id']}", r["text"]) for r in csv.DictReader(f) if r.get("text")]
    if spb.is_file():
        with gzip.open(spb, "rt", encoding="utf-8", newline="") as f:
            out += [(f"spb-{r['id']}", r["text"]) for r in csv.DictReader(f) if r.get("text")]
    return out[:limit] if limit else out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database", help="SQLAlchemy URL (default: a temporary SQLite file)")
    ap.add_argument("--limit", type=int, help="only the first N texts")
    args = ap.parse_args(argv)
    rows = _rows(args.limit)
    if not rows:
        print(f"no data under {DATA}: nothing measured")
        return 0

    import sqlalchemy as sa
    from sqlmodel import Session

    from core.records import PostRecord
    from incidents.services.search import fts
    from pipelines.normalize import Normalizer
    from storage.db import open_database
    from storage.store import save_posts

    tmp = tempfile.TemporaryDirectory()
    url = args.database or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    if url.startswith("postgresql"):
        eng = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with eng.begin() as c:
            c.execute(sa.text("DROP SCHEMA public CASCADE"))
            c.execute(sa.text("CREATE SCHEMA public"))
        eng.dispose()
    engine = open_database(url)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    records = [
        PostRecord(
            network="pos",
            external_id=ext,
            source_id="bench",
            text=text,
            created_at=base + timedelta(minutes=i),
        )
        for i, (ext, text) in enumerate(rows)
    ]
    t0 = time.perf_counter()
    for start in range(0, len(records), 1000):
        with Session(engine) as s, s.begin():
            save_posts(s, records[start : start + 1000], base)
    t_store = time.perf_counter() - t0

    norm = Normalizer()
    t0 = time.perf_counter()
    indexed = fts.catch_up(engine, norm)
    t_index = time.perf_counter() - t0
    print(
        f"database: {engine.dialect.name}; texts: {len(rows)} "
        f"({sum(1 for r in rows if r[0].startswith('kursk'))} Kursk ПОС, "
        f"{sum(1 for r in rows if r[0].startswith('spb'))} St Petersburg portal)"
    )
    print(
        f"store: {t_store:.1f} s; index (lemmatize + write): {indexed} posts in {t_index:.1f} s "
        f"= {indexed / t_index:.0f} posts/s"
    )

    texts = dict(rows)
    print(f"{'query':<11} {'expected':>8} {'found':>6} {'recall':>7} {'extra':>6} {'ms/query':>9}")
    for word, forms in WORDS.items():
        rx = re.compile(rf"(?<![а-яё]){forms}(?![а-яё])", re.IGNORECASE)
        expected = {k for k, t in texts.items() if rx.search(t.replace("ё", "е").replace("Ё", "Е"))}
        t0 = time.perf_counter()
        hits = fts.search_posts(engine, word, limit=len(rows), normalizer=norm, refresh_first=False)
        ms = (time.perf_counter() - t0) * 1000
        found = {h.post_key.split(":", 1)[1] for h in hits}
        recall = len(found & expected) / len(expected) if expected else 1.0
        print(
            f"{word:<11} {len(expected):>8} {len(found):>6} {recall:>7.3f} {len(found - expected):>6} {ms:>9.0f}"
        )
    # Latency of a typical query (top 20, two words, a filter), warm.
    t0 = time.perf_counter()
    n = 20
    for _ in range(n):
        fts.search_posts(engine, "ямы во дворе", limit=20, normalizer=norm, refresh_first=False)
    print(f"«ямы во дворе», top 20: {(time.perf_counter() - t0) * 1000 / n:.1f} ms/query")
    engine.dispose()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
