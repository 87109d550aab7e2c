"""The interchange JSONL contract: one post per line.

Fields: network, external_id, source_id, parent_id, url, author_id, author_name, text,
created_at (ISO 8601 with offset), likes, reposts, views, and (since 2026-12-07) the place the
platform gives: address (a string), lat and lon (WGS84 degrees, both or neither). Unknown fields
are kept in the raw payload. A malformed line never stops an import: it is returned as a `BadLine` with the file,
the line number and the reason, so the caller can quarantine it and go on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Literal, overload

from core.config import NETWORKS
from core.records import PostRecord

REQUIRED = ("network", "external_id", "source_id", "text", "created_at")
OPTIONAL_STR = ("parent_id", "url", "author_id", "author_name")
COUNTERS = ("likes", "reposts", "views")
PLACE = ("address", "lat", "lon")
FIELDS = REQUIRED + OPTIONAL_STR + COUNTERS + PLACE
ADDRESS_MAX = 1000  # characters of an address line; a longer one is not an address
RANGES = {"lat": 90.0, "lon": 180.0}
MAX_LINE_BYTES = 16 * 1024 * 1024
KEEP_LINE_BYTES = 1024 * 1024  # of a bad line, kept in the quarantine


class PayloadError(ValueError):
    """A payload does not follow the contract; the message says which field and why."""


@dataclass(slots=True)
class BadLine:
    origin: str  # file name or "<stdin>"
    line_no: int
    reason: str
    payload: str

    def __str__(self) -> str:
        return f"{self.origin}:{self.line_no}: {self.reason}"


def parse_datetime(value: Any, field_name: str = "created_at") -> datetime:
    if not isinstance(value, str):
        raise PayloadError(f"{field_name}: expected an ISO 8601 string, got {type(value).__name__}")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PayloadError(f"{field_name}: unparseable date {value!r}") from exc
    if dt.tzinfo is None:
        raise PayloadError(f"{field_name}: {value!r} has no UTC offset")
    try:
        dt.astimezone(UTC)  # «0001-01-01T00:00+01:00» parses, but has no UTC time: storing it would fail
    except OverflowError as exc:
        raise PayloadError(f"{field_name}: {value!r} is out of range") from exc
    return dt


@overload
def _id(obj: dict[str, Any], name: str, required: Literal[True]) -> str: ...
@overload
def _id(obj: dict[str, Any], name: str, required: Literal[False]) -> str | None: ...
def _id(obj: dict[str, Any], name: str, required: bool) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise PayloadError(f"missing field {name!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(f"{name}: expected a string, got {type(value).__name__}")
    value = str(value).strip()
    if required and not value:
        raise PayloadError(f"{name}: empty")
    return value or None


def _counter(obj: dict[str, Any], name: str) -> int:
    value = obj.get(name, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{name}: expected a whole number, got {type(value).__name__} {value!r}")
    if value < 0:
        raise PayloadError(f"{name}: negative ({value})")
    return value


def _address(obj: dict[str, Any]) -> str | None:
    value = obj.get("address")
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"address: expected a string, got {type(value).__name__}")
    value = " ".join(value.replace("\x00", "").split())
    if len(value) > ADDRESS_MAX:
        raise PayloadError(f"address: longer than {ADDRESS_MAX} characters")
    return value or None


def _degrees(obj: dict[str, Any], name: str) -> float | None:
    value = obj.get(name)
    if value is None:
        return None
    # a string «51.73» is refused, not read: the contract says numbers, as for the counters, and
    # a platform that quotes them may also write «51,73» or «51°43′»; the line is quarantined
    # whole, and `incidents quarantine retry` replays it after a fix
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"{name}: expected a number of degrees, got {type(value).__name__} {value!r}")
    limit = RANGES[name]
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise PayloadError(f"{name}: {value!r} is not between {-limit:g} and {limit:g}")
    return float(value)


def point_of(obj: dict[str, Any]) -> tuple[float, float] | tuple[None, None]:
    """(lat, lon) of a payload, both or neither: half a point is no place, and a point with the
    other half lost is more likely a mistake of the sender than a meridian."""
    lat, lon = _degrees(obj, "lat"), _degrees(obj, "lon")
    if (lat is None) != (lon is None):
        given, missing = ("lat", "lon") if lon is None else ("lon", "lat")
        raise PayloadError(f"{given} given without {missing}: a point needs both or neither")
    if lat is None or lon is None:
        return None, None
    return lat, lon


def post_from_dict(obj: Any) -> PostRecord:
    """Validate one interchange object; raises PayloadError with a precise reason."""
    if not isinstance(obj, dict):
        raise PayloadError(f"expected a JSON object, got {type(obj).__name__}")
    network = obj.get("network")
    if network not in NETWORKS:
        raise PayloadError(f"network: {network!r} is not one of {', '.join(NETWORKS)}")
    text = obj.get("text")
    if text is None:
        raise PayloadError("missing field 'text'")
    if not isinstance(text, str):
        raise PayloadError(f"text: expected a string, got {type(text).__name__}")
    if "created_at" not in obj:
        raise PayloadError("missing field 'created_at'")
    lat, lon = point_of(obj)
    return PostRecord(
        network=network,
        external_id=_id(obj, "external_id", True),
        source_id=_id(obj, "source_id", True),
        parent_id=_id(obj, "parent_id", False),
        url=_id(obj, "url", False),
        author_id=_id(obj, "author_id", False),
        author_name=_id(obj, "author_name", False),
        text=text.replace("\x00", ""),
        created_at=parse_datetime(obj["created_at"]),
        likes=_counter(obj, "likes"),
        reposts=_counter(obj, "reposts"),
        views=_counter(obj, "views"),
        address=_address(obj),
        lat=lat,
        lon=lon,
        raw=obj,
    )


def post_to_dict(post: PostRecord) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in post.raw.items() if k not in FIELDS}
    out.update(
        network=post.network,
        external_id=post.external_id,
        source_id=post.source_id,
        parent_id=post.parent_id,
        url=post.url,
        author_id=post.author_id,
        author_name=post.author_name,
        text=post.text,
        created_at=post.created_at.isoformat(),
        likes=post.likes,
        reposts=post.reposts,
        views=post.views,
        address=post.address,
        lat=post.lat,
        lon=post.lon,
    )
    return out


ENCODINGS = ("utf-8", "cp1251")
READ_CHUNK = 1024 * 1024  # the most of an over-long line held in memory at once


def decode_line(raw: bytes, encoding: str = "utf-8") -> str:
    """Decode one line in the file's declared encoding, never by guessing.

    UTF-8 (a BOM is fine) unless the import says `--encoding cp1251`. A line that is not
    valid in its encoding is refused with the byte offset: decoding it as Windows-1251 instead
    (as an earlier version did) stored a UTF-8 line with three bad bytes garbled
    («РќР° СѓР»РёС†Рµ…») and classified the garbage, with no warning (issue 19, F6)."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported encoding {encoding!r}: one of {', '.join(ENCODINGS)}")
    try:
        return raw.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"not valid {encoding.upper()}: byte {exc.start} ({raw[exc.start : exc.start + 4]!r}); "
            "the line is kept as it is, nothing was guessed"
        ) from exc


def _raw_lines(stream: IO[bytes]) -> Iterator[tuple[bytes, bool]]:
    """Yield (line, complete) with never more than `MAX_LINE_BYTES` + 1 bytes of a line read.

    `for raw in stream` reads a whole line before its length can be checked: a 400 MB line
    took 400 MB of memory before it was refused (F14). Here the start of an over-long line is
    returned with `complete=False` and the rest is skipped in chunks."""
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) <= MAX_LINE_BYTES or raw.endswith(b"\n"):
            yield raw, True
            continue
        head = raw[:KEEP_LINE_BYTES]
        del raw
        while True:
            rest = stream.readline(READ_CHUNK)
            if not rest or rest.endswith(b"\n"):
                break
        yield head, False


def read_jsonl(
    stream: IO[bytes], origin: str, start_line: int = 0, encoding: str = "utf-8"
) -> Iterator[tuple[int, PostRecord | BadLine]]:
    """Yield (line number, post or bad line) for every non-empty line after `start_line`.

    The stream is read line by line (stdin included): memory is bounded by the longest
    accepted line, not by the file."""
    for line_no, (raw, complete) in enumerate(_raw_lines(stream), start=1):
        if line_no <= start_line:
            continue
        if not raw.strip():
            continue
        # the whole line up to a megabyte, so that `incidents quarantine retry` can replay it
        snippet = raw[:KEEP_LINE_BYTES].decode("utf-8", "replace").rstrip("\r\n")
        if not complete or len(raw) > MAX_LINE_BYTES:
            yield line_no, BadLine(origin, line_no, f"line longer than {MAX_LINE_BYTES} bytes", snippet)
            continue
        try:
            text = decode_line(raw, encoding)
        except PayloadError as exc:
            yield line_no, BadLine(origin, line_no, str(exc), snippet)
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield line_no, BadLine(origin, line_no, f"broken JSON: {exc.msg}", snippet)
            continue
        try:
            yield line_no, post_from_dict(obj)
        except PayloadError as exc:
            yield line_no, BadLine(origin, line_no, str(exc), snippet)


def write_jsonl(posts: Iterable[PostRecord], stream: IO[str]) -> int:
    n = 0
    for post in posts:
        stream.write(json.dumps(post_to_dict(post), ensure_ascii=False) + "\n")
        n += 1
    return n
