"""Personal data (152-ФЗ): exports masked by default, raw payloads purged after their retention,
credentials only from the environment and never in logs or the database."""

from __future__ import annotations

import json
import logging
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from sqlmodel import Session, select

from cli.main import main
from core.config import SourceConfig, load_region
from crawlers.errors import TokenInvalid
from crawlers.replay import ReplaySource
from flows.deployments import JOB_ENTRYPOINTS, job_specs
from flows.jobs import JOB_FLOWS
from incidents.domain.privacy import mask_post_key
from incidents.services.processing import crawl_adapter, crawl_source, prepare, process_pending
from incidents.services.purge import purge
from storage.models import Post, QuarantineItem
from tests.conftest import KURSK, ROOT
from tests.fakes.ok import FakeOk
from tests.fakes.pos import FakePos
from tests.test_crawl_ok import GID

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
USER_POST = {
    "network": "vk",
    "external_id": "wall505_311",
    "source_id": "vk_search",
    "author_id": "505",
    "author_name": "Иван Петров",
    "text": "Курск, ул. Ленина, д. 5: второй день нет горячей воды!",
    "created_at": "2026-11-22T10:00:00+03:00",
    "phone": "+7 900 000-00-00",
}
GROUP_COMMENT = {
    "network": "vk",
    "external_id": "comment-100001_77",
    "source_id": "vk_kursk",
    "author_id": "606",
    "parent_id": "wall-100001_1",
    "author_name": "Мария Сидорова",
    "text": "На Ленина, 5 в Курске горячей воды нет и у нас",
    "created_at": "2026-11-22T11:00:00+03:00",
}
POS_MESSAGE = {
    "network": "pos",
    "external_id": "POS-46-1",
    "source_id": "pos",
    "author_id": "u1",
    "author_name": "Ольга К.",
    "text": "Не вывозят мусор с площадки на ул. Мира, д. 3, Курск",
    "created_at": "2026-08-01T10:00:00+03:00",
    "pos": {"status": "in_work", "rating": None},
}


def _region(tmp_path: Path, **privacy: object) -> Path:
    region = tmp_path / "region"
    shutil.copytree(KURSK, region)
    doc = yaml.safe_load((region / "region.yaml").read_text(encoding="utf-8"))
    doc["privacy"] = privacy
    (region / "region.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return region


def _imported(tmp_path: Path, region: Path) -> str:
    db = f"sqlite:///{tmp_path / 'p.db'}"
    path = tmp_path / "posts.jsonl"
    path.write_text(
        "\n".join(json.dumps(p, ensure_ascii=False) for p in (USER_POST, GROUP_COMMENT)) + "\n",
        encoding="utf-8",
    )
    assert main(["--config", str(region), "--database", db, "import", str(path)]) == 0
    return db


def test_post_keys_that_name_a_person_are_pseudonymised():
    key = b"k"
    masked = mask_post_key("vk:wall505_311", key)
    assert "505" not in masked and masked.endswith("_311") and masked == mask_post_key("vk:wall505_311", key)
    assert mask_post_key("vk:wall506_311", key) != masked
    assert mask_post_key("vk:comment505_12", key).startswith("vk:comment~")
    for public in (
        "vk:wall-100001_1010",
        "vk:comment-100001_77",
        "ok:topic155",
        "telegram:kursk_info/5",
        "pos:POS-46-1",
    ):
        assert mask_post_key(public, key) == public


def test_exports_carry_no_author_by_default(tmp_path, capsys):
    region = _region(tmp_path)
    db = _imported(tmp_path, region)
    capsys.readouterr()
    for what in ("signals", "incidents"):
        for fmt in ("jsonl", "csv"):
            assert main(["--config", str(region), "--database", db, "export", what, "--format", fmt]) == 0
            out = capsys.readouterr().out
            # the authors' ids as numbers of their own — not inside a hex pseudonym or a
            # timestamp's digits («…219000…»), which made this test fail now and then
            assert re.findall(r"(?<![0-9a-f])(?:505|606|900)(?![0-9a-f])", out) == []
            assert "Петров" not in out and "Сидорова" not in out
    assert main(["--config", str(region), "--database", db, "export", "signals", "--format", "jsonl"]) == 0
    keys = {json.loads(line)["post"] for line in capsys.readouterr().out.splitlines()}
    assert "vk:comment-100001_77" in keys and any(k.startswith("vk:wall~") for k in keys)
    # the authors only where the configuration allows it
    assert main(["--config", str(region), "--database", db, "export", "signals", "--with-authors"]) == 2
    assert "export_personal_data" in capsys.readouterr().err


def test_exports_with_authors_where_allowed(tmp_path, capsys):
    region = _region(tmp_path, export_personal_data=True)
    db = _imported(tmp_path, region)
    capsys.readouterr()
    assert main(["--config", str(region), "--database", db, "export", "signals", "--with-authors"]) == 0
    rows = {r["post"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert (
        rows["vk:wall505_311"]["author_name"] == "Иван Петров"
        and rows["vk:wall505_311"]["author_id"] == "505"
    )


def test_purge_empties_old_raw_payloads_and_resolved_quarantine(engine, kursk, tmp_path):
    path = tmp_path / "posts.jsonl"
    old = NOW - timedelta(days=kursk.region.privacy.raw_retention_days + 1)
    # posts written before they were fetched: a post dated after its crawl is refused as from the future (F12)
    written = (old - timedelta(days=1)).isoformat()
    path.write_text(
        "\n".join(
            json.dumps({**p, "created_at": written}, ensure_ascii=False) for p in (USER_POST, POS_MESSAGE)
        )
        + "\n",
        encoding="utf-8",
    )
    prepare(engine, kursk)
    crawl_adapter(engine, ReplaySource(source_id="f", path=path), lambda: old)  # fetched long ago
    with Session(engine) as s, s.begin():
        s.add(
            QuarantineItem(
                origin="f", location="line 9", reason="r", payload="{}", created_at=old, resolved_at=old
            )
        )
        s.add(QuarantineItem(origin="f", location="line 8", reason="r", payload="{}", created_at=old))
        s.add(
            QuarantineItem(
                origin="f", location="line 7", reason="r", payload="{}", created_at=NOW, resolved_at=NOW
            )
        )
    dry = purge(engine, kursk, lambda: NOW, dry_run=True)
    assert (dry.raw_emptied, dry.quarantine_deleted) == (2, 1)
    with Session(engine) as s:
        assert all(p.raw.get("author_name") for p in s.exec(select(Post)).all())  # a dry run changes nothing
    stats = purge(engine, kursk, lambda: NOW)
    assert (stats.raw_emptied, stats.quarantine_deleted) == (2, 1)
    with Session(engine) as s:
        raws = {p.network: p.raw for p in s.exec(select(Post)).all()}
        left = {q.location for q in s.exec(select(QuarantineItem)).all()}
    assert raws["vk"] == {"purged": True}
    assert raws["pos"] == {
        "pos": {"status": "in_work", "rating": None},
        "purged": True,
    }  # the workflow still reads it
    assert left == {"line 8", "line 7"}  # unresolved rows stay until replayed; recent ones stay
    again = purge(engine, kursk, lambda: NOW)
    assert (again.raw_emptied, again.quarantine_deleted) == (0, 0)
    process_pending(engine, kursk, lambda: NOW)  # purged posts still process


def test_purge_is_a_scheduled_job_and_a_command(tmp_path, capsys):
    assert "purge" in JOB_FLOWS and JOB_ENTRYPOINTS["purge"] == "flows/jobs.py:purge_flow"
    cfg = load_region(KURSK)
    spec = next(s for s in job_specs(cfg) if s.flow == "purge")
    assert spec.cron_or_every == cfg.region.schedules.purge
    assert "flows/jobs.py:purge_flow" in (ROOT / "prefect.yaml").read_text(encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["--config", str(KURSK), "--database", db, "purge", "--dry-run"]) == 0
    assert "очищено 0" in capsys.readouterr().out


def _everything_stored(engine) -> str:
    """Every value of every table, as text: where a leaked secret would be."""
    parts = []
    with engine.connect() as c:
        for table in sa.inspect(engine).get_table_names():
            for row in c.execute(sa.text(f'SELECT * FROM "{table}"')):
                parts.append(" ".join(str(v) for v in row))
    return "\n".join(parts)


SECRETS = {"OK_ACCESS_TOKEN", "OK_APPLICATION_SECRET_KEY", "POS_TOKEN"}


@pytest.mark.parametrize("network", ["ok", "pos"])
def test_tokens_never_reach_logs_or_the_database(network, sqlite_engine, clock, lipetsk, monkeypatch, caplog):
    """A crawl with its credentials in the environment, a 503 and a refused request on the way (the
    paths that log): neither the captured logs nor any table holds a token."""
    caplog.set_level(logging.DEBUG)
    if network == "ok":
        fake = FakeOk()
        secret_values = {
            "OK_APPLICATION_KEY": fake.data["application_key"],
            "OK_APPLICATION_SECRET_KEY": fake.data["application_secret_key"],
            "OK_ACCESS_TOKEN": fake.data["access_token"],
        }
        src = SourceConfig(
            id="ok-adm",
            network="ok",
            kind="group",
            params={"gid": GID, "api_url": f"{fake.url}/fb.do", "rate": 0, "since": "2026-11-16"},
        )
    else:
        fake = FakePos()
        secret_values = {"POS_TOKEN": fake.data["token"]}
        src = SourceConfig(
            id="pos",
            network="pos",
            kind="messages",
            params={"base_url": fake.url, "region_code": "46", "rate": 0, "since": "2026-11-16"},
        )
    for var, value in secret_values.items():
        monkeypatch.setenv(var, value)
    with fake:
        fake.inject("status", status=503, times=1)
        stats = crawl_source(sqlite_engine, lipetsk, src, clock)
        assert stats.error is None and stats.inserted > 0
        monkeypatch.setenv(next(iter(v for v in secret_values if v in SECRETS)), "wrong-" + "x" * 20)
        with pytest.raises(TokenInvalid) as refused_exc:
            crawl_source(sqlite_engine, lipetsk, src, clock)
        refused = str(refused_exc.value)
        assert "token invalid" in refused
    assert "retry in" in caplog.text  # the warnings were logged, and captured
    stored = _everything_stored(sqlite_engine)
    for var, value in secret_values.items():
        if var in SECRETS:
            assert value not in caplog.text, f"{var} in the logs"
            assert value not in stored, f"{var} in the database"
            assert value not in refused
    assert "wrong-xxxx" not in caplog.text + stored + refused


def test_configuration_holds_no_secrets():
    """Tokens come from the environment only: no YAML of a region carries a credential key."""
    banned = ("token", "secret", "password", "api_hash", "session")

    def keys(node: object, where: str) -> list[str]:
        if isinstance(node, dict):
            return [f"{where}{k}" for k in node] + [
                x for k, v in node.items() for x in keys(v, f"{where}{k}.")
            ]
        if isinstance(node, list):
            return [x for i, v in enumerate(node) for x in keys(v, f"{where}{i}.")]
        return []

    for path in (ROOT / "config" / "regions").rglob("*.yaml"):
        found = [
            k
            for k in keys(yaml.safe_load(path.read_text(encoding="utf-8")), "")
            if any(b in k.rsplit(".", 1)[-1].lower() for b in banned)
        ]
        assert not found, f"{path}: {found}"
