"""Two processing runs on one database at once (issue 19, F9): neither fails, nothing doubles.

Two `incidents import` commands start together on a database that does not exist yet: both
create the schema (serialised: a PostgreSQL advisory lock, on SQLite a lock file beside the
database), both store the same posts and both process them. Batches are claimed under a lease —
`FOR UPDATE SKIP LOCKED` inside a transaction that holds the processing lock on PostgreSQL,
SQLite's single writer lock taken at the start of the batch — and a run that finds another run
has committed since its last batch reloads its clustering view from storage, so the incidents
are those of a single import of the same file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import RegionConfig
from tests.test_process_crash import Outcome, assert_same, import_argv, outcome, spawn
from tests.test_process_crash import write_stream as _write_stream  # noqa: F401 - same generator


def _imported_alone(db_url: str, path: Path) -> Outcome:
    from storage.db import open_database

    proc = spawn(import_argv(db_url, path))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    engine = open_database(db_url)
    try:
        return outcome(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def export(kursk: RegionConfig, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same 600 posts under two names (two operators importing one export at once)."""
    from bench.generator import generate_file

    folder = tmp_path_factory.mktemp("parallel")
    first, second = folder / "export.jsonl", folder / "export-copy.jsonl"
    generate_file(kursk, first, 600, seed=21)
    second.write_bytes(first.read_bytes())
    return first, second


def _two_at_once(db_url: str, files: tuple[Path, Path]) -> None:
    procs = [spawn(import_argv(db_url, f)) for f in files]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]


def test_two_imports_at_once_on_a_new_database(tmp_path, export, db_url):
    """Both exit 0 (before: one died on a unique violation or on the schema), every post once and
    processed, each with one signal, the same incidents as a single import."""
    reference = _imported_alone(f"sqlite:///{tmp_path / 'ref.db'}", export[0])
    if db_url.startswith("sqlite"):
        Path(db_url.split("///", 1)[1]).unlink(missing_ok=True)  # a database that does not exist yet
    _two_at_once(db_url, export)
    from storage.db import open_database

    engine = open_database(db_url)
    try:
        assert_same(outcome(engine), reference)
    finally:
        engine.dispose()
