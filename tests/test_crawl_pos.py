"""The feedback platform adapter against a local fake of the assumed contract."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import Session, select

from core.config import SourceConfig
from crawlers.base import SourceStopped
from crawlers.errors import ApiBug, Backoff, SkipObject, TokenInvalid
from crawlers.pos import PosClient, PosMessagesSource
from crawlers.ratelimit import RateLimiter
from incidents.services.processing import crawl_source
from storage.models import PostRevision
from tests.fakes.dbcheck import crawl, cursor, post, post_keys, quarantined, revisions
from tests.fakes.pos import FakePos

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ALL = {f"pos:POS-46-{i:06d}" for i in (101, 102, 103, 104, 105, 106, 108, 109, 110)}


@pytest.fixture
def fake():
    with FakePos() as server:
        yield server


def client(fake: FakePos, sleeps: list[float] | None = None, token: str | None = None) -> PosClient:
    return PosClient(
        base_url=fake.url,
        token=token or fake.data["token"],
        source_id="pos",
        http=httpx.Client(timeout=5),
        limiter=RateLimiter(0),
        backoff=Backoff(retries=2, sleep=(sleeps if sleeps is not None else []).append),
    )


def source(fake: FakePos, sleeps: list[float] | None = None, **kw) -> PosMessagesSource:
    kw.setdefault("page_size", 3)
    return PosMessagesSource(
        source_id="pos",
        client=kw.pop("client", None) or client(fake, sleeps),
        region_code="46",
        now=lambda: NOW,
        **kw,
    )


def test_messages_with_category_address_status_rating(fake, engine, clock):
    stats = crawl(engine, source(fake), clock)
    keys = post_keys(engine)
    assert set(keys) == ALL and max(keys.values()) == 1 and stats.quarantined == 1
    assert quarantined(engine)[0].reason == "text: expected a string, got int"
    m = post(engine, "pos:POS-46-000104")
    assert m.raw["pos"] == {
        "category": "Уличное освещение",
        "category_code": "energy",
        "address": "г. Курчатов, ул. Энергетиков",
        "latitude": 51.6606,
        "longitude": 35.6571,
        "status": "answered",
        "rating": 2,
        "updated_at": "2026-11-22T13:00:00+00:00",
    }
    assert m.text == "Не работает уличное освещение на всей улице.\n\nАдрес: г. Курчатов, ул. Энергетиков"
    assert (m.address, m.lat, m.lon) == ("г. Курчатов, ул. Энергетиков", 51.6606, 35.6571)
    assert post(engine, "pos:POS-46-000105").address is None  # no address on the platform: none here
    assert m.created_at == datetime(2026, 11, 21, 9, 30, tzinfo=UTC) and m.author_name == "Бурцев С. Н."
    assert post(engine, "pos:POS-46-000108").deleted is True  # withdrawn: flagged
    pages = [r.query for r in fake.requests]
    assert all(q["region"] == "46" and q["limit"] == "3" for q in pages) and pages[1]["cursor"]
    assert cursor(engine, "pos") == {"updated_since": "2026-11-23T06:30:00+00:00"}


def test_next_sweep_asks_for_changes_since_the_last_one(fake, sqlite_engine, clock):
    crawl(sqlite_engine, source(fake), clock)
    old_text = post(sqlite_engine, "pos:POS-46-000102").text
    msg = next(m for m in fake.data["messages"] if m["id"] == "POS-46-000102")
    msg.update(
        text=msg["text"] + " Дополнение: яма увеличилась.",
        updated_at="2026-11-23T10:00:00+03:00",
        status="in_progress",
    )
    fake.requests.clear()
    stats = crawl(sqlite_engine, source(fake), clock)
    assert fake.requests[0].query["updated_since"] == "2026-11-23T06:30:00+00:00"
    assert stats.updated == 1 and "яма увеличилась" in post(sqlite_engine, "pos:POS-46-000102").text
    assert revisions(sqlite_engine, "pos:POS-46-000102") == [old_text]  # the edit keeps the previous text
    assert post(sqlite_engine, "pos:POS-46-000102").raw["pos"]["status"] == "in_progress"


def test_field_mapping_comes_from_config(fake, sqlite_engine, clock):
    for m in fake.data["messages"]:
        m["body"] = m.pop("text")
    crawl(sqlite_engine, source(fake, fields={"text": "body"}), clock)
    assert set(post_keys(sqlite_engine)) == ALL


def test_rate_limited_backs_off_and_daily_limit_stops(fake, sqlite_engine, clock):
    sleeps: list[float] = []
    fake.fail("/messages", "rate_limited", times=2)
    crawl(sqlite_engine, source(fake, sleeps), clock)
    assert sleeps == [1.0, 2.0] and set(post_keys(sqlite_engine)) == ALL
    fake.fail("/messages", "daily_limit_exceeded")
    with pytest.raises(SourceStopped, match="daily_limit_exceeded"):
        crawl(sqlite_engine, source(fake), clock)


def test_token_and_bug_errors(fake, sqlite_engine, clock):
    with pytest.raises(TokenInvalid, match="POS_TOKEN"):
        crawl(sqlite_engine, source(fake, client=client(fake, token="wrong")), clock)
    with pytest.raises(ApiBug, match="limit must be at most 100"):
        crawl(sqlite_engine, source(fake, page_size=500), clock)


def test_forbidden_region_is_skipped_with_the_reason(fake, sqlite_engine, clock):
    fake.fail("/messages", "forbidden")
    stats = crawl(sqlite_engine, source(fake), clock)
    assert stats.inserted == 0 and quarantined(sqlite_engine)[0].reason.startswith(
        "skipped: pos error forbidden"
    )


def test_answers_are_posted_back_once_per_key(fake):
    c = client(fake)
    first = c.post_answer(
        "POS-46-000101", "Вывоз мусора по ул. Союзной, 61 выполнен 23.11.", "incident-7-post-12"
    )
    again = c.post_answer(
        "POS-46-000101", "Вывоз мусора по ул. Союзной, 61 выполнен 23.11.", "incident-7-post-12"
    )
    assert first == again and first["id"] == "ANS-00001" and len(fake.answers) == 1
    sent = [r for r in fake.requests if r.method == "POST"]
    assert sent[0].headers["idempotency-key"] == "incident-7-post-12" and sent[0].json()["final"] is True
    with pytest.raises(SkipObject, match="not found"):
        c.post_answer("POS-46-999999", "Ответ", "k2")


def test_missing_token_names_the_variable(sqlite_engine, clock, lipetsk, monkeypatch):
    monkeypatch.delenv("POS_TOKEN", raising=False)
    src = SourceConfig(
        id="pos", network="pos", kind="messages", params={"base_url": "https://pos.example.org/api/v1"}
    )
    assert "POS_TOKEN" in crawl_source(sqlite_engine, lipetsk, src, clock).error


def test_an_unknown_field_in_the_mapping_is_a_configuration_error(sqlite_engine, clock, lipetsk, monkeypatch):
    monkeypatch.setenv("POS_TOKEN", "t")
    src = SourceConfig(
        id="pos",
        network="pos",
        kind="messages",
        params={"base_url": "https://pos.example.org/api/v1", "fields": {"txt": "body"}},
    )
    assert "unknown field(s) txt" in crawl_source(sqlite_engine, lipetsk, src, clock).error


def test_address_and_point_as_the_contract_serves_them(fake, sqlite_engine, clock):
    """`address.full`, `address.lat`, `address.lon` (crawlers/README.md): a moved pin is an edit
    kept as a revision; a point out of range or half a point is quarantined whole, with the
    platform's field names in the reason."""
    base = next(m for m in fake.data["messages"] if m["id"] == "POS-46-000103")
    far = {**base, "id": "POS-46-000111", "address": {"full": "г. Курск", "lat": 517.0, "lon": 36.2}}
    half = {**base, "id": "POS-46-000112", "address": {"full": "г. Курск", "lat": 51.7}}
    fake.data["messages"] += [far, half]
    crawl(sqlite_engine, source(fake), clock)
    m = post(sqlite_engine, "pos:POS-46-000103")
    assert (m.address, m.lat, m.lon) == ("г. Железногорск, ул. Ленина, д. 26, кв. 14", 52.3383, 35.3509)
    reasons = {r.reason for r in quarantined(sqlite_engine)}
    assert "address.lat, address.lon: lat: 517.0 is not between -90 and 90" in reasons
    assert "coordinates: expected two numbers, got 51.7, None" in reasons
    assert (
        post(sqlite_engine, "pos:POS-46-000111") is None and post(sqlite_engine, "pos:POS-46-000112") is None
    )

    base.update(
        address={"full": "г. Железногорск, ул. Ленина, д. 28", "lat": 52.3391, "lon": 35.3522},
        updated_at="2026-11-23T10:00:00+03:00",
    )
    crawl(sqlite_engine, source(fake), clock)
    m = post(sqlite_engine, "pos:POS-46-000103")
    assert (m.address, m.lat, m.lon) == ("г. Железногорск, ул. Ленина, д. 28", 52.3391, 35.3522)
    assert m.text.endswith("Адрес: г. Железногорск, ул. Ленина, д. 28")
    with Session(sqlite_engine) as s:
        [rev] = s.exec(select(PostRevision).where(PostRevision.post_id == m.id)).all()
    assert (rev.address, rev.lat, rev.lon) == ("г. Железногорск, ул. Ленина, д. 26, кв. 14", 52.3383, 35.3509)
