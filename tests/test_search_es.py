"""Contract tests of the Elasticsearch side against a local fake Elasticsearch (a real HTTP
server): templates and mappings, the exact _bulk lines, retries, permanent failures, cursors,
deletions, merges, person names. Storage runs on SQLite and PostgreSQL."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from core.records import PostRecord
from crawlers.replay import ReplaySource
from incidents.services.processing import crawl_adapter, prepare, process_pending
from incidents.services.search import mappings
from incidents.services.search.documents import PERSON_MASK, DocumentBuilder
from incidents.services.search.es import (
    INCIDENTS_CURSOR,
    POSTS_CURSOR,
    Indexer,
    make_client,
    run_sync,
    search_posts,
)
from incidents.services.search.query import SearchFilters
from incidents.services.search.settings import SearchPolicy, SearchSettings
from storage.models import Incident, IncidentPost, Post, QuarantineItem, Signal
from storage.store import get_cursor, save_posts
from tests.conftest import LIPETSK
from tests.fakes.elasticsearch import FakeElasticsearch

POLICY = SearchPolicy(
    bulk_chunk_size=5, bulk_max_retries=2, bulk_initial_backoff_seconds=0, bulk_max_backoff_seconds=0
)
POSTS_INDEX = "incidents-posts-2026.11.01"


@pytest.fixture
def es():
    fake = FakeElasticsearch()
    yield fake
    fake.close()


@pytest.fixture
def client(es):
    c = make_client(SearchSettings(elasticsearch_url=es.url), POLICY)
    yield c
    c.close()


@pytest.fixture
def indexer(engine, lipetsk, client, clock):
    prepare(engine, lipetsk)
    return Indexer(client, engine, lipetsk, POLICY, now=clock)


def _post(ext: str, text: str, **kw) -> PostRecord:
    kw.setdefault("created_at", datetime(2026, 11, 20, 9, tzinfo=UTC))
    return PostRecord(network="vk", external_id=ext, source_id="s", text=text, **kw)


def _save(engine, clock, *posts) -> None:
    with Session(engine) as s, s.begin():
        save_posts(s, list(posts), clock())


def _bulk_lines(es) -> list[dict]:
    return [line for r in es.bulk_requests() for line in r.lines]


def _actions(es) -> list[tuple[str, str]]:
    """(op, _id) of every action line sent."""
    return [
        (op, meta["_id"])
        for line in _bulk_lines(es)
        for op, meta in line.items()
        if op in ("index", "delete") and isinstance(meta, dict) and "_id" in meta and len(line) == 1
    ]


@pytest.fixture
def lipetsk_db(engine, lipetsk, lipetsk_builder, clock):
    prepare(engine, lipetsk)
    crawl_adapter(engine, ReplaySource(source_id="t", path=LIPETSK / "posts.jsonl"), clock)
    process_pending(engine, lipetsk, clock, builder=lipetsk_builder)
    return engine


# --------------------------------------------------------------------------- setup
def test_setup_puts_policy_templates_and_incidents_index(indexer, es):
    indexer.setup()
    indexer.setup()  # idempotent: the existing index is not created twice
    assert es.ilm["incidents-posts"] == {"policy": mappings.ilm_policy(POLICY)}
    phases = es.ilm["incidents-posts"]["policy"]["phases"]
    assert phases["delete"] == {"min_age": "365d", "actions": {"delete": {}}}
    posts_tpl, inc_tpl = es.templates["incidents-posts"], es.templates["incidents-incidents"]
    assert posts_tpl["index_patterns"] == ["incidents-posts-*"] and inc_tpl["index_patterns"] == [
        "incidents-incidents"
    ]
    settings = posts_tpl["template"]["settings"]
    assert settings["index.lifecycle.name"] == "incidents-posts"
    assert settings["index.lifecycle.parse_origination_date"] is True
    analysis = settings["analysis"]
    assert analysis["char_filter"]["ru_yo"]["mappings"] == ["ё => е", "Ё => Е"]
    assert analysis["filter"]["ru_stemmer"] == {"type": "stemmer", "language": "russian"}
    assert analysis["filter"]["ru_stop"] == {"type": "stop", "stopwords": "_russian_"}
    assert analysis["analyzer"]["ru_text"]["char_filter"][-1] == "ru_yo"
    props = posts_tpl["template"]["mappings"]["properties"]
    assert posts_tpl["template"]["mappings"]["dynamic"] == "strict"
    assert props["text"]["analyzer"] == "ru_text" and props["location"] == {"type": "geo_point"}
    assert props["created_at"] == {"type": "date"} and props["category"] == {"type": "keyword"}
    iprops = inc_tpl["template"]["mappings"]["properties"]
    assert iprops["title"]["fields"]["keyword"]["type"] == "keyword"
    for f in ("due_at", "first_answer_at", "sla_state", "sla_outcome", "overdue", "body_code", "location"):
        assert f in iprops
    assert es.indices["incidents-incidents"].mappings == inc_tpl["template"]["mappings"]
    creates = [r for r in es.requests if r.method == "PUT" and r.path == "/incidents-incidents"]
    assert len(creates) == 1
    # The 9.x client speaks compatible-with=9 and sees the product header.
    tpl_put = next(r for r in es.requests if r.path == "/_index_template/incidents-posts")
    assert "compatible-with=9" in tpl_put.headers["content-type"]
    assert "compatible-with=9" in tpl_put.headers["accept"]


def test_retention_comes_from_the_region_search_yaml(tmp_path, engine, client, es, clock):
    import shutil

    from core.config import ConfigError, load_region

    region = tmp_path / "region"
    shutil.copytree(LIPETSK, region)
    (region / "search.yaml").write_text(
        "posts_retention_days: 90\nposts_warm_after_days: null\n"
        "bulk_initial_backoff_seconds: 0\nbulk_max_backoff_seconds: 0\n",
        encoding="utf-8",
    )
    cfg = load_region(region)
    assert cfg.search.posts_retention_days == 90
    prepare(engine, cfg)
    Indexer(client, engine, cfg, cfg.search, now=clock).setup()
    assert es.ilm["incidents-posts"]["policy"]["phases"] == {
        "hot": {"min_age": "0ms", "actions": {"set_priority": {"priority": 100}}},
        "delete": {"min_age": "90d", "actions": {"delete": {}}},
    }
    (region / "search.yaml").write_text(
        "posts_retention_days: 30\nposts_warm_after_days: 60\n", encoding="utf-8"
    )
    with pytest.raises(
        ConfigError, match=r"(?s)search.yaml.*posts_warm_after_days: .*less than posts_retention_days \(30\)"
    ):
        load_region(region)
    (region / "search.yaml").write_text("index_prefix: Инциденты\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="index_prefix"):
        load_region(region)
    # Without the file: the defaults (a year, warm after 30 days).
    assert load_region(LIPETSK).search == SearchPolicy()


def test_monthly_index_names_carry_the_origination_date():
    name = mappings.posts_index(POLICY, datetime(2026, 3, 31, 23, tzinfo=UTC))
    assert name == "incidents-posts-2026.03.01"
    # The pattern Elasticsearch's ILM parses the origination date with.
    assert re.match(r"^.*-(\d{4}.\d{2}.\d{2})(-[\d]+)?$", name)
    assert re.match(mappings.posts_index_pattern(POLICY).replace("*", ".*"), name)


# --------------------------------------------------------------------------- bulk contract
def test_exact_bulk_lines_and_ndjson(engine, indexer, es, clock):
    _save(
        engine,
        clock,
        _post(
            "1",
            "Яма на дороге, Иван Петров, помогите",
            author_id="u1",
            author_name="Иван Петров",
            url="https://vk.com/wall1_1",
            likes=3,
            views=250,
        ),
        _post("2", "Вторая", created_at=datetime(2026, 10, 31, 23, 30, tzinfo=UTC)),
    )
    stats = indexer.sync()
    assert [s.kind for s in stats] == ["posts", "incidents"] and all(s.complete for s in stats)
    ts = "2026-11-23T09:00:00+00:00"
    with Session(engine) as s:
        ids = {p.external_id: p.id for p in s.exec(select(Post)).all()}
    assert _bulk_lines(es) == [
        {"index": {"_index": "incidents-posts-2026.11.01", "_id": "vk:1"}},
        {
            "post_key": "vk:1",
            "post_id": ids["1"],
            "region": "lipetsk",
            "network": "vk",
            "external_id": "1",
            "source_id": "s",
            "url": "https://vk.com/wall1_1",
            "author_id": "u1",
            "text": "Яма на дороге, Иван Петров, помогите",
            "created_at": "2026-11-20T09:00:00+00:00",
            "updated_at": ts,
            "indexed_at": ts,
            "edited": False,
            "likes": 3,
            "reposts": 0,
            "views": 250,
            "reach": 5,
            "analysed": False,
        },
        {"index": {"_index": "incidents-posts-2026.10.01", "_id": "vk:2"}},
        {
            "post_key": "vk:2",
            "post_id": ids["2"],
            "region": "lipetsk",
            "network": "vk",
            "external_id": "2",
            "source_id": "s",
            "text": "Вторая",
            "created_at": "2026-10-31T23:30:00+00:00",
            "updated_at": ts,
            "indexed_at": ts,
            "edited": False,
            "likes": 0,
            "reposts": 0,
            "views": 0,
            "reach": 0,
            "analysed": False,
        },
    ]
    bulk = es.bulk_requests()[0]
    assert bulk.method in ("PUT", "POST") and bulk.path == "/_bulk"
    assert bulk.headers["content-type"].startswith("application/vnd.elasticsearch+x-ndjson")
    assert "compatible-with=9" in bulk.headers["content-type"]
    assert bulk.body.endswith(b"\n")
    # Indexes were created from the template on the first write.
    assert es.indices["incidents-posts-2026.10.01"].mappings["dynamic"] == "strict"


def test_partial_failures_are_retried_alone(engine, indexer, es, clock):
    _save(engine, clock, *[_post(str(i), f"пост {i}") for i in range(1, 8)])
    es.fail_item("vk:3", 429)
    es.fail_item("vk:6", 503, 429)
    posts, _ = indexer.sync()
    assert posts.complete and posts.indexed == 7 and posts.transient_failures == 0
    reqs = es.bulk_requests()
    # chunk of 5 (vk:3 retried alone), chunk of 2 (vk:6 retried twice alone)
    ids = [[m["_id"] for line in r.lines for op, m in line.items() if op == "index"] for r in reqs]
    assert ids == [["vk:1", "vk:2", "vk:3", "vk:4", "vk:5"], ["vk:3"], ["vk:6", "vk:7"], ["vk:6"], ["vk:6"]]
    assert reqs[1].lines[1]["text"] == "пост 3"  # the retry sends the document again, not just the action
    assert set(es.all_docs("incidents-posts-*")) == {f"vk:{i}" for i in range(1, 8)}


def test_whole_request_rejections_are_retried(engine, indexer, es, clock):
    _save(engine, clock, _post("1", "a"), _post("2", "b"))
    es.fail_requests("/_bulk", 429, times=1)
    posts, _ = indexer.sync()
    assert posts.complete and posts.indexed == 2
    assert len(es.bulk_requests()) == 2


def test_permanent_failures_are_recorded_and_the_cursor_moves(engine, indexer, es, clock):
    _save(engine, clock, _post("1", "a"), _post("2", "b"), _post("3", "c"))
    clock.advance(hours=1)  # rows older than the sync's start minus the overlap are not re-read later
    es.reject_item("vk:2", 400, "document_parsing_exception", "failed to parse field [text]")
    posts, _ = indexer.sync()
    assert posts.complete and posts.permanent_failures == 1 and posts.indexed == 2 and posts.cursor_advanced
    with Session(engine) as s:
        q = s.exec(select(QuarantineItem).where(QuarantineItem.origin == "search:posts")).all()
        assert [x.location for x in q] == [f"{POSTS_INDEX}/vk:2"]
        assert "document_parsing_exception" in q[0].reason and '"_id": "vk:2"' in q[0].payload
        assert get_cursor(s, POSTS_CURSOR) == {"since": clock().isoformat()}
    clock.advance(hours=1)
    es.reset_requests()
    posts, _ = indexer.sync()
    assert posts.sent == 0 and es.bulk_requests() == []  # not retried for ever
    _save(
        engine, clock, _post("2", "b исправлен")
    )  # an edit sends it again; a second rejection is not recorded twice
    posts, _ = indexer.sync()
    assert posts.sent == 1 and posts.permanent_failures == 1
    with Session(engine) as s:
        assert len(s.exec(select(QuarantineItem).where(QuarantineItem.origin == "search:posts")).all()) == 1


def test_transient_failures_keep_the_cursor_and_the_next_run_resends(engine, indexer, es, clock):
    _save(engine, clock, _post("1", "a"), _post("2", "b"))
    indexer.sync()
    clock.advance(hours=1)
    _save(engine, clock, _post("1", "a2"), _post("2", "b2"))
    es.fail_item("vk:2", 429, 429, 429)  # more than bulk_max_retries
    es.reset_requests()
    posts, _ = indexer.sync()
    assert not posts.complete and posts.transient_failures == 1 and not posts.cursor_advanced
    with Session(engine) as s:
        assert get_cursor(s, POSTS_CURSOR) == {"since": (clock() - timedelta(hours=1)).isoformat()}
    clock.advance(minutes=5)
    es.reset_requests()
    posts, _ = indexer.sync()
    assert posts.complete and sorted(i for _, i in _actions(es) if i.startswith("vk:")) == ["vk:1", "vk:2"]
    assert es.doc(POSTS_INDEX, "vk:2")["text"] == "b2"


def test_connection_failure_is_reported_not_raised(engine, lipetsk, clock):
    prepare(engine, lipetsk)
    _save(engine, clock, _post("1", "a"))
    fake = FakeElasticsearch()
    url = fake.url
    fake.close()
    c = make_client(
        SearchSettings(elasticsearch_url=url), POLICY.model_copy(update={"request_timeout_seconds": 2})
    )
    from elastic_transport import ConnectionError as EsConnectionError

    with pytest.raises(EsConnectionError):
        Indexer(c, engine, lipetsk, POLICY, now=clock).setup()
    posts = Indexer(c, engine, lipetsk, POLICY, now=clock).sync_posts()
    assert not posts.complete and posts.errors and not posts.cursor_advanced
    c.close()


def test_incremental_sync_sends_only_changes_and_deletions(engine, indexer, es, clock):
    _save(engine, clock, *[_post(str(i), f"пост {i}") for i in range(1, 5)])
    clock.advance(hours=1)
    indexer.sync()
    clock.advance(hours=1)
    es.reset_requests()
    posts, incs = indexer.sync()
    assert posts.sent == 0 and incs.sent == 0 and es.bulk_requests() == []
    clock.advance(hours=1)
    _save(engine, clock, _post("2", "пост 2 исправлен"), _post("3", "пост 3", deleted=True))
    es.reset_requests()
    posts, _ = indexer.sync()
    assert _actions(es) == [("index", "vk:2"), ("delete", "vk:3")]
    assert (posts.indexed, posts.deleted) == (1, 1)
    assert es.doc(POSTS_INDEX, "vk:2")["edited"] is True and es.doc(POSTS_INDEX, "vk:3") is None
    # Deleting again (a full resend) counts a 404 as done.
    with Session(engine) as s, s.begin():
        from storage.store import set_cursor

        set_cursor(s, POSTS_CURSOR, None, clock())
    posts, _ = indexer.sync()
    assert posts.complete and posts.deleted == 1 and posts.permanent_failures == 0


def test_overlap_window_resends_late_commits(engine, indexer, es, clock):
    indexer.sync()
    # A row stamped before the last sync began but committed after it (a long transaction).
    with Session(engine) as s, s.begin():
        save_posts(s, [_post("9", "поздний")], clock() - timedelta(minutes=10))
    clock.advance(hours=1)
    es.reset_requests()
    posts, _ = indexer.sync()
    assert ("index", "vk:9") in _actions(es)


def test_full_pass_resumes_after_an_interruption(engine, lipetsk, client, es, clock):
    prepare(engine, lipetsk)
    _save(engine, clock, *[_post(str(i), f"пост {i}") for i in range(1, 13)])
    ix = Indexer(client, engine, lipetsk, POLICY, now=clock, batch_size=5)
    es.fail_item("vk:7", 429, 429, 429)
    posts = ix.sync_posts()
    assert not posts.complete
    with Session(engine) as s:
        cur = get_cursor(s, POSTS_CURSOR)
        first = s.exec(select(Post.id).order_by(Post.id)).all()
    assert cur["since"] is None and cur["after_id"] == first[4]  # the first batch of five is done
    es.reset_requests()
    posts = ix.sync_posts()
    assert posts.complete and [i for _, i in _actions(es)] == [f"vk:{i}" for i in range(6, 13)]
    with Session(engine) as s:
        assert get_cursor(s, POSTS_CURSOR) == {"since": clock().isoformat()}


def test_old_posts_beyond_retention_are_not_indexed(engine, indexer, es, clock):
    _save(
        engine, clock, _post("old", "давно", created_at=clock() - timedelta(days=400)), _post("new", "сейчас")
    )
    posts, _ = indexer.sync()
    assert posts.skipped == 1 and [i for _, i in _actions(es)] == ["vk:new"]


def test_full_rebuild_deletes_indexes_by_exact_name(engine, indexer, es, clock):
    _save(engine, clock, _post("1", "a"), _post("2", "b", created_at=datetime(2026, 10, 2, tzinfo=UTC)))
    indexer.sync()
    es.reset_requests()
    indexer.sync(full=True)
    deletes = [r.path for r in es.requests if r.method == "DELETE"]
    assert sorted(deletes) == [
        "/incidents-incidents",
        "/incidents-posts-2026.10.01",
        "/incidents-posts-2026.11.01",
    ]
    assert all("*" not in p for p in deletes)
    assert set(es.all_docs("incidents-posts-*")) == {"vk:1", "vk:2"}
    assert "incidents-incidents" in es.indices


# --------------------------------------------------------------------------- the region's data
def test_lipetsk_documents_fit_the_strict_mappings(lipetsk_db, indexer, es):
    posts, incs = indexer.sync()
    assert posts.complete and incs.complete
    assert posts.permanent_failures == 0 and incs.permanent_failures == 0  # the fake enforces dynamic: strict
    docs = es.all_docs("incidents-posts-*")
    assert len(docs) == 14
    water = [d for d in docs.values() if d.get("category") == "water"]
    assert water and all(d["location"] == {"lat": 52.6031, "lon": 39.5708} for d in water)
    assert all(
        d["location_source"] == "municipality" and d["municipality_name"] == "город Липецк" for d in water
    )
    assert all(d["incident_id"] and d["incident_status"] for d in water)
    incidents = es.all_docs("incidents-incidents")
    with Session(lipetsk_db) as s:
        assert set(incidents) == {str(i.id) for i in s.exec(select(Incident)).all()}
    for d in incidents.values():
        assert d["open"] is True and d["sla_state"] in ("ok", "at_risk") and d["sla_outcome"] == "pending"
        assert d["category_name"] and d["problem"] and "due_at" in d and "body_name" in d
    assert any(d["assigned"] for d in incidents.values())


def test_merged_incident_is_removed_and_its_posts_follow(lipetsk_db, indexer, es, clock):
    indexer.sync()
    clock.advance(hours=1)
    with Session(lipetsk_db) as s, s.begin():
        incs = s.exec(select(Incident).order_by(Incident.id)).all()
        a, b = incs[0], incs[1]
        a.merged_into_id, a.status, a.updated_at = b.id, "closed", clock()
        b.updated_at = clock()
        s.add_all([a, b])
        moved = {
            f"{p.network}:{p.external_id}"
            for p in s.exec(
                select(Post)
                .join(IncidentPost, IncidentPost.post_id == Post.id)
                .where(IncidentPost.incident_id == a.id)
            ).all()
        }
        a_id, b_id = a.id, b.id
    es.reset_requests()
    posts, incs = indexer.sync()
    assert ("delete", str(a_id)) in _actions(es) and ("index", str(b_id)) in _actions(es)
    assert str(a_id) not in es.all_docs("incidents-incidents")
    docs = es.all_docs("incidents-posts-*")
    assert moved and all(docs[k]["incident_id"] == b_id for k in moved)


def test_sla_deadline_passing_reindexes_the_incident(lipetsk_db, indexer, es, clock):
    indexer.sync()
    with Session(lipetsk_db) as s:
        inc = s.exec(select(Incident).order_by(Incident.due_at)).first()
        due, iid = inc.due_at, str(inc.id)
    clock.t = due + timedelta(minutes=1)
    es.reset_requests()
    _, incs = indexer.sync()
    assert ("index", iid) in _actions(es)
    doc = es.all_docs("incidents-incidents")[iid]
    assert doc["sla_state"] == "overdue" and doc["overdue"] is True and doc["sla_outcome"] == "overdue"


def test_person_names_are_left_out_unless_allowed(lipetsk_db, lipetsk, client, es, clock):
    with Session(lipetsk_db) as s, s.begin():
        post = s.exec(select(Post).where(Post.external_id == "570001_900001")).one()
        post.text = post.text + " Звонили Петрову Ивану Сергеевичу"
        sig = s.exec(select(Signal).where(Signal.post_id == post.id)).one()
        sig.entities = {**(sig.entities or {}), "persons": ["Петрову Ивану Сергеевичу"]}
        s.add_all([post, sig])
        inc = s.exec(
            select(Incident)
            .join(IncidentPost, IncidentPost.incident_id == Incident.id)
            .where(IncidentPost.post_id == post.id)
        ).one()
        inc.summary = (inc.summary or "") + " Петрову Ивану Сергеевичу"
        s.add(inc)
        key, iid = f"ok:{post.external_id}", str(inc.id)
    Indexer(client, lipetsk_db, lipetsk, POLICY, now=clock).sync()
    doc = es.all_docs("incidents-posts-*")[key]
    assert "author_name" not in doc and "persons" not in doc
    assert "Петрову" not in doc["text"] and PERSON_MASK in doc["text"]
    assert all("author_name" not in d for d in es.all_docs("incidents-posts-*").values())
    assert "Петрову" not in es.all_docs("incidents-incidents")[iid]["summary"]
    keep = DocumentBuilder(lipetsk, keep_person_names=True)
    Indexer(client, lipetsk_db, lipetsk, POLICY, now=clock, builder=keep).sync(full=True)
    doc = es.all_docs("incidents-posts-*")[key]
    assert doc["author_name"] == "Николай П." and doc["persons"] == ["Петрову Ивану Сергеевичу"]
    assert "Петрову Ивану" in doc["text"]


def test_platform_coordinates_win_over_the_centroid(engine, indexer, es, clock):
    _save(
        engine,
        clock,
        PostRecord(
            network="pos",
            external_id="p1",
            source_id="pos",
            text="Яма у дома",
            created_at=datetime(2026, 11, 20, tzinfo=UTC),
            raw={"geo": {"lat": 52.61, "lon": 39.6}},
        ),
    )
    indexer.sync()
    doc = es.doc(POSTS_INDEX, "pos:p1")
    assert doc["location"] == {"lat": 52.61, "lon": 39.6} and doc["location_source"] == "platform"


def test_feedback_platform_coordinates_from_the_adapter(engine, indexer, es, clock):
    """A message as the ПОС adapter stores it: the point is the platform's, not the centroid."""
    import httpx

    from crawlers.pos import PosClient, PosMessagesSource

    http = httpx.Client()
    source = PosMessagesSource(
        source_id="pos",
        client=PosClient(base_url="http://127.0.0.1:9", token="t", source_id="pos", http=http),
    )
    rec = source.record(
        {
            "id": 5163901,
            "text": "Во дворе дома яма с водой, дети падают",
            "created_at": "2026-11-20T10:25:15+03:00",
            "category": {"name": "Дороги", "code": "roads"},
            "status": "registered",
            "url": "https://pos.gosuslugi.ru/x",
            "address": {"full": "г. Липецк, ул. Гагарина, д. 6", "lat": 52.6089, "lon": 39.5992},
            "author": {"id": 7, "name": "Орлова Ольга Петровна"},
        }
    )
    http.close()
    _save(engine, clock, rec)
    indexer.sync()
    doc = es.doc(POSTS_INDEX, "pos:5163901")
    assert doc["location"] == {"lat": 52.6089, "lon": 39.5992} and doc["location_source"] == "platform"
    assert "author_name" not in doc  # the resident's name stays out of the index


# --------------------------------------------------------------------------- search and wiring
def test_search_request_and_hits(lipetsk_db, indexer, client, es):
    indexer.sync()
    es.reset_requests()
    since = datetime(2026, 11, 1, tzinfo=UTC)
    hits = search_posts(
        client,
        POLICY,
        "нет воды",
        SearchFilters(category="water", network="vk", status="assigned", municipality="lipetsk", since=since),
        limit=5,
    )
    req = es.requests[-1]
    assert req.path == "/incidents-posts-*/_search"
    body = req.json
    assert body["size"] == 5
    assert body["query"]["bool"]["must"] == [{"match": {"text": {"query": "нет воды", "operator": "and"}}}]
    assert {"term": {"category": "water"}} in body["query"]["bool"]["filter"]
    assert {"term": {"incident_status": "assigned"}} in body["query"]["bool"]["filter"]
    assert {"range": {"created_at": {"gte": since.isoformat()}}} in body["query"]["bool"]["filter"]
    assert hits and all(h.post_key and h.network for h in hits)


def test_run_sync_does_nothing_without_elasticsearch(engine, lipetsk, clock):
    assert run_sync(engine, lipetsk, clock, settings=SearchSettings()) == []


def test_run_sync_with_elasticsearch(lipetsk_db, lipetsk, es, clock):
    stats = run_sync(
        lipetsk_db, lipetsk, clock, settings=SearchSettings(elasticsearch_url=es.url), policy=POLICY
    )
    assert [s.kind for s in stats] == ["posts", "incidents"] and all(s.cursor_advanced for s in stats)
    with Session(lipetsk_db) as s:
        assert get_cursor(s, INCIDENTS_CURSOR) == {"since": clock().isoformat()}


def test_after_a_pass_both_indexes_are_brought_up_to_date(lipetsk_db, lipetsk, es, clock):
    from incidents.services.search.sync import after_pass

    quiet = after_pass(lipetsk_db, lipetsk, clock, settings=SearchSettings())
    assert quiet.embedded_indexed == 14 and quiet.elasticsearch == [] and quiet.errors == []
    stats = after_pass(lipetsk_db, lipetsk, clock, settings=SearchSettings(elasticsearch_url=es.url))
    assert stats.embedded_indexed == 0 and stats.errors == []
    assert [(s["kind"], s["indexed"], s["complete"]) for s in stats.elasticsearch][0] == ("posts", 14, True)
    assert len(es.all_docs("incidents-posts-*")) == 14


def test_after_a_pass_an_unreachable_cluster_does_not_fail_the_run(lipetsk_db, lipetsk, clock):
    from incidents.services.search.sync import after_pass

    fake = FakeElasticsearch()
    url = fake.url
    fake.close()
    stats = after_pass(lipetsk_db, lipetsk, clock, settings=SearchSettings(elasticsearch_url=url))
    assert stats.embedded_indexed == 14 and stats.elasticsearch == []
    assert stats.errors and stats.errors[0].startswith("elasticsearch: ConnectionError")
    with Session(lipetsk_db) as s:
        assert get_cursor(s, POSTS_CURSOR) is None  # nothing moved: the next run sends everything


def test_the_console_search_asks_whichever_engine_is_set_up(lipetsk_db, lipetsk, es, clock, monkeypatch):
    """`incidents.services.search.search` is what the console calls: embedded without ELASTICSEARCH_URL."""
    from incidents.services.search import search

    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    local = search(lipetsk_db, lipetsk, "вода", SearchFilters(category="water"), limit=50)
    assert local and all(h.category == "water" for h in local) and es.requests == []
    run_sync(lipetsk_db, lipetsk, clock, settings=SearchSettings(elasticsearch_url=es.url), policy=POLICY)
    monkeypatch.setenv("ELASTICSEARCH_URL", es.url)
    es.reset_requests()
    remote = search(lipetsk_db, lipetsk, "вода", SearchFilters(category="water"), limit=50)
    assert es.requests[-1].path == "/incidents-posts-*/_search"
    assert {"term": {"category": "water"}} in es.requests[-1].json["query"]["bool"]["filter"]
    assert {h.post_key for h in remote} <= set(es.all_docs("incidents-posts-*"))
