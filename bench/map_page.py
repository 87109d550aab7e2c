"""/map and an incident card on a database that `incidents run` made: time (cold = the first page of
a console process, which reads the boundaries, simplifies the outlines and finds the label
points; warm = the next ones, from the memo) and HTML size.

    INCIDENTS_DATA_DIR=/tmp/d DATABASE_URL=sqlite:////tmp/d/incidents.db incidents run
    INCIDENTS_DATA_DIR=/tmp/d DATABASE_URL=sqlite:////tmp/d/incidents.db python -m bench.map_page
"""

from __future__ import annotations

import re
import statistics
import time
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, col, select

from console.app import create_app
from console.settings import ConsoleSettings
from core.config import load_region
from core.settings import get_settings
from incidents.domain.passwords import hash_password
from incidents.services.workflow import add_user
from storage.db import open_database
from storage.models import Incident


def main() -> None:
    settings = get_settings()
    cfg = load_region(settings.config_dir)
    engine = open_database(settings.database_url)
    with Session(engine) as s:
        newest = s.exec(select(Incident.opened_at).order_by(col(Incident.opened_at).desc())).first()
    with Session(engine) as s, s.begin():
        user = add_user(s, cfg, login="bench-map", role="admin", now=newest or datetime.now(UTC))
        user.password_hash = hash_password("bench-map-пароль", rounds=4)
    with Session(engine) as s:
        some = s.exec(select(Incident.id).where(Incident.municipality == "kursk")).first()
    app = create_app(engine, cfg, ConsoleSettings(secret_key=SecretStr("b" * 32)), now=lambda: newest)
    c = TestClient(app)
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
    c.post("/login", data={"csrf": token, "login": "bench-map", "password": "bench-map-пароль"})
    for url in ("/map?period=30", "/map?period=7", f"/incidents/{some}"):
        times, size, paths = [], 0, 0
        for _ in range(6):
            t = time.perf_counter()
            r = c.get(url)
            times.append(time.perf_counter() - t)
            size, paths = len(r.content), r.text.count("<path")
        print(
            f"{url}: status {r.status_code}, cold {times[0] * 1000:.0f} ms, warm median "
            f"{statistics.median(times[1:]) * 1000:.0f} ms, HTML {size / 1024:.1f} KiB, <path> {paths}"
        )


if __name__ == "__main__":
    main()
