"""`python -m lab.screenshot [OUT.png] [--path /queue]`: the console as a person sees it, for the README.

Seeds a throw-away database with the bundled Kursk sample (as the browser tests do), serves the
console on a free local port, logs in as the regional administrator in headless Chromium
(Debian's /usr/bin/chromium through Playwright: `make browser`) and saves a screenshot.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

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


def main() -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright
    from pydantic import SecretStr

    from console.app import create_app
    from console.settings import ConsoleSettings
    from core.config import load_region
    from core.settings import PROJECT_ROOT
    from tests.console_seed import NOW, PASSWORD, seed

    ap = argparse.ArgumentParser(prog="python -m lab.screenshot")
    ap.add_argument("out", nargs="?", default=str(PROJECT_ROOT / "docs" / "console.png"))
    ap.add_argument("--path", default="/queue")
    args = ap.parse_args()
    cfg = load_region(PROJECT_ROOT / "config" / "regions" / "kursk")
    with tempfile.TemporaryDirectory() as tmp:
        engine = seed(Path(tmp) / "console.db", cfg)
        settings = ConsoleSettings(secret_key=SecretStr("screenshot-secret-0123456789abcdef"))
        app = create_app(engine, cfg, settings, now=lambda: NOW)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 860}, locale="ru-RU")
            page.goto(f"http://127.0.0.1:{port}/login")
            page.fill("input[name=login]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            page.goto(f"http://127.0.0.1:{port}{args.path}")
            page.wait_for_load_state()
            page.screenshot(path=args.out)
            browser.close()
        server.should_exit = True
    print(args.out)


if __name__ == "__main__":
    main()
