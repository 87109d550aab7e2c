"""VK's official JSON Schema (VKCOM/vk-api-schema, MIT) as a validator of our fake's answers.

The fake VK (`tests.fakes.vk`) was written by the same hands as our client; validating every
answer it serves against VK's own schema is what keeps the two from sharing a wrong idea of
the wire format (issue 23). The schema lives outside the repository, in
`../shared/api/vk-api-schema` next to the checkout (`SCHEMA_DIR`); without it the validation is
off and `tests/test_vk_schema.py` skips, saying so.

Two adaptations, both mechanical and explained where they are made:

* the schema writes `"required": true` inside a property (draft-03 style) while declaring
  draft-07; draft-07 validators ignore (or crash on) that form, so each such flag is moved into
  the parent's `required` list, which is what the schema's authors meant;
* `inner_type` (on `base_error`, `wall_wallpost_full`…) is a code generator's discriminator
  that VK never sends, so it is not required of the fake either.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = ROOT.parent / "shared" / "api" / "vk-api-schema"
BASE = "https://vk-api-schema.local/"


def available() -> bool:
    return (SCHEMA_DIR / "errors.json").is_file() and (SCHEMA_DIR / "wall" / "methods.json").is_file()


def _normalise(node: Any) -> Any:
    """Move draft-03 `"required": true` flags of properties into their parent's `required` list."""
    if isinstance(node, list):
        return [_normalise(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _normalise(v) for k, v in node.items()}
    if isinstance(out.get("required"), bool):
        del out["required"]
    props = node.get("properties")
    if isinstance(props, dict):
        flagged = [k for k, v in props.items() if isinstance(v, dict) and v.get("required") is True]
        if flagged:
            have = node.get("required") if isinstance(node.get("required"), list) else []
            out["required"] = [r for r in dict.fromkeys([*have, *flagged]) if r != "inner_type"]
    return out


@cache
def _registry() -> Any:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    resources = []
    for path in sorted(SCHEMA_DIR.glob("*/*.json")):
        contents = _normalise(json.loads(path.read_text(encoding="utf-8")))
        uri = BASE + path.relative_to(SCHEMA_DIR).as_posix()
        resources.append((uri, Resource.from_contents(contents, default_specification=DRAFT7)))
    return Registry().with_resources(resources)


@cache
def _errors() -> dict[str, dict[str, Any]]:
    return json.loads((SCHEMA_DIR / "errors.json").read_text(encoding="utf-8"))["errors"]


@cache
def _method(name: str) -> dict[str, Any] | None:
    section = name.split(".", 1)[0]
    path = SCHEMA_DIR / section / "methods.json"
    if not path.is_file():
        return None
    return next((m for m in json.loads(path.read_text("utf-8"))["methods"] if m["name"] == name), None)


def _validate(ref: str, instance: Any, tolerated: Sequence[tuple[Any, ...]] = ()) -> list[str]:
    """Schema problems of `instance`, except inside the items a fixture breaks on purpose."""
    from jsonschema import Draft7Validator

    validator = Draft7Validator({"$ref": ref}, registry=_registry())
    out = []
    for e in validator.iter_errors(instance):
        path = tuple(e.absolute_path)
        if any(path[: len(t)] == t for t in tolerated):
            continue
        out.append(f"{'/'.join(str(p) for p in path) or '(top)'}: {e.message[:300]}")
    return out


def _response_ref(method: str, params: dict[str, Any]) -> str | None:
    spec = _method(method)
    if spec is None:
        return None
    responses = spec.get("responses") or {}
    key = "extendedResponse" if str(params.get("extended", "0")) == "1" else "response"
    chosen = responses.get(key) or responses.get("response")
    if chosen is None:
        return None
    return _absolute(method, chosen["$ref"])


def _absolute(method: str, ref: str) -> str:
    """A methods.json `$ref` (`../wall/responses.json#/…`) as an absolute URI in the registry."""
    from urllib.parse import urljoin

    return urljoin(BASE + f"{method.split('.', 1)[0]}/methods.json", ref)


def check_error(method: str, error: Any) -> list[str]:
    """An error answer: the shape of VK's `base_error`, and a code VK documents for this method
    (its own `errors` list in methods.json) or for every method (`global` in errors.json)."""
    problems = _validate(BASE + "base/objects.json#/definitions/base_error", error)
    code = error.get("error_code") if isinstance(error, dict) else None
    known = {v["code"]: (k, v) for k, v in _errors().items()}
    if code not in known:
        return [*problems, f"error_code {code} is not in VK's errors.json"]
    spec = _method(method) or {}
    listed = {ref["$ref"].rsplit("/", 1)[-1] for ref in spec.get("errors") or []}
    name, entry = known[code]
    if not entry.get("global") and name not in listed:
        problems.append(f"error {code} ({name}) is not documented for {method}")
    return problems


def check(
    method: str, params: dict[str, Any], body: Any, tolerated: Sequence[tuple[Any, ...]] = ()
) -> list[str]:
    """Problems of one answer of the fake to `method(params)`; [] when it matches VK's schema.

    `tolerated`: paths (as jsonschema reports them) of items broken on purpose."""
    if isinstance(body, dict) and "error" in body:
        return [f"{method}: {p}" for p in check_error(method, body["error"])]
    if method == "execute":
        return _check_execute(params, body, tolerated)
    if method not in _METHODS_OF_SCHEMA():
        return [f"{method}: no such method in VK's schema"]
    ref = _response_ref(method, params)
    if ref is None:
        return [f"{method}: VK's schema has no response for it"]
    return [f"{method}: {p}" for p in _validate(ref, body, tolerated)]


def _check_execute(params: dict[str, Any], body: Any, tolerated: Sequence[tuple[Any, ...]]) -> list[str]:
    """`execute`: each call's result against that method's response, each failure as an error."""
    from tests.fakes.vk import parse_vkscript

    calls = parse_vkscript(str(params.get("code", ""))) or []
    results = body.get("response") if isinstance(body, dict) else None
    if not isinstance(results, list) or len(results) != len(calls):
        return [f"execute: expected a list of {len(calls)} results, got {results!r:.200}"]
    problems: list[str] = []
    for i, ((method, args), result) in enumerate(zip(calls, results, strict=True)):
        if result is not False:
            mine = [("response", *t[2:]) for t in tolerated if t[:2] == ("response", i)]
            problems += check(method, args, {"response": result}, mine)
    for err in body.get("execute_errors") or []:
        problems += [f"execute: {p}" for p in check_error(str(err.get("method", "")), err)]
    return problems


@cache
def _METHODS_OF_SCHEMA() -> frozenset[str]:  # noqa: N802 - a constant computed once
    names: set[str] = set()
    for path in SCHEMA_DIR.glob("*/methods.json"):
        names |= {m["name"] for m in json.loads(path.read_text("utf-8"))["methods"]}
    return frozenset(names)
