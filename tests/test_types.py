"""The type check in CI (issue 17): `mypy` over the product with the configuration of pyproject.toml
([tool.mypy]: strict on core, storage, the domain and the pipelines), as `make types` runs it.
CI runs `make test` only (.ci/run), so the check sits here, like `lint-imports` in test_layers.py."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("core", "storage", "incidents", "pipelines", "crawlers", "flows", "console", "cli")
MAX_IGNORES = 20


def test_mypy_finds_no_errors() -> None:
    exe = shutil.which("mypy", path=str(Path(sys.executable).parent)) or shutil.which("mypy")
    assert exe, "mypy is not installed (the dev extra)"
    run = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_few_type_ignores_all_with_a_code() -> None:
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for pkg in PRODUCT
        for p in (ROOT / pkg).rglob("*.py")
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if "type: ignore" in line
    ]
    assert len(found) <= MAX_IGNORES, f"{len(found)} `# type: ignore` (at most {MAX_IGNORES}): {found}"
    bare = [f for f in found if not re.search(r"type: ignore\[", _line(f))]
    assert not bare, f"ignores without an error code: {bare}"


def _line(where: str) -> str:
    path, n = where.rsplit(":", 1)
    return (ROOT / path).read_text(encoding="utf-8").splitlines()[int(n) - 1]
