"""Issue 19 (reliability and security, round 2): one regression test per finding at least.

Each test here failed on the code before its fix; the finding's id is in the test's name.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from core.interchange import MAX_LINE_BYTES, BadLine, read_jsonl
from core.records import PostRecord
from tests.test_console import seeded  # noqa: F401 - the seeded console database, shared fixture

GOOD: dict[str, Any] = {
    "network": "vk",
    "external_id": "1",
    "source_id": "wall-1",
    "text": "На улице Ленина нет воды",
    "created_at": "2026-11-20T09:00:00+03:00",
}


# --------------------------------------------------------------------------- F6
def test_f6_invalid_utf8_line_is_quarantined_not_decoded_as_cp1251() -> None:
    line = json.dumps(GOOD, ensure_ascii=False).encode()
    broken = line.replace("нет".encode(), b"\xff\xfe\xfd", 1)
    items = [x for _, x in read_jsonl(io.BytesIO(line + b"\n" + broken + b"\n"), "f.jsonl")]
    assert isinstance(items[0], PostRecord) and items[0].text == GOOD["text"]
    bad = items[1]
    assert isinstance(bad, BadLine), f"decoded silently as {getattr(bad, 'text', bad)!r}"
    assert "not valid UTF-8" in bad.reason and bad.line_no == 2


# --------------------------------------------------------------------------- F14
class _Watched(io.BytesIO):
    """A byte stream that records the largest piece handed out by one read."""

    largest = 0

    def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        out = super().readline(size)
        self.largest = max(self.largest, len(out))
        return out

    def __next__(self) -> bytes:
        out = super().__next__()
        self.largest = max(self.largest, len(out))
        return out


def test_f14_a_long_line_is_refused_without_reading_it_whole() -> None:
    huge = b'{"text": "' + b"a" * (MAX_LINE_BYTES + 4 * 1024 * 1024) + b'"}\n'
    stream = _Watched(huge + json.dumps(GOOD).encode() + b"\n")
    items = list(read_jsonl(stream, "f.jsonl"))
    assert [type(x).__name__ for _, x in items] == ["BadLine", "PostRecord"]
    assert items[1][0] == 2
    assert "longer than" in items[0][1].reason  # type: ignore[union-attr]
    assert stream.largest <= MAX_LINE_BYTES + 1


def test_f14_stdin_is_not_read_whole(tmp_path, monkeypatch, capsys) -> None:
    from cli.main import main
    from tests.conftest import LIPETSK

    class Pipe(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:  # a pipe read whole would be all in memory
            assert size is not None and 0 <= size <= MAX_LINE_BYTES + 1, "stdin read whole"
            return super().read(size)

    class Stdin:
        buffer = Pipe((LIPETSK / "posts.jsonl").read_bytes())

    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("INCIDENTS_CONFIG", str(LIPETSK))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr("sys.stdin", Stdin())
    assert main(["import", "-", "--no-process"]) == 0
    assert "новых 14" in capsys.readouterr().out


# --------------------------------------------------------------------------- F1
def test_f1_a_far_future_updated_at_is_quarantined_and_the_source_stays_alive(sqlite_engine, clock, caplog):
    import logging

    from tests.fakes.dbcheck import cursor, post_keys, quarantined
    from tests.fakes.pos import FakePos
    from tests.test_crawl_pos import ALL, crawl, source

    with FakePos() as fake:
        msg = next(m for m in fake.data["messages"] if m["id"] == "POS-46-000102")
        msg["updated_at"] = "2199-01-01T00:00:00+03:00"
        with caplog.at_level(logging.WARNING, logger="crawlers.pos"):
            crawl(sqlite_engine, source(fake), clock)
        assert "in the future" in caplog.text
        assert any(
            "2198-12-31" in q.reason and "in the future" in q.reason for q in quarantined(sqlite_engine)
        )
        assert "pos:POS-46-000102" not in post_keys(sqlite_engine)
        stored = cursor(sqlite_engine, "pos")["updated_since"]
        assert stored < "2027", stored
        # the platform corrects the date: the next sweep sees the message
        msg["updated_at"] = "2026-11-23T10:00:00+03:00"
        crawl(sqlite_engine, source(fake), clock)
        assert set(post_keys(sqlite_engine)) == ALL


def test_f1_a_stored_far_future_cursor_is_pulled_back(sqlite_engine, clock, caplog):
    import logging

    from storage.db import session
    from storage.store import set_cursor
    from tests.fakes.pos import FakePos
    from tests.test_crawl_pos import NOW, crawl, source

    with session(sqlite_engine) as s, s.begin():
        set_cursor(s, "pos", {"updated_since": "2198-12-31T21:00:00+00:00"}, NOW)
    with FakePos() as fake:
        with caplog.at_level(logging.WARNING, logger="crawlers.pos"):
            stats = crawl(sqlite_engine, source(fake), clock)
        assert "stored cursor" in caplog.text
        assert fake.requests[0].query["updated_since"] < "2027"
        assert stats.inserted > 0


# --------------------------------------------------------------------------- F7
def test_f7_the_already_held_check_uses_an_index(engine) -> None:
    import sqlalchemy as sa

    indexes = {ix["name"]: ix["column_names"] for ix in sa.inspect(engine).get_indexes("quarantine")}
    assert indexes.get("ix_quarantine_origin_location") == ["origin", "location"]
    if engine.dialect.name == "sqlite":
        with engine.connect() as c:
            plan = " ".join(
                str(r[-1])
                for r in c.execute(
                    sa.text(
                        "EXPLAIN QUERY PLAN SELECT payload FROM quarantine WHERE origin = 'f' AND location = 'line 1'"
                    )
                )
            )
        assert "ix_quarantine_origin_location" in plan, plan


def test_f7_records_of_one_page_are_held_once_without_a_flush_each(sqlite_engine) -> None:
    from datetime import UTC, datetime

    from core.records import BadRecord
    from storage.db import session
    from storage.store import quarantine

    now = datetime(2026, 11, 23, tzinfo=UTC)
    page = [BadRecord(f"line {i % 50}", "broken JSON", "{x") for i in range(200)]
    with session(sqlite_engine) as s, s.begin():
        assert quarantine(s, "f.jsonl", page, now) == 50
        assert quarantine(s, "f.jsonl", page, now) == 0


# --------------------------------------------------------------------------- F4
def _echoing(fake: Any, status: str) -> None:
    """The platform answers `status`, echoing the request's Authorization header in the body."""
    from tests.fakes.base import Reply
    from tests.fakes.pos import STATUS

    def handler(req: Any) -> Any:
        auth = req.headers.get("authorization")
        return Reply(
            STATUS[status],
            {
                "error": {
                    "code": status,
                    "message": f"refused; you sent Authorization: {auth}",
                    "echo": {"authorization": auth},
                }
            },
        )

    fake.handle = handler  # type: ignore[method-assign]


def test_f4_a_token_echoed_in_an_error_body_is_redacted(sqlite_engine, clock, capsys) -> None:
    import pytest

    from crawlers.errors import ApiBug, TokenInvalid
    from storage.db import session
    from storage.models import QuarantineItem, Source
    from tests.fakes.pos import FakePos
    from tests.test_crawl_pos import crawl, source

    with FakePos() as fake:
        token = fake.data["token"]
        _echoing(fake, "forbidden")  # 403: skipped, quarantined with the reason and the body
        crawl(sqlite_engine, source(fake), clock)
        with session(sqlite_engine) as s:
            rows = s.exec(select(QuarantineItem)).all()
            sources = s.exec(select(Source)).all()
        assert rows and "refused" in rows[0].reason
        for r in rows:
            assert token not in r.reason and token not in r.payload and token not in (r.location or "")
        assert all(token not in (x.last_error or "") for x in sources)
        for status, error in (("unauthorized", TokenInvalid), ("bad_request", ApiBug)):
            _echoing(fake, status)
            with pytest.raises(error) as info:
                crawl(sqlite_engine, source(fake), clock)
            assert token not in str(info.value) and "***" in str(info.value)
    assert token not in "".join(capsys.readouterr())


def test_f4_redact_masks_the_shapes_and_the_environment_values(monkeypatch) -> None:
    from core.redact import redact

    monkeypatch.setenv("VK_TOKEN", "vk1.a.SeCrEt-value-42")
    assert redact("Authorization: Bearer abc.def-123456") == "Authorization: Bearer ***"
    assert redact('{"access_token": "zzz999yyy"}') == '{"access_token": "***"}'
    assert redact("GET /method?token=abcdefgh&v=5") == "GET /method?token=***&v=5"
    assert redact("echo vk1.a.SeCrEt-value-42 back") == "echo *** back"
    assert redact("Нет воды на улице Ленина, token bucket") == "Нет воды на улице Ленина, token bucket"


# --------------------------------------------------------------------------- F3
class _Planted:
    """A pickle that runs code when loaded: it leaves a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def _region_with_model(tmp_path: Any) -> Any:
    import shutil

    from core.config import load_region
    from tests.conftest import LIPETSK

    root = tmp_path / "region"
    shutil.copytree(LIPETSK, root)
    with (root / "signals.yaml").open("a", encoding="utf-8") as fh:
        fh.write("\nmodel:\n  path: models/signals.pkl\n")
    return load_region(root)


def test_f3_a_model_planted_in_the_working_directory_is_never_unpickled(tmp_path, monkeypatch) -> None:
    import pickle

    from pipelines.signals import SignalBuilder

    cfg = _region_with_model(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "models").mkdir(parents=True)
    marker = tmp_path / "pwned"
    (elsewhere / "models" / "signals.pkl").write_bytes(pickle.dumps(_Planted(str(marker))))
    monkeypatch.chdir(elsewhere)
    builder = SignalBuilder(cfg, use_ner=False, use_model=True)
    assert not marker.exists(), "a pickle from the working directory was loaded"
    assert builder.model is None


def test_f3_the_model_is_found_beside_the_region_from_any_directory_and_checked(
    tmp_path, monkeypatch, caplog
):
    import logging
    import pickle

    from core.signed_pickle import checksum_path
    from pipelines.model import SignalModel
    from pipelines.signals import SignalBuilder

    cfg = _region_with_model(tmp_path)
    target = cfg.root / "models" / "signals.pkl"
    SignalModel(None, None, {"note": "trained here"}).save(target)
    assert checksum_path(target).is_file()
    monkeypatch.chdir(tmp_path)
    assert SignalBuilder(cfg, use_ner=False, use_model=True).model is not None  # found from elsewhere

    # replaced after training (a planted file, a copy from elsewhere): refused unread
    marker = tmp_path / "pwned"
    target.write_bytes(pickle.dumps(_Planted(str(marker))))
    with caplog.at_level(logging.WARNING):
        builder = SignalBuilder(cfg, use_ner=False, use_model=True)
    assert builder.model is None and not marker.exists()
    assert "SHA-256" in caplog.text
    checksum_path(target).unlink()  # no checksum at all: refused as well
    assert SignalBuilder(cfg, use_ner=False, use_model=True).model is None and not marker.exists()


# --------------------------------------------------------------------------- F12
def _import(tmp_path: Any, lines: list[bytes], now: Any) -> tuple[Any, Any]:
    from crawlers.replay import ReplaySource
    from incidents.services.processing import crawl_adapter
    from storage.db import open_database

    f = tmp_path / "posts.jsonl"
    f.write_bytes(b"\n".join(lines) + b"\n")
    engine = open_database(f"sqlite:///{tmp_path / 'f12.db'}")
    stats = crawl_adapter(engine, ReplaySource(source_id="import:posts", path=f, now=now), now)
    return engine, stats


def test_f12_a_post_dated_ahead_is_refused_with_its_file_line(tmp_path, clock) -> None:
    from tests.fakes.dbcheck import post_keys, quarantined

    ahead = dict(GOOD, external_id="good6", created_at="2026-12-17T09:00:00+03:00")  # 24 days ahead
    far = dict(GOOD, external_id="good7", created_at="2199-12-31T09:00:00+03:00")
    engine, stats = _import(tmp_path, [json.dumps(x).encode() for x in (GOOD, ahead, far)], clock)
    assert set(post_keys(engine)) == {"vk:1"} and stats.quarantined == 2
    rows = {q.location: q.reason for q in quarantined(engine)}
    assert set(rows) == {"line 2", "line 3"}, rows
    assert "vk:good6" in rows["line 2"] and "in the future" in rows["line 2"]


def test_f12_two_copies_of_an_id_in_one_page_keep_the_earlier_text_as_a_revision(tmp_path, clock) -> None:
    from tests.fakes.dbcheck import post, revisions

    second = dict(GOOD, text="На улице Ленина нет воды уже третий день")
    engine, _ = _import(tmp_path, [json.dumps(GOOD).encode(), json.dumps(second).encode()], clock)
    assert post(engine, "vk:1").text == second["text"]
    assert revisions(engine, "vk:1") == [GOOD["text"]]


def test_f12_the_crawl_refuses_future_dates_from_any_adapter(sqlite_engine, clock) -> None:
    from datetime import timedelta

    from core.records import PostRecord
    from incidents.services.processing import crawl_adapter
    from tests.fakes.dbcheck import post_keys

    class OnePage:
        source_id = "s"

        def fetch(self, cursor: Any) -> Any:
            from crawlers.base import FetchResult

            posts = [
                PostRecord("vk", "now", "s", "текст", clock()),
                PostRecord("vk", "ahead", "s", "текст", clock() + timedelta(days=24)),
            ]
            return FetchResult(posts, {"page": 1}, done=True)

    stats = crawl_adapter(sqlite_engine, OnePage(), clock)
    assert set(post_keys(sqlite_engine)) == {"vk:now"} and stats.quarantined == 1


# --------------------------------------------------------------------------- F8
def test_f8_a_stranger_cannot_lock_a_person_out(seeded, kursk) -> None:  # noqa: ANN001, F811
    import re

    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from console.app import create_app
    from console.settings import ConsoleSettings
    from tests.console_seed import PASSWORD

    app = create_app(seeded, kursk, ConsoleSettings(secret_key=SecretStr("x" * 32)))

    def client(address: str) -> tuple[TestClient, str]:
        c = TestClient(app, client=(address, 40000))
        return c, re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]

    stranger, token = client("203.0.113.7")
    codes = [
        stranger.post("/login", data={"csrf": token, "login": "control", "password": "угадываю"}).status_code
        for _ in range(8)
    ]
    assert codes == [401] * 5 + [429] * 3  # the stranger is slowed down…
    owner, token = client("198.51.100.2")
    r = owner.post(
        "/login", data={"csrf": token, "login": "control", "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303  # …the person, elsewhere, still gets in


def test_f8_one_address_cannot_spray_guesses_over_every_login() -> None:
    from console.auth import LoginThrottle

    t = LoginThrottle(limit=5, address_limit=20, clock=lambda: 0.0)
    for i in range(20):
        t.failed(f"user{i}", "203.0.113.7")
    assert t.blocked("someone-else", "203.0.113.7") and not t.blocked("someone-else", "198.51.100.2")


# --------------------------------------------------------------------------- F5
def test_f5_a_huge_body_is_refused_with_413_before_it_is_read(seeded, kursk) -> None:  # noqa: ANN001, F811
    import asyncio

    from pydantic import SecretStr

    from console.app import create_app
    from console.settings import ConsoleSettings

    app = create_app(seeded, kursk, ConsoleSettings(secret_key=SecretStr("x" * 32)))

    async def post(declared: bool) -> tuple[int, int]:
        """POST /login with 300 chunks of 1 MB, chunked or declared; returns (status, bytes read)."""
        chunk, chunks, sent = b"a" * (1024 * 1024), 300, 0
        headers = [(b"content-type", b"application/x-www-form-urlencoded"), (b"host", b"testserver")]
        if declared:
            headers.append((b"content-length", str(len(chunk) * chunks).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/login",
            "raw_path": b"/login",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("203.0.113.7", 40000),
            "server": ("testserver", 80),
        }
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            sent += 1
            return {"type": "http.request", "body": chunk, "more_body": sent < chunks}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        return status[0], sent * len(chunk)

    for declared in (True, False):
        status, read = asyncio.run(post(declared))
        assert status == 413, (declared, status)
        assert read <= 2 * 1024 * 1024, f"{read} bytes read before refusing"  # 1 MB limit + a chunk


# --------------------------------------------------------------------------- F11
def test_f11_a_bad_page_or_a_huge_id_is_400_or_404_not_500(seeded, kursk) -> None:  # noqa: ANN001, F811
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from console.app import create_app
    from console.settings import ConsoleSettings
    from tests.test_console import login

    app = create_app(seeded, kursk, ConsoleSettings(secret_key=SecretStr("x" * 32)))
    c, _ = login(app, "control")
    c = TestClient(app, raise_server_exceptions=False, cookies=c.cookies)
    assert c.get("/queue?page=abc").status_code == 400
    assert c.get("/queue?page=1e3").status_code == 400
    assert c.get("/queue?page=2").status_code == 200
    assert c.get("/incidents/99999999999999999999").status_code == 404
    assert c.get("/incidents/9223372036854775808").status_code == 404
    assert c.get("/incidents/2147483648").status_code == 404


# --------------------------------------------------------------------------- F10
def _f10_post(ext: str, text: str, minutes: int) -> PostRecord:
    from datetime import timedelta

    return PostRecord(
        network="vk",
        external_id=ext,
        source_id="f10",
        text=text,
        created_at=datetime(2026, 11, 10, 7, tzinfo=UTC) + timedelta(minutes=minutes),
        author_id=f"vk:{ext}",
        author_name="Жительница",
    )


F10_COMPLAINT = "Кати Зеленко 9 — канализация опять хлещет из колодца прямо во двор. Вонь на весь двор, дети на площадке рядом!"
F10_THANKS = "Спасибо всем, поздравляю с праздником, добра и мира вашим семьям!"


def test_f10_a_resent_post_that_is_no_complaint_leaves_and_the_empty_incident_is_rejected(
    engine, kursk, kursk_builder
):
    """Before: the post stayed in its incident and the incident stayed open with its SLA running."""
    from incidents.services.processing import prepare, process_pending
    from storage.models import AuditEvent, Incident, IncidentPost, Post
    from storage.store import save_posts

    at = datetime(2026, 11, 10, 9, tzinfo=UTC)
    prepare(engine, kursk)
    with Session(engine) as s, s.begin():
        save_posts(s, [_f10_post("-1_1", F10_COMPLAINT, 0)], at)
    process_pending(engine, kursk, lambda: at, builder=kursk_builder)
    with Session(engine) as s:
        iid = s.exec(select(IncidentPost.incident_id)).one()
        assert s.get(Incident, iid).status in ("new", "assigned")
    later = datetime(2026, 11, 10, 12, tzinfo=UTC)
    with Session(engine) as s, s.begin():  # the second file: the same id, a new text
        save_posts(s, [_f10_post("-1_1", F10_THANKS, 0)], later)
    process_pending(engine, kursk, lambda: later, builder=kursk_builder)
    with Session(engine) as s:
        assert s.exec(select(IncidentPost)).all() == [], "the post is no complaint: it left its incident"
        inc = s.get(Incident, iid)
        assert inc.status == "rejected" and inc.closed_at is not None
        assert inc.post_count == 0
        assert "не осталось жалоб" in inc.rejected_reason and "vk:-1_1" in inc.rejected_reason
        events = {e.action: e for e in s.exec(select(AuditEvent).where(AuditEvent.incident_id == iid)).all()}
        assert "исключён из инцидента" in events["post_left"].reason
        assert events["rejected"].actor == "system" and events["rejected"].to_state == "rejected"
        assert s.exec(select(Post.processed)).one() is True
    # the SLA watch and the board only look at open incidents: its clocks no longer run
    from incidents.services.processing import sla_check

    assert sum(sla_check(engine, kursk, lambda: later).values()) == 0


def test_f10_an_incident_keeps_its_other_complaints_and_a_persons_link(engine, kursk, kursk_builder):
    """One of two complaints re-sent as no complaint: it leaves, the incident stays open."""
    from incidents.services.processing import prepare, process_pending
    from storage.models import Incident, IncidentPost
    from storage.store import save_posts

    at = datetime(2026, 11, 10, 9, tzinfo=UTC)
    prepare(engine, kursk)
    second = F10_COMPLAINT.replace("опять", "снова").replace("дети", "малыши")
    with Session(engine) as s, s.begin():
        save_posts(s, [_f10_post("-1_1", F10_COMPLAINT, 0), _f10_post("-1_2", second, 5)], at)
    process_pending(engine, kursk, lambda: at, builder=kursk_builder)
    with Session(engine) as s:
        (iid,) = set(s.exec(select(IncidentPost.incident_id)).all())
    with Session(engine) as s, s.begin():
        save_posts(s, [_f10_post("-1_1", F10_THANKS, 0)], at)
    process_pending(engine, kursk, lambda: at, builder=kursk_builder)
    with Session(engine) as s:
        assert len(s.exec(select(IncidentPost)).all()) == 1
        inc = s.get(Incident, iid)
        assert inc.status not in ("rejected", "closed") and inc.post_count == 1


# --------------------------------------------------------------------------- F13
def test_f13_who_sees_authors_by_role() -> None:
    from core.roles import Action, Actor, Role, can

    def sees(role: Role, body: str | None = None, incident_body: str | None = "b1") -> bool:
        return can(Actor("x", role, body), Action.SEE_AUTHORS, incident_body)

    assert sees(Role.ADMIN) and sees(Role.MODERATOR) and sees(Role.CONTROLLER)
    assert sees(Role.EXECUTOR, "b1") and not sees(Role.EXECUTOR, "b2")
    assert not sees(Role.OBSERVER)


def test_f13_a_personal_link_is_recognised() -> None:
    from incidents.domain.privacy import personal_link

    assert personal_link("https://vk.com/wall505_311") and personal_link("https://vk.com/wall505_311?reply=9")
    assert personal_link("https://m.vk.com/id505") and personal_link("https://vk.com/feed?w=wall505_3")
    assert personal_link("https://ok.ru/profile/5757")
    assert not personal_link("https://vk.com/wall-100001_7") and not personal_link("https://vk.com/idea_club")
    assert not personal_link("https://t.me/kursk_news/5") and not personal_link(None)


def test_f13_observers_see_authors_masked_in_the_card_and_lists(seeded, kursk) -> None:  # noqa: ANN001, F811
    """Before: every role saw the resident's name and the link to their own VK wall."""
    from pydantic import SecretStr

    from console.app import create_app
    from console.settings import ConsoleSettings
    from storage.models import Incident, IncidentPost, Post
    from tests.console_seed import EXECUTOR_BODY
    from tests.test_console import login

    name, wall = "Мария Персональнова", "https://vk.com/wall505311_77"
    with Session(seeded) as s, s.begin():
        inc = s.exec(
            select(Incident).where(Incident.body_code == EXECUTOR_BODY).order_by(Incident.id)
        ).first()
        post = s.exec(
            select(Post)
            .join(IncidentPost, IncidentPost.post_id == Post.id)
            .where(IncidentPost.incident_id == inc.id)
        ).first()
        post.author_name, post.author_id, post.url = name, "505311", wall
        s.add(post)
        iid = inc.id
    app = create_app(seeded, kursk, ConsoleSettings(secret_key=SecretStr("x" * 32)))
    for who in ("admin", "moder", "control", "ivanova"):
        page = login(app, who)[0].get(f"/incidents/{iid}").text
        assert name in page and wall in page, who
    c, _ = login(app, "watch")
    page = c.get(f"/incidents/{iid}").text
    assert name not in page and "wall505311" not in page and "505311" not in page
    assert "житель (скрыто)" in page and "личную страницу" in page
    for path in ("/queue", "/sla", f"/queue?q={name.split()[1]}"):
        assert name not in c.get(path).text, path
    assert login(app, "petrov")[0].get(f"/incidents/{iid}").status_code == 404  # another body's staff
