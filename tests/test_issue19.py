"""Issue 19 (reliability and security, round 2): one regression test per finding at least.

Each test here failed on the code before its fix; the finding's id is in the test's name.
"""

from __future__ import annotations

import io
import json
from typing import Any

from incidents.core.interchange import MAX_LINE_BYTES, BadLine, read_jsonl
from incidents.core.records import PostRecord

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
    from incidents.cli.main import main
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

    from incidents.storage.db import session
    from incidents.storage.store import set_cursor
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

    from incidents.core.records import BadRecord
    from incidents.storage.db import session
    from incidents.storage.store import quarantine

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
    from incidents.storage.db import session
    from incidents.storage.models import QuarantineItem, Source
    from tests.fakes.pos import FakePos
    from tests.test_crawl_pos import crawl, source

    with FakePos() as fake:
        token = fake.data["token"]
        _echoing(fake, "forbidden")  # 403: skipped, quarantined with the reason and the body
        crawl(sqlite_engine, source(fake), clock)
        with session(sqlite_engine) as s:
            rows = s.query(QuarantineItem).all()
            sources = s.query(Source).all()
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
    from incidents.core.redact import redact

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

    from incidents.core.config import load_region
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

    from pipelines.model import SignalModel, checksum_path
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
