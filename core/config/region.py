"""The whole region once loaded: `RegionConfig`, the parts of its files (read by `loader.py`)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from core import boundaries as geometry
from core.config.base import RegionInfo
from core.config.language import Rubricator, SignalPolicy
from core.config.places import Bodies, Body, Municipality, Routing, Territories
from core.config.service import ClusteringPolicy, RepliesPolicy, SearchPolicy, SlaPolicy, Sources

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

    def __init__(
        self,
        root: Path,
        parts: dict[str, BaseModel],
        files: dict[str, list[Path]] | None = None,
        raw: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.root = root
        self.files = files or {}
        """Per file name, the files that wrote it: the language base's, then the region's."""
        self.raw = raw or {}
        """Per file name, the merged data before validation (where an error's key is)."""
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
        (`core.boundaries.load_cached`); `locate(lat, lon)` places a point."""
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
        from core.settings import PROJECT_ROOT

        p = Path(value)
        if p.is_absolute():
            return p
        if (self.root / p).exists():
            return self.root / p
        return PROJECT_ROOT / p
