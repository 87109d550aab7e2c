"""The house's rules, checked on every run: imports go one way only, nothing imports in a
circle, every module of the product sits in one layer, and no module grows past 600 lines.

The layers are declared once, in pyproject.toml → [tool.importlinter] (entry points → services →
domain and sources → storage → core); `lint-imports` checks them, imports inside functions
included. The circle check builds the same import graph (grimp, which import-linter uses).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("core", "storage", "incidents", "pipelines", "crawlers", "flows", "console", "cli")
MAX_LINES = 600


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["type"] == "layers")
    return [m.strip() for layer in contract["layers"] for m in layer.replace(":", "|").split("|")]


def _graph() -> grimp.ImportGraph:
    sys.path.insert(0, str(ROOT))
    try:
        return grimp.build_graph(*PRODUCT, cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))


def test_imports_run_one_way_only() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "lint-imports is not installed (the dev extra: import-linter)"
    run = subprocess.run(
        [exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_module_imports_in_a_circle() -> None:
    graph = _graph()
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # Tarjan's strongly connected components, without recursion
        nonlocal counter
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))

    for m in modules:
        if m not in index:
            visit(m)
    # a package's __init__ that re-exports its own submodules is no circle of behaviour
    real = [c for c in circles if not all(m.startswith(c[0] + ".") or m == c[0] for m in c)]
    assert real == [], f"modules importing each other in a circle: {real}"


def test_every_product_module_sits_in_a_layer() -> None:
    layers = _layers()
    roots = {"incidents"}  # the package itself only imports core for the process-wide defaults
    outside = [
        m
        for m in sorted(_graph().modules)
        if m not in roots
        and m.split(".")[0] in PRODUCT
        and not any(m == layer or m.startswith(layer + ".") for layer in layers)
    ]
    assert outside == [], f"modules in no layer of pyproject.toml → [tool.importlinter]: {outside}"


def test_no_module_is_over_600_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for pkg in PRODUCT
        for p in (ROOT / pkg).rglob("*.py")
        if "migrations/versions" not in p.as_posix()
        and (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"modules over {MAX_LINES} lines: {long}"
