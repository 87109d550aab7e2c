"""A fake https://t.me/s/<channel> on 127.0.0.1, serving a saved preview page in pages.

The saved page (tests/fixtures/telegram_preview_kursk_news.html) holds a channel's posts in
t.me's own markup; the fake cuts it into pages the way t.me does: the newest `page_size` posts
(oldest first on the page) with a `tme_messages_more` link `?before=<first id>` when older
posts exist. An unknown channel redirects to its plain page, which has no message history.
`/robots.txt` is a 404 (allow all). `throttle(n)` answers 429 with Retry-After n times; `cut(n)`
serves the next n pages cut in the middle of a post, properly framed (the Content-Length of what
is sent), as a proxy or a dying upstream does. The transport faults of `FakeServer.inject` (reset,
5xx, slow, cut mid-body, a proxy's page) apply as to every fake.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.fakes.base import FakeServer, Reply, Request

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "telegram_preview_kursk_news.html"
WRAP = '<div class="tgme_widget_message_wrap'


class FakeTgPreview(FakeServer):
    def __init__(self, page_size: int = 5) -> None:
        super().__init__()
        html = FIXTURE.read_text(encoding="utf-8")
        start, end = html.index(WRAP), html.index("</section>")
        self.head = html[:start].replace("<!-- MORE -->\n", "")
        self.tail = html[end:]
        self.posts: dict[str, dict[int, str]] = {"kursk_news": {}}
        for chunk in html[start:end].split(WRAP)[1:]:
            pid = int(re.search(r'data-post="[^/]+/(\d+)"', chunk).group(1))
            self.posts["kursk_news"][pid] = WRAP + chunk
        self.page_size = page_size
        self.throttled = 0
        self.cuts = 0

    def cut(self, times: int) -> None:
        self.cuts += times

    def throttle(self, times: int) -> None:
        self.throttled += times

    def add_post(self, channel: str, pid: int, when: str, text: str) -> None:
        template = next(iter(self.posts[channel].values()))
        html = re.sub(r'data-post="([^/]+)/\d+"', rf'data-post="\g<1>/{pid}"', template)
        html = re.sub(
            r'(<div class="tgme_widget_message_text js-message_text" dir="auto">).*?(</div>)',
            lambda m: m.group(1) + text + m.group(2),
            html,
            flags=re.S,
        )
        html = re.sub(r'datetime="[^"]+"', f'datetime="{when}"', html)
        html = re.sub(r'href="https://t.me/([^/"]+)/\d+"', rf'href="https://t.me/\g<1>/{pid}"', html)
        self.posts[channel][pid] = html

    def page_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.startswith("/s/")]

    def handle(self, req: Request) -> Reply:
        if req.path == "/robots.txt":
            return Reply(404, "Not Found", "text/plain")
        if self.throttled > 0 and req.path.startswith("/s/"):
            self.throttled -= 1
            return Reply(429, "Too Many Requests", "text/plain", {"Retry-After": "5"})
        if req.path.startswith("/s/"):
            channel = req.path[3:].strip("/")
            if channel not in self.posts:
                return Reply(302, "", "text/html", {"Location": f"/{channel}"})
            html = self.render(channel, req.query.get("before"))
            if self.cuts > 0:
                self.cuts -= 1
                last = html.rindex(
                    '<div class="tgme_widget_message_footer'
                )  # inside the newest post, before its time
                html = html[:last]
            return Reply(200, html, "text/html; charset=utf-8")
        # the plain channel page: no message history
        return Reply(
            200,
            '<html><body><div class="tgme_page"><div class="tgme_page_title">'
            '<span dir="auto">Канал</span></div></div></body></html>',
            "text/html; charset=utf-8",
        )

    def render(self, channel: str, before: str | None) -> str:
        ids = sorted(i for i in self.posts[channel] if before is None or i < int(before))
        page = ids[-self.page_size :]
        more = ""
        if page and ids[0] < page[0]:
            more = (
                f'<div class="tgme_widget_message_centered js-messages_more_wrap"><a href="/s/{channel}?before='
                f'{page[0]}" class="tme_messages_more js-messages_more" data-before="{page[0]}"></a></div>\n'
            )
        return self.head + more + "".join(self.posts[channel][i] for i in page) + self.tail
