"""A small Kibana on 127.0.0.1: `/api/status` and the saved-objects import API, recorded.

Like Kibana, the import refuses a request without the `kbn-xsrf` header, needs a multipart body
with a `file` part, and answers `{success, successCount, successResults, errors}`. `not_ready`
makes the status endpoint answer 503 that many times first; `fail_objects` makes the import
report those objects as failed (missing references).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class ImportRequest:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    filename: str | None
    content: bytes

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.content.decode("utf-8").splitlines() if x.strip()]


class FakeKibana:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.imports: list[ImportRequest] = []
        self.not_ready = 0
        self.fail_objects: set[tuple[str, str]] = set()
        self.saved: dict[tuple[str, str], dict[str, Any]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = (
                True  # headers and body go out as two writes: no 40 ms delayed-ACK stalls
            )

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                fake.requests.append(("GET", parts.path, {k.lower(): v for k, v in self.headers.items()}))
                if parts.path == "/api/status":
                    if fake.not_ready > 0:
                        fake.not_ready -= 1
                        self._reply(503, {"status": {"overall": {"level": "unavailable"}}})
                        return
                    self._reply(
                        200,
                        {
                            "name": "fake-kibana",
                            "version": {"number": "9.1.0"},
                            "status": {"overall": {"level": "available"}},
                        },
                    )
                    return
                self._reply(404, {"statusCode": 404, "error": "Not Found"})

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = unquote(parts.path)
                fake.requests.append(("POST", path, headers))
                if not path.endswith("/api/saved_objects/_import"):
                    self._reply(404, {"statusCode": 404, "error": "Not Found"})
                    return
                if "kbn-xsrf" not in headers:
                    self._reply(
                        400,
                        {
                            "statusCode": 400,
                            "error": "Bad Request",
                            "message": "Request must contain a kbn-xsrf header.",
                        },
                    )
                    return
                ctype = headers.get("content-type", "")
                if not ctype.startswith("multipart/form-data"):
                    self._reply(415, {"statusCode": 415, "error": "Unsupported Media Type"})
                    return
                msg = BytesParser(policy=HTTP).parsebytes(
                    b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
                )
                part = next(
                    (
                        p
                        for p in msg.iter_parts()
                        if p.get_param("name", header="content-disposition") == "file"
                    ),
                    None,
                )
                if part is None:
                    self._reply(
                        400,
                        {
                            "statusCode": 400,
                            "error": "Bad Request",
                            "message": "[request body.file]: expected value",
                        },
                    )
                    return
                req = ImportRequest(
                    path,
                    {k: v[-1] for k, v in parse_qs(parts.query).items()},
                    headers,
                    part.get_filename(),
                    part.get_payload(decode=True) or b"",
                )
                fake.imports.append(req)
                ok, errors = [], []
                for obj in req.objects:
                    key = (obj.get("type"), obj.get("id"))
                    if key in fake.fail_objects:
                        errors.append(
                            {
                                "id": key[1],
                                "type": key[0],
                                "meta": {"title": obj["attributes"].get("title")},
                                "error": {
                                    "type": "missing_references",
                                    "references": [{"type": "index-pattern", "id": "missing"}],
                                },
                            }
                        )
                    else:
                        fake.saved[key] = obj  # type: ignore[index]
                        ok.append(
                            {"id": key[1], "type": key[0], "meta": {"title": obj["attributes"].get("title")}}
                        )
                result: dict[str, Any] = {
                    "success": not errors,
                    "successCount": len(ok),
                    "successResults": ok,
                }
                if errors:
                    result["errors"] = errors
                self._reply(200, result)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
