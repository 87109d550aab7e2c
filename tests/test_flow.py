"""The Prefect flow composes the same steps; run it for real on a local test harness."""

import pytest
from sqlmodel import Session, func, select

from incidents.db import open_database
from incidents.models import Incident, Post
from tests.conftest import LIPETSK


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    import os

    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_monitoring_run_end_to_end(harness, tmp_path):
    from flows.monitoring import monitoring_run

    url = f"sqlite:///{tmp_path / 'flow.db'}"
    result = monitoring_run(config_dir=str(LIPETSK), database_url=url)
    assert result["crawls"][0]["inserted"] == 14 and result["crawls"][0]["error"] is None
    assert result["process"]["posts"] == 14 and result["process"]["incidents_opened"] >= 4
    assert sum(result["sla"].values()) == result["process"]["incidents_opened"]
    assert result["search"]["embedded_indexed"] == 14 and result["search"]["errors"] == []
    # Rerun: the cursor says the file is read; nothing new, nothing doubled.
    again = monitoring_run(config_dir=str(LIPETSK), database_url=url)
    assert again["crawls"][0]["inserted"] == 0 and again["process"]["posts"] == 0
    engine = open_database(url)
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Post)).one() == 14
        assert s.exec(select(func.count()).select_from(Incident)).one() == result["process"]["incidents_opened"]


def test_a_failing_source_does_not_stop_the_others(harness, tmp_path):
    from flows.monitoring import monitoring_run

    url = f"sqlite:///{tmp_path / 'flow.db'}"
    cfg_dir = tmp_path / "region"
    cfg_dir.mkdir()
    for f in LIPETSK.iterdir():
        if f.suffix == ".yaml":
            (cfg_dir / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    (cfg_dir / "posts.jsonl").write_text((LIPETSK / "posts.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    (cfg_dir / "sources.yaml").write_text(
        "sources:\n"
        "  - {id: gone, network: replay, kind: replay, params: {path: missing.jsonl}}\n"
        "  - {id: sample, network: replay, kind: replay, params: {path: posts.jsonl}}\n",
        encoding="utf-8",
    )
    result = monitoring_run(config_dir=str(cfg_dir), database_url=url)
    by_id = {c["source_id"]: c for c in result["crawls"]}
    assert "not configured" in by_id["gone"]["error"] and "missing.jsonl" in by_id["gone"]["error"]
    assert by_id["sample"]["inserted"] == 14
