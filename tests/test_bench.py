"""The benchmark's generator and runner work (what they measure is in the README, not here)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections import Counter

from bench.generator import StreamGenerator
from core.config import load_region
from core.interchange import BadLine, read_jsonl
from tests.conftest import KURSK, ROOT


def _stream(n: int, seed: int = 7) -> list[dict]:
    buf = io.StringIO()
    StreamGenerator(load_region(KURSK), seed=seed).write(n, buf)
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_same_seed_same_stream_and_valid_interchange():
    a, b = _stream(2000), _stream(2000)
    assert a == b and len(a) == 2000 and a != _stream(2000, seed=8)
    parsed = list(
        read_jsonl(io.BytesIO("\n".join(json.dumps(r, ensure_ascii=False) for r in a).encode()), "gen")
    )
    assert not [p for _, p in parsed if isinstance(p, BadLine)]
    assert len({(r["network"], r["external_id"]) for r in a}) == 2000


def test_stream_looks_like_what_centres_see():
    recs = _stream(5000)
    networks = Counter(r["network"] for r in recs)
    assert set(networks) == {"vk", "ok", "telegram", "pos"} and networks["vk"] > networks["pos"]
    complaints = [r for r in recs if "bench_category" in r]
    assert 0.12 < len(complaints) / len(recs) < 0.35  # plus complaints in comments
    assert sum(1 for r in recs if r["parent_id"]) > 300  # comments under official posts
    # Clusters: posts of one problem share their text's place; some places get many posts.
    texts = Counter(r["text"].split(",")[0][:40] for r in complaints)
    assert max(texts.values()) >= 3
    assert any(ch in r["text"] for r in recs for ch in "😡🤬") and any("ё" in r["text"] for r in recs)


def test_bench_runs_with_one_command(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--posts", "300", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(out.read_text(encoding="utf-8"))
    row = figures["sizes"]["300"]
    assert row["sqlite"]["posts"] == 300 and figures["posts_per_s"] > 0
    assert row["signals"]["posts"] == 300 and row["clustering"]["signals"] > 0
    assert "300 posts" in run.stdout
