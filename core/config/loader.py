"""The whole region: every file of its folder read, merged over its language base and
cross-checked (`load_region`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from core.config.base import ConfigError
from core.config.crosscheck import cross_check
from core.config.layers import apply_delta
from core.config.region import FILES, OPTIONAL_FILES, RegionConfig, _Part
from core.config.yamlread import locate, read_mapping

__all__ = ["FILES", "OPTIONAL_FILES", "RegionConfig"]


def resolve_base(root: Path, value: str | None) -> Path | None:
    """region.yaml → base: a language base's name (`ru`: `config/base/ru` of the project) or a path
    relative to the region folder; None: the region is written out in full."""
    if not value:
        return None
    from core.settings import PROJECT_ROOT

    p = Path(value)
    found = p if p.is_absolute() else root / p
    if "/" not in value and not found.is_dir():
        found = PROJECT_ROOT / "config" / "base" / value
    if not found.is_dir():
        raise ConfigError(f"{root / 'region.yaml'}: base: {value!r}: no such folder ({found})")
    return found.resolve()


def _region_base(root: Path) -> Path | None:
    """The base a folder's region.yaml names (read raw: region.yaml itself is never layered)."""
    info = root / "region.yaml"
    if not info.is_file():
        return None
    value = read_mapping(info).get("base")
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{info}: base: must be the name of a language base (ru) or a path")
    return resolve_base(root, value)


def _file_data(path: Path, depth: int = 0) -> tuple[dict[str, Any], list[Path]]:
    """One file of a region with what it builds on: the `extends` chain (superseded, kept for
    regions that still use it) or the region's language base (`config/base/<lang>/`). Returns the
    merged data and the files that wrote it, base first."""
    if depth >= 5:
        raise ConfigError(f"{path}: extends: chain longer than 5 files (a loop?)")
    base_dir = _region_base(path.parent) if path.name != "region.yaml" else None
    base_file = base_dir / path.name if base_dir is not None else None
    if not path.is_file():
        if base_file is not None and base_file.is_file():
            return read_mapping(base_file), [base_file]  # the region adds nothing to the base's file
        raise ConfigError(f"{path}: file is missing (every region needs {', '.join(FILES)})")
    data = _read_mapping(path)
    parent = data.get("extends")
    if parent:
        if not isinstance(parent, str):
            raise ConfigError(f"{path}: extends: must be a path to another region's {path.name}")
        parent_path = Path(parent) if Path(parent).is_absolute() else path.parent / parent
        if not parent_path.is_file():
            raise ConfigError(f"{path}: extends: {parent_path} not found")
        under, files = _file_data(parent_path.resolve(), depth + 1)
        rest = {k: v for k, v in data.items() if k != "extends"}
        return {**_apply(under, rest, path), "extends": parent}, [*files, path]
    if base_file is not None and base_file.is_file():
        return _apply(read_mapping(base_file), data, path), [base_file, path]
    return data, [path]


def _apply(base: dict[str, Any], delta: dict[str, Any], path: Path) -> dict[str, Any]:
    """The delta applied; a delta that names what the base lacks is an error of the delta's file."""
    try:
        out = apply_delta(base, delta)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    assert isinstance(out, dict)
    return out


def has_file(root: Path, name: str) -> bool:
    """Whether the region has the file, in its folder or in its language base."""
    base = _region_base(root)
    return (root / name).is_file() or (base is not None and (base / name).is_file())


def _read_mapping(path: Path) -> dict[str, Any]:
    """One region file as written (no base, no `extends`)."""
    return read_mapping(path, required=f" (every region needs {', '.join(FILES)})")


def _rubricator_data(path: Path) -> dict[str, Any]:
    """rubricator.yaml with its base or `extends` chain resolved."""
    return _file_data(path)[0]


def _format_error(files: list[Path], data: Any, err: ValidationError) -> str:
    """`file:line: key.path: message`, one line per error, at the file and line that wrote the key."""
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        found = locate(loc, data, files)
        where = f"{found[0]}:{found[1]}" if found else str(files[-1])
        hint = ""
        if e["type"] == "extra_forbidden" and e.get("input") is None:  # «note: дороги, мосты» on one line
            hint = " (a key without a value: a comma inside a value of a one-line {…}? quote the value)"
        lines.append(f"{where}: {key}: {e['msg']}{hint}")
    return "\n".join(lines)


def validate(files: list[Path], data: dict[str, Any], model: type[_Part]) -> _Part:
    """The merged data as the file's model; an error names the file and line of each bad key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(files, data, exc)) from exc


def load_file(path: Path, model: type[_Part]) -> _Part:
    """One file of a region, merged over its base or `extends`: the loader of every reader that
    needs one file only (the VK streaming rules, the search settings), so that none of them sees
    a region other than `load_region` does."""
    data, files = _file_data(Path(path))
    return validate(files, data, model)


def load_region(root: Path | str) -> RegionConfig:
    """Load and cross-check a region folder; raises ConfigError naming file, line and key."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: configuration folder not found")
    parts: dict[str, BaseModel] = {}
    files: dict[str, list[Path]] = {}
    raw: dict[str, dict[str, Any]] = {}
    names = [*FILES, *(n for n in OPTIONAL_FILES if (root / n).exists())]
    for name in names:
        raw[name], files[name] = _file_data(root / name)
        parts[name] = validate(files[name], raw[name], (FILES | OPTIONAL_FILES)[name])
    cfg = RegionConfig(root, parts, files, raw)
    cross_check(cfg)
    return cfg


def _cross_check(cfg: RegionConfig) -> None:
    """Kept for callers of the former name."""
    cross_check(cfg)
