"""A small Elasticsearch on 127.0.0.1 for contract tests: a real HTTP server in a thread.

It answers the way Elasticsearch 9 does where our code depends on it — the product header,
cluster info, ILM policies, composable index templates applied when an index is created
(explicitly or by the first write), `dynamic: strict` mappings enforced on every document,
`_bulk` with per-item statuses, deletes answering 404 for missing documents, wildcard deletes
refused (`action.destructive_requires_name`) — and records every request it received.

Failures are scripted: `fail_item(doc_id, 429, 429)` rejects that document on the next two
bulk attempts, `reject_item(doc_id)` rejects it for good (a mapping error), and
`fail_requests("/_bulk", 503, times=1)` fails whole requests.
"""

from __future__ import annotations

import fnmatch
import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PRODUCT_HEADERS = {"X-Elastic-Product": "Elasticsearch"}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def lines(self) -> list[dict[str, Any]]:
        """The NDJSON lines of a _bulk body, parsed."""
        return [json.loads(x) for x in self.body.decode("utf-8").splitlines() if x.strip()]


@dataclass
class FakeIndex:
    settings: dict[str, Any]
    mappings: dict[str, Any]
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)


def _error(kind: str, reason: str) -> dict[str, Any]:
    return {"type": kind, "reason": reason}


def _check_value(spec: dict[str, Any], value: Any, path: str) -> str | None:
    kind = spec.get("type", "object")
    values = value if isinstance(value, list) else [value]
    for v in values:
        if v is None:
            continue
        if kind == "date":
            try:
                datetime.fromisoformat(str(v).replace("Z", "+00:00"))
            except ValueError:
                return f"failed to parse field [{path}] of type [date]"
        elif kind == "geo_point":
            if not (
                isinstance(v, dict)
                and set(v) == {"lat", "lon"}
                and -90 <= v["lat"] <= 90
                and -180 <= v["lon"] <= 180
            ):
                return f"failed to parse field [{path}] of type [geo_point]"
        elif kind in ("long", "integer"):
            if isinstance(v, bool) or not isinstance(v, int):
                return f"failed to parse field [{path}] of type [{kind}]"
        elif kind == "float":
            if isinstance(v, bool) or not isinstance(v, int | float):
                return f"failed to parse field [{path}] of type [float]"
        elif kind == "boolean":
            if not isinstance(v, bool):
                return f"failed to parse field [{path}] of type [boolean]"
        elif kind in ("keyword", "text"):
            if not isinstance(v, str):
                return f"failed to parse field [{path}] of type [{kind}]"
        elif kind == "object":
            if not isinstance(v, dict):
                return f"object mapping for [{path}] tried to parse a value"
            problem = _check_doc(spec.get("properties") or {}, v, path + ".", spec.get("dynamic"))
            if problem:
                return problem
    return None


def _check_doc(props: dict[str, Any], doc: dict[str, Any], prefix: str, dynamic: Any) -> str | None:
    for key, value in doc.items():
        spec = props.get(key)
        if spec is None:
            if dynamic == "strict":
                return f"mapping set to strict, dynamic introduction of [{prefix}{key}] is not allowed"
            continue
        problem = _check_value(spec, value, prefix + key)
        if problem:
            return problem
    return None


class FakeElasticsearch:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.indices: dict[str, FakeIndex] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        self.ilm: dict[str, dict[str, Any]] = {}
        self._item_failures: dict[str, list[int]] = defaultdict(list)
        self._item_rejects: dict[str, tuple[int, str, str]] = {}
        self._request_failures: list[list[Any]] = []
        self.search_response: dict[str, Any] | None = None
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = (
                True  # headers and body go out as two writes: no 40 ms delayed-ACK stalls
            )

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                rec = Recorded(
                    self.command,
                    unquote(parts.path),
                    {k: v[-1] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with fake._lock:
                    fake.requests.append(rec)
                    status, payload = fake._dispatch(rec)
                data = (
                    b"" if payload is None or self.command == "HEAD" else json.dumps(payload).encode("utf-8")
                )
                self.send_response(status)
                for k, v in PRODUCT_HEADERS.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/vnd.elasticsearch+json;compatible-with=9")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data:
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle  # noqa: N815 - http.server's names

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    # ------------------------------------------------------------------ control
    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def fail_item(self, doc_id: str, *statuses: int) -> None:
        """The next len(statuses) bulk attempts on this document fail with these statuses."""
        self._item_failures[doc_id].extend(statuses)

    def reject_item(
        self,
        doc_id: str,
        status: int = 400,
        kind: str = "document_parsing_exception",
        reason: str = "failed to parse",
    ) -> None:
        """Every attempt on this document fails for good."""
        self._item_rejects[doc_id] = (status, kind, reason)

    def fail_requests(self, path_contains: str, status: int, times: int = 1) -> None:
        self._request_failures.append([path_contains, status, times])

    def bulk_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/_bulk")]

    def doc(self, index: str, doc_id: str) -> dict[str, Any] | None:
        idx = self.indices.get(index)
        return None if idx is None else idx.docs.get(doc_id)

    def all_docs(self, pattern: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name in self._match(pattern):
            out.update(self.indices[name].docs)
        return out

    def reset_requests(self) -> None:
        self.requests.clear()

    # ------------------------------------------------------------------ behaviour
    def _match(self, expr: str) -> list[str]:
        names: list[str] = []
        for part in expr.split(","):
            if "*" in part:
                names += [n for n in self.indices if fnmatch.fnmatchcase(n, part)]
            elif part in self.indices:
                names.append(part)
        return sorted(set(names))

    def _template_for(self, name: str) -> dict[str, Any] | None:
        best = None
        for body in self.templates.values():
            if any(fnmatch.fnmatchcase(name, p) for p in body.get("index_patterns", [])) and (
                best is None or body.get("priority", 0) > best.get("priority", 0)
            ):
                best = body
        return best

    def _create(self, name: str) -> FakeIndex:
        tpl = (self._template_for(name) or {}).get("template") or {}
        idx = FakeIndex(
            settings=json.loads(json.dumps(tpl.get("settings") or {})),
            mappings=json.loads(json.dumps(tpl.get("mappings") or {})),
        )
        self.indices[name] = idx
        return idx

    def _dispatch(self, rec: Recorded) -> tuple[int, Any]:
        for rule in self._request_failures:
            if rule[2] > 0 and rule[0] in rec.path:
                rule[2] -= 1
                return rule[1], {
                    "error": _error("es_rejected_execution_exception", "scripted failure"),
                    "status": rule[1],
                }
        path, method = rec.path.rstrip("/") or "/", rec.method
        segs = [s for s in path.split("/") if s]
        if path == "/" and method in ("GET", "HEAD"):
            return 200, {
                "name": "fake",
                "cluster_name": "fake-cluster",
                "cluster_uuid": "fake-uuid",
                "version": {
                    "number": "9.1.0",
                    "build_flavor": "default",
                    "lucene_version": "10.2.0",
                    "minimum_wire_compatibility_version": "8.19.0",
                    "minimum_index_compatibility_version": "8.0.0",
                },
                "tagline": "You Know, for Search",
            }
        if segs[:2] == ["_ilm", "policy"] and method == "PUT":
            self.ilm[segs[2]] = rec.json
            return 200, {"acknowledged": True}
        if segs[:1] == ["_index_template"] and method == "PUT":
            self.templates[segs[1]] = rec.json
            return 200, {"acknowledged": True}
        if segs and segs[-1] == "_bulk":
            return self._bulk(rec, segs[0] if len(segs) == 2 else None)
        if segs and segs[-1] == "_search":
            return self._search(rec, segs[0] if len(segs) == 2 else "*")
        if segs and segs[-1] == "_refresh":
            return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
        if len(segs) == 1 and not segs[0].startswith("_"):
            return self._index_api(rec, segs[0])
        return 404, {"error": _error("fake_unsupported", f"{method} {path}"), "status": 404}

    def _index_api(self, rec: Recorded, name: str) -> tuple[int, Any]:
        if rec.method == "HEAD":
            return (200 if name in self.indices else 404), None
        if rec.method == "PUT":
            if name in self.indices:
                return 400, {
                    "error": _error("resource_already_exists_exception", f"index [{name}] already exists"),
                    "status": 400,
                }
            self._create(name)
            return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}
        if rec.method == "GET":
            names = self._match(name)
            if not names and "*" not in name and rec.query.get("ignore_unavailable") != "true":
                return 404, {
                    "error": _error("index_not_found_exception", f"no such index [{name}]"),
                    "status": 404,
                }
            return 200, {
                n: {"aliases": {}, "mappings": self.indices[n].mappings, "settings": self.indices[n].settings}
                for n in names
            }
        if rec.method == "DELETE":
            if "*" in name or name in ("_all",):
                return 400, {
                    "error": _error(
                        "illegal_argument_exception", "Wildcard expressions or all indices are not allowed"
                    ),
                    "status": 400,
                }
            missing = [n for n in name.split(",") if n not in self.indices]
            if missing:
                return 404, {
                    "error": _error("index_not_found_exception", f"no such index [{missing[0]}]"),
                    "status": 404,
                }
            for n in name.split(","):
                del self.indices[n]
            return 200, {"acknowledged": True}
        return 405, {"error": _error("method_not_allowed", rec.method), "status": 405}

    def _bulk(self, rec: Recorded, default_index: str | None) -> tuple[int, Any]:
        lines = rec.lines
        items: list[dict[str, Any]] = []
        i = 0
        while i < len(lines):
            action = lines[i]
            op, meta = next(iter(action.items()))
            source = lines[i + 1] if op in ("index", "create", "update") else None
            i += 2 if source is not None else 1
            index, doc_id = meta.get("_index") or default_index, str(meta.get("_id"))
            item: dict[str, Any] = {"_index": index, "_id": doc_id}
            pending = self._item_failures.get(doc_id)
            if pending:
                status = pending.pop(0)
                item.update(
                    status=status, error=_error("es_rejected_execution_exception", "scripted rejection")
                )
            elif doc_id in self._item_rejects:
                status, kind, reason = self._item_rejects[doc_id]
                item.update(status=status, error=_error(kind, reason))
            elif op == "delete":
                idx = self.indices.get(index)
                if idx is not None and doc_id in idx.docs:
                    del idx.docs[doc_id]
                    item.update(status=200, result="deleted")
                else:
                    item.update(status=404, result="not_found")
            else:
                idx = self.indices.get(index) or self._create(index)
                mp = idx.mappings
                problem = _check_doc(mp.get("properties") or {}, source or {}, "", mp.get("dynamic"))
                if problem:
                    kind = (
                        "strict_dynamic_mapping_exception"
                        if "strict" in problem
                        else "document_parsing_exception"
                    )
                    item.update(status=400, error=_error(kind, problem))
                else:
                    existed = doc_id in idx.docs
                    idx.docs[doc_id] = source or {}
                    item.update(status=200 if existed else 201, result="updated" if existed else "created")
            items.append({op: item})
        errors = any(next(iter(x.values()))["status"] >= 300 for x in items)
        return 200, {"took": 1, "errors": errors, "items": items}

    def _search(self, rec: Recorded, pattern: str) -> tuple[int, Any]:
        if self.search_response is not None:
            return 200, self.search_response
        body = rec.json or {}
        docs = self.all_docs(pattern)
        size = int(body.get("size", 10))
        hits = [
            {"_index": "fake", "_id": k, "_score": 1.0, "_source": v} for k, v in list(docs.items())[:size]
        ]
        return 200, {
            "took": 1,
            "timed_out": False,
            "hits": {"total": {"value": len(docs), "relation": "eq"}, "max_score": 1.0, "hits": hits},
        }
