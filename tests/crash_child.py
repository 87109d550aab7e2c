"""A crawl in a child process, for the tests that kill a crawl midway (`tests/test_crawl_crash.py`).

`python -m tests.crash_child '<json spec>'` builds the real adapter of one network, pointed at a
fake the parent test runs (VK and OK over HTTP on 127.0.0.1, Telegram at Telethon's boundary in
this process), and runs `incidents.services.processing.crawl_adapter` against the database at `spec["db"]` —
exactly what `incidents crawl` does. The parent kills this process with SIGKILL while it waits
for an answer, then reruns it: the database must hold every post exactly once.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def build(spec: dict[str, Any]) -> Any:
    from crawlers.errors import Backoff
    from crawlers.ratelimit import RateLimiter

    network = spec["network"]
    if network == "vk":
        from crawlers.vk import VkClient, VkWallSource
        from tests.fakes.base import redirected_session
        from tests.fakes.vk import TOKEN

        session = redirected_session({"https://api.vk.ru/method/": f"{spec['url']}/method/"})
        client = VkClient(
            token=TOKEN,
            source_id="vk-wall",
            session=session,
            limiter=RateLimiter(0),
            backoff=Backoff(retries=0),
        )
        return VkWallSource(
            source_id="vk-wall",
            client=client,
            owner_id=-100001,
            page_size=3,
            now=lambda: NOW,
            execute_batch=spec.get("execute_batch", 25),
            comments_page_size=spec.get("comments_page", 100),
        )
    if network == "vk-search":
        from crawlers.vk import VkClient, VkNewsfeedSource
        from tests.fakes.base import redirected_session
        from tests.fakes.vk import TOKEN

        session = redirected_session({"https://api.vk.ru/method/": f"{spec['url']}/method/"})
        client = VkClient(
            token=TOKEN,
            source_id="vk-search",
            session=session,
            limiter=RateLimiter(0),
            backoff=Backoff(retries=0),
        )
        return VkNewsfeedSource(
            source_id="vk-search",
            client=client,
            queries=["нет", "яма"],
            latitude=51.73,
            longitude=36.19,
            page_size=2,
            now=lambda: NOW,
        )
    if network == "pos":
        import httpx

        from crawlers.pos import PosClient, PosMessagesSource

        token = json.loads(
            (Path(__file__).parent / "fixtures" / "pos_kursk.json").read_text(encoding="utf-8")
        )["token"]
        client = PosClient(
            base_url=spec["url"],
            token=token,
            source_id="pos",
            http=httpx.Client(timeout=60),
            limiter=RateLimiter(0),
            backoff=Backoff(retries=0),
        )
        return PosMessagesSource(
            source_id="pos", client=client, region_code="46", page_size=3, now=lambda: NOW
        )
    if network == "tg-preview":
        from crawlers.tg_preview import TgPreviewSource

        return TgPreviewSource(
            source_id="tg-preview",
            channels=["kursk_news"],
            base_url=spec["url"],
            lookback_days=7,
            max_pages=1,
            download_delay=0,
            now=lambda: NOW,
        )
    if network == "ok":
        import httpx

        from crawlers.ok import OkClient, OkGroupSource

        d = json.loads((Path(__file__).parent / "fixtures" / "ok_kursk.json").read_text(encoding="utf-8"))
        client = OkClient(
            application_key=d["application_key"],
            secret_key=d["application_secret_key"],
            access_token=d["access_token"],
            source_id="ok-group",
            api_url=f"{spec['url']}/fb.do",
            http=httpx.Client(timeout=60),
            limiter=RateLimiter(0),
            backoff=Backoff(retries=0),
        )
        return OkGroupSource(
            source_id="ok-group",
            client=client,
            gid="70000001234567",
            page_size=2,
            comments_page_size=2,
            now=lambda: NOW,
        )
    if network == "telegram":
        from crawlers.telegram import TelegramSource
        from tests.fakes.telegram import FakeTelegramClient

        tg = FakeTelegramClient()
        tg.block_at = spec.get("block_at")
        tg.block_marker = Path(spec["marker"]) if spec.get("marker") else None

        async def no_sleep(seconds: float) -> None:
            return None

        return TelegramSource(
            source_id="tg",
            client_factory=lambda: tg,
            channels=["kursk_info"],
            chats=["kursk_chat"],
            page_size=2,
            sleep=no_sleep,
        )
    raise SystemExit(f"unknown network {network!r}")


def main(spec: dict[str, Any]) -> None:
    from incidents.services.processing import crawl_adapter
    from storage.db import open_database

    engine = open_database(spec["db"])
    stats = crawl_adapter(engine, build(spec), lambda: NOW)
    print(json.dumps({"pages": stats.pages, "inserted": stats.inserted}))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
