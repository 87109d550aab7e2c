"""Orchestration: the job flows end to end, deployments from config, the compose stack.

The flows run for real on Prefect's test harness; serving the deployments runs against a
real `prefect server` (SQLite) started here, with a crawl against the fake OK server.
"""

from __future__ import annotations

import inspect
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlmodel import Session, func, select

from core.config import ConfigError, load_region, parse_schedule
from flows.deployments import JOB_ENTRYPOINTS, job_specs, prefect_yaml
from storage.db import open_database
from storage.models import Incident, Post
from tests.conftest import KURSK, LIPETSK, ROOT
from tests.fakes.ok import FakeOk

OK_GID = "70000001234567"


# --------------------------------------------------------------------------- schedules and specs
@pytest.mark.parametrize(
    "text,expected",
    [
        ("every 10m", ("interval", 600)),
        ("every 30s", ("interval", 30)),
        ("every 2h", ("interval", 7200)),
        ("every 1d", ("interval", 86400)),
        ("*/10 * * * *", ("cron", "*/10 * * * *")),
        ("0 6 * * 1-5", ("cron", "0 6 * * 1-5")),
    ],
)
def test_schedules_parse(text, expected):
    assert parse_schedule(text) == expected


@pytest.mark.parametrize("bad", ["every 0m", "каждые 10 минут", "every 10 minutes", "* * *", "@hourly"])
def test_a_bad_schedule_fails_check_config_naming_file_and_key(tmp_path, bad):
    region = _copy_region(LIPETSK, tmp_path)
    text = (region / "sources.yaml").read_text(encoding="utf-8")
    (region / "sources.yaml").write_text(
        text.replace("kind: replay", f"kind: replay\n    schedule: '{bad}'", 1), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as e:
        load_region(region)
    assert "sources.yaml" in str(e.value) and "schedule" in str(e.value)


def test_one_crawl_deployment_per_source_and_one_per_job():
    cfg = load_region(KURSK)
    specs = {s.name: s for s in job_specs(cfg)}
    for src in cfg.sources.sources:
        spec = specs[f"crawl-{src.id}"]
        assert spec.parameters == {"source_id": src.id} and f"network:{src.network}" in spec.tags
        assert spec.active == (src.enabled and src.schedule is not None and not src.sample)
    assert (
        not specs["crawl-sample"].active and not specs["crawl-vk_adm_kursk"].active
    )  # the sample is never deployed (issue 18)
    for job in ("process", "sla-watch", "publish", "index", "report"):
        assert specs[job].active and specs[job].cron_or_every == getattr(
            cfg.region.schedules, job.replace("-", "_")
        )


def test_committed_prefect_yaml_is_what_the_default_region_generates():
    committed = (ROOT / "prefect.yaml").read_text(encoding="utf-8")
    assert committed == prefect_yaml(load_region(KURSK)), "run `incidents prefect-yaml -o prefect.yaml`"


def test_prefect_yaml_entrypoints_and_parameters_are_real():
    doc = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    import importlib

    for dep in doc["deployments"]:
        path, func_name = dep["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow_obj = getattr(module, func_name)
        params = inspect.signature(flow_obj.fn).parameters
        assert set(dep["parameters"]) <= set(params), dep["name"]
        assert all(
            p.default is not inspect.Parameter.empty or name in dep["parameters"]
            for name, p in params.items()
        ), f"{dep['name']}: a required parameter is missing"
        (sched,) = dep["schedules"]
        assert ("interval" in sched) != ("cron" in sched)
        assert dep["entrypoint"] in JOB_ENTRYPOINTS.values()


# --------------------------------------------------------------------------- docker compose
def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_file_matches_the_compose_specification():
    import jsonschema

    schema = json.loads((ROOT / "tests" / "fixtures" / "compose_spec.json").read_text(encoding="utf-8"))
    jsonschema.validate(_compose(), schema)


def test_compose_stack_has_every_part_with_health_checks_and_volumes():
    doc = _compose()
    services = doc["services"]
    assert {"postgres", "prefect-server", "deploy", "worker", "console", "elasticsearch", "kibana"} <= set(
        services
    )
    for name in ("postgres", "prefect-server", "console", "elasticsearch", "kibana"):
        assert "healthcheck" in services[name], name
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown {dep}"
        for vol in svc.get("volumes", []):
            src = vol.split(":", 1)[0]
            assert src.startswith(".") or src in doc["volumes"], f"{name}: undeclared volume {src}"
            if src.startswith("."):
                assert (ROOT / src).exists(), f"{name}: {src} is not in the repository"


def _commands_of(svc: dict) -> list[list[str]]:
    """The command lines a service of our image runs."""
    entry = svc.get("entrypoint", ["incidents"])
    command = svc.get("command", ["run"])
    if entry == ["sh", "-c"]:
        return [shlex.split(part) for part in " ".join(command).split("&&")]
    return [list(entry) + list(command)]


def test_compose_services_run_only_commands_the_project_has():
    from cli.main import build_parser

    parser = build_parser()
    prefect_checked: set[tuple[str, ...]] = set()
    for name, svc in _compose()["services"].items():
        if svc.get("image", "").startswith("incident-monitor") or svc.get("build"):
            for argv in _commands_of(svc):
                if argv[0] == "incidents":
                    args = parser.parse_args(argv[1:])  # SystemExit on an unknown command or option
                    assert args.func, name
                elif argv[0] == "prefect":
                    words = tuple(w for w in argv[1:] if not w.startswith("-"))[:2]
                    if words in prefect_checked:
                        continue
                    prefect_checked.add(words)
                    sub = [w for w in argv[1:] if not w.startswith("-")][:2]
                    flags = [w for w in argv[1:] if w.startswith("--") and w != "--no-prompt"]
                    out = subprocess.run(
                        [sys.executable, "-m", "prefect", *sub, "--help"],
                        capture_output=True,
                        text=True,
                        timeout=120,
                    )
                    assert out.returncode == 0, f"{name}: prefect {' '.join(sub)}: {out.stderr[-500:]}"
                    for flag in flags:
                        assert flag in out.stdout, f"{name}: prefect {' '.join(sub)} has no option {flag}"
                else:
                    pytest.fail(f"{name}: unexpected program {argv[0]}")


def test_compose_passes_only_variables_the_code_reads():
    code = "\n".join(
        p.read_text(encoding="utf-8")
        for d in ("core", "storage", "incidents", "crawlers", "flows", "pipelines", "console", "cli")
        for p in (ROOT / d).rglob("*.py")
    )
    for name, svc in _compose()["services"].items():
        if not (svc.get("image", "").startswith("incident-monitor") or svc.get("build")):
            continue
        for var in svc.get("environment", {}):
            if var.startswith("PREFECT_"):
                continue  # Prefect's own settings
            assert f'"{var}"' in code, f"{name}: {var} is read nowhere"


# --------------------------------------------------------------------------- flows on the harness
@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def _copy_region(src: Path, dst: Path) -> Path:
    region = dst / "region"
    region.mkdir()
    for f in src.iterdir():
        if f.is_file():
            (region / f.name).write_bytes(f.read_bytes())
    return region


def _ok_region(tmp_path: Path, fake: FakeOk, schedule: str = "every 1m") -> Path:
    region = _copy_region(LIPETSK, tmp_path)
    (region / "sources.yaml").write_text(
        "sources:\n"
        f"  - {{id: ok_group, network: ok, kind: group, schedule: '{schedule}',\n"
        f"     params: {{gid: '{OK_GID}', api_url: '{fake.url}/fb.do', days: 36500, page_size: 2}}}}\n",
        encoding="utf-8",
    )
    return region


@pytest.fixture
def ok_env(monkeypatch):
    with FakeOk() as fake:
        d = fake.data
        monkeypatch.setenv("OK_APPLICATION_KEY", d["application_key"])
        monkeypatch.setenv("OK_APPLICATION_SECRET_KEY", d["application_secret_key"])
        monkeypatch.setenv("OK_ACCESS_TOKEN", d["access_token"])
        yield fake


# The monitoring flow composes the same steps (formerly tests/test_flow.py, which started a Prefect
# test harness of its own: one harness per session part is enough).
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
        assert (
            s.exec(select(func.count()).select_from(Incident)).one() == result["process"]["incidents_opened"]
        )


def test_a_failing_source_does_not_stop_the_others(harness, tmp_path):
    from flows.monitoring import monitoring_run

    url = f"sqlite:///{tmp_path / 'flow.db'}"
    cfg_dir = tmp_path / "region"
    cfg_dir.mkdir()
    for f in LIPETSK.iterdir():
        if f.suffix == ".yaml":
            (cfg_dir / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    (cfg_dir / "posts.jsonl").write_text(
        (LIPETSK / "posts.jsonl").read_text(encoding="utf-8"), encoding="utf-8"
    )
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


def test_every_job_flow_end_to_end_and_safe_to_rerun(harness, tmp_path, ok_env):
    from flows.jobs import crawl_flow, index_flow, process_flow, publish_flow, sla_watch_flow

    region = str(_ok_region(tmp_path, ok_env))
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    first = crawl_flow("ok_group", config_dir=region, database_url=url)
    assert first["error"] is None and first["inserted"] >= 10 and first["quarantined"] >= 1
    again = crawl_flow("ok_group", config_dir=region, database_url=url)
    assert again["inserted"] == 0
    processed = process_flow(config_dir=region, database_url=url)
    assert processed["posts"] == first["inserted"] and processed["failed"] == 0
    assert process_flow(config_dir=region, database_url=url)["posts"] == 0
    sla = sla_watch_flow(config_dir=region, database_url=url)
    assert sum(sla["states"].values()) == processed["incidents_opened"] and sla["failed"] == 0
    published = publish_flow(config_dir=region, database_url=url)
    assert published["sent"] == 0 and published["failed"] == 0  # nothing answered yet
    idx = index_flow(config_dir=region, database_url=url)
    assert idx["embedded"] == first["inserted"] and idx["elasticsearch"] == []
    with Session(open_database(url)) as s:
        assert s.exec(select(func.count()).select_from(Post)).one() == first["inserted"]


def test_a_crawl_without_credentials_is_reported_not_retried(harness, tmp_path, ok_env, monkeypatch):
    from flows.jobs import crawl_flow

    monkeypatch.delenv("OK_ACCESS_TOKEN")
    region = str(_ok_region(tmp_path, ok_env))
    out = crawl_flow("ok_group", config_dir=region, database_url=f"sqlite:///{tmp_path / 'x.db'}")
    assert "OK_ACCESS_TOKEN" in out["error"] and out["inserted"] == 0
    assert len(ok_env.api_calls()) == 0


def test_bugs_and_credentials_are_never_retried():
    from prefect.states import Completed, Failed

    from crawlers.errors import ApiBug, TokenInvalid, TransientFailure
    from flows.jobs import retry_unless_bug

    def failed(exc: Exception):
        return Failed(data=exc)

    assert retry_unless_bug(None, None, failed(TransientFailure("HTTP 502 from fb.do")))
    assert retry_unless_bug(None, None, failed(ConnectionResetError("reset by peer")))
    assert not retry_unless_bug(None, None, failed(ApiBug("error 100: one of the parameters is invalid")))
    assert not retry_unless_bug(None, None, failed(TokenInvalid("VK_TOKEN is rejected")))
    assert not retry_unless_bug(None, None, Completed())


# --------------------------------------------------------------------------- a real server
@pytest.mark.slow
def test_served_deployments_crawl_on_schedule_and_the_server_accepts_prefect_yaml(tmp_path, ok_env):
    """`incidents serve-flows` against a real local `prefect server`: the crawl deployment's
    first scheduled run reads the fake OK group; then `prefect deploy --all` registers every
    deployment of prefect.yaml with the same server."""
    from flows.server import local_prefect_server

    region = _ok_region(tmp_path, ok_env, schedule="every 1h")
    db = tmp_path / "served.db"
    with local_prefect_server(tmp_path / "prefect-home") as api:
        env = dict(
            os.environ,
            PREFECT_API_URL=api,
            PREFECT_HOME=str(tmp_path / "prefect-home"),
            INCIDENTS_CONFIG=str(region),
            DATABASE_URL=f"sqlite:///{db}",
            INCIDENTS_DATA_DIR=str(tmp_path / "data"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
        )
        serving = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve-flows", "--limit", "2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 240
            posts = incidents = 0
            while time.monotonic() < deadline and not (posts and incidents):
                time.sleep(3)
                if db.exists():
                    with Session(open_database(f"sqlite:///{db}")) as s:
                        posts = s.exec(select(func.count()).select_from(Post)).one()
                        incidents = s.exec(select(func.count()).select_from(Incident)).one()
                assert serving.poll() is None, serving.stdout.read().decode(errors="replace")[-3000:]  # type: ignore[union-attr]
            assert posts >= 10 and incidents >= 1, "no scheduled crawl and processing within 4 minutes"
        finally:
            os.killpg(serving.pid, signal.SIGINT)
            try:
                serving.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(serving.pid, signal.SIGKILL)
        # Workers' deployments: the committed prefect.yaml is accepted by the same server.
        denv = dict(env, INCIDENTS_CONFIG=str(KURSK))
        pool = subprocess.run(
            [
                sys.executable,
                "-m",
                "prefect",
                "work-pool",
                "create",
                "incidents",
                "--type",
                "process",
                "--overwrite",
            ],
            cwd=ROOT,
            env=denv,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert pool.returncode == 0, pool.stdout + pool.stderr
        dep = subprocess.run(
            [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
            cwd=ROOT,
            env=denv,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert dep.returncode == 0, (dep.stdout + dep.stderr)[-3000:]
        import httpx

        names = {
            d["name"] for d in httpx.post(f"{api}/deployments/filter", json={"limit": 200}, timeout=30).json()
        }
        expected = {s.name for s in job_specs(load_region(KURSK))}
        assert expected <= names


def test_daily_report_in_database_and_csv_and_rerun_is_the_same(harness, tmp_path, monkeypatch):
    import csv as _csv
    from datetime import date

    from flows.jobs import crawl_flow, process_flow, report_flow
    from storage.models import DailyReport

    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "data"))
    from core.settings import _cached

    _cached.cache_clear()
    region = str(LIPETSK)
    url = f"sqlite:///{tmp_path / 'report.db'}"
    crawl_flow("sample", config_dir=region, database_url=url)
    processed = process_flow(config_dir=region, database_url=url)
    with Session(open_database(url)) as s:
        opened = [i.opened_at for i in s.exec(select(Incident)).all()]
    from zoneinfo import ZoneInfo

    day = opened[0].astimezone(ZoneInfo(load_region(LIPETSK).region.timezone)).date().isoformat()
    first = report_flow(day=day, config_dir=region, database_url=url)
    assert first["summary"]["incidents_opened"] == processed["incidents_opened"]
    assert first["summary"]["posts_collected"] == 14
    files = {Path(f).name: Path(f) for f in first["files"]}
    assert set(files) == {"summary.csv", "categories.csv", "bodies.csv", "municipalities.csv"}
    with files["categories.csv"].open(encoding="utf-8-sig") as fh:
        cats = {r["category"]: int(r["incidents_opened"]) for r in _csv.DictReader(fh)}
    assert sum(cats.values()) == processed["incidents_opened"]
    again = report_flow(day=day, config_dir=region, database_url=url)
    assert again["summary"] == first["summary"]
    with Session(open_database(url)) as s:
        rows = s.exec(select(DailyReport)).all()
        assert [r.day for r in rows] == [date.fromisoformat(day)] and rows[0].data["summary"] == first[
            "summary"
        ]
    _cached.cache_clear()


def test_the_image_contains_every_package_the_project_installs():
    import tomllib

    docker = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    for pattern in packages:
        name = pattern.rstrip("*")
        assert f"COPY {name} {name}" in docker, f"Dockerfile does not copy {name}/"


def test_the_sample_is_crawled_only_when_asked_for():
    """The bundled fictional sample (sources.yaml → sample: true) goes into the default database of
    `make run` only: a pass against another database, and every deployment, leave it out (issue 18)."""
    from incidents.services.crawling import sources_to_crawl

    cfg = load_region(KURSK)
    assert [s.id for s in sources_to_crawl(cfg, None, with_sample=True)] == ["sample"]
    assert sources_to_crawl(cfg, None, with_sample=False) == []
    assert [s.id for s in sources_to_crawl(cfg, ["sample"], with_sample=False)] == ["sample"]  # named: read
