"""Kibana saved objects: the NDJSON is what the code renders, every object is well formed, every
field it names exists in the index templates (with a type that fits its use), and
`incidents kibana import` sends Kibana's saved-objects import request, checked at the HTTP
boundary against a local fake Kibana."""

import base64
import copy
import json
import shutil

import pytest

from cli.main import main
from incidents.services.search import dashboards, kibana, mappings
from incidents.services.search.settings import SearchPolicy, SearchSettings
from tests.conftest import LIPETSK, ROOT
from tests.fakes.kibana import FakeKibana

NDJSON = ROOT / "dashboards" / "kibana.ndjson"
KIBANA_ENV = (
    "KIBANA_URL",
    "KIBANA_API_KEY",
    "KIBANA_USERNAME",
    "KIBANA_PASSWORD",
    "KIBANA_SPACE",
    "ELASTICSEARCH_URL",
    "ELASTICSEARCH_API_KEY",
    "ELASTICSEARCH_USERNAME",
    "ELASTICSEARCH_PASSWORD",
)


def _objects() -> list[dict]:
    return kibana.read_ndjson([NDJSON])


def _by_id(objects: list[dict]) -> dict[str, dict]:
    return {o["id"]: o for o in objects}


def _attr_json(obj: dict, key: str):
    return json.loads(obj["attributes"][key])


# --------------------------------------------------------------------------- the file
def test_the_file_is_rendered_from_the_code():
    """`python -m incidents.services.search.dashboards > dashboards/kibana.ndjson` keeps the two equal."""
    assert NDJSON.read_text(encoding="utf-8") == dashboards.render()
    for line in NDJSON.read_text(encoding="utf-8").splitlines():
        json.loads(line)  # one object per line, no pretty-printing


def test_every_object_the_issue_asks_for_is_there():
    objs = _objects()
    kinds = {(o["type"], o["id"]) for o in objs}
    assert {("index-pattern", "incidents-posts"), ("index-pattern", "incidents-incidents")} <= kinds
    titles = {o["attributes"]["title"]: o for o in objs}
    searches = {t for t, o in titles.items() if o["type"] == "search"}
    assert searches == {
        "Просроченные инциденты",
        "Инциденты без ответственного",
        "Открытые инциденты по органам",
        "Жалобы по сетям",
    }
    posts_dv, incidents_dv = _by_id(objs)["incidents-posts"], _by_id(objs)["incidents-incidents"]
    assert (
        posts_dv["attributes"]["title"] == "incidents-posts-*"
        and posts_dv["attributes"]["timeFieldName"] == "created_at"
    )
    assert incidents_dv["attributes"]["title"] == "incidents-incidents"
    assert incidents_dv["attributes"]["timeFieldName"] == "opened_at"
    # The saved searches ask what their names say.
    src = {
        o["id"]: json.loads(o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        for o in objs
        if o["type"] == "search"
    }
    assert "due_at < now" in src["incidents-overdue"]["query"]["query"]
    assert "assigned : false" in src["incidents-unassigned"]["query"]["query"]
    assert _by_id(objs)["incidents-by-body"]["attributes"]["sort"][0] == ["body_name", "asc"]
    assert _by_id(objs)["posts-by-network"]["attributes"]["sort"][0] == ["network", "asc"]
    # The dashboard: a map by municipality, incidents over time by category, SLA per body, top problems.
    dash = next(o for o in objs if o["type"] == "dashboard")
    panels = _attr_json(dash, "panelsJSON")
    targets = {r["id"] for r in dash["references"]}
    assert {
        "incidents-map",
        "incidents-over-time-by-category",
        "sla-compliance-by-body",
        "top-problems-week",
    } <= targets
    assert len(panels) == len(dash["references"]) == 5
    lens = {o["id"]: o["attributes"]["state"] for o in objs if o["type"] == "lens"}

    def fields(state: dict) -> dict[str, str]:
        layer = next(iter(state["datasourceStates"]["formBased"]["layers"].values()))
        return {
            c["operationType"]: c.get("sourceField")
            for c in layer["columns"].values()
            if c["operationType"] != "terms"
        } | {c["sourceField"]: "terms" for c in layer["columns"].values() if c["operationType"] == "terms"}

    assert fields(lens["incidents-over-time-by-category"])["date_histogram"] == "opened_at"
    assert "category_name" in fields(lens["incidents-over-time-by-category"])
    assert {"body_name", "sla_outcome"} <= set(fields(lens["sla-compliance-by-body"]))
    assert "problem" in fields(lens["top-problems-week"])
    assert lens["top-problems-week"]["query"]["query"] == "opened_at >= now-7d"
    layers = _attr_json(_by_id(objs)["incidents-map"], "layerListJSON")
    geo = [lyr["sourceDescriptor"] for lyr in layers if "geoField" in lyr["sourceDescriptor"]]
    assert geo and all(g["geoField"] == "location" for g in geo)


def _referenced_fields(objects: list[dict]) -> dict[str, set[str]]:
    """Data view id → every field name the objects use, collected independently of the checker."""
    out: dict[str, set[str]] = {}
    by_id = _by_id(objects)
    for o in objects:
        refs = {r["name"]: r["id"] for r in o.get("references", []) if r["type"] == "index-pattern"}
        a = o["attributes"]
        if o["type"] == "index-pattern":
            names = {a["timeFieldName"], *json.loads(a["fieldAttrs"]), *json.loads(a["fieldFormatMap"])}
            out.setdefault(o["id"], set()).update(names)
        elif o["type"] == "search":
            src = json.loads(a["kibanaSavedObjectMeta"]["searchSourceJSON"])
            names = set(a["columns"]) | {s[0] for s in a["sort"]} | kibana.kql_fields(src["query"]["query"])
            out.setdefault(refs[src["indexRefName"]], set()).update(names)
        elif o["type"] == "lens":
            for layer_id, layer in a["state"]["datasourceStates"]["formBased"]["layers"].items():
                dv = refs[f"indexpattern-datasource-layer-{layer_id}"]
                names = {
                    c["sourceField"] for c in layer["columns"].values() if c["sourceField"] != "___records___"
                }
                out.setdefault(dv, set()).update(names | kibana.kql_fields(a["state"]["query"]["query"]))
        elif o["type"] == "map":
            for layer in json.loads(a["layerListJSON"]):
                sd = layer["sourceDescriptor"]
                if "indexPatternRefName" in sd:
                    names = {sd["geoField"], *sd.get("tooltipProperties", [])} | (
                        {sd["sortField"]} if "sortField" in sd else set()
                    )
                    out.setdefault(refs[sd["indexPatternRefName"]], set()).update(names)
    assert set(out) <= {k for k, v in by_id.items() if v["type"] == "index-pattern"}
    return out


def test_every_referenced_field_exists_in_the_mappings():
    objs = _objects()
    used = _referenced_fields(objs)
    props = {"incidents-posts": mappings.POST_PROPERTIES, "incidents-incidents": mappings.INCIDENT_PROPERTIES}
    assert used["incidents-incidents"] >= {
        "location",
        "due_at",
        "body_name",
        "sla_outcome",
        "category_name",
        "problem",
    }
    for dv, names in used.items():
        missing = sorted(n for n in names if not mappings.field_exists(props[dv], n))
        assert not missing, f"{dv}: fields not in the mappings: {missing}"
    assert mappings.field_type(mappings.INCIDENT_PROPERTIES, "location") == "geo_point"
    # And the checker the import runs agrees: nothing to report.
    assert kibana.check_objects(objs) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda o: o["incidents-overdue"]["attributes"]["columns"].append("deadline"),
            "search incidents-overdue column: field 'deadline' is not in the index mapping",
        ),
        (
            lambda o: o["incidents-by-body"]["attributes"]["sort"].insert(0, ["title", "asc"]),
            "search incidents-by-body sort: field 'title' is text: it cannot be sorted or aggregated",
        ),
        (
            lambda o: o["incidents-unassigned"]["attributes"]["kibanaSavedObjectMeta"].update(
                searchSourceJSON=json.dumps(
                    {
                        "query": {"query": "open : true and executor : *", "language": "kuery"},
                        "filter": [],
                        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
                    }
                )
            ),
            "search incidents-unassigned query: field 'executor' is not in the index mapping",
        ),
        (
            lambda o: next(
                iter(
                    o["incidents-over-time-by-category"]["attributes"]["state"]["datasourceStates"][
                        "formBased"
                    ]["layers"].values()
                )
            )["columns"]["date"].update(sourceField="title"),
            "lens incidents-over-time-by-category column date: field 'title' is text, not date",
        ),
        (
            lambda o: next(
                iter(
                    o["sla-compliance-by-body"]["attributes"]["state"]["datasourceStates"]["formBased"][
                        "layers"
                    ].values()
                )
            )["columns"]["body"].update(sourceField="summary"),
            "lens sla-compliance-by-body column body: field 'summary' is text: it cannot be sorted or aggregated",
        ),
        (
            lambda o: o["incidents-map"]["attributes"].update(
                layerListJSON=o["incidents-map"]["attributes"]["layerListJSON"].replace(
                    '"geoField":"location"', '"geoField":"municipality"'
                )
            ),
            "field 'municipality' is keyword, not geo_point",
        ),
        (
            lambda o: o["incidents-map"]["attributes"].update(
                layerListJSON=o["incidents-map"]["attributes"]["layerListJSON"].replace(
                    '"type":"TILED_VECTOR"', '"type":"MVT_VECTOR"'
                )
            ),
            "map incidents-map layer incidents: type 'MVT_VECTOR' is not a map layer type of version 7.14.0",
        ),
        (
            lambda o: o["incidents-incidents"]["attributes"].update(timeFieldName="status"),
            "index-pattern incidents-incidents timeFieldName: field 'status' is keyword, not date",
        ),
        (
            lambda o: o["incidents-posts"]["attributes"].update(title="posts-*"),
            "index-pattern incidents-posts: title 'posts-*' matches none of our index templates",
        ),
        (
            lambda o: o["incidents-overview"]["references"].pop(),
            "dashboard incidents-overview panel overdue: no reference for panelRefName 'panel_overdue'",
        ),
        (
            lambda o: o["top-problems-week"]["references"][0].update(id="incidents-gone"),
            "lens top-problems-week: reference 'indexpattern-datasource-layer-top-problems-week-layer' points to "
            "index-pattern 'incidents-gone', not in the file",
        ),
    ],
)
def test_the_checker_finds_what_would_break_in_kibana(mutate, expected):
    objs = copy.deepcopy(_objects())
    mutate(_by_id(objs))
    problems = kibana.check_objects(objs)
    assert any(expected in p for p in problems), problems


def test_a_broken_file_is_refused_before_any_request(tmp_path):
    objs = _objects()
    objs[2]["attributes"]["columns"] = ["несуществующее_поле"]
    bad = tmp_path / "bad.ndjson"
    bad.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs), encoding="utf-8")
    with pytest.raises(kibana.SavedObjectsInvalid) as exc:
        kibana.prepare([bad], SearchPolicy())
    assert "несуществующее_поле" in str(exc.value)
    (tmp_path / "junk.ndjson").write_text('{"id": 1}\nне JSON\n', encoding="utf-8")
    with pytest.raises(kibana.SavedObjectsInvalid, match="junk.ndjson:2: not JSON"):
        kibana.prepare([tmp_path / "junk.ndjson"], SearchPolicy())


# --------------------------------------------------------------------------- the import request
@pytest.fixture
def fake_kibana():
    fake = FakeKibana()
    yield fake
    fake.close()


@pytest.fixture
def env(tmp_path, monkeypatch, fake_kibana):
    for name in KIBANA_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("INCIDENTS_CONFIG", str(LIPETSK))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("KIBANA_URL", fake_kibana.url)
    return monkeypatch


def test_kibana_import_sends_the_saved_objects_request(env, fake_kibana, capsys):
    env.setenv("KIBANA_USERNAME", "elastic")
    env.setenv("KIBANA_PASSWORD", "секрет-пароль")
    assert main(["kibana", "import"]) == 0
    out = capsys.readouterr().out
    assert "импортировано 11 из 11" in out
    [req] = fake_kibana.imports
    assert req.path == "/api/saved_objects/_import" and req.query == {"overwrite": "true"}
    assert req.headers["kbn-xsrf"] == "true"
    assert req.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert (
        req.headers["authorization"] == "Basic " + base64.b64encode("elastic:секрет-пароль".encode()).decode()
    )
    assert req.filename and req.filename.endswith(".ndjson")
    # Exactly the objects of the file, one JSON object per line, the file's order.
    assert req.objects == _objects()
    assert req.content.endswith(b"\n") and len(req.content.splitlines()) == 11
    assert set(fake_kibana.saved) == {(o["type"], o["id"]) for o in _objects()}
    # Importing again overwrites: the same request, nothing doubled.
    assert main(["kibana", "import"]) == 0
    assert fake_kibana.imports[1].content == req.content and len(fake_kibana.saved) == 11


def test_kibana_import_into_a_space_with_an_api_key(env, fake_kibana, capsys):
    env.setenv("KIBANA_API_KEY", "a2V5OnNlY3JldA==")
    env.setenv("KIBANA_SPACE", "cur-kursk")
    assert main(["kibana", "import"]) == 0
    assert fake_kibana.imports[-1].path == "/s/cur-kursk/api/saved_objects/_import"
    assert fake_kibana.imports[-1].headers["authorization"] == "ApiKey a2V5OnNlY3JldA=="
    assert (
        main(["kibana", "import", "--space", "mcu-zheleznogorsk"]) == 0
    )  # the option wins over the environment
    assert fake_kibana.imports[-1].path == "/s/mcu-zheleznogorsk/api/saved_objects/_import"


def test_kibana_import_follows_the_region_index_prefix(env, fake_kibana, tmp_path, capsys):
    region = tmp_path / "region"
    shutil.copytree(LIPETSK, region)
    (region / "search.yaml").write_text("index_prefix: lipetsk\n", encoding="utf-8")
    env.setenv("INCIDENTS_CONFIG", str(region))
    assert main(["kibana", "import"]) == 0
    sent = {o["id"]: o for o in fake_kibana.imports[-1].objects}
    assert sent["incidents-posts"]["attributes"]["title"] == "lipetsk-posts-*"
    assert sent["incidents-incidents"]["attributes"]["title"] == "lipetsk-incidents"


def test_kibana_import_reports_failed_objects(env, fake_kibana, capsys):
    fake_kibana.fail_objects = {("map", "incidents-map")}
    assert main(["kibana", "import"]) == 3
    out, err = capsys.readouterr()
    assert "импортировано 10 из 11" in out
    assert (
        "map incidents-map (Карта инцидентов по муниципалитетам): missing_references: index-pattern missing"
        in err
    )


def test_kibana_import_usage_errors(env, fake_kibana, tmp_path, capsys):
    assert main(["kibana", "import", "--file", str(tmp_path / "нет.ndjson")]) == 2
    bad = tmp_path / "bad.ndjson"
    objs = _objects()
    objs[0]["attributes"]["timeFieldName"] = "published"
    bad.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs), encoding="utf-8")
    assert main(["kibana", "import", "--file", str(bad)]) == 2
    assert "'published' is not in the index mapping" in capsys.readouterr().err
    env.delenv("KIBANA_URL")
    assert main(["kibana", "import"]) == 2
    assert fake_kibana.imports == []  # nothing was sent


def test_kibana_unreachable_or_refusing(env, fake_kibana, capsys):
    url = fake_kibana.url
    fake_kibana.close()
    env.setenv("KIBANA_URL", url)
    assert main(["kibana", "import"]) == 1
    assert "cannot be reached" in capsys.readouterr().err


def test_wait_until_ready_polls_the_status_api(fake_kibana):
    fake_kibana.not_ready = 2
    slept: list[float] = []
    with kibana.kibana_client(SearchSettings(kibana_url=fake_kibana.url)) as http:
        kibana.wait_until_ready(http, 60, sleep=slept.append, clock=lambda: 0.0)
    assert slept == [2.0, 2.0]
    assert [p for _, p, _ in fake_kibana.requests] == ["/api/status"] * 3
    fake_kibana.not_ready = 100
    t = iter(range(0, 1000, 30))
    with (
        kibana.kibana_client(SearchSettings(kibana_url=fake_kibana.url)) as http,
        pytest.raises(kibana.KibanaError, match="not ready after 60 s: status unavailable|HTTP 503"),
    ):
        kibana.wait_until_ready(http, 60, sleep=lambda s: None, clock=lambda: float(next(t)))


def test_the_command_finds_the_dashboards_folder():
    from cli.search import default_dashboard_files

    assert NDJSON.resolve() in [p.resolve() for p in default_dashboard_files()]
