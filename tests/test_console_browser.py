"""The console as a person uses it, in a real headless Chromium (Debian's `chromium`, driven by
Playwright for Python through `executable_path`; Playwright's own browser download is never used).

The journey: the administrator logs in, finds a new incident by searching the residents' words,
merges the other incident about the same pension office into it, assigns it to a body; that
body's executor answers from a template; the controller approves and publishes; the answer appears under the resident's post on the fake VK server, and
the SLA board the administrator left open changes its counters by itself.

Screenshots of the main pages are saved to `var/screenshots/` (or `CONSOLE_SCREENSHOTS`).
Skipped, not failed, where /usr/bin/chromium or Playwright is missing (`make browser` installs them).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlmodel import Session, col, select

from console.app import create_app
from console.settings import ConsoleSettings
from storage.models import Incident, IncidentPost, Post, Reply
from tests.conftest import FixedClock
from tests.console_seed import EXECUTOR_BODY, NOW, PASSWORD, ROOT, seed

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (make browser)"),
]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS") or ROOT / "var" / "screenshots")
SUDZHA = {
    "network": "vk",
    "external_id": "-200003_55",
    "source_id": "vk_sudzha",
    "parent_id": None,
    "url": "https://vk.com/wall-200003_55",
    "author_id": "7302",
    "author_name": "Николай Петрович",
    "text": "Суджа: пенсию по потере кормильца не начисляют уже два месяца, в Социальном фонде только "
    "разводят руками. Куда обращаться?",
    "created_at": "2026-11-22T15:00:00+03:00",
    "likes": 5,
    "reposts": 1,
    "views": 300,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory, kursk, kursk_builder) -> Iterator[dict]:  # noqa: ANN001
    """The seeded database, the fake VK, and the console served by uvicorn on a free local port."""
    import uvicorn

    from tests.fakes.vk import FakeVk
    from tests.workflow_scenario import fake_channels

    engine = seed(tmp_path_factory.mktemp("browser") / "console.db", kursk, kursk_builder, extra=[SUDZHA])
    vk = FakeVk().start()
    settings = ConsoleSettings(secret_key=SecretStr("browser-test-secret-0123456789"), live_seconds=1)
    app = create_app(engine, kursk, settings, now=FixedClock(NOW), channels=lambda: fake_channels(vk=vk))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the console did not start"
        time.sleep(0.05)
    try:
        yield {"engine": engine, "vk": vk, "base": f"http://127.0.0.1:{port}"}
    finally:
        server.should_exit = True
        thread.join(10)
        vk.stop()
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _page(browser, world, who: str):  # noqa: ANN001, ANN202
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="ru-RU")
    page = ctx.new_page()
    page.goto(world["base"] + "/login")
    page.fill("input[name=login]", who)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, f"{who} could not log in"
    return page


def _shot(page, name: str, full: bool = False) -> None:  # noqa: ANN001
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)


def _flash(page) -> str:  # noqa: ANN001
    return page.locator(".flash").inner_text()


def test_the_journey_from_a_new_incident_to_the_answer_under_the_residents_post(browser, world):  # noqa: ANN001
    engine, vk, base = world["engine"], world["vk"], world["base"]
    with Session(engine) as s:
        post = s.exec(select(Post).where(Post.external_id == SUDZHA["external_id"])).one()
        target = s.get(IncidentPost, post.id).incident_id
        other = next(
            i.id for i in s.exec(select(Incident).where(Incident.status == "new")).all() if i.id != target
        )

    # 1. the administrator: the queue opens with the new incidents on top
    admin = _page(browser, world, "admin")
    assert admin.url.endswith("/queue")
    first_rows = admin.locator("table.list tbody tr").all()[:2]
    assert all("новый" in r.inner_text() for r in first_rows)
    _shot(admin, "01-queue")
    # … finds the resident's message by its words in another form («пенсия» finds «пенсию»)
    admin.fill("input[name=q]", "пенсия кормилец")
    admin.press("input[name=q]", "Enter")
    admin.wait_for_load_state()
    admin.click(f'td.title a[href="/incidents/{target}"]')
    admin.wait_for_url(f"{base}/incidents/{target}")
    assert "Николай Петрович" in admin.inner_text(".posts")
    # … merges the other incident about the Social Fund's pensions into it
    admin.click("details.ops summary")
    admin.fill("#merge-form input[name=others]", str(other))
    admin.fill("#merge-form input[name=reason]", "одна клиентская служба Социального фонда")
    admin.click("#merge-form button[type=submit]")
    assert "Объединено" in _flash(admin)
    with Session(engine) as s:
        assert s.get(Incident, other).merged_into_id == target
    assert f"объединён из #{other}" in admin.inner_text(".card-head")
    # … and assigns it to a body
    admin.select_option("#assign-form select[name=body]", EXECUTOR_BODY)
    admin.fill("#assign-form input[name=reason]", "жалоба на работу учреждения — городская инспекция")
    admin.click("#assign-form button[type=submit]")
    assert "Назначен" in _flash(admin) and admin.url.endswith("/queue")  # on to the next one
    admin.goto(f"{base}/incidents/{target}")
    _shot(admin, "02-card-assigned", full=True)

    # the SLA board, left open: its counters refresh by themselves
    board = admin.context.new_page()
    board.goto(base + "/sla")
    answered_before = int(board.inner_text('[data-counter="answered_24h"]'))
    _shot(board, "03-sla-before")

    # 2. the body's executor answers from a template
    ex = _page(browser, world, "ivanova")
    assert ex.url.endswith("/inbox")
    _shot(ex, "04-inbox")
    ex.click(f'td.title a[href="/incidents/{target}"]')
    ex.click("form.row button[type=submit]")  # «Подставить шаблон»
    ex.wait_for_load_state()
    text = ex.input_value("#draft-form textarea")
    assert "Здравствуйте" in text or "здравствуйте" in text
    ex.click("#draft-form button[type=submit]")
    assert "подготовлен" in _flash(ex) and ex.url.endswith("/inbox")
    ex.goto(f"{base}/incidents/{target}")
    assert "черновик" in ex.inner_text(".answer")
    _shot(ex, "05-card-drafted", full=True)

    # 3. the controller approves and publishes to the original channel
    ctl = _page(browser, world, "control")
    ctl.goto(f"{base}/incidents/{target}")
    ctl.click('form[action$="/approve"] button')
    assert "утверждён" in _flash(ctl)
    ctl.click("#publish-form button[type=submit]")
    assert "отправлено: 1" in _flash(ctl)
    assert "отправлен" in ctl.inner_text(f"#post-{post.id} .replies")
    _shot(ctl, "06-card-published", full=True)

    # the answer is under the resident's post on VK, as the community, exactly once
    created = [
        c for c in vk.data.get("created_comments", []) if c["owner_id"] == -200003 and c["post_id"] == 55
    ]
    assert len(created) == 1 and "ЦУР Курской области" in created[0]["text"]
    with Session(engine) as s:
        row = s.exec(select(Reply).where(Reply.post_id == post.id)).one()
        assert row.status == "sent" and row.remote_id

    # the board the administrator left open shows one more answer within the day, without a reload
    from playwright.sync_api import expect

    expect(board.locator('[data-counter="answered_24h"]')).to_have_text(
        str(answered_before + 1), timeout=10_000
    )
    _shot(board, "07-sla-after")
    for name, url in (("08-map", "/map?period=30"), ("09-ratings", "/ratings")):
        admin.goto(base + url)
        _shot(admin, name)
    print(f"screenshots: {SHOTS}")


def test_an_executor_typing_another_bodys_url_gets_nothing(browser, world):  # noqa: ANN001
    with Session(world["engine"]) as s:
        theirs = s.exec(
            select(Incident).where(
                Incident.body_code != EXECUTOR_BODY, col(Incident.merged_into_id).is_(None)
            )
        ).first()
    ex = _page(browser, world, "ivanova")
    resp = ex.goto(f"{world['base']}/incidents/{theirs.id}")
    assert resp.status == 404 and theirs.title not in ex.content()


def test_a_script_in_a_post_does_not_run(browser, world):  # noqa: ANN001
    """A crafted post in the page: no dialog opens, no console error from our page, the text is shown as text."""
    with Session(world["engine"], expire_on_commit=False) as s, s.begin():
        p = s.exec(select(Post).where(Post.external_id == SUDZHA["external_id"])).one()
        p.text = (
            SUDZHA["text"]
            + " <script>window.__pwned = 1; alert('xss')</script><img src=x onerror=\"window.__pwned=2\">"
        )
        p.url = "javascript:window.__pwned=3"
        iid = s.get(IncidentPost, p.id).incident_id
    admin = _page(browser, world, "admin")
    dialogs: list[str] = []
    admin.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    admin.goto(f"{world['base']}/incidents/{iid}")
    admin.wait_for_timeout(300)
    assert dialogs == [] and admin.evaluate("window.__pwned") is None
    assert "<script>window.__pwned" in admin.inner_text(f"#post-{p.id} .text")
    assert admin.locator(f"#post-{p.id} a.orig").count() == 0


def test_the_map_draws_every_municipality_and_a_click_opens_its_queue(browser, world):  # noqa: ANN001
    """Issue 18: the choropleth as Chromium renders it — 33 filled polygons with a visible size,
    the attribution on screen, and a click where the district's label is (not merely on the
    element) lands in the queue filtered by that district."""
    from playwright.sync_api import expect

    from console import geo
    from core.config import load_region

    page = _page(browser, world, "admin")
    page.goto(world["base"] + "/map?period=30")
    shapes = page.locator("figure.map a.muni path")
    expect(shapes).to_have_count(33)
    for i in range(33):
        box = shapes.nth(i).bounding_box()
        assert box is not None and box["width"] > 2 and box["height"] > 2
    expect(page.locator("figure.map text.attr")).to_have_text("© OpenStreetMap contributors")
    expect(page.locator("figure.map text.lbl").first).to_be_visible()
    page.locator("figure.map").screenshot(path=str(SHOTS / "10-map-figure.png"))
    _shot(page, "10-map", full=True)

    # click inside Фатежский район, at the point its label is drawn, in screen coordinates
    cfg = load_region(ROOT / "config" / "regions" / "kursk")
    bounds = cfg.boundaries()
    assert bounds is not None
    proj, _ = geo.outlines(bounds)
    at = bounds.label_point("fatezhsky")
    assert at is not None
    x, y = proj.raw(*at)
    svg = page.locator("figure.map > svg").bounding_box()
    assert svg is not None
    page.mouse.click(svg["x"] + x * svg["width"] / geo.WIDTH, svg["y"] + y * svg["height"] / geo.HEIGHT)
    page.wait_for_url("**/queue?municipality=fatezhsky*")
    expect(page.locator("select[name=municipality]")).to_have_value("fatezhsky")
