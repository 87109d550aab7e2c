"""The Kibana saved objects in dashboards/kibana.ndjson, as code.

`python -m incidents.services.search.dashboards > dashboards/kibana.ndjson` writes the file; a test
keeps the two equal, and `incidents.services.search.kibana.check_objects` checks every field they use
against the index templates. Objects follow the shapes Kibana's own sample data sets use, with
the same `typeMigrationVersion`s, so Kibana 8.x/9.x migrates them on import as it does its own.

Data views: posts (`incidents-posts-*`, time field `created_at`) and incidents
(`incidents-incidents`, time field `opened_at`). Saved searches: overdue incidents, incidents
without a responsible body, open incidents by body, complaints by network. Visualizations:
incidents over time by category, SLA compliance per body, top problems this week, and a map of
incidents by municipality. One dashboard shows them together.
"""

from __future__ import annotations

import json
import sys
from typing import Any

CORE = "8.8.0"
POSTS_DV = "incidents-posts"
INCIDENTS_DV = "incidents-incidents"

POST_LABELS = {
    "created_at": "Опубликован",
    "network": "Сеть",
    "text": "Текст",
    "category_name": "Категория",
    "problem": "Проблема",
    "municipality_name": "Муниципалитет",
    "incident_id": "Инцидент",
    "incident_status": "Статус инцидента",
    "is_complaint": "Жалоба",
    "url": "Ссылка",
    "address": "Адрес",
    "reach": "Охват",
    "author_id": "Автор",
}
INCIDENT_LABELS = {
    "opened_at": "Открыт",
    "title": "Инцидент",
    "category_name": "Категория",
    "problem": "Проблема",
    "municipality_name": "Муниципалитет",
    "status": "Статус",
    "priority": "Приоритет",
    "body_name": "Ответственный",
    "due_at": "Срок ответа",
    "first_answer_at": "Первый ответ",
    "sla_state": "SLA",
    "sla_outcome": "Соблюдение срока",
    "post_count": "Постов",
    "networks": "Сети",
    "reach": "Охват",
    "address": "Адрес",
    "overdue": "Просрочен",
}
STATUS_NAMES = {
    "new": "новый",
    "triaged": "разобран",
    "assigned": "назначен",
    "answer_drafted": "ответ готовится",
    "answer_approved": "ответ согласован",
    "answered": "отвечен",
    "resolved": "решён",
    "closed": "закрыт",
    "rejected": "отклонён",
    "reopened": "открыт повторно",
}
SLA_STATE_NAMES = {"ok": "в срок", "at_risk": "под угрозой", "overdue": "просрочен", "answered": "отвечен"}
SLA_OUTCOME_NAMES = {
    "met": "ответ в срок",
    "late": "ответ с опозданием",
    "overdue": "просрочен без ответа",
    "pending": "срок не наступил",
}


def _lookup(names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": "static_lookup",
        "params": {"lookupEntries": [{"key": k, "value": v} for k, v in names.items()]},
    }


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def data_view(
    obj_id: str, title: str, name: str, time_field: str, labels: dict[str, str], formats: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": obj_id,
        "type": "index-pattern",
        "coreMigrationVersion": CORE,
        "typeMigrationVersion": "7.11.0",
        "managed": False,
        "references": [],
        "attributes": {
            "title": title,
            "name": name,
            "timeFieldName": time_field,
            "fields": "[]",
            "runtimeFieldMap": "{}",
            "typeMeta": "{}",
            "fieldFormatMap": _dumps(formats),
            "fieldAttrs": _dumps({k: {"customLabel": v} for k, v in labels.items()}),
        },
    }


def saved_search(
    obj_id: str, title: str, description: str, dv: str, query: str, columns: list[str], sort: list[list[str]]
) -> dict[str, Any]:
    source = {
        "highlightAll": True,
        "version": True,
        "query": {"query": query, "language": "kuery"},
        "filter": [],
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    return {
        "id": obj_id,
        "type": "search",
        "coreMigrationVersion": CORE,
        "typeMigrationVersion": "7.9.3",
        "managed": False,
        "attributes": {
            "title": title,
            "description": description,
            "hits": 0,
            "columns": columns,
            "sort": sort,
            "version": 1,
            "kibanaSavedObjectMeta": {"searchSourceJSON": _dumps(source)},
        },
        "references": [
            {"id": dv, "name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern"}
        ],
    }


def _count(label: str) -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "count",
        "isBucketed": False,
        "scale": "ratio",
        "sourceField": "___records___",
        "params": {"emptyAsNull": True},
    }


def _terms(label: str, field: str, size: int, order_by: str, *, other: bool = False) -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "string",
        "operationType": "terms",
        "isBucketed": True,
        "scale": "ordinal",
        "sourceField": field,
        "params": {
            "size": size,
            "orderBy": {"type": "column", "columnId": order_by},
            "orderDirection": "desc",
            "otherBucket": other,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
        },
    }


def _date_histogram(label: str, field: str) -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "date",
        "operationType": "date_histogram",
        "isBucketed": True,
        "scale": "interval",
        "sourceField": field,
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def lens_xy(
    obj_id: str,
    title: str,
    description: str,
    dv: str,
    columns: dict[str, dict[str, Any]],
    order: list[str],
    *,
    series: str,
    x: str,
    y: list[str],
    split: str | None = None,
    query: str = "",
    value_labels: str = "hide",
) -> dict[str, Any]:
    layer_id = f"{obj_id}-layer"
    layer: dict[str, Any] = {
        "layerId": layer_id,
        "layerType": "data",
        "seriesType": series,
        "xAccessor": x,
        "accessors": y,
        "position": "top",
        "showGridlines": False,
    }
    if split:
        layer["splitAccessor"] = split
    visualization = {
        "legend": {"isVisible": True, "position": "right", "legendSize": "auto"},
        "valueLabels": value_labels,
        "fittingFunction": "None",
        "preferredSeriesType": series,
        "axisTitlesVisibilitySettings": {"x": False, "yLeft": True, "yRight": True},
        "tickLabelsVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "gridlinesVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "yLeftExtent": {"mode": "full"},
        "yRightExtent": {"mode": "full"},
        "layers": [layer],
    }
    return {
        "id": obj_id,
        "type": "lens",
        "coreMigrationVersion": CORE,
        "typeMigrationVersion": "8.9.0",
        "managed": False,
        "attributes": {
            "title": title,
            "description": description,
            "visualizationType": "lnsXY",
            "state": {
                "datasourceStates": {
                    "formBased": {
                        "layers": {
                            layer_id: {"columns": columns, "columnOrder": order, "incompleteColumns": {}}
                        }
                    }
                },
                "visualization": visualization,
                "query": {"query": query, "language": "kuery"},
                "filters": [],
                "internalReferences": [],
                "adHocDataViews": {},
            },
        },
        "references": [
            {"id": dv, "name": f"indexpattern-datasource-layer-{layer_id}", "type": "index-pattern"}
        ],
    }


def _static(key: str, value: Any) -> dict[str, Any]:
    return {key: {"type": "STATIC", "options": value}}


def incidents_map(obj_id: str) -> dict[str, Any]:
    vector_style = {
        "type": "VECTOR",
        "isTimeAware": True,
        "properties": {
            **_static("icon", {"value": "marker"}),
            "fillColor": {
                "type": "DYNAMIC",
                "options": {
                    "field": {"name": "doc_count", "origin": "source"},
                    "color": "Yellow to Red",
                    "type": "ORDINAL",
                    "fieldMetaOptions": {"isEnabled": False, "sigma": 3},
                    "useCustomColorRamp": False,
                },
            },
            **_static("lineColor", {"color": "#FFFFFF"}),
            **_static("lineWidth", {"size": 1}),
            "iconSize": {
                "type": "DYNAMIC",
                "options": {
                    "field": {"name": "doc_count", "origin": "source"},
                    "minSize": 8,
                    "maxSize": 40,
                    "fieldMetaOptions": {"isEnabled": False, "sigma": 3},
                },
            },
            **_static("iconOrientation", {"orientation": 0}),
            "labelText": {"type": "DYNAMIC", "options": {"field": {"name": "doc_count", "origin": "source"}}},
            **_static("labelColor", {"color": "#000000"}),
            **_static("labelSize", {"size": 14}),
            **_static("labelBorderColor", {"color": "#FFFFFF"}),
            "symbolizeAs": {"options": {"value": "circle"}},
            "labelBorderSize": {"options": {"size": "SMALL"}},
        },
    }
    points_style = {
        "type": "VECTOR",
        "isTimeAware": True,
        "properties": {
            **_static("icon", {"value": "marker"}),
            **_static("fillColor", {"color": "#E7664C"}),
            **_static("lineColor", {"color": "#FFFFFF"}),
            **_static("lineWidth", {"size": 1}),
            **_static("iconSize", {"size": 6}),
            **_static("iconOrientation", {"orientation": 0}),
            **_static("labelText", {"value": ""}),
            **_static("labelColor", {"color": "#000000"}),
            **_static("labelSize", {"size": 14}),
            **_static("labelBorderColor", {"color": "#FFFFFF"}),
            "symbolizeAs": {"options": {"value": "circle"}},
            "labelBorderSize": {"options": {"size": "SMALL"}},
        },
    }
    layers = [
        {
            "id": "basemap",
            "alpha": 1,
            "visible": True,
            "style": {},
            "type": "VECTOR_TILE",
            "minZoom": 0,
            "maxZoom": 24,
            "sourceDescriptor": {"type": "EMS_TMS", "isAutoSelect": True},
        },
        {
            "id": "by-municipality",
            "label": "Инциденты по муниципалитетам",
            "minZoom": 0,
            "maxZoom": 24,
            "alpha": 0.85,
            "visible": True,
            "type": "VECTOR",
            "style": vector_style,
            "sourceDescriptor": {
                "type": "ES_GEO_GRID",
                "id": "incidents-grid",
                "geoField": "location",
                "requestType": "point",
                "resolution": "MOST_FINE",
                "applyGlobalQuery": True,
                "metrics": [{"type": "count", "label": "инцидентов"}],
                "indexPatternRefName": "layer_1_source_index_pattern",
            },
        },
        {
            "id": "incidents",
            "label": "Инциденты",
            "minZoom": 9,
            "maxZoom": 24,
            "alpha": 1,
            "visible": True,
            "type": "TILED_VECTOR",
            "style": points_style,
            "sourceDescriptor": {
                "type": "ES_SEARCH",
                "id": "incidents-points",
                "geoField": "location",
                "limit": 2048,
                "filterByMapBounds": True,
                "applyGlobalQuery": True,
                "scalingType": "MVT",
                "sortField": "opened_at",
                "sortOrder": "desc",
                "tooltipProperties": ["title", "municipality_name", "status", "body_name", "due_at"],
                "indexPatternRefName": "layer_2_source_index_pattern",
            },
        },
    ]
    state = {
        "zoom": 6,
        "center": {"lon": 37.6, "lat": 52.0},
        "timeFilters": {"from": "now-30d", "to": "now"},
        "refreshConfig": {"isPaused": True, "interval": 0},
        "query": {"query": "", "language": "kuery"},
        "filters": [],
        "settings": {
            "autoFitToDataBounds": True,
            "initialLocation": "AUTO_FIT_TO_BOUNDS",
            "fixedLocation": {"lat": 0, "lon": 0, "zoom": 2},
            "browserLocation": {"zoom": 2},
            "maxZoom": 24,
            "minZoom": 0,
            "showSpatialFilters": True,
            "showTimesliderToggleButton": True,
        },
    }
    return {
        "id": obj_id,
        "type": "map",
        "coreMigrationVersion": CORE,
        "typeMigrationVersion": "7.14.0",
        "managed": False,
        "attributes": {
            "title": "Карта инцидентов по муниципалитетам",
            "description": "",
            "layerListJSON": _dumps(layers),
            "mapStateJSON": _dumps(state),
            "uiStateJSON": _dumps({"isLayerTOCOpen": True, "openTOCDetails": []}),
        },
        "references": [
            {"id": INCIDENTS_DV, "name": "layer_1_source_index_pattern", "type": "index-pattern"},
            {"id": INCIDENTS_DV, "name": "layer_2_source_index_pattern", "type": "index-pattern"},
        ],
    }


def dashboard(obj_id: str, title: str, panels: list[tuple[str, str, str, dict[str, int]]]) -> dict[str, Any]:
    """panels: (panel index, saved object type, saved object id, gridData x/y/w/h)."""
    out, refs = [], []
    for index, typ, target, grid in panels:
        config: dict[str, Any] = {"enhancements": {}}
        if typ == "map":
            config.update({"isLayerTOCOpen": False, "hiddenLayers": [], "openTOCDetails": []})
        out.append(
            {
                "version": "8.11.0",
                "type": typ,
                "gridData": {**grid, "i": index},
                "panelIndex": index,
                "embeddableConfig": config,
                "panelRefName": f"panel_{index}",
            }
        )
        refs.append({"name": f"{index}:panel_{index}", "type": typ, "id": target})
    return {
        "id": obj_id,
        "type": "dashboard",
        "coreMigrationVersion": CORE,
        "typeMigrationVersion": "8.7.0",
        "managed": False,
        "attributes": {
            "title": title,
            "description": "Инциденты: где, что, кто отвечает и соблюдается ли срок ответа.",
            "panelsJSON": _dumps(out),
            "optionsJSON": _dumps(
                {
                    "useMargins": True,
                    "syncColors": False,
                    "syncCursor": True,
                    "syncTooltips": False,
                    "hidePanelTitles": False,
                }
            ),
            "timeRestore": True,
            "timeFrom": "now-30d",
            "timeTo": "now",
            "refreshInterval": {"pause": False, "value": 300000},
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": _dumps({"query": {"query": "", "language": "kuery"}, "filter": []})
            },
            "version": 1,
        },
        "references": refs,
    }


def saved_objects() -> list[dict[str, Any]]:
    incident_formats = {
        "status": _lookup(STATUS_NAMES),
        "sla_state": _lookup(SLA_STATE_NAMES),
        "sla_outcome": _lookup(SLA_OUTCOME_NAMES),
    }
    post_formats = {"incident_status": _lookup(STATUS_NAMES), "url": {"id": "url", "params": {}}}
    open_incident_columns = [
        "title",
        "municipality_name",
        "status",
        "body_name",
        "due_at",
        "sla_state",
        "post_count",
    ]
    over_time = lens_xy(
        "incidents-over-time-by-category",
        "Инциденты во времени по категориям",
        "Открытые за период, по дням",
        INCIDENTS_DV,
        {
            "category": _terms("Категория", "category_name", 15, "count", other=True),
            "date": _date_histogram("Открыт", "opened_at"),
            "count": _count("Инцидентов"),
        },
        ["category", "date", "count"],
        series="bar_stacked",
        x="date",
        y=["count"],
        split="category",
    )
    sla = lens_xy(
        "sla-compliance-by-body",
        "Соблюдение срока ответа по органам",
        "Доля инцидентов с ответом в срок, с опозданием и просроченных; инциденты, чей срок не наступил, не учитываются",
        INCIDENTS_DV,
        {
            "body": _terms("Ответственный", "body_name", 25, "count"),
            "outcome": _terms("Соблюдение срока", "sla_outcome", 5, "count"),
            "count": _count("Инцидентов"),
        },
        ["body", "outcome", "count"],
        series="bar_horizontal_percentage_stacked",
        x="body",
        y=["count"],
        split="outcome",
        query='not sla_outcome : "pending"',
    )
    top = lens_xy(
        "top-problems-week",
        "Главные проблемы недели",
        "Больше всего инцидентов открыто за последние 7 дней",
        INCIDENTS_DV,
        {"problem": _terms("Проблема", "problem", 10, "count"), "count": _count("Инцидентов")},
        ["problem", "count"],
        series="bar_horizontal",
        x="problem",
        y=["count"],
        query="opened_at >= now-7d",
        value_labels="show",
    )
    return [
        data_view(POSTS_DV, "incidents-posts-*", "Посты", "created_at", POST_LABELS, post_formats),
        data_view(
            INCIDENTS_DV, "incidents-incidents", "Инциденты", "opened_at", INCIDENT_LABELS, incident_formats
        ),
        saved_search(
            "incidents-overdue",
            "Просроченные инциденты",
            "Открытые, без ответа, срок ответа прошёл",
            INCIDENTS_DV,
            "open : true and not first_answer_at : * and due_at < now",
            open_incident_columns,
            [["due_at", "asc"]],
        ),
        saved_search(
            "incidents-unassigned",
            "Инциденты без ответственного",
            "Открытые, в очереди регионального администратора (нет органа по правилам маршрутизации)",
            INCIDENTS_DV,
            "open : true and assigned : false",
            ["title", "category_name", "municipality_name", "status", "due_at", "sla_state"],
            [["due_at", "asc"]],
        ),
        saved_search(
            "incidents-by-body",
            "Открытые инциденты по органам",
            "Сортировка по органу, затем по сроку",
            INCIDENTS_DV,
            "open : true",
            ["body_name", "title", "municipality_name", "status", "due_at", "sla_state"],
            [["body_name", "asc"], ["due_at", "asc"]],
        ),
        saved_search(
            "posts-by-network",
            "Жалобы по сетям",
            "Посты-жалобы в регионе, по сети и времени",
            POSTS_DV,
            "is_complaint : true and in_region : true",
            ["network", "text", "category_name", "municipality_name", "incident_id", "incident_status"],
            [["network", "asc"], ["created_at", "desc"]],
        ),
        over_time,
        sla,
        top,
        incidents_map("incidents-map"),
        dashboard(
            "incidents-overview",
            "Инциденты: обзор",
            [
                ("map", "map", "incidents-map", {"x": 0, "y": 0, "w": 24, "h": 18}),
                ("over-time", "lens", over_time["id"], {"x": 24, "y": 0, "w": 24, "h": 18}),
                ("sla", "lens", sla["id"], {"x": 0, "y": 18, "w": 24, "h": 16}),
                ("top", "lens", top["id"], {"x": 24, "y": 18, "w": 24, "h": 16}),
                ("overdue", "search", "incidents-overdue", {"x": 0, "y": 34, "w": 48, "h": 15}),
            ],
        ),
    ]


def render() -> str:
    return "".join(json.dumps(o, ensure_ascii=False, sort_keys=True) + "\n" for o in saved_objects())


if __name__ == "__main__":  # pragma: no cover - a developer tool
    sys.stdout.write(render())
