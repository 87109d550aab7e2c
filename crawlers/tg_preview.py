"""Telegram public channel previews (https://t.me/s/<channel>) with Scrapy: no account needed.

The preview page lists a channel's latest posts (oldest first on the page) and a "more" link
`?before=<id>` to older ones. `TgPreviewSpider` parses each post: id (`data-post`), text, date
(`<time datetime>`), views ("1.2K" → 1200), author line, the edited mark; it follows
`?before=` until it reaches the last post already stored (`min_id`), the time window
(`since`), or `max_pages`. A 429 answer is retried by Scrapy; if it persists the source stops
for now. A page without a message history (a private or unknown channel) is skipped with the
reason.

Scrapy runs on Twisted, whose reactor cannot be restarted in a process, so every crawl runs in
a child process (`python -m crawlers.tg_preview`) that prints JSON lines; a Prefect flow can
call the adapter any number of times in one process.

Cursor, per channel: `min_id` (newest post stored) and, while a channel is being read from
the top down, the pass (`before`, `top`), so a crash resumes at the page it stopped on.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import scrapy
from w3lib.html import remove_tags, replace_entities

from crawlers.base import BadRecord, FetchResult, SourceNotConfigured, SourceStopped
from crawlers.errors import bad_record, since_ts
from incidents.interchange import PayloadError, parse_datetime
from incidents.records import PostRecord

log = logging.getLogger(__name__)
BASE_URL = "https://t.me"
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def parse_views(text: str | None) -> int:
    """'980' → 980, '1.2K' → 1200, '3.4M' → 3400000."""
    if not text:
        return 0
    text = text.strip().replace(",", ".")
    mult = {"K": 1_000, "M": 1_000_000}.get(text[-1:].upper(), 1)
    number = text[:-1] if mult > 1 else text
    try:
        return max(0, int(round(float(number) * mult)))
    except (ValueError, OverflowError):  # «nan», «inf», «1e999»
        return 0


def html_text(fragment: str) -> str:
    text = re.sub(r"<br\s*/?>", "\n", fragment, flags=re.I)
    return replace_entities(remove_tags(text)).strip()


class TgPreviewSpider(scrapy.Spider):
    name = "tg_preview"
    handle_httpstatus_list = [404, 429]
    custom_settings = {"ROBOTSTXT_OBEY": True}

    def __init__(self, channel: str, base_url: str = BASE_URL, before: int | None = None, min_id: int = 0,
                 since_ts: int = 0, max_pages: int = 5, **kw: Any) -> None:
        super().__init__(**kw)
        self.channel, self.base_url = channel, base_url.rstrip("/")
        self.before, self.min_id = (int(before) if before else None), int(min_id)
        self.since_ts, self.max_pages = int(since_ts), int(max_pages)
        self.pages = 0

    def _url(self, before: int | None) -> str:
        return f"{self.base_url}/s/{self.channel}" + (f"?before={before}" if before else "")

    async def start(self) -> Any:  # Scrapy ≥ 2.13
        yield scrapy.Request(self._url(self.before), callback=self.parse, dont_filter=True)

    def parse(self, response: Any, **kwargs: Any) -> Iterator[Any]:
        self.pages += 1
        if response.status == 429:
            yield {"kind": "error", "status": 429, "url": response.url,
                   "retry_after": response.headers.get("Retry-After", b"").decode() or None}
            return
        history = response.css("section.tgme_channel_history")
        if response.status == 404 or not history:
            yield {"kind": "skip", "url": response.url, "reason": f"no public preview of {self.channel!r} "
                   f"(HTTP {response.status})"}
            return
        ids: list[int] = []
        stop = False
        for msg in history.css("div.tgme_widget_message[data-post]"):
            item = self.parse_message(msg)
            if item.get("post_id") is not None:
                ids.append(item["post_id"])
                if item["post_id"] <= self.min_id:
                    stop = True
                    continue
            if item.get("ts") is not None and item["ts"] < self.since_ts:
                stop = True
                continue
            yield item
        more = response.css("a.tme_messages_more::attr(data-before)").get()
        next_before = int(more) if more and more.isdigit() else (min(ids) if ids else None)
        last = stop or not more or not ids or self.pages >= self.max_pages
        page_done = stop or not more or not ids
        yield {"kind": "page", "url": response.url, "ids": ids, "next_before": None if page_done else next_before,
               "finished": page_done}
        if not last:
            yield scrapy.Request(self._url(next_before), callback=self.parse, dont_filter=True)

    def parse_message(self, msg: Any) -> dict[str, Any]:
        data_post = msg.attrib.get("data-post", "")
        chan, _, pid = data_post.rpartition("/")
        raw_html = msg.get()
        if not pid.isdigit():
            return {"kind": "bad", "reason": f"data-post {data_post!r} has no post id", "html": raw_html[:5000]}
        when = msg.css("a.tgme_widget_message_date time::attr(datetime)").get()
        text_html = msg.css("div.tgme_widget_message_bubble > div.tgme_widget_message_text").get()
        item: dict[str, Any] = {
            "kind": "post", "channel": chan, "post_id": int(pid), "datetime": when,
            "text": html_text(re.sub(r"^<div[^>]*>|</div>$", "", text_html.strip())) if text_html else "",
            "views": parse_views(msg.css("span.tgme_widget_message_views::text").get()),
            "author": (msg.css("a.tgme_widget_message_owner_name span::text").get() or "").strip(),
            "edited": bool(msg.css(".tgme_widget_message_edited")) or "edited" in " ".join(
                msg.css("span.tgme_widget_message_meta::text").getall()),
            "url": msg.css("a.tgme_widget_message_date::attr(href)").get(),
        }
        try:
            item["ts"] = int(parse_datetime(when, "datetime").timestamp()) if when else None
        except PayloadError:
            item["ts"] = None
        if item["ts"] is None:
            return {"kind": "bad", "post_id": int(pid), "reason": f"post {data_post}: no <time datetime> in the "
                    "message footer", "html": raw_html[:5000]}
        return item


# --------------------------------------------------------------------------- the child process
def run_crawl(args: dict[str, Any]) -> None:
    """Run one spider crawl in this (fresh) process, printing items as JSON lines to stdout."""
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    settings = {
        "LOG_LEVEL": args.get("log_level", "WARNING"),
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "USER_AGENT": args.get("user_agent", "incident-monitor (+crawlers/README.md)"),
        "DOWNLOAD_DELAY": float(args.get("download_delay", 1.0)),
        "RETRY_TIMES": int(args.get("retry_times", 2)),
        "RETRY_HTTP_CODES": [429, 500, 502, 503, 504, 522, 524, 408],
        "DOWNLOAD_TIMEOUT": float(args.get("timeout", 30)),
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
    }
    process = CrawlerProcess(settings=settings)
    crawler = process.create_crawler(TgPreviewSpider)

    def emit(item: Any, response: Any, spider: Any) -> None:
        sys.stdout.write(json.dumps(dict(item), ensure_ascii=False) + "\n")
        sys.stdout.flush()

    crawler.signals.connect(emit, signal=signals.item_scraped)
    spider_args = {k: args[k] for k in ("channel", "base_url", "before", "min_id", "since_ts", "max_pages") if k in args}
    process.crawl(crawler, **spider_args)
    process.start()


def crawl_in_subprocess(args: dict[str, Any], timeout: float = 600) -> list[dict[str, Any]]:
    """One crawl in a child process (Twisted's reactor is not restartable); returns its items."""
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run([sys.executable, "-m", "crawlers.tg_preview", json.dumps(args)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=root)
    if proc.returncode != 0:
        raise RuntimeError(f"preview crawl of {args.get('channel')!r} failed (exit {proc.returncode}): "
                           f"{proc.stderr.strip()[-2000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip().startswith("{")]


# --------------------------------------------------------------------------- the adapter
class TgPreviewSource:
    def __init__(self, *, source_id: str, channels: list[str], base_url: str = BASE_URL, lookback_days: float = 3,
                 since: datetime | None = None, max_pages: int = 5, download_delay: float = 1.0,
                 crawl: Callable[[dict[str, Any]], list[dict[str, Any]]] = crawl_in_subprocess,
                 now: Clock = _now) -> None:
        self.source_id, self.channels, self.base_url = source_id, channels, base_url
        self.lookback_days, self.since, self.max_pages = lookback_days, since, max_pages
        self.download_delay, self.crawl, self.now = download_delay, crawl, now

    @classmethod
    def from_settings(cls, source_id: str, params: dict[str, Any], root: Path) -> TgPreviewSource:
        channels = [str(c).lstrip("@") for c in params.get("channels") or []]
        if not channels:
            raise SourceNotConfigured(f"telegram preview source {source_id!r}: params.channels is empty")
        since = params.get("since")
        since_dt = None
        if since:
                since_dt = datetime.fromtimestamp(since_ts(params) or 0, UTC)
        return cls(source_id=source_id, channels=channels, base_url=str(params.get("base_url", BASE_URL)),
                   lookback_days=float(params.get("lookback_days", 3)), since=since_dt,
                   max_pages=int(params.get("max_pages", 5)), download_delay=float(params.get("download_delay", 1.0)))

    def fetch(self, cursor: dict[str, Any] | None) -> FetchResult:
        cur: dict[str, Any] = json.loads(json.dumps(cursor or {}))
        chans = cur.setdefault("channels", {})
        pos = int(cur.get("pos", 0))
        if pos >= len(self.channels):
            cur.pop("pos", None)
            return FetchResult([], cur, [], done=True)
        channel = self.channels[pos]
        state = chans.setdefault(channel.lower(), {"min_id": 0})
        p = state.get("pass") or {"before": None, "top": state["min_id"]}
        since = self.since or (self.now() - timedelta(days=self.lookback_days))
        items = self.crawl({"channel": channel, "base_url": self.base_url, "before": p["before"],
                            "min_id": state["min_id"], "since_ts": int(since.timestamp()), "max_pages": self.max_pages,
                            "download_delay": self.download_delay})
        posts: list[PostRecord] = []
        bad: list[BadRecord] = []
        finished, next_before = False, p["before"]
        for it in items:
            kind = it.get("kind")
            if kind == "error":
                raise SourceStopped(f"{self.source_id}: t.me answered {it['status']} for {it['url']} "
                                    f"(retry after {it.get('retry_after') or '?'} s); resume later")
            if kind == "skip":
                bad.append(bad_record(f"preview {channel}", f"skipped: {it['reason']}", it))
                finished = True
            elif kind == "bad":
                bad.append(bad_record(f"preview {channel}", it["reason"], it.get("html", "")))
            elif kind == "post":
                try:
                    posts.append(self.record(it))
                except PayloadError as exc:
                    bad.append(bad_record(f"preview {channel}", str(exc), it))
            elif kind == "page":
                finished = finished or it["finished"]
                next_before = it["next_before"]
                p["top"] = max([p["top"], *it["ids"]])
        if finished or next_before is None:
            state["min_id"] = max(state["min_id"], p["top"])
            state.pop("pass", None)
            cur["pos"] = pos + 1
        else:
            state["pass"] = {"before": next_before, "top": p["top"]}
            cur["pos"] = pos
        return FetchResult(posts, cur, bad)

    def record(self, it: dict[str, Any]) -> PostRecord:
        chan = str(it.get("channel") or "").lower()
        if not chan:
            raise PayloadError("post without a channel name")
        return PostRecord(network="telegram", external_id=f"{chan}/{it['post_id']}", source_id=self.source_id,
                          text=it.get("text") or "", created_at=parse_datetime(it["datetime"], "datetime"),
                          url=it.get("url") or f"https://t.me/{chan}/{it['post_id']}", author_id=chan,
                          author_name=it.get("author") or None, views=int(it.get("views") or 0), raw=it)


if __name__ == "__main__":
    run_crawl(json.loads(sys.argv[1]))
