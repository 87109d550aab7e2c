"""`incidents crawl NETWORK [--source ID] [--since DATE]` as a shell user meets it, against the local fakes."""

from __future__ import annotations

import shutil

import pytest
import yaml

from cli.main import main
from tests.conftest import LIPETSK
from tests.fakes.ok import FakeOk
from tests.fakes.pos import FakePos


@pytest.fixture
def fakes():
    with FakeOk() as ok, FakePos() as pos:
        yield ok, pos


@pytest.fixture
def region(tmp_path, fakes, monkeypatch):
    """The Lipetsk test region with sources pointed at the fakes; credentials in the environment."""
    ok, pos = fakes
    root = tmp_path / "region"
    shutil.copytree(LIPETSK, root)
    sources = [
        {"id": "sample", "network": "replay", "kind": "replay", "params": {"path": "posts.jsonl"}},
        {
            "id": "ok-adm",
            "network": "ok",
            "kind": "group",
            "params": {"gid": "70000001234567", "api_url": f"{ok.url}/fb.do", "rate": 0, "page_size": 2},
        },
        {"id": "pos-no-url", "network": "pos", "kind": "messages", "params": {"region_code": "46"}},
        {
            "id": "pos-46",
            "network": "pos",
            "kind": "messages",
            "params": {"base_url": pos.url, "region_code": "46", "rate": 0, "page_size": 3},
        },
        {"id": "vk-adm", "network": "vk", "kind": "wall", "params": {"owner_id": -100001}},
        {"id": "vk-off", "network": "vk", "kind": "wall", "enabled": False, "params": {"owner_id": -100002}},
    ]
    (root / "sources.yaml").write_text(
        yaml.safe_dump({"sources": sources}, allow_unicode=True), encoding="utf-8"
    )
    monkeypatch.setenv("OK_APPLICATION_KEY", ok.data["application_key"])
    monkeypatch.setenv("OK_APPLICATION_SECRET_KEY", ok.data["application_secret_key"])
    monkeypatch.setenv("OK_ACCESS_TOKEN", ok.data["access_token"])
    monkeypatch.setenv("POS_TOKEN", pos.data["token"])
    monkeypatch.delenv("VK_TOKEN", raising=False)
    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "var"))
    return root


def run(capsys, region, tmp_path, *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(region), "--database", f"sqlite:///{tmp_path / 'crawl.db'}", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_crawl_one_network_then_again_changes_nothing(region, tmp_path, capsys, fakes):
    code, out, _ = run(capsys, region, tmp_path, "crawl", "ok", "--since", "2026-11-16")
    # six topics and eight comments; three records quarantined (two malformed, one closed discussion)
    assert code == 3 and "источник ok-adm: страниц" in out and "новых 14" in out and "в карантине 3" in out
    assert all(r.params.get("gid") in (None, "70000001234567") for r in fakes[0].requests)
    code, out, _ = run(capsys, region, tmp_path, "crawl", "ok", "--since", "2026-11-16")
    assert "новых 0" in out and "в карантине 0" in out and code == 0


def test_missing_credentials_name_the_variable_and_other_sources_still_run(region, tmp_path, capsys):
    code, out, err = run(capsys, region, tmp_path, "crawl", "vk")
    assert (
        code == 2 and "vk-adm" in err and "VK_TOKEN" in err and "vk-off" not in err + out
    )  # disabled: not run
    code, out, err = run(capsys, region, tmp_path, "crawl", "pos", "--since", "2026-11-01", "--process")
    assert code == 2 and "pos-no-url" in err and "params.base_url is not set" in err
    assert "источник pos-46: страниц" in out and "новых 10" in out and "обработано постов: 10" in out


def test_a_bug_in_the_request_fails_loudly(region, tmp_path, capsys, fakes):
    fakes[0].fail("group.getStatTopics", 100)
    code, _, err = run(capsys, region, tmp_path, "crawl", "ok", "--since", "2026-11-16")
    assert code == 1 and "ok error 100: PARAM" in err and "ошибка программы" in err


def test_a_stop_for_now_keeps_the_cursor(region, tmp_path, capsys, fakes):
    fakes[0].fail("discussions.getComments", 11)
    code, out, _ = run(capsys, region, tmp_path, "crawl", "ok", "--source", "ok-adm", "--since", "2026-11-16")
    assert code == 3 and "остановлен до следующего запуска" in out and "LIMIT_REACHED" in out
    code, out, _ = run(capsys, region, tmp_path, "crawl", "ok", "--source", "ok-adm", "--since", "2026-11-16")
    assert "новых 8" in out  # the comments that waited; the topics were stored before the stop


def test_bad_usage(region, tmp_path, capsys):
    assert run(capsys, region, tmp_path, "crawl", "ok", "--source", "nope")[0] == 2
    code, _, err = run(capsys, region, tmp_path, "crawl", "ok", "--source", "pos-46")
    assert code == 2 and "не из сети ok" in err
    code, _, err = run(capsys, region, tmp_path, "crawl", "ok", "--since", "вчера")
    assert code == 2 and "--since" in err
    code, _, err = run(capsys, region, tmp_path, "crawl", "telegram")
    assert code == 2 and "нет включённых источников сети telegram" in err


def test_incidents_run_never_retries_a_bug_but_retries_a_crash():
    from prefect.states import Failed

    from crawlers.errors import ApiBug
    from flows.jobs import retry_unless_bug
    from flows.monitoring import crawl_task

    assert crawl_task.retry_condition_fn is retry_unless_bug
    assert retry_unless_bug(crawl_task, None, Failed(data=ApiBug("vk error 100"))) is False
    assert retry_unless_bug(crawl_task, None, Failed(data=ConnectionError("database restarted"))) is True
