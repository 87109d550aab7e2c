"""Shared fixtures: region configs, a clock, and databases on SQLite and PostgreSQL.

PostgreSQL is at 127.0.0.1:5432 on every machine of this project (user postgres, trust
auth). Each test run creates a throw-away database and drops it at the end. Where the server
is absent the PostgreSQL variants are skipped, unless INCIDENTS_REQUIRE_POSTGRES=1 (CI sets
it), in which case they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.config import RegionConfig, load_region
from storage.db import open_database

ROOT = Path(__file__).resolve().parents[1]
LIPETSK = ROOT / "tests" / "regions" / "lipetsk"
KURSK = ROOT / "config" / "regions" / "kursk"
PG_ADMIN_URL = os.environ.get("INCIDENTS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The rules alone, whether or not `incidents train` left a model in var/models (tests/test_train.py
# turns the model on explicitly).
os.environ["INCIDENTS_SIGNALS_MODEL"] = "off"


class FixedClock:
    """An injected clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.t = start or datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        from datetime import timedelta

        self.t += timedelta(**kw)


@pytest.fixture(autouse=True)
def _cli_environment_restored() -> Iterator[None]:
    """`incidents --config/--database` exports the choice for the subprocesses it starts; in
    tests, `main([...])` runs in this process, so put the variables back after each test
    rather than let one test's region leak into the next."""
    saved = {k: os.environ.get(k) for k in ("INCIDENTS_CONFIG", "DATABASE_URL")}
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(autouse=True)
def _vk_answers_match_vk_schema() -> Iterator[None]:
    """Every answer the fake VK serves, in every test, is checked against VK's official JSON
    Schema (tests/vk_schema.py; issue 23: the fakes cannot drift). Without the schema folder
    (../shared/api next to the checkout) nothing is checked here and tests/test_vk_schema.py
    skips, saying why."""
    from tests import vk_schema
    from tests.fakes import vk as fake_vk

    if not vk_schema.available():
        yield
        return
    fake_vk.SCHEMA_CHECK = vk_schema.check
    fake_vk.SCHEMA_PROBLEMS.clear()
    yield
    problems = list(fake_vk.SCHEMA_PROBLEMS)
    fake_vk.SCHEMA_PROBLEMS.clear()
    if problems:
        pytest.fail("the fake VK served answers outside VK's schema:\n" + "\n".join(problems[:20]))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture(scope="session")
def lipetsk() -> RegionConfig:
    return load_region(LIPETSK)


@pytest.fixture(scope="session")
def kursk() -> RegionConfig:
    return load_region(KURSK)


@pytest.fixture(scope="session")
def lipetsk_builder(lipetsk: RegionConfig):
    from pipelines.signals import SignalBuilder

    return SignalBuilder(lipetsk)


@pytest.fixture(scope="session")
def kursk_builder(kursk: RegionConfig):
    from pipelines.signals import SignalBuilder

    return SignalBuilder(kursk, use_ner=False)


def _pg_available() -> bool:
    try:
        eng = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(sa.text("select 1"))
        eng.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    if not _pg_available():
        if os.environ.get("INCIDENTS_REQUIRE_POSTGRES") == "1":
            pytest.fail(
                f"PostgreSQL is required (INCIDENTS_REQUIRE_POSTGRES=1) but {PG_ADMIN_URL} does not answer"
            )
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    name = f"incidents_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _reset_pg(url: str) -> None:
    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.execute(sa.text("DROP SCHEMA public CASCADE"))
        c.execute(sa.text("CREATE SCHEMA public"))
    eng.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated-on-open database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    url = request.getfixturevalue("pg_url")
    _reset_pg(url)
    return url


@pytest.fixture
def engine(db_url: str):
    eng = open_database(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path):
    eng = open_database(f"sqlite:///{tmp_path / 'test.db'}")
    yield eng
    eng.dispose()
