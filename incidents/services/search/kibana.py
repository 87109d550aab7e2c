"""Kibana saved objects: check them against our index mappings, and import them.

`check_objects` reads the NDJSON objects (data views, saved searches, Lens visualizations, maps,
dashboards) and reports every structural problem and every field they reference that the index
templates do not define — the import refuses a file with problems, so a dashboard never points
at a field that does not exist.

`import_saved_objects` posts the file to Kibana's saved-objects import API
(`POST /api/saved_objects/_import?overwrite=true`, multipart, `kbn-xsrf` header), into a space
if one is configured. Re-importing overwrites: the import is idempotent.
"""

from __future__ import annotations

import fnmatch
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from incidents.services.search import mappings
from incidents.services.search.settings import SearchPolicy, SearchSettings

DEFAULT_PREFIX = "incidents"
RECORDS = "___records___"
NOT_AGGREGATABLE = frozenset({"text", "object"})
# Lens operations over a field that need doc values (buckets, metrics); date_histogram needs a date.
BUCKET_KINDS = {"date_histogram": "date"}
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_KQL_FIELD = re.compile(r"(?<![\w.*])([A-Za-z_][\w.]*)\s*(?::|<=|>=|<|>)")
_KQL_WORDS = frozenset({"and", "or", "not"})


class KibanaError(Exception):
    """Kibana could not be reached, refused the request, or reported failed objects."""


class SavedObjectsInvalid(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("saved objects are inconsistent:\n  " + "\n  ".join(problems))
        self.problems = problems


# --------------------------------------------------------------------------- reading
def read_ndjson(paths: Iterable[Path]) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SavedObjectsInvalid([f"{path.name}:{n}: not JSON: {exc}"]) from exc
            if isinstance(obj, dict) and "exportedCount" in obj and "type" not in obj:
                continue  # the summary line Kibana's export appends
            objects.append(obj)
    return objects


def kql_fields(query: str) -> set[str]:
    """Field names a KQL query uses (`field : value`, `field < value`)."""
    bare = _QUOTED.sub('""', query or "")
    return {m for m in _KQL_FIELD.findall(bare) if m.lower() not in _KQL_WORDS}


def _json_attr(obj: dict[str, Any], key: str, where: str, problems: list[str], default: Any) -> Any:
    raw = (obj.get("attributes") or {}).get(key)
    if raw is None:
        return default
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        problems.append(f"{where}: attributes.{key} is not JSON: {exc}")
        return default


# --------------------------------------------------------------------------- checking
@dataclass(slots=True)
class _Ctx:
    objects: dict[tuple[str, str], dict[str, Any]]
    templates: dict[str, dict[str, Any]]
    prefix: str
    problems: list[str] = field(default_factory=list)

    def properties_for_title(self, title: str) -> dict[str, Any] | None:
        for body in self.templates.values():
            for pattern in body["index_patterns"]:
                if title == pattern or fnmatch.fnmatchcase(title.replace("*", "x"), pattern):
                    return body["template"]["mappings"]["properties"]
        return None

    def data_view_properties(self, dv_id: str, where: str) -> dict[str, Any] | None:
        dv = self.objects.get(("index-pattern", dv_id))
        if dv is None:
            self.problems.append(f"{where}: data view {dv_id!r} is not in the file")
            return None
        return self.properties_for_title(_title(dv, self.prefix))

    def field(
        self,
        props: dict[str, Any] | None,
        name: str | None,
        where: str,
        *,
        kind: str | None = None,
        aggregatable: bool = False,
    ) -> None:
        """Report `name` unless the mappings define it (of type `kind`; sortable and
        aggregatable — not analysed text — when asked)."""
        if props is None or not name:
            return
        if not mappings.field_exists(props, name):
            self.problems.append(f"{where}: field {name!r} is not in the index mapping")
            return
        actual = mappings.field_type(props, name)
        if kind is not None and actual != kind:
            self.problems.append(f"{where}: field {name!r} is {actual}, not {kind}")
        elif aggregatable and actual in NOT_AGGREGATABLE:
            self.problems.append(
                f"{where}: field {name!r} is {actual}: it cannot be sorted or aggregated "
                f"(use its .keyword sub-field)"
            )


def _title(dv: dict[str, Any], prefix: str) -> str:
    title = str((dv.get("attributes") or {}).get("title") or "")
    if prefix != DEFAULT_PREFIX and title.startswith(DEFAULT_PREFIX + "-"):
        title = prefix + title[len(DEFAULT_PREFIX) :]
    return title


def _refs(obj: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {r.get("name"): r for r in obj.get("references") or [] if isinstance(r, dict)}


def _ref_props(ctx: _Ctx, obj: dict[str, Any], name: str, where: str) -> dict[str, Any] | None:
    ref = _refs(obj).get(name)
    if ref is None:
        ctx.problems.append(f"{where}: no reference named {name!r}")
        return None
    if ref.get("type") != "index-pattern":
        ctx.problems.append(f"{where}: reference {name!r} is a {ref.get('type')}, not a data view")
        return None
    return ctx.data_view_properties(str(ref.get("id")), where)


def _check_data_view(ctx: _Ctx, obj: dict[str, Any], where: str) -> None:
    title = _title(obj, ctx.prefix)
    props = ctx.properties_for_title(title)
    if props is None:
        ctx.problems.append(f"{where}: title {title!r} matches none of our index templates")
        return
    ctx.field(props, obj["attributes"].get("timeFieldName"), f"{where} timeFieldName", kind="date")
    for key in ("fieldFormatMap", "fieldAttrs"):
        for name in _json_attr(obj, key, where, ctx.problems, {}) or {}:
            ctx.field(props, name, f"{where} {key}")


def _check_search(ctx: _Ctx, obj: dict[str, Any], where: str) -> None:
    attrs = obj["attributes"]
    source = _json_attr(
        {"attributes": attrs.get("kibanaSavedObjectMeta") or {}}, "searchSourceJSON", where, ctx.problems, {}
    )
    ref_name = source.get("indexRefName")
    if not ref_name:
        ctx.problems.append(f"{where}: searchSourceJSON has no indexRefName")
        return
    props = _ref_props(ctx, obj, ref_name, where)
    for col in attrs.get("columns") or []:
        ctx.field(props, col, f"{where} column")
    for pair in attrs.get("sort") or []:
        if not (isinstance(pair, list) and len(pair) == 2 and pair[1] in ("asc", "desc")):
            ctx.problems.append(f"{where}: sort entry {pair!r} is not [field, asc|desc]")
            continue
        ctx.field(props, pair[0], f"{where} sort", aggregatable=True)
    query = source.get("query") or {}
    if query.get("language") == "kuery":
        for name in kql_fields(query.get("query", "")):
            ctx.field(props, name, f"{where} query")
    for flt in source.get("filter") or []:
        ctx.field(props, (flt.get("meta") or {}).get("key"), f"{where} filter")


def _check_lens(ctx: _Ctx, obj: dict[str, Any], where: str) -> None:
    state = obj["attributes"].get("state") or {}
    layers = ((state.get("datasourceStates") or {}).get("formBased") or {}).get("layers")
    if not isinstance(layers, dict) or not layers:
        ctx.problems.append(f"{where}: state.datasourceStates.formBased.layers is missing")
        return
    props_by_layer: dict[str, dict[str, Any] | None] = {}
    for layer_id, layer in layers.items():
        props = _ref_props(ctx, obj, f"indexpattern-datasource-layer-{layer_id}", where)
        props_by_layer[layer_id] = props
        columns = layer.get("columns") or {}
        for cid in layer.get("columnOrder") or []:
            if cid not in columns:
                ctx.problems.append(f"{where}: columnOrder names unknown column {cid!r}")
        for cid, col in columns.items():
            source = col.get("sourceField")
            if source and source != RECORDS:
                ctx.field(
                    props,
                    source,
                    f"{where} column {cid}",
                    kind=BUCKET_KINDS.get(col.get("operationType", "")),
                    aggregatable=True,
                )
            flt = col.get("filter") or {}
            if flt.get("language") == "kuery":
                for name in kql_fields(flt.get("query", "")):
                    ctx.field(props, name, f"{where} column {cid} filter")
            order = (col.get("params") or {}).get("orderBy") or {}
            if order.get("type") == "column" and order.get("columnId") not in columns:
                ctx.problems.append(
                    f"{where}: column {cid} is ordered by unknown column {order.get('columnId')!r}"
                )
    vis = state.get("visualization") or {}
    for vl in vis.get("layers") or []:
        layer = layers.get(vl.get("layerId"))
        if layer is None:
            ctx.problems.append(f"{where}: visualization layer {vl.get('layerId')!r} has no data layer")
            continue
        cols = layer.get("columns") or {}
        for acc in [vl.get("xAccessor"), vl.get("splitAccessor"), *(vl.get("accessors") or [])]:
            if acc is not None and acc not in cols:
                ctx.problems.append(f"{where}: visualization uses unknown column {acc!r}")
    query = state.get("query") or {}
    if query.get("language") == "kuery":
        for props in props_by_layer.values():
            for name in kql_fields(query.get("query", "")):
                ctx.field(props, name, f"{where} query")


# Kibana renamed the map layer types in 8.1.0 (a saved-object migration converts older objects):
# an object must use the names of the version it claims to be at.
MAP_LAYER_TYPES_BEFORE_8_1 = frozenset(
    {"TILE", "VECTOR", "VECTOR_TILE", "HEATMAP", "BLENDED_VECTOR", "TILED_VECTOR"}
)
MAP_LAYER_TYPES_SINCE_8_1 = frozenset(
    {
        "RASTER_TILE",
        "GEOJSON_VECTOR",
        "EMS_VECTOR_TILE",
        "HEATMAP",
        "BLENDED_VECTOR",
        "MVT_VECTOR",
        "LAYER_GROUP",
    }
)


def _version(text: Any) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in str(text).split("."))
    except ValueError:
        return (0,)


def _check_map(ctx: _Ctx, obj: dict[str, Any], where: str) -> None:
    layers = _json_attr(obj, "layerListJSON", where, ctx.problems, [])
    old = _version(obj.get("typeMigrationVersion") or "0") < (8, 1, 0)
    allowed = MAP_LAYER_TYPES_BEFORE_8_1 if old else MAP_LAYER_TYPES_SINCE_8_1
    for layer in layers:
        if layer.get("type") not in allowed:
            ctx.problems.append(
                f"{where} layer {layer.get('id')}: type {layer.get('type')!r} is not a map layer type "
                f"of version {obj.get('typeMigrationVersion')} (one of {sorted(allowed)})"
            )
        src = layer.get("sourceDescriptor") or {}
        ref_name = src.get("indexPatternRefName")
        if not ref_name:
            continue
        lw = f"{where} layer {layer.get('id')}"
        props = _ref_props(ctx, obj, ref_name, lw)
        ctx.field(props, src.get("geoField"), f"{lw} geoField", kind="geo_point")
        ctx.field(props, src.get("sortField"), f"{lw} sortField", aggregatable=True)
        for name in src.get("tooltipProperties") or []:
            ctx.field(props, name, f"{lw} tooltip")
        for metric in src.get("metrics") or []:
            ctx.field(props, metric.get("field"), f"{lw} metric", aggregatable=True)
    _json_attr(obj, "mapStateJSON", where, ctx.problems, {})


def _check_dashboard(ctx: _Ctx, obj: dict[str, Any], where: str) -> None:
    panels = _json_attr(obj, "panelsJSON", where, ctx.problems, [])
    refs = _refs(obj)
    seen: set[str] = set()
    for panel in panels:
        index = str(panel.get("panelIndex"))
        pw = f"{where} panel {index}"
        if index in seen:
            ctx.problems.append(f"{pw}: duplicate panelIndex")
        seen.add(index)
        grid = panel.get("gridData") or {}
        if grid.get("i") != index or not all(isinstance(grid.get(k), int) for k in ("x", "y", "w", "h")):
            ctx.problems.append(f"{pw}: gridData needs integer x, y, w, h and i = panelIndex")
        elif grid["x"] < 0 or grid["w"] < 1 or grid["x"] + grid["w"] > 48:
            ctx.problems.append(f"{pw}: gridData is outside the 48-column grid")
        ref_name = panel.get("panelRefName")
        if not ref_name:
            continue
        ref = refs.get(f"{index}:{ref_name}") or refs.get(ref_name)
        if ref is None:
            ctx.problems.append(f"{pw}: no reference for panelRefName {ref_name!r}")
        elif ref.get("type") != panel.get("type"):
            ctx.problems.append(f"{pw}: panel type {panel.get('type')} but reference to a {ref.get('type')}")


_CHECKS: dict[str, Callable[[_Ctx, dict[str, Any], str], None]] = {
    "index-pattern": _check_data_view,
    "search": _check_search,
    "lens": _check_lens,
    "map": _check_map,
    "dashboard": _check_dashboard,
}


def check_objects(objects: list[dict[str, Any]], policy: SearchPolicy | None = None) -> list[str]:
    """Every problem found: structure, references, and fields missing from the mappings."""
    policy = policy or SearchPolicy()
    problems: list[str] = []
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for n, obj in enumerate(objects, 1):
        if not isinstance(obj, dict):
            problems.append(f"object {n}: not a JSON object")
            continue
        missing = [k for k in ("id", "type", "attributes") if k not in obj]
        if (
            missing
            or not isinstance(obj.get("attributes"), dict)
            or not isinstance(obj.get("references", []), list)
        ):
            problems.append(
                f"object {n}: needs id, type, attributes (object) and references (list); missing {missing}"
            )
            continue
        key = (str(obj["type"]), str(obj["id"]))
        if key in by_key:
            problems.append(f"{key[0]} {key[1]}: appears twice")
        by_key[key] = obj
        if not obj["attributes"].get("title"):
            problems.append(f"{key[0]} {key[1]}: attributes.title is empty")
    ctx = _Ctx(by_key, mappings.templates(policy), policy.index_prefix, problems)
    for (typ, oid), obj in by_key.items():
        where = f"{typ} {oid}"
        for ref in obj.get("references") or []:
            if not all(ref.get(k) for k in ("id", "type", "name")):
                problems.append(f"{where}: reference {ref!r} needs id, type and name")
            elif (ref["type"], ref["id"]) not in by_key:
                problems.append(
                    f"{where}: reference {ref['name']!r} points to {ref['type']} {ref['id']!r}, not in the file"
                )
        check = _CHECKS.get(typ)
        if check is None:
            problems.append(f"{where}: type {typ!r} is not one this project ships")
            continue
        check(ctx, obj, where)
    return problems


def with_prefix(objects: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """Point the data views at `<prefix>-…` indexes when the region uses another prefix."""
    if prefix == DEFAULT_PREFIX:
        return objects
    out = []
    for obj in objects:
        if obj.get("type") == "index-pattern":
            obj = {**obj, "attributes": {**obj["attributes"], "title": _title(obj, prefix)}}
        out.append(obj)
    return out


def prepare(paths: Iterable[Path], policy: SearchPolicy) -> tuple[bytes, list[dict[str, Any]]]:
    """Read, check and render the NDJSON to upload; raises SavedObjectsInvalid."""
    objects = read_ndjson(paths)
    problems = check_objects(objects, policy)
    if problems:
        raise SavedObjectsInvalid(problems)
    objects = with_prefix(objects, policy.index_prefix)
    body = "".join(json.dumps(o, ensure_ascii=False, sort_keys=True) + "\n" for o in objects).encode("utf-8")
    return body, objects


# --------------------------------------------------------------------------- the API
@dataclass(slots=True)
class ImportResult:
    success: bool
    success_count: int
    errors: list[dict[str, Any]]


def kibana_client(
    settings: SearchSettings, *, timeout: float = 60.0, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    if not settings.kibana_url:
        raise KibanaError("KIBANA_URL is not set")
    headers = {"kbn-xsrf": "true"}
    auth: httpx.Auth | None = None
    if settings.kibana_api_key is not None:
        headers["Authorization"] = f"ApiKey {settings.kibana_api_key.get_secret_value()}"
    elif settings.elasticsearch_api_key is not None and not settings.kibana_username:
        headers["Authorization"] = f"ApiKey {settings.elasticsearch_api_key.get_secret_value()}"
    else:
        user = settings.kibana_username or settings.elasticsearch_username
        secret = settings.kibana_password or settings.elasticsearch_password
        if user:
            auth = httpx.BasicAuth(user, secret.get_secret_value() if secret else "")
    verify: Any = settings.elasticsearch_verify_certs
    if verify and settings.elasticsearch_ca_certs is not None:
        verify = str(settings.elasticsearch_ca_certs)
    return httpx.Client(
        base_url=settings.kibana_url.rstrip("/"),
        headers=headers,
        auth=auth,
        timeout=timeout,
        verify=verify,
        transport=transport,
    )


def _space_prefix(space: str | None) -> str:
    return f"/s/{space}" if space and space != "default" else ""


def wait_until_ready(
    http: httpx.Client,
    timeout: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    interval: float = 2.0,
) -> None:
    """Poll GET /api/status until Kibana reports itself available (it takes a minute after start)."""
    deadline = clock() + timeout
    last = "no answer"
    while True:
        try:
            resp = http.get("/api/status")
            if resp.status_code == 200:
                level = (((resp.json() or {}).get("status") or {}).get("overall") or {}).get("level")
                if level in (None, "available"):
                    return
                last = f"status {level}"
            else:
                last = f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            last = str(exc) or type(exc).__name__
        if clock() >= deadline:
            raise KibanaError(f"Kibana not ready after {timeout:.0f} s: {last}")
        sleep(interval)


def import_saved_objects(
    http: httpx.Client, ndjson: bytes, *, space: str | None = None, overwrite: bool = True
) -> ImportResult:
    url = f"{_space_prefix(space)}/api/saved_objects/_import"
    try:
        resp = http.post(
            url,
            params={"overwrite": "true" if overwrite else "false"},
            files={"file": ("incidents.ndjson", ndjson, "application/ndjson")},
        )
    except httpx.HTTPError as exc:
        raise KibanaError(f"Kibana at {http.base_url} cannot be reached: {exc}") from exc
    if resp.status_code != 200:
        raise KibanaError(f"Kibana refused the import: HTTP {resp.status_code}: {resp.text[:500]}")
    try:
        data = resp.json()
    except ValueError as exc:
        raise KibanaError(
            f"Kibana answered the import with something that is not JSON: {resp.text[:200]}"
        ) from exc
    return ImportResult(
        bool(data.get("success")), int(data.get("successCount") or 0), list(data.get("errors") or [])
    )


def describe_error(err: dict[str, Any]) -> str:
    e = err.get("error") or {}
    kind = e.get("type", "error")
    extra = ""
    if kind == "missing_references":
        extra = ": " + ", ".join(f"{r.get('type')} {r.get('id')}" for r in e.get("references") or [])
    elif e.get("message"):
        extra = f": {e['message']}"
    return f"{err.get('type')} {err.get('id')} ({err.get('title') or (err.get('meta') or {}).get('title') or ''}): {kind}{extra}"
