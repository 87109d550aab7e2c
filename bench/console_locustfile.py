"""The console's users for locust (`bench/console_load.py` runs it headless; not imported by the project).

Each simulated person logs in through the form (its CSRF token, then the session cookie), reads the
page's CSRF token for later POSTs, and works the way the role does: the triage queue with and
without filters, the full-text search, incident cards (opening one takes its "working on it" lock,
renewed by the card's script), the SLA board and its live counters, the heat map, the ratings, an
export now and then; moderators and administrators assign, executors work their body's inbox.
Think time between clicks: `LOAD_THINK` seconds ("1,3" = uniformly 1–3 s).

The plan (which logins, which incident ids each may open, the bodies, the search words) comes from
the JSON file in `LOAD_PLAN`. Every request is also appended, with its start time, to
`LOAD_SAMPLES` (JSON lines), so the bench computes its percentiles from the raw timings and
leaves the log-in storm of the ramp-up out of the page figures.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

PLAN: dict[str, Any] = json.loads(Path(os.environ["LOAD_PLAN"]).read_text(encoding="utf-8"))
_SAMPLES = open(os.environ["LOAD_SAMPLES"], "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run
_LOCK = threading.Lock()
_LOGINS = itertools.cycle(PLAN["users"])
THINK = [float(x) for x in os.environ.get("LOAD_THINK", "1,3").split(",")]
CSRF_FORM = re.compile(r'name="csrf" value="([^"]+)"')
CSRF_PAGE = re.compile(r'data-csrf="([^"]+)"')
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CARD_LINK = re.compile(r'href="/incidents/(\d+)"')


@events.request.add_listener
def _record(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    exception: Any = None,
    start_time: float | None = None,
    response: Any = None,
    **kw: Any,
) -> None:
    status = getattr(response, "status_code", None)
    line = json.dumps(
        {
            "name": name,
            "ms": round(response_time, 2),
            "t": start_time or time.time(),
            "status": status,
            "error": None if exception is None else f"{type(exception).__name__}: {exception}"[:200],
        }
    )
    with _LOCK:
        _SAMPLES.write(line + "\n")


@events.test_stop.add_listener
def _flush(**kw: Any) -> None:
    with _LOCK:
        _SAMPLES.flush()


class ConsoleUser(FastHttpUser):
    wait_time = between(THINK[0], THINK[-1])
    network_timeout = 60.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.me = next(_LOGINS)
        self.role = self.me["role"]
        self.ids = PLAN["visible"][self.me["scope"]]
        self.csrf = ""
        r = self.client.get("/login", name="login (form)")
        token = CSRF_FORM.search(r.text or "")
        with self.client.post(
            "/login",
            data=urlencode(
                {
                    "csrf": token.group(1) if token else "",
                    "login": self.me["login"],
                    "password": PLAN["password"],
                }
            ),
            headers=FORM,
            allow_redirects=False,
            name="login",
            catch_response=True,
        ) as r:
            if r.status_code != 303:
                r.failure(f"log-in refused: {r.status_code}")
                return
            r.success()
        # the page the log-in leads to: an executor's inbox (whose cards they then open), the others' board
        home = "/inbox" if self.role == "executor" else "/sla"
        page = self.client.get(home, name=home)
        found = CSRF_PAGE.search(page.text or "")
        self.csrf = found.group(1) if found else ""
        if self.role == "executor":
            self.ids = [int(x) for x in CARD_LINK.findall(page.text or "")] or self.ids

    # -- reading
    def _get(self, url: str, name: str, **kw: Any) -> Any:
        with self.client.get(url, name=name, allow_redirects=False, catch_response=True, **kw) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code} {r.headers.get('location', '') if r.headers else ''}")
            return r

    @task(8)
    def queue(self) -> None:
        if self.role == "executor":
            r = self._get("/inbox", "/inbox")
            # an executor opens what their inbox shows now: the plan's ids of their body go stale as the
            # moderators reassign incidents during the run (a card of another body is 404 for them)
            shown = [int(x) for x in CARD_LINK.findall(r.text or "")]
            if shown:
                self.ids = shown
        else:
            self._get("/queue", "/queue")

    @task(6)
    def queue_filtered(self) -> None:
        f = random.choice(PLAN["filters"])
        self._get("/queue?" + urlencode(f), "/queue?filters")

    @task(3)
    def search(self) -> None:
        self._get(
            "/queue?" + urlencode({"q": random.choice(PLAN["words"]), "status": "all"}), "/queue?q=search"
        )

    @task(10)
    def card(self) -> None:
        if not self.ids:
            return
        iid = random.choice(self.ids)
        self._get(f"/incidents/{iid}", "/incidents/ID")
        if self.role != "observer" and random.random() < 0.4:  # the card's script renews the lock
            with self.client.post(
                f"/incidents/{iid}/lock.json",
                headers={"X-CSRF-Token": self.csrf},
                name="/incidents/ID/lock.json",
                catch_response=True,
            ) as r:
                if r.status_code != 200:
                    r.failure(f"HTTP {r.status_code}")

    @task(4)
    def sla(self) -> None:
        self._get("/sla", "/sla")

    @task(6)
    def sla_counters(self) -> None:
        self._get("/sla/counters.json", "/sla/counters.json")

    @task(3)
    def heat_map(self) -> None:
        q = {"period": random.choice(["7", "30", "90"])}
        if random.random() < 0.3:
            q["category"] = random.choice(PLAN["categories"])
        self._get("/map?" + urlencode(q), "/map")

    @task(2)
    def ratings(self) -> None:
        self._get(
            "/ratings?"
            + urlencode(
                {"period": random.choice(["30", "90"]), "by": random.choice(["body", "municipality"])}
            ),
            "/ratings",
        )

    @task(1)
    def export(self) -> None:
        if random.random() < 0.6:  # an export is a few times a shift, not every minute: ≈ 1 click in 100
            return
        if self.role == "executor":
            self._get("/inbox?export=csv", "export (csv)")
        elif random.random() < 0.6:
            self._get(
                "/queue?" + urlencode({**random.choice(PLAN["filters"]), "export": "csv"}), "export (csv)"
            )
        else:
            self._get("/queue?export=xlsx", "export (xlsx)")

    # -- changing
    @task(2)
    def assign(self) -> None:
        if self.role not in ("admin", "moderator") or not self.ids:
            return
        iid = random.choice(self.ids)
        body = random.choice(PLAN["bodies"])
        with self.client.post(
            f"/incidents/{iid}/assign",
            name="assign (POST)",
            allow_redirects=False,
            data=urlencode({"csrf": self.csrf, "body": body, "reason": "нагрузочный тест: переназначение"}),
            headers=FORM,
            catch_response=True,
        ) as r:
            if r.status_code != 303 or "/login" in (r.headers.get("location", "") if r.headers else ""):
                r.failure(f"HTTP {r.status_code}")

    @task(1)
    def release(self) -> None:
        if self.role == "observer" or not self.ids:
            return
        iid = random.choice(self.ids)
        with self.client.post(
            f"/incidents/{iid}/release",
            name="release (POST)",
            allow_redirects=False,
            data=urlencode({"csrf": self.csrf}),
            headers=FORM,
            catch_response=True,
        ) as r:
            if r.status_code != 303:
                r.failure(f"HTTP {r.status_code}")
