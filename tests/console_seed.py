"""A console database as an operator would have it: the bundled Kursk sample processed day by day
(each day's posts with the clock at that evening, so incidents are spread over the week and
their deadlines fall before and after "now"), the full-text index caught up, and one user of
every role with a password.

Used by the console's HTTP tests and its browser tests; nothing here is mocked — it is the
production pipeline (`incidents.services.processing`) over a fresh SQLite file.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.config import RegionConfig
from crawlers.replay import ReplaySource
from incidents.domain.passwords import hash_password
from incidents.services.processing import crawl_adapter, prepare, process_pending
from incidents.services.search import fts
from incidents.services.workflow import add_user
from storage.db import open_database

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "config" / "regions" / "kursk" / "sample" / "posts.jsonl"
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 10:00 in Kursk, the morning after the sample's week
PASSWORD = "пароль-для-тестов"
EXECUTOR_BODY = "kursk_gorinspektsiya"
USERS = [
    ("admin", "admin", None, "Анна Администратор"),
    ("moder", "moderator", None, "Михаил Модератор"),
    ("ivanova", "executor", EXECUTOR_BODY, "Ирина Иванова"),
    ("petrov", "executor", "kursk_roads", "Пётр Петров"),
    ("control", "controller", None, "Кира Контролёр"),
    ("watch", "observer", None, "Олег Наблюдатель"),
]


def seed(
    db: Path | str,
    cfg: RegionConfig,
    builder: object | None = None,
    *,
    extra: list[dict] | None = None,
    work: Path | None = None,
) -> Engine:
    """Process the sample (plus `extra` interchange records) into `db` (a SQLite file, or a database URL
    with `work` a folder for the day files); return the engine."""
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    engine = open_database(url)
    prepare(engine, cfg)
    lines = [json.loads(x) for x in SAMPLE.read_text(encoding="utf-8").splitlines() if x.strip()]
    lines += extra or []
    by_day: dict[str, list[dict]] = defaultdict(list)
    for rec in lines:
        by_day[rec["created_at"][:10]].append(rec)
    work = (work or Path(str(db)).parent) / "seed"
    work.mkdir(exist_ok=True)
    for day in sorted(by_day):
        path = work / f"{day}.jsonl"
        path.write_text(
            "\n".join(json.dumps(r, ensure_ascii=False) for r in by_day[day]) + "\n", encoding="utf-8"
        )
        evening = datetime.fromisoformat(day + "T20:00:00+03:00").astimezone(UTC)
        t = min(evening, NOW - timedelta(minutes=30))
        crawl_adapter(engine, ReplaySource(source_id=f"seed:{day}", path=path), lambda t=t: t)
        process_pending(engine, cfg, lambda t=t: t, builder=builder)  # type: ignore[arg-type]
    fts.catch_up(engine)
    with Session(engine) as session, session.begin():
        for login, role, body, name in USERS:
            row = add_user(session, cfg, login=login, role=role, body=body, name=name, now=NOW)
            row.password_hash = hash_password(PASSWORD, rounds=4)
            session.add(row)
    return engine
