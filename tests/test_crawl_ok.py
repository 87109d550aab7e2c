"""Odnoklassniki adapter driven over HTTP against the local fake fb.do."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import httpx
import pytest

from core.config import SourceConfig
from crawlers.base import SourceStopped
from crawlers.errors import ApiBug, Backoff, TokenInvalid
from crawlers.ok import OkClient, OkGroupSource, signature
from crawlers.ratelimit import RateLimiter
from incidents.services.processing import crawl_source
from tests.fakes.dbcheck import crawl, cursor, post, post_keys, quarantined, revisions
from tests.fakes.ok import FakeOk

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
GID = "70000001234567"
TOPICS = {f"ok:topic1550000000000{i:02d}" for i in (12, 11, 10, 9, 8, 6)}
COMMENTS = {
    f"ok:comment{c}"
    for c in (
        "MTU1MDAwMDAwMDAwMTI6MQ",
        "MTU1MDAwMDAwMDAwMTI6Mg",
        "MTU1MDAwMDAwMDAwMTI6Mw",
        "MTU1MDAwMDAwMDAwMTA6MQ",
        "MTU1MDAwMDAwMDAwMTA6Mg",
        "MTU1MDAwMDAwMDAwMTA6Mw",
        "MTU1MDAwMDAwMDAwMTA6NQ",
        "MTU1MDAwMDAwMDAwMDY6MQ",
    )
}


def test_signature_worked_example():
    # Worked by hand: md5(access_token + secret) is the session secret; the parameters but sig and
    # access_token, sorted and joined as k=v, are hashed with it; the result is lower-case hex.
    params = {"method": "users.getCurrentUser", "application_key": "app key", "access_token": "access token"}
    session_secret = hashlib.md5(b"access tokenapp secret key").hexdigest()
    assert session_secret == "040fbf2ba0bfcde46472d3b7412e2842"
    joined = "application_key=app keymethod=users.getCurrentUser"
    assert (
        signature(params, "access token", "app secret key")
        == hashlib.md5((joined + session_secret).encode()).hexdigest()
        == "8a41a73bcef600b6a3464158b2059549"
    )
    # Cyrillic values are signed as UTF-8, unescaped; the order of the keys does not matter
    a = signature({"gid": "1", "q": "яма", "format": "json"}, "t", "s")
    assert a == signature({"format": "json", "q": "яма", "gid": "1"}, "t", "s") and a == a.lower()


@pytest.fixture
def fake():
    with FakeOk() as server:
        yield server


def client(fake: FakeOk, sleeps: list[float] | None = None, **over: str) -> OkClient:
    d = fake.data
    return OkClient(
        application_key=over.get("key", d["application_key"]),
        secret_key=over.get("secret", d["application_secret_key"]),
        access_token=over.get("token", d["access_token"]),
        source_id="ok-group",
        api_url=f"{fake.url}/fb.do",
        http=httpx.Client(timeout=5),
        limiter=RateLimiter(0),
        backoff=Backoff(retries=3, sleep=(sleeps if sleeps is not None else []).append),
    )


def group(fake: FakeOk, sleeps: list[float] | None = None, **kw) -> OkGroupSource:
    kw.setdefault("page_size", 2)
    kw.setdefault("comments_page_size", 2)
    cl = kw.pop("client", None) or client(fake, sleeps)
    return OkGroupSource(source_id="ok-group", client=cl, gid=GID, now=lambda: NOW, **kw)


def test_group_topics_and_comments_by_anchor(fake, engine, clock):
    crawl(engine, group(fake), clock)
    keys = post_keys(engine)
    assert set(keys) == TOPICS | COMMENTS and max(keys.values()) == 1
    t = post(engine, "ok:topic155000000000010")
    assert t.likes == 77 and t.reposts == 9 and t.url == f"https://ok.ru/group/{GID}/topic/155000000000010"
    assert t.author_name == "Курская область — официальная группа" and t.raw["id"] == "155000000000010"
    c = post(engine, "ok:commentMTU1MDAwMDAwMDAwMTA6MQ")
    assert c.parent_id == "topic155000000000010" and c.author_name == "Валерий Харламов" and "Фатеж" in c.text
    assert sorted(q.reason for q in quarantined(engine)) == [
        "created_ms: expected milliseconds since 1970, got str",
        "skipped: ok error 10: PERMISSION_DENIED : Permission denied (method discussions.getComments)",
        "text: expected a string, got int",
    ]
    calls = fake.api_calls()
    assert all(
        c["format"] == "json" and c["application_key"] == fake.data["application_key"] and len(c["sig"]) == 32
        for c in calls
    )
    topic_pages = fake.api_calls("group.getStatTopics")
    assert topic_pages[0].get("anchor") is None and all(p["anchor"] for p in topic_pages[1:])
    assert all(set(p["topic_ids"].split(",")) for p in fake.api_calls("mediatopic.getByIds"))
    pages_010 = [
        p for p in fake.api_calls("discussions.getComments") if p["discussionId"] == "155000000000010"
    ]
    assert [p.get("anchor") is None for p in pages_010] == [True, False, False]  # five comments, two per page


def test_next_pass_reads_only_new_comments_from_the_stored_anchor(fake, sqlite_engine, clock):
    crawl(sqlite_engine, group(fake), clock)
    fake.data["comments"]["155000000000012"].append(
        {
            "id": "MTU1MDAwMDAwMDAwMTI6NA",
            "date": "2026-11-23 11:40:00",
            "author_ref": "user:580000000004",
            "text": "Ленина, 80 — воды нет с восьми утра.",
            "type": "ACTIVE_MESSAGE",
            "like_count": 0,
        }
    )
    fake.data["topics"][GID][0]["discussion_summary"]["comments_count"] = 4
    before = len(fake.requests)
    stats = crawl(sqlite_engine, group(fake), clock)
    assert stats.inserted == 1
    new_calls = [
        r.params for r in fake.requests[before:] if r.params.get("method") == "discussions.getComments"
    ]
    assert (
        len(new_calls) == 1 and new_calls[0]["discussionId"] == "155000000000012" and new_calls[0]["anchor"]
    )
    row = post(sqlite_engine, "ok:commentMTU1MDAwMDAwMDAwMTI6NA")
    assert row.created_at == datetime(2026, 11, 23, 8, 40, tzinfo=UTC)  # "date" is Moscow time


def test_a_pass_since_an_older_date_watches_what_it_read(fake, sqlite_engine, clock):
    """`since` further back than `days`: the topics it read stay watched for the next pass
    with the same `since`, weeks later — no comment is read again, nothing re-quarantined.
    (Cut at `days` from now, the watch forgot them and the next pass read every comment again.)"""
    from datetime import timedelta

    since = int(datetime(2026, 11, 16, tzinfo=UTC).timestamp())
    later = NOW + timedelta(days=30)

    def source() -> OkGroupSource:
        return OkGroupSource(
            source_id="ok-group",
            client=client(fake),
            gid=GID,
            now=lambda: later,
            since=since,
            page_size=2,
            comments_page_size=2,
        )

    first = crawl(sqlite_engine, source(), clock)
    assert first.inserted == len(TOPICS | COMMENTS) and first.quarantined == 3
    before = len(fake.requests)
    again = crawl(sqlite_engine, source(), clock)
    assert (again.inserted, again.updated, again.quarantined) == (0, 0, 0)
    assert not [r for r in fake.requests[before:] if r.params.get("method") == "discussions.getComments"]
    assert len(quarantined(sqlite_engine)) == 3


def test_edited_topic_keeps_history_and_deleted_topic_is_flagged(fake, sqlite_engine, clock):
    crawl(sqlite_engine, group(fake), clock)
    topics = fake.data["topics"][GID]
    old = topics[0]["media"][0]["text"]
    topics[0]["media"][0]["text"] = old + " Сроки продлены до 26 ноября."
    fake.data["topics"][GID] = [t for t in topics if t["id"] != "155000000000008"]
    crawl(sqlite_engine, group(fake), clock)
    assert revisions(sqlite_engine, "ok:topic155000000000012") == [old]
    assert post(sqlite_engine, "ok:topic155000000000008").deleted is True
    assert len(quarantined(sqlite_engine)) == 3  # the malformed topic is not quarantined twice


@pytest.mark.parametrize("code", [8, 2])
def test_flood_and_service_errors_back_off_and_retry(fake, sqlite_engine, clock, code):
    sleeps: list[float] = []
    fake.fail("group.getStatTopics", code, times=2)
    crawl(sqlite_engine, group(fake, sleeps), clock)
    assert sleeps == [1.0, 2.0]
    assert set(post_keys(sqlite_engine)) == TOPICS | COMMENTS


def test_limit_reached_stops_and_the_next_run_resumes(fake, sqlite_engine, clock):
    fake.fail("discussions.getComments", 11)
    with pytest.raises(SourceStopped, match="ok error 11: LIMIT_REACHED"):
        crawl(sqlite_engine, group(fake), clock)
    assert cursor(sqlite_engine, "ok-group")["pass"]["queue"]
    crawl(sqlite_engine, group(fake), clock)
    keys = post_keys(sqlite_engine)
    assert set(keys) == TOPICS | COMMENTS and max(keys.values()) == 1


def test_expired_token_and_wrong_secret_are_token_errors(fake, sqlite_engine, clock):
    with pytest.raises(TokenInvalid, match="PARAM_SESSION_EXPIRED.*OK_ACCESS_TOKEN"):
        crawl(sqlite_engine, group(fake, client=client(fake, token="tkn1expired")), clock)
    with pytest.raises(TokenInvalid, match="ok error 104: PARAM_SIGNATURE"):
        crawl(sqlite_engine, group(fake, client=client(fake, secret="WRONGSECRET")), clock)


def test_bad_parameter_fails_loudly(fake, sqlite_engine, clock):
    fake.fail("group.getStatTopics", 100)
    with pytest.raises(ApiBug, match="ok error 100: PARAM"):
        crawl(sqlite_engine, group(fake), clock)


def test_missing_group_is_skipped_with_the_reason(fake, sqlite_engine, clock):
    src = OkGroupSource(source_id="ok-group", client=client(fake), gid="123", now=lambda: NOW)
    stats = crawl(sqlite_engine, src, clock)
    assert stats.inserted == 0 and quarantined(sqlite_engine)[0].reason.startswith(
        "skipped: ok error 300: NOT_FOUND"
    )


def test_missing_credentials_name_each_variable(sqlite_engine, clock, lipetsk, monkeypatch):
    for var in ("OK_APPLICATION_KEY", "OK_APPLICATION_SECRET_KEY", "OK_ACCESS_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    src = SourceConfig(id="ok-adm", network="ok", kind="group", params={"gid": GID})
    assert "OK_APPLICATION_KEY" in crawl_source(sqlite_engine, lipetsk, src, clock).error
    monkeypatch.setenv("OK_APPLICATION_KEY", "k")
    assert "OK_APPLICATION_SECRET_KEY" in crawl_source(sqlite_engine, lipetsk, src, clock).error
    monkeypatch.setenv("OK_APPLICATION_SECRET_KEY", "s")
    assert "OK_ACCESS_TOKEN" in crawl_source(sqlite_engine, lipetsk, src, clock).error


def test_from_settings_talks_to_the_configured_api_url(fake, sqlite_engine, clock, lipetsk, monkeypatch):
    monkeypatch.setenv("OK_APPLICATION_KEY", fake.data["application_key"])
    monkeypatch.setenv("OK_APPLICATION_SECRET_KEY", fake.data["application_secret_key"])
    monkeypatch.setenv("OK_ACCESS_TOKEN", fake.data["access_token"])
    src = SourceConfig(
        id="ok-adm",
        network="ok",
        kind="group",
        params={"gid": GID, "api_url": f"{fake.url}/fb.do", "rate": 0, "since": "2026-11-16"},
    )
    stats = crawl_source(sqlite_engine, lipetsk, src, clock)
    assert stats.error is None and stats.inserted == len(TOPICS | COMMENTS)


def test_a_group_that_cannot_be_read_for_a_pass_flags_nothing_deleted(fake, sqlite_engine, clock):
    crawl(sqlite_engine, group(fake), clock)
    fake.fail("group.getStatTopics", 10)  # PERMISSION_DENIED for one pass
    crawl(sqlite_engine, group(fake), clock)
    assert not any(post(sqlite_engine, k).deleted for k in TOPICS)
    fake.data["topics"][GID] = [t for t in fake.data["topics"][GID] if t["id"] != "155000000000008"]
    crawl(sqlite_engine, group(fake), clock)
    assert [k for k in sorted(TOPICS) if post(sqlite_engine, k).deleted] == ["ok:topic155000000000008"]
