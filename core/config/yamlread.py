"""Reading a region's YAML: fast when the file is valid, precise when it is not.

A valid file is read once with libyaml's safe loader (ten times faster than pure Python) and its
parse kept as JSON under the data folder, so the next command reads JSON. Only when something is
wrong — a YAML syntax error, or a value the schema refuses — is the file composed again with
PyYAML's node loader, which keeps every node's line, so that the error says `file:line: key.path:
message` (issue 21: flow-style YAML broke on an unquoted `adm_{…}` with an error that did not say
where)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from core.config.base import ConfigError

_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CACHE_FILES = 200


def _cache_file(path: Path) -> Path | None:
    """Where the parse of one YAML file is kept: `<data dir>/cache/yaml/`, keyed by the file's
    path, size and modification time, so an edited file is parsed again. JSON, never pickle: a
    cache file is data, and reading it runs no code."""
    from core.settings import get_settings

    try:
        st = path.stat()
    except OSError:
        return None
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:32]
    return get_settings().data_dir / "cache" / "yaml" / f"{key}.json"


def _cached_parse(path: Path) -> dict[str, Any] | None:
    """A region's YAML parsed before (the commands start in under a second: building Python objects
    from 330 KB of YAML is most of a command's start, reading the same as JSON a tenth of it)."""
    f = _cache_file(path)
    if f is None or not f.is_file():
        return None
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _keep_parse(path: Path, data: Any) -> None:
    """Keep the parse when it survives JSON unchanged (no dates or other YAML-only values);
    a folder that cannot be written only costs the next command the parse."""
    f = _cache_file(path)
    if f is None or not isinstance(data, dict):
        return
    try:
        text = json.dumps(data, ensure_ascii=False)
        if json.loads(text) != data:
            return
        f.parent.mkdir(parents=True, exist_ok=True)
        kept = sorted(f.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in kept[: max(0, len(kept) - _CACHE_FILES)]:  # edited files leave old parses behind
            old.unlink(missing_ok=True)
        tmp = f.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, f)
    except (OSError, TypeError, ValueError):
        return


_FLOW_HINT = (
    " (in a [list] or {mapping} written on one line, a value with `{`, `}`, `[`, `]`, `,` or `: ` "
    'must be quoted: body: "adm_{municipality}")'
)


def _syntax_error(path: Path, exc: yaml.YAMLError) -> ConfigError:
    """`file:line:column: not valid YAML: what`, with a hint for the flow-style trap."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    text = f"{problem} ({context})" if context else str(problem)
    hint = _FLOW_HINT if any(w in text for w in ("flow", "',' or ']'", "',' or '}'")) else ""
    return ConfigError(f"{where}: not valid YAML: {text}{hint}")


def read_mapping(path: Path, *, required: str = "") -> dict[str, Any]:
    """One YAML file's top-level mapping; `required` completes the message of a missing file."""
    if not path.is_file():
        raise ConfigError(f"{path}: file is missing{required}")
    cached = _cached_parse(path)
    if cached is not None:
        return cached
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        try:  # the pure-Python loader's marks and wording are the more precise ones
            yaml.safe_load(text)
        except yaml.YAMLError as exact:
            raise _syntax_error(path, exact) from exc
        raise _syntax_error(path, exc) from exc
    _keep_parse(path, data)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the top level must be a mapping, got {type(data).__name__}")
    return data


# --------------------------------------------------------------------------- where a key is
def compose(path: Path) -> yaml.Node | None:
    """The file's node tree (every node with its line); None when it cannot be read."""
    try:
        return yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return None


def _ident(item: Any) -> tuple[str, Any] | None:
    """How a list item is known across a base and its delta: its `id`, else its `code`."""
    if isinstance(item, dict):
        for key in ("id", "code"):
            if isinstance(item.get(key), str | int):
                return key, item[key]
    return None


def _child(node: yaml.Node, step: Any, merged: Any, by_position: bool) -> tuple[yaml.Node, int] | None:
    """The node one step down and the line to report for that step."""
    if isinstance(node, yaml.MappingNode) and isinstance(step, str):
        for key, value in node.value:
            if key.value == step:
                return value, key.start_mark.line + 1
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int):
        ident = _ident(merged[step]) if isinstance(merged, list) and 0 <= step < len(merged) else None
        if ident is not None:
            for item in node.value:
                if isinstance(item, yaml.MappingNode) and any(
                    k.value == ident[0] and str(v.value) == str(ident[1]) for k, v in item.value
                ):
                    return item, item.start_mark.line + 1
            if not by_position:
                return None
        if 0 <= step < len(node.value):
            return node.value[step], node.value[step].start_mark.line + 1
    return None


def locate(loc: tuple[Any, ...], merged: Any, files: list[Path]) -> tuple[Path, int] | None:
    """The file and line that wrote `loc` (a path into the merged data, as pydantic gives it).

    Each file is walked along the path, list items found by their `id` or `code` (a delta names
    the base's rule by its id, at another position); the file that goes deepest wrote the value —
    the last of them on a tie, i.e. the region's delta over the language base."""
    best: tuple[int, Path, int] | None = None
    for path in files:
        node = compose(path)
        if node is None:
            continue
        line, depth, data = node.start_mark.line + 1, 0, merged
        for step in loc:
            found = _child(node, step, data, by_position=len(files) == 1)
            if found is None:
                break
            node, line = found
            depth += 1
            try:
                data = data[step]
            except (KeyError, IndexError, TypeError):
                data = None
        if best is None or depth >= best[0]:
            best = (depth, path, line)
    return (best[1], best[2]) if best is not None else None
