"""A small threaded HTTP server for fakes: records every request, can fail or block on cue.

Each fake subclasses `FakeServer` and implements `handle(req) -> Reply`. Tests start it as a
context manager, read `requests` afterwards, and steer it with `block_on` (hold a request until
released, for the kill-midway tests).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import HTTPAdapter


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def params(self) -> dict[str, str]:
        return {**self.query, **self.form}

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Any = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


@dataclass
class Fault:
    """A network failure the fake plays on cue (`FakeServer.inject`)."""

    kind: str
    times: int
    status: int = 503
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    match: Any = None
    hits: int = 0


class _QuietServer(ThreadingHTTPServer):
    """A client that went away (a killed crawl) is not an error of the fake: no traceback for it."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError | OSError):
            return
        super().handle_error(request, client_address)


class FakeServer:
    """Subclass and implement `handle`; `upgrade(handler, req)` may take over the socket (websocket)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._blocks: list[tuple[Any, threading.Event]] = []
        self.faults: list[Fault] = []
        self.blocked = threading.Event()  # set when a request is being held
        self.stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                form: dict[str, str] = {}
                if "application/x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
                    form = {
                        k: v[-1] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()
                    }
                req = Request(
                    self.command,
                    parts.path,
                    {k: v[-1] for k, v in parse_qs(parts.query).items()},
                    form,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with fake._lock:
                    fake.requests.append(req)
                    n = len(fake.requests)
                if fake._apply_fault(self, req):
                    return
                for predicate, release in list(fake._blocks):
                    if predicate(req, n):
                        fake.blocked.set()
                        while not release.wait(0.05):
                            if fake.stopping.is_set():
                                return
                if self.headers.get("Upgrade", "").lower() == "websocket":
                    fake.upgrade(self, req)
                    self.close_connection = True
                    return
                reply = fake.handle(req)
                data = reply.payload()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(data)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    # -- steering
    def inject(
        self,
        kind: str,
        *,
        times: int = 1,
        status: int = 503,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
        match: Any = None,
    ) -> Fault:
        """Make the next `times` requests (those `match(req)` accepts) fail the way networks do.

        kind: "reset" (the connection is dropped before any answer), "status" (an HTTP error
        page with `status` and `headers`, e.g. 503, or 429 with Retry-After), "slow" (the
        right answer after `delay` seconds — beyond the client's timeout it is a timeout),
        "truncated" (the answer cut mid-body), "garbage" (200 with a proxy's HTML page)."""
        fault = Fault(kind, times, status, delay, dict(headers or {}), match)
        with self._lock:
            self.faults.append(fault)
        return fault

    def _apply_fault(self, handler: BaseHTTPRequestHandler, req: Request) -> bool:
        """Apply the first matching fault; True when the request was answered (or dropped) by it."""
        with self._lock:
            fault = next((f for f in self.faults if f.times > 0 and (f.match is None or f.match(req))), None)
            if fault is None:
                return False
            fault.times -= 1
            fault.hits += 1
        handler.close_connection = True
        if fault.kind == "slow":
            time.sleep(fault.delay)
            handler.close_connection = False
            return False  # then the real answer
        if fault.kind == "reset":
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return True  # closing with linger 0 sends RST
        if fault.kind == "truncated":
            data = json.dumps({"response": {"items": [{"id": 1, "text": "обрыв"}]}}).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data) * 2))
            handler.end_headers()
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return True
        body = (
            b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            if fault.kind == "garbage"
            else f"<html><body>HTTP {fault.status}</body></html>".encode()
        )
        handler.send_response(200 if fault.kind == "garbage" else fault.status)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")  # or a keep-alive client reuses a socket we close
        for k, v in fault.headers.items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(body)
        return True

    def block_on(self, predicate: Any) -> threading.Event:
        """Hold every request for which predicate(req, n) is true until the returned event is set."""
        release = threading.Event()
        self._blocks.append((predicate, release))
        return release

    def release_all(self) -> None:
        for _, release in self._blocks:
            release.set()
        self._blocks.clear()

    def calls(self, path_suffix: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith(path_suffix)]

    # -- to implement
    def handle(self, req: Request) -> Reply:
        raise NotImplementedError

    def upgrade(self, handler: BaseHTTPRequestHandler, req: Request) -> None:
        handler.send_error(400, "no websocket here")

    # -- lifecycle
    def start(self) -> FakeServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.release_all()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class RedirectAdapter(HTTPAdapter):
    """A transport adapter that sends requests for a real host's prefix to a local fake instead.

    Mounted on a `requests.Session` (for vk_api, whose base URL is fixed): everything above the
    transport is the real client.
    """

    def __init__(self, prefix: str, target: str) -> None:
        super().__init__()
        self.prefix, self.target = prefix, target.rstrip("/") + "/"

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        assert request.url and request.url.startswith(self.prefix), request.url
        request.url = self.target + request.url[len(self.prefix) :]
        return super().send(request, **kwargs)


def redirected_session(mapping: dict[str, str]) -> requests.Session:
    """A requests.Session whose given URL prefixes go to local fakes."""
    session = requests.Session()
    for prefix, target in mapping.items():
        session.mount(prefix, RedirectAdapter(prefix, target))
    return session
