"""The whole region: every file of its folder read, merged and cross-checked (`load_region`)."""

from __future__ import annotations

import hashlib
import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from incidents.core import boundaries as geometry
from incidents.core.config.base import CATEGORY_CODES, ConfigError, RegionInfo
from incidents.core.config.language import Rubricator, SignalPolicy
from incidents.core.config.places import Bodies, Body, Municipality, Routing, Territories
from incidents.core.config.service import ClusteringPolicy, RepliesPolicy, SearchPolicy, SlaPolicy, Sources

# --------------------------------------------------------------------------- the whole region
FILES: dict[str, type[BaseModel]] = {
    "region.yaml": RegionInfo,
    "rubricator.yaml": Rubricator,
    "signals.yaml": SignalPolicy,
    "territories.yaml": Territories,
    "bodies.yaml": Bodies,
    "routing.yaml": Routing,
    "sla.yaml": SlaPolicy,
    "clustering.yaml": ClusteringPolicy,
    "sources.yaml": Sources,
    "replies.yaml": RepliesPolicy,
}
OPTIONAL_FILES: dict[str, type[BaseModel]] = {
    "search.yaml": SearchPolicy,
}
"""Files a region may have; without one its model's defaults apply."""


_Part = TypeVar("_Part", bound=BaseModel)


def _part(parts: dict[str, BaseModel], name: str, kind: type[_Part]) -> _Part:
    part = parts[name]
    if not isinstance(part, kind):
        raise TypeError(f"{name}: expected {kind.__name__}, got {type(part).__name__}")
    return part


class RegionConfig:
    """All of one region's configuration, loaded once and read-only."""

    def __init__(self, root: Path, parts: dict[str, BaseModel]) -> None:
        self.root = root
        self.region = _part(parts, "region.yaml", RegionInfo)
        self.rubricator = _part(parts, "rubricator.yaml", Rubricator)
        self.signals = _part(parts, "signals.yaml", SignalPolicy)
        self.territories = _part(parts, "territories.yaml", Territories)
        self.bodies = _part(parts, "bodies.yaml", Bodies)
        self.routing = _part(parts, "routing.yaml", Routing)
        self.sla = _part(parts, "sla.yaml", SlaPolicy)
        self.clustering = _part(parts, "clustering.yaml", ClusteringPolicy)
        self.sources = _part(parts, "sources.yaml", Sources)
        self.search = _part(parts, "search.yaml", SearchPolicy) if "search.yaml" in parts else SearchPolicy()
        self.replies = _part(parts, "replies.yaml", RepliesPolicy)

    @cached_property
    def body_by_code(self) -> dict[str, Body]:
        return {b.code: b for b in self.bodies.bodies}

    @cached_property
    def municipality_by_code(self) -> dict[str, Municipality]:
        return {m.code: m for m in self.territories.municipalities}

    @cached_property
    def municipals(self) -> tuple[geometry.Municipal, ...]:
        """The municipalities as boundary matching sees them: own names, then their parts' names."""
        return tuple(
            geometry.Municipal(
                m.code,
                (m.name, *m.aliases),
                tuple(n for p in (*m.subdivisions, *m.settlements) for n in (p.name, *p.aliases)),
            )
            for m in self.territories.municipalities
        )

    def boundaries(self) -> geometry.Boundaries | None:
        """The region's municipal polygons (`region.yaml → map.boundaries`), matched to its
        municipalities; None when the region ships none. Read once per process
        (`incidents.core.boundaries.load_cached`); `locate(lat, lon)` places a point."""
        name = self.region.map.boundaries
        if not name:
            return None
        return geometry.load_cached(self.resolve_path(name), self.municipals, self.region.map.features)

    def resolve_path(self, value: str) -> Path:
        """Paths in the config are relative to the region folder."""
        p = Path(value)
        return p if p.is_absolute() else self.root / p

    def project_path(self, value: str) -> Path:
        """A path of the region's model or labels (`signals.yaml → model`), never relative to the
        working directory: absolute as written; else in the region folder if it is there; else
        under the project root (`var/models/…`, `config/regions/…`).

        Relative to the working directory, `incidents import` run elsewhere decided by the rules
        alone, and a `var/models/signals.pkl` planted in that directory was unpickled (F3)."""
        from incidents.core.settings import PROJECT_ROOT

        p = Path(value)
        if p.is_absolute():
            return p
        if (self.root / p).exists():
            return self.root / p
        return PROJECT_ROOT / p


def _format_error(file: Path, err: ValidationError) -> str:
    lines = [f"{file}: invalid configuration"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {key}: {e['msg']}")
    return "\n".join(lines)


_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_CACHE_FILES = 200


def _cache_file(path: Path) -> Path | None:
    """Where the parse of one YAML file is kept: `<data dir>/cache/yaml/`, keyed by the file's
    path, size and modification time, so an edited file is parsed again. JSON, never pickle: a
    cache file is data, and reading it runs no code."""
    from incidents.core.settings import get_settings

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


def _read_mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: file is missing (every region needs {', '.join(FILES)})")
    cached = _cached_parse(path)
    if cached is not None:
        return cached
    try:
        # libyaml's loader when PyYAML was built with it: the same safe subset, ten times faster
        # (the Kursk region's 330 KB of YAML took most of a second to parse in pure Python)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    _keep_parse(path, data)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def _merge_by_code(base: list[Any], extra: list[Any], children: tuple[str, ...]) -> list[Any]:
    """Items of `extra` whose code is already in `base` add their rules (and, one level
    down, their subcategories or facts) to it; new codes are appended in order."""
    out = [dict(b) if isinstance(b, dict) else b for b in base]
    by_code = {b.get("code"): b for b in out if isinstance(b, dict)}
    for item in extra:
        if not isinstance(item, dict) or item.get("code") not in by_code:
            out.append(item)
            continue
        target = by_code[item["code"]]
        target["rules"] = list(target.get("rules") or []) + list(item.get("rules") or [])
        if children:
            key, rest = children[0], children[1:]
            target[key] = _merge_by_code(list(target.get(key) or []), list(item.get(key) or []), rest)
    return out


def _rubricator_data(path: Path, depth: int = 0) -> dict[str, Any]:
    """rubricator.yaml with its `extends` chain resolved: regions share one rubricator and
    add their own rules, instead of copying 2,000 lines that then drift apart."""
    data = _read_mapping(path)
    parent = data.get("extends")
    if not parent:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends: must be a path to another rubricator.yaml")
    if depth >= 5:
        raise ConfigError(f"{path}: extends: chain longer than 5 files (a loop?)")
    base_path = Path(parent) if Path(parent).is_absolute() else path.parent / parent
    if not base_path.is_file():
        raise ConfigError(f"{path}: extends: {base_path} not found")
    base = _rubricator_data(base_path.resolve(), depth + 1)
    cats = _merge_by_code(
        list(base.get("categories") or []), list(data.get("categories") or []), ("subcategories", "facts")
    )
    out = {**data, "categories": cats}
    if "precedence" not in data and base.get("precedence"):
        out["precedence"] = base["precedence"]
    return out


def load_file(path: Path, model: type[_Part]) -> _Part:
    data = _rubricator_data(path) if model is Rubricator else _read_mapping(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(path, exc)) from exc


def load_region(root: Path | str) -> RegionConfig:
    """Load and cross-check a region folder; raises ConfigError naming file and key."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: configuration folder not found")
    parts = {name: load_file(root / name, model) for name, model in FILES.items()}
    for name, model in OPTIONAL_FILES.items():
        if (root / name).exists():
            parts[name] = load_file(root / name, model)
    cfg = RegionConfig(root, parts)
    _cross_check(cfg)
    return cfg


def _cross_check(cfg: RegionConfig) -> None:
    errors: list[str] = []
    munis = set(cfg.municipality_by_code)
    cats = {c.code for c in cfg.rubricator.categories}
    settlements = {s.name for m in cfg.territories.municipalities for s in m.settlements}
    for i, body in enumerate(cfg.bodies.bodies):
        for t in body.territories:
            if t not in munis:
                errors.append(f"bodies.yaml: bodies.{i}.territories: unknown municipality {t!r}")
        for c in body.categories:
            if c not in CATEGORY_CODES:
                errors.append(f"bodies.yaml: bodies.{i}.categories: unknown category {c!r}")
    for i, rule in enumerate(cfg.routing.rules):
        if rule.category and rule.category not in cats:
            errors.append(f"routing.yaml: rules.{i}.category: {rule.category!r} is not in the rubricator")
        for m in rule.municipality or []:
            if m not in munis:
                errors.append(f"routing.yaml: rules.{i}.municipality: unknown municipality {m!r}")
        for name in rule.settlement or []:
            if name not in settlements:
                errors.append(
                    f"routing.yaml: rules.{i}.settlement: {name!r} is no settlement of territories.yaml"
                )
        if "{" not in rule.body and rule.body not in cfg.body_by_code:
            errors.append(f"routing.yaml: rules.{i}.body: unknown body {rule.body!r}")
    shared = cfg.territories.shared_streets_in
    if shared is not None and shared not in munis:
        errors.append(f"territories.yaml: shared_streets_in: unknown municipality {shared!r}")
    unplaced = cfg.routing.unplaced_municipality
    if unplaced is not None and unplaced not in munis:
        errors.append(f"routing.yaml: unplaced_municipality: unknown municipality {unplaced!r}")
    for i, ov in enumerate(cfg.sla.overrides):
        if ov.category and ov.category not in CATEGORY_CODES:
            errors.append(f"sla.yaml: overrides.{i}.category: unknown category {ov.category!r}")
    for c in cfg.sla.pos_resolution_days:
        if c not in CATEGORY_CODES:
            errors.append(f"sla.yaml: pos_resolution_days: unknown category {c!r}")
    for i, tpl in enumerate(cfg.replies.templates):
        if tpl.category and tpl.category not in CATEGORY_CODES:
            errors.append(f"replies.yaml: templates.{i}.category: unknown category {tpl.category!r}")
        try:
            from jinja2.sandbox import SandboxedEnvironment

            SandboxedEnvironment().parse(tpl.text)
        except Exception as exc:  # a template that does not compile is a configuration error
            errors.append(f"replies.yaml: templates.{i}.text: not a valid template: {exc}")
    for i, src in enumerate(cfg.sources.sources):
        if src.municipality and src.municipality not in munis:
            errors.append(
                f"sources.yaml: sources.{i}.municipality: unknown municipality {src.municipality!r}"
            )
    for feature, code in cfg.region.map.features.items():
        if code not in munis:
            errors.append(f"region.yaml: map.features.{feature}: unknown municipality {code!r}")
    ids = [s.id for s in cfg.sources.sources]
    for s in {x for x in ids if ids.count(x) > 1}:
        errors.append(f"sources.yaml: sources: duplicate source id {s!r}")
    if errors:
        raise ConfigError("\n".join(errors))
