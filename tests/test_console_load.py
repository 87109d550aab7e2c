"""The console's load bench, briefly: the real `incidents serve` in its own process, locust headless with a
few users for a few seconds against a small seeded database; it must log everyone in, drive the pages and
report figures with no error. The 50-user, 60-second run and its figures: docs/reliability.md."""

from __future__ import annotations

import importlib.util
import json

import pytest

# Never `import locust` here: it monkey-patches the whole process with gevent on import, and the
# rest of the suite would then run (and hang) on gevent's hub. Locust runs as its own process.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("locust") is None,
    reason="the load extra is not installed (pip install -e '.[load]')",
)


def test_the_load_bench_drives_the_real_console_and_reports_figures_without_errors(tmp_path):  # noqa: ANN001
    from bench.console_load import main

    out_file = tmp_path / "load.json"
    code = main(
        [
            "--posts",
            "500",
            "--users",
            "4",
            "--spawn-rate",
            "4",
            "--run-time",
            "6",
            "--think",
            "0.05,0.2",
            "--bcrypt-rounds",
            "4",
            "--json",
            str(out_file),
        ]
    )
    out = json.loads(out_file.read_text(encoding="utf-8"))
    assert out["incidents"] > 30 and out["open"] > 0
    assert out["login"]["requests"] == 4 and out["login"]["errors"] == 0
    steady = out["steady"]
    assert steady["errors"] == 0 and out["whole_run"]["errors"] == 0, steady["error_kinds"]
    assert steady["requests"] >= 10 and steady["per_s"] > 0
    assert len(steady["pages"]) >= 5  # a mix of pages, not one URL
    for name, row in steady["pages"].items():
        assert 0 <= row["p50"] <= row["p95"] <= row["p99"] <= row["max"], name
    assert out["server_errors"] == []
    assert code == 0
