"""Telegram public channel previews (https://t.me/s/<channel>) with Scrapy: no account needed.

The preview page lists a channel's latest posts (oldest first on the page) and a "more" link
`?before=<id>` to older ones. `TgPreviewSpider` parses each post: id (`data-post`), text, date
(`<time datetime>`), views ("1.2K" → 1200), author line, the edited mark; it follows
`?before=` until it reaches the last post already stored (`min_id`), the time window
(`since`), or `max_pages`. A page of t.me without a message history (a private or unknown
channel) is skipped with the reason.

Network faults are the adapter's to retry, with the shared back-off (`crawlers.errors.Backoff`):
the spider never retries by itself (Scrapy's retry middleware is off) but reports a failed page
— a 5xx, a 408, a 429 (with its Retry-After, honoured up to the back-off's ceiling), a dropped
or timed-out connection, an answer cut mid-body, a page cut short of `</html>`, a page that is
not t.me's at all (a proxy's error page) — as an `error` item after the pages it did read. The
adapter keeps those pages (the cursor moves past them only) and crawls again from the failed
page after the back-off; after `backoff.retries` tries in a row with nothing read the source
stops (`SourceStopped`) with its cursor at the last stored page.

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

from core.interchange import PayloadError, parse_datetime
from core.records import PostRecord
from crawlers.base import BadRecord, FetchResult, SourceNotConfigured, SourceStopped
from crawlers.errors import Backoff, bad_record, since_ts

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


TRANSIENT_STATUSES = [408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524]


class TgPreviewSpider(scrapy.Spider):
    name = "tg_preview"
    handle_httpstatus_list = [404, *TRANSIENT_STATUSES]  # answered to `parse`, which reports them
    custom_settings = {"ROBOTSTXT_OBEY": True}

    def __init__(
        self,
        channel: str,
        base_url: str = BASE_URL,
        before: int | None = None,
        min_id: int = 0,
        since_ts: int = 0,
        max_pages: int = 5,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.channel, self.base_url = channel, base_url.rstrip("/")
        self.before, self.min_id = (int(before) if before else None), int(min_id)
        self.since_ts, self.max_pages = int(since_ts), int(max_pages)
        self.pages = 0

    def _url(self, before: int | None) -> str:
        return f"{self.base_url}/s/{self.channel}" + (f"?before={before}" if before else "")

    def _request(self, before: int | None) -> scrapy.Request:
        return scrapy.Request(self._url(before), callback=self.parse, errback=self.failed, dont_filter=True)

    async def start(self) -> Any:  # Scrapy ≥ 2.13
        yield self._request(self.before)

    def failed(self, failure: Any) -> Iterator[dict[str, Any]]:
        """The page could not be fetched (connection refused or reset, timeout, answer cut mid-body)."""
        exc = failure.value
        reason = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        yield {
            "kind": "error",
            "status": None,
            "url": failure.request.url,
            "reason": reason[:500],
            "retry_after": None,
        }

    def parse(self, response: Any, **kwargs: Any) -> Iterator[Any]:
        self.pages += 1
        if response.status in TRANSIENT_STATUSES:
            yield {
                "kind": "error",
                "status": response.status,
                "url": response.url,
                "reason": f"t.me answered {response.status}",
                "retry_after": response.headers.get("Retry-After", b"").decode() or None,
            }
            return
        if response.status == 200 and not re.search(rb"</html>\s*$", response.body[-4096:], re.I):
            yield {
                "kind": "error",
                "status": 200,
                "url": response.url,
                "retry_after": None,
                "reason": f"the page is cut short ({len(response.body)} bytes, no </html>)",
            }
            return
        history = response.css("section.tgme_channel_history")
        if (
            response.status == 200
            and not history
            and not response.css(".tgme_page, .tgme_main, .tgme_page_wrap")
        ):
            yield {
                "kind": "error",
                "status": 200,
                "url": response.url,
                "retry_after": None,
                "reason": "not a t.me page (a proxy's or an error page?)",
            }
            return
        if response.status == 404 or not history:
            yield {
                "kind": "skip",
                "url": response.url,
                "reason": f"no public preview of {self.channel!r} (HTTP {response.status})",
            }
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
        yield {
            "kind": "page",
            "url": response.url,
            "ids": ids,
            "next_before": None if page_done else next_before,
            "finished": page_done,
        }
        if not last:
            yield self._request(next_before)

    def parse_message(self, msg: Any) -> dict[str, Any]:
        data_post = msg.attrib.get("data-post", "")
        chan, _, pid = data_post.rpartition("/")
        raw_html = msg.get()
        if not pid.isdigit():
            return {
                "kind": "bad",
                "reason": f"data-post {data_post!r} has no post id",
                "html": raw_html[:5000],
            }
        when = msg.css("a.tgme_widget_message_date time::attr(datetime)").get()
        text_html = msg.css("div.tgme_widget_message_bubble > div.tgme_widget_message_text").get()
        item: dict[str, Any] = {
            "kind": "post",
            "channel": chan,
            "post_id": int(pid),
            "datetime": when,
            "text": html_text(re.sub(r"^<div[^>]*>|</div>$", "", text_html.strip())) if text_html else "",
            "views": parse_views(msg.css("span.tgme_widget_message_views::text").get()),
            "author": (msg.css("a.tgme_widget_message_owner_name span::text").get() or "").strip(),
            "edited": bool(msg.css(".tgme_widget_message_edited"))
            or "edited" in " ".join(msg.css("span.tgme_widget_message_meta::text").getall()),
            "url": msg.css("a.tgme_widget_message_date::attr(href)").get(),
        }
        try:
            item["ts"] = int(parse_datetime(when, "datetime").timestamp()) if when else None
        except PayloadError:
            item["ts"] = None
        if item["ts"] is None:
            return {
                "kind": "bad",
                "post_id": int(pid),
                "reason": f"post {data_post}: no <time datetime> in the message footer",
                "html": raw_html[:5000],
            }
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
        "RETRY_ENABLED": False,  # the adapter retries a failed page, with back-off (crawlers.errors.Backoff)
        "DOWNLOAD_TIMEOUT": float(args.get("timeout", 30)),
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
    }
    process = CrawlerProcess(settings=settings)
    crawler = process.create_crawler(TgPreviewSpider)

    def emit(item: Any, response: Any, spider: Any) -> None:
        sys.stdout.write(json.dumps(dict(item), ensure_ascii=False) + "\n")
        sys.stdout.flush()

    crawler.signals.connect(emit, signal=signals.item_scraped)
    spider_args = {
        k: args[k] for k in ("channel", "base_url", "before", "min_id", "since_ts", "max_pages") if k in args
    }
    process.crawl(crawler, **spider_args)
    process.start()


def crawl_in_subprocess(args: dict[str, Any], timeout: float = 600) -> list[dict[str, Any]]:
    """One crawl in a child process (Twisted's reactor is not restartable); returns its items."""
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run(
        [sys.executable, "-m", "crawlers.tg_preview", json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=root,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"preview crawl of {args.get('channel')!r} failed (exit {proc.returncode}): "
            f"{proc.stderr.strip()[-2000:]}"
        )
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip().startswith("{")]


# --------------------------------------------------------------------------- the adapter
def _seconds(value: Any) -> float | None:
    try:
        return max(0.0, float(value)) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class TgPreviewSource:
    def __init__(
        self,
        *,
        source_id: str,
        channels: list[str],
        base_url: str = BASE_URL,
        lookback_days: float = 3,
        since: datetime | None = None,
        max_pages: int = 5,
        download_delay: float = 1.0,
        timeout: float = 30.0,
        crawl: Callable[[dict[str, Any]], list[dict[str, Any]]] = crawl_in_subprocess,
        now: Clock = _now,
        backoff: Backoff | None = None,
    ) -> None:
        self.source_id, self.channels, self.base_url = source_id, channels, base_url
        self.lookback_days, self.since, self.max_pages = lookback_days, since, max_pages
        self.download_delay, self.timeout, self.crawl, self.now = download_delay, timeout, crawl, now
        self.backoff = backoff or Backoff()

    @classmethod
    def from_settings(cls, source_id: str, params: dict[str, Any], root: Path) -> TgPreviewSource:
        channels = [str(c).lstrip("@") for c in params.get("channels") or []]
        if not channels:
            raise SourceNotConfigured(f"telegram preview source {source_id!r}: params.channels is empty")
        since = params.get("since")
        since_dt = None
        if since:
            since_dt = datetime.fromtimestamp(since_ts(params) or 0, UTC)
        return cls(
            source_id=source_id,
            channels=channels,
            base_url=str(params.get("base_url", BASE_URL)),
            lookback_days=float(params.get("lookback_days", 3)),
            since=since_dt,
            max_pages=int(params.get("max_pages", 5)),
            download_delay=float(params.get("download_delay", 1.0)),
            timeout=float(params.get("timeout", 30)),
        )

    def fetch(self, cursor: dict[str, Any] | None) -> FetchResult:
        cur: dict[str, Any] = json.loads(json.dumps(cursor or {}))
        chans = cur.setdefault("channels", {})
        pos = int(cur.get("pos", 0))
        if pos >= len(self.channels):
            cur.pop("pos", None)
            return FetchResult([], cur, [], done=True)
        channel = self.channels[pos]
        state = chans.setdefault(channel.lower(), {"min_id": 0})
        since = self.since or (self.now() - timedelta(days=self.lookback_days))
        attempt = 0
        while True:
            p = dict(state.get("pass") or {"before": None, "top": state["min_id"]})
            items = self.crawl(
                {
                    "channel": channel,
                    "base_url": self.base_url,
                    "before": p["before"],
                    "min_id": state["min_id"],
                    "since_ts": int(since.timestamp()),
                    "max_pages": self.max_pages,
                    "download_delay": self.download_delay,
                    "timeout": self.timeout,
                }
            )
            posts, bad, pages, finished, error = self._read(channel, items, p)
            if error is None and not pages and not finished:  # the spider ended without a word on the page
                error = {"reason": "the crawl read no page", "url": self.base_url, "retry_after": None}
            if error is None or pages:
                break  # done, or pages read before the failure: store them; the next fetch retries the rest
            if attempt >= self.backoff.retries:
                raise SourceStopped(
                    f"{self.source_id}: {error['reason']} for {error['url']}: still failing after "
                    f"{attempt + 1} tries; resume from the stored cursor later"
                )
            delay = self.backoff.delay(attempt)
            asked = _seconds(error.get("retry_after"))
            if asked is not None:  # the server's word, within the back-off's ceiling
                delay = min(self.backoff.maximum, max(delay, asked))
            log.warning(
                "%s: %s for %s; retry in %.1f s", self.source_id, error["reason"], error["url"], delay
            )
            self.backoff.sleep(delay)
            attempt += 1
        if finished:
            state["min_id"] = max(state["min_id"], p["top"])
            state.pop("pass", None)
            cur["pos"] = pos + 1
        else:  # more pages to read (or a page failed after some were read): go on from the last one read
            state["pass"] = {"before": p["before"], "top": p["top"]}
            cur["pos"] = pos
        return FetchResult(posts, cur, bad)

    def _read(
        self, channel: str, items: list[dict[str, Any]], p: dict[str, Any]
    ) -> tuple[list[PostRecord], list[BadRecord], int, bool, dict[str, Any] | None]:
        """The crawl's items: the posts and bad records of the pages read, how many pages, whether the
        channel is finished, and the failure that ended the crawl (None if none). `p` (the pass) moves
        to the page after the last one read."""
        posts: list[PostRecord] = []
        bad: list[BadRecord] = []
        pages, finished, error = 0, False, None
        for it in items:
            kind = it.get("kind")
            if kind == "error":
                error = it
                break
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
                pages += 1
                finished = finished or it["finished"]
                p["before"] = it["next_before"]
                p["top"] = max([p["top"], *it["ids"]])
        return posts, bad, pages, finished, error

    def record(self, it: dict[str, Any]) -> PostRecord:
        chan = str(it.get("channel") or "").lower()
        if not chan:
            raise PayloadError("post without a channel name")
        return PostRecord(
            network="telegram",
            external_id=f"{chan}/{it['post_id']}",
            source_id=self.source_id,
            text=it.get("text") or "",
            created_at=parse_datetime(it["datetime"], "datetime"),
            url=it.get("url") or f"https://t.me/{chan}/{it['post_id']}",
            author_id=chan,
            author_name=it.get("author") or None,
            views=int(it.get("views") or 0),
            raw=it,
        )


if __name__ == "__main__":
    run_crawl(json.loads(sys.argv[1]))
