"""A stream of real text for the benchmarks: `python -m bench --real [DATA]`.

Issue 22 measured `incidents import` of 20,000 real posts (Kursk and St Petersburg appeals,
Telegram news) at 6.3 ms of CPU a post against 2.8 ms for the synthetic stream of
`bench/generator.py`. This writes such a stream from `../shared/data` (read in place, never
copied into the repository) as interchange JSONL, so that the same stages measure both:

* the Kursk feedback-platform appeals (network `pos`, text only: the file has no address);
* the St Petersburg portal complaints (network `pos`, with the form's `address` and the
  building's point, as the platform crawler stores them);
* the Telegram news posts (network `telegram`, one source per channel).

A third of each by default, drawn with a seed, and dated over the 30 days before now in a
shuffled order sorted by time (the product refuses posts from the future).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.tabular import read_csv

FILES = ("kursk_appeals_train.csv", "spb_appeals_2020.csv.gz", "telegram_news_dev.csv.gz")


def _kursk(data: Path) -> Iterator[dict[str, Any]]:
    for r in read_csv(data / FILES[0]):
        if (r.get("text") or "").strip():
            yield {
                "network": "pos",
                "external_id": f"kursk-{r['id']}",
                "source_id": "pos_kursk",
                "text": r["text"],
            }


def _spb(data: Path) -> Iterator[dict[str, Any]]:
    for r in read_csv(data / FILES[1]):
        if not (r.get("text") or "").strip():
            continue
        post: dict[str, Any] = {
            "network": "pos",
            "external_id": f"spb-{r['id']}",
            "source_id": "pos_spb",
            "text": r["text"],
        }
        if (r.get("address") or "").strip():
            post["address"] = r["address"].strip()
        if r.get("lat") and r.get("lon"):
            post["lat"], post["lon"] = float(r["lat"]), float(r["lon"])
        yield post


def _news(data: Path) -> Iterator[dict[str, Any]]:
    for i, r in enumerate(read_csv(data / FILES[2])):
        if (r.get("text") or "").strip():
            channel = (r.get("channel_id") or r.get("channel") or "news").strip()
            yield {
                "network": "telegram",
                "external_id": f"{channel}/{r.get('message_id') or i}",
                "source_id": f"tg_{channel}",
                "text": r["text"],
            }


def write_real_stream(
    data: Path, path: Path, total: int, *, seed: int = 46, now: datetime | None = None
) -> int:
    """Write `total` real posts (a third from each file, as far as each file goes) to `path`."""
    missing = [name for name in FILES if not (data / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{data}: no {', '.join(missing)} (python -m bench --real needs ../shared/data)"
        )
    rnd = random.Random(seed)
    pools = [list(_kursk(data)), list(_spb(data)), list(_news(data))]
    share = [total // 3, total // 3, total - 2 * (total // 3)]
    chosen: list[dict[str, Any]] = []
    for pool, n in zip(pools, share, strict=True):
        rnd.shuffle(pool)
        chosen += pool[:n]
    if len(chosen) < total:  # a small file: the rest from the largest pool
        used = {p["external_id"] for p in chosen}
        rest = [p for p in max(pools, key=len) if p["external_id"] not in used]
        chosen += rest[: total - len(chosen)]
    end = (now or datetime.now(UTC)) - timedelta(hours=1)
    times = sorted(end - timedelta(seconds=rnd.uniform(0, 30 * 86_400)) for _ in chosen)
    rnd.shuffle(chosen)
    with open(path, "w", encoding="utf-8") as f:
        for post, at in zip(chosen, times, strict=True):
            post = dict(post, created_at=at.isoformat(timespec="seconds"), url=None)
            f.write(json.dumps(post, ensure_ascii=False) + "\n")
    return len(chosen)
