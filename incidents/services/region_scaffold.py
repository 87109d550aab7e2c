"""`incidents region new NAME --municipalities FILE [--boundaries FILE]`: a complete region folder,
commented, built on the Russian-language base (config/base/ru), from a list of municipalities.

The folder loads and runs at once: the base's rubricator, markers and answer templates apply;
territories.yaml lists the municipalities (names, kinds, centroids, ОКТМО codes, settlements);
bodies.yaml holds the triage queue alone, routing.yaml and sources.yaml are empty with examples
in comments. `incidents check-config` then says what is still missing and what each gap costs
(incidents/services/config_gaps.py); docs/new-region.md walks through filling it in."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.config import ConfigError
from core.latin import GENERIC_NAME_WORDS as _GENERIC
from core.latin import slug

KINDS = {
    "city_okrug": "city_okrug",
    "городской округ": "city_okrug",
    "municipal_okrug": "municipal_okrug",
    "муниципальный округ": "municipal_okrug",
    "municipal_district": "municipal_district",
    "муниципальный район": "municipal_district",
    "район": "municipal_district",
    "city_district": "city_district",
    "внутригородской район": "city_district",
    "внутригородская территория": "city_district",
}
_LAT = ("lat", "centroid_lat", "широта")
_LON = ("lon", "centroid_lon", "долгота")


@dataclass
class MunicipalityRow:
    code: str
    name: str
    kind: str
    centroid: tuple[float, float] | None
    oktmo: str | None
    settlements: list[str] = field(default_factory=list)


def _float(row: dict[str, str], names: tuple[str, ...]) -> float | None:
    for n in names:
        value = (row.get(n) or "").strip().replace(",", ".")
        if value:
            return float(value)
    return None


def read_municipalities(path: Path) -> list[MunicipalityRow]:
    """The CSV: `name`, `kind`, `lat`, `lon` (the centroid), optional `oktmo` and `settlements`
    (names separated by «;» or «|»; with «;» between the columns too, settlements must be the last
    column or use «|»). An error names the file and the line."""
    text = path.read_text(encoding="utf-8-sig")
    dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t") if text.strip() else csv.excel
    rows: list[MunicipalityRow] = []
    codes: set[str] = set()
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    last = ((reader.fieldnames or [""])[-1] or "").strip().lower()
    for i, raw in enumerate(reader, start=2):
        extra = raw.pop(None, None)  # values beyond the header's columns
        if extra:
            if last not in ("settlements", "населённые пункты", "населенные пункты"):
                raise ConfigError(
                    f"{path}:{i}: лишние столбцы ({'; '.join(extra)}): в строке больше значений, чем в "
                    "заголовке; если разделитель столбцов «;», населённые пункты разделяйте «|»"
                )
            # «;» between the columns and between the settlements: the rest of the line is settlements
            key = next(k for k in raw if (k or "").strip().lower() == last)
            raw[key] = ";".join([raw.get(key) or "", *extra])
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        name = row.get("name") or row.get("название") or ""
        if not name:
            raise ConfigError(f"{path}:{i}: name: пустое название муниципалитета")
        kind_text = (row.get("kind") or row.get("вид") or "municipal_district").lower()
        kind = KINDS.get(kind_text)
        if kind is None:
            raise ConfigError(
                f"{path}:{i}: kind: {kind_text!r} — один из {', '.join(sorted(set(KINDS.values())))}"
            )
        try:
            lat, lon = _float(row, _LAT), _float(row, _LON)
        except ValueError as exc:
            raise ConfigError(f"{path}:{i}: lat/lon: не число ({exc})") from exc
        code = base = slug(name)
        n = 2
        while code in codes:
            code, n = f"{base}_{n}", n + 1
        codes.add(code)
        settlements = [s.strip() for s in re.split(r"[;|]", row.get("settlements") or "") if s.strip()]
        rows.append(
            MunicipalityRow(
                code=code,
                name=name,
                kind=kind,
                centroid=(lat, lon) if lat is not None and lon is not None else None,
                oktmo=row.get("oktmo") or row.get("октмо") or None,
                settlements=settlements,
            )
        )
    if not rows:
        raise ConfigError(f"{path}: нет ни одного муниципалитета")
    return rows


def _aliases(m: MunicipalityRow) -> list[str]:
    """How residents name it, in the nominative: the matcher reads every inflection of a lemma."""
    core = _GENERIC.sub(" ", m.name).strip()
    if m.kind == "municipal_district" and core:
        return [f"{core} район", f"{core} р-н"] if "район" not in m.name.lower() else [f"{core} р-н"]
    if re.match(r"(город|г\.)\s", m.name, re.I) and core:  # «город Курск»: residents write «Курск»
        return [core, f"г. {core}"]
    return []


def _rings_centre(geometry: dict[str, Any]) -> tuple[float, float] | None:
    coords = geometry.get("coordinates") or []
    ring = coords[0] if geometry.get("type") == "Polygon" else (coords[0][0] if coords and coords[0] else [])
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring = ring[:-1]  # a closed ring repeats its first point
    if not ring:
        return None
    lon = sum(p[0] for p in ring) / len(ring)
    lat = sum(p[1] for p in ring) / len(ring)
    return round(lat, 4), round(lon, 4)


def match_boundaries(path: Path, munis: list[MunicipalityRow]) -> tuple[dict[str, Any], list[str]]:
    """The GeoJSON with `properties.code` set on each feature whose `code`, `oktmo` or `name` is a
    municipality's; features that match none are left out and named. A municipality without a
    centroid gets its boundary's."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ConfigError(f"{path}: ожидается GeoJSON FeatureCollection")
    by_key: dict[str, MunicipalityRow] = {}
    for m in munis:
        by_key[m.code] = m
        by_key[m.name.lower()] = m
        if m.oktmo:
            by_key[m.oktmo] = m
    kept, unmatched = [], []
    for i, f in enumerate(data.get("features") or []):
        props = f.get("properties") or {}
        keys = [
            str(props.get(k) or "").strip().lower() for k in ("code", "oktmo", "OKTMO", "name", "name:ru")
        ]
        found = next((by_key[k] for k in keys if k and k in by_key), None)
        geometry = f.get("geometry") or {}
        if found is None or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            unmatched.append(str(props.get("name") or f"#{i}"))
            continue
        if found.centroid is None:
            found.centroid = _rings_centre(geometry)
        kept.append({"type": "Feature", "properties": {**props, "code": found.code}, "geometry": geometry})
    return {"type": "FeatureCollection", "features": kept}, unmatched


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, width=110)


def _territories(munis: list[MunicipalityRow]) -> str:
    items = []
    for m in munis:
        item: dict[str, Any] = {"code": m.code, "name": m.name, "kind": m.kind}
        if m.oktmo:
            item["oktmo"] = m.oktmo
        item["aliases"] = _aliases(m)
        if m.centroid is not None:
            item["centroid"] = list(m.centroid)
        item["settlements"] = [{"name": s, "aliases": []} for s in m.settlements]
        items.append(item)
    return _dump({"municipalities": items})


@dataclass
class Scaffold:
    folder: Path
    files: list[str]
    unmatched_boundaries: list[str]


def scaffold_region(
    folder: Path,
    municipalities: Path,
    *,
    title: str | None = None,
    boundaries: Path | None = None,
    timezone: str = "Europe/Moscow",
) -> Scaffold:
    """Write a new region folder (it must not exist yet) and return what was written."""
    from incidents.services import region_templates as t
    from pipelines.inflect import inflect_name

    if folder.exists():
        raise ConfigError(f"{folder}: папка уже есть — новый регион пишется в новую папку")
    munis = read_municipalities(municipalities)
    geo, unmatched = match_boundaries(boundaries, munis) if boundaries is not None else (None, [])
    code = folder.name
    title = title or code
    try:
        title_gen = inflect_name(title, "gent")
    except Exception:  # an unknown word: the name as written
        title_gen = title
    points = [m.centroid for m in munis if m.centroid is not None]
    centroid = (
        f"centroid: [{sum(p[0] for p in points) / len(points):.4f}, {sum(p[1] for p in points) / len(points):.4f}]"
        "   # the mean of the municipalities' centroids"
        if points
        else "# centroid: [lat, lon]"
    )
    values = {"code": code, "title": title, "title_gen": title_gen, "example": munis[0].code}
    map_text = (
        "# The console's map and the placing of a point: the boundaries given to `region new`, each\n"
        "# feature with its municipality's `code` (config/README.md → map).\n"
        "map:\n  boundaries: boundaries.geojson\n  attribution: © OpenStreetMap contributors   # if they are OSM's (ODbL)"
        if geo is not None
        else "# map: {boundaries: boundaries.geojson}   # municipal boundaries (GeoJSON): the map draws circles without"
    )
    texts = {
        "region.yaml": t.REGION.format(
            folder=folder, timezone=timezone, centroid=centroid, map=map_text, **values
        ),
        "rubricator.yaml": t.RUBRICATOR.format(**values),
        "signals.yaml": t.SIGNALS.format(**values),
        "replies.yaml": t.REPLIES.format(**values),
        "territories.yaml": (
            "# territories.yaml — the gazetteer, from the municipality list given to `incidents region new`.\n"
            "# Model: core.config.Municipality; every key: config/README.md. Still to add: the\n"
            "# settlements of each district, the streets that name a town, residents' spellings\n"
            "# (aliases); how names are matched: docs/place-matching.md.\n\n" + _territories(munis)
        ),
        "bodies.yaml": t.BODIES.format(**values),
        "routing.yaml": t.ROUTING.format(**values),
        "sources.yaml": t.SOURCES.format(**values),
        "sla.yaml": t.SLA.format(**values),
        "clustering.yaml": t.CLUSTERING.format(**values),
    }
    folder.mkdir(parents=True)
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    if geo is not None:
        (folder / "boundaries.geojson").write_text(json.dumps(geo, ensure_ascii=False), encoding="utf-8")
        texts["boundaries.geojson"] = ""
    return Scaffold(folder, list(texts), unmatched)
