"""The feedback platform (ПОС, «Госуслуги. Решаем вместе»): new messages in, answers out.

The platform's integration API is not public. This adapter follows the contract written down in
`crawlers/README.md` (section ПОС): `GET {base_url}/messages` with a bearer token, ordered by
(`updated_at`, `id`), paged by an opaque `next_cursor`, filtered by `region`, `status` and
`updated_since`; errors as `{"error": {"code", "message"}}`; answers posted to
`POST {base_url}/messages/{id}/answers` with an `Idempotency-Key`. The names of the message's
fields are not hard-coded: `params.fields` maps our names to the platform's (dotted paths), with
the defaults below, so a different field naming is a configuration change.

A message is stored with its text (plus the address line when the text does not contain it),
the address line and point in the post's `address`, `lat`, `lon` (which the signal stage reads
before the text for the place), and the platform's category, address, coordinates, status and
rating in `raw["pos"]`. A
message in one of `deleted_statuses` is flagged deleted. The cursor is the `updated_at` of the
last finished sweep plus, inside a sweep, the page cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from core.interchange import PayloadError, parse_datetime, point_of
from core.records import PostRecord
from crawlers.base import BadRecord, FetchResult, SourceNotConfigured
from crawlers.errors import (
    POS_POLICY,
    ApiFailure,
    Backoff,
    SkipObject,
    TransientFailure,
    bad_record,
    call_with_policy,
    require_env,
    retry_after,
    since_ts,
)
from crawlers.ratelimit import RateLimiter, limiter_for

log = logging.getLogger(__name__)
TOKEN_VAR = "POS_TOKEN"
# How far ahead of our clock a platform's `updated_at` may be (clock skew between the platform
# and us). A message further ahead is quarantined and never moves the cursor: one message dated
# 2199 made the stored cursor 2198 and every later sweep asked for "changes since 2198" — the
# source was silently dead (issue 19, F1).
FUTURE_TOLERANCE = timedelta(hours=1)
DEFAULT_FIELDS: dict[str, str] = {
    "external_id": "id",
    "text": "text",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "category": "category.name",
    "category_code": "category.code",
    "address": "address.full",
    "latitude": "address.lat",
    "longitude": "address.lon",
    "status": "status",
    "rating": "rating",
    "author_id": "author.id",
    "author_name": "author.name",
    "url": "url",
}
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def _opt_str(value: Any) -> str | None:
    """An optional text field: anything but a string is treated as absent."""
    return value if isinstance(value, str) and value else None


def dig(obj: Any, path: str) -> Any:
    """obj['a']['b'] for 'a.b'; None where the path does not exist."""
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


class PosClient:
    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        source_id: str,
        http: httpx.Client | None = None,
        limiter: RateLimiter | None = None,
        backoff: Backoff | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url, self.source_id = base_url.rstrip("/"), source_id
        self._token = token  # to mask it should the platform echo it in an error (F4)
        self.http = http or httpx.Client(timeout=timeout)
        self.http.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": "incident-monitor",
            }
        )
        self.limiter = limiter or limiter_for("pos", token, 5.0)
        self.backoff = backoff or Backoff()

    def _once(self, method: str, path: str, **kw: Any) -> Any:
        self.limiter.wait()
        try:
            resp = self.http.request(method, self.base_url + path, **kw)
        except httpx.TransportError as exc:
            raise TransientFailure(f"{type(exc).__name__} on {path}: {exc}") from exc
        if resp.status_code < 400:
            try:
                return resp.json()
            except ValueError as exc:
                raise TransientFailure(f"{path}: the answer is not JSON") from exc
        try:
            body = resp.json()
        except ValueError:
            body = None
        err = body.get("error") if isinstance(body, dict) else None
        err = err if isinstance(err, dict) else {}  # an error page of a proxy, or a body of another shape
        code = err.get("code") or {
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            429: "rate_limited",
            400: "bad_request",
            422: "bad_request",
        }.get(resp.status_code)
        if code is None and resp.status_code >= 500:
            raise TransientFailure(f"HTTP {resp.status_code} from {path}", retry_after(resp.headers))
        if code == "rate_limited" and resp.status_code == 429:
            raise TransientFailure(f"HTTP 429 from {path} (rate limited)", retry_after(resp.headers))
        raise ApiFailure(
            "pos",
            code or f"http_{resp.status_code}",
            str(err.get("message", resp.reason_phrase)),
            method=f"{method} {path}",
            payload=err or resp.text[:2000],
            secrets=(self._token,),
        )

    def call(self, method: str, path: str, what: str, **kw: Any) -> Any:
        return call_with_policy(
            lambda: self._once(method, path, **kw),
            policy=POS_POLICY,
            backoff=self.backoff,
            source_id=self.source_id,
            what=what,
            token_var=TOKEN_VAR,
        )

    def messages(self, params: dict[str, Any]) -> Any:
        return self.call("GET", "/messages", "GET /messages", params=params)

    def post_answer(
        self,
        message_id: str,
        text: str,
        idempotency_key: str,
        *,
        author: str | None = None,
        final: bool = True,
    ) -> dict[str, Any]:
        """Publish an answer under a message; a repeated key returns the answer already published."""
        body: dict[str, Any] = {"text": text, "final": final}
        if author:
            body["author"] = author
        return self.call(
            "POST",
            f"/messages/{message_id}/answers",
            f"answer to message {message_id}",
            json=body,
            headers={"Idempotency-Key": idempotency_key},
        )


class PosMessagesSource:
    def __init__(
        self,
        *,
        source_id: str,
        client: PosClient,
        region_code: str | None = None,
        statuses: list[str] | None = None,
        fields: dict[str, str] | None = None,
        page_size: int = 100,
        lookback_days: float = 7,
        since: datetime | None = None,
        deleted_statuses: tuple[str, ...] = ("withdrawn", "deleted"),
        now: Clock = _now,
    ) -> None:
        self.source_id, self.client, self.region_code = source_id, client, region_code
        self.statuses = statuses or []
        self.fields = {**DEFAULT_FIELDS, **(fields or {})}
        self.page_size, self.lookback_days, self.since = page_size, lookback_days, since
        self.deleted_statuses, self.now = set(deleted_statuses), now

    @classmethod
    def from_settings(cls, source_id: str, params: dict[str, Any], root: Path) -> PosMessagesSource:
        base_url = params.get("base_url")
        if not base_url:
            raise SourceNotConfigured(f"pos source {source_id!r}: params.base_url is not set")
        fields = params.get("fields") or {}
        if not isinstance(fields, dict) or any(not isinstance(v, str) or not v for v in fields.values()):
            raise SourceNotConfigured(
                f"pos source {source_id!r}: params.fields must map our field names to the "
                "platform's (dotted paths)"
            )
        unknown = sorted(set(fields) - set(DEFAULT_FIELDS))
        if unknown:
            raise SourceNotConfigured(
                f"pos source {source_id!r}: params.fields: unknown field(s) {', '.join(unknown)}; "
                f"known: {', '.join(DEFAULT_FIELDS)}"
            )
        token = require_env(
            TOKEN_VAR, source_id, "the integration token the platform's operator issued to the region"
        )
        since = None
        if params.get("since"):
            since = datetime.fromtimestamp(since_ts(params) or 0, UTC)
        client = PosClient(
            base_url=str(base_url),
            token=token,
            source_id=source_id,
            limiter=limiter_for("pos", token, float(params.get("rate", 5.0))),
        )
        return cls(
            source_id=source_id,
            client=client,
            region_code=params.get("region_code"),
            statuses=list(params.get("statuses") or []),
            fields=dict(params.get("fields") or {}),
            page_size=int(params.get("page_size", 100)),
            lookback_days=float(params.get("lookback_days", 7)),
            since=since,
            deleted_statuses=tuple(params.get("deleted_statuses") or ("withdrawn", "deleted")),
        )

    def fetch(self, cursor: dict[str, Any] | None) -> FetchResult:
        cur = dict(cursor or {})
        sweep = cur.get("sweep")
        if not sweep:
            start = cur.get("updated_since")
            if self.since is not None:
                start = self.since.isoformat()
            if start is None:
                start = (self.now() - timedelta(days=self.lookback_days)).isoformat()
            start = self._clamped(start)
            sweep = {"from": start, "page": None, "max": start}
        params: dict[str, Any] = {"updated_since": sweep["from"], "limit": self.page_size}
        if self.region_code:
            params["region"] = self.region_code
        if self.statuses:
            params["status"] = ",".join(self.statuses)
        if sweep["page"]:
            params["cursor"] = sweep["page"]
        where = f"GET /messages updated_since {sweep['from']}" + (
            f" cursor {sweep['page']}" if sweep["page"] else ""
        )
        try:
            resp = self.client.messages(params)
        except SkipObject as exc:
            return FetchResult(
                [],
                {"updated_since": sweep["from"]},
                [bad_record(where, f"skipped: {exc.reason}", exc.payload)],
                done=True,
            )
        items = resp.get("items") if isinstance(resp, dict) else None
        bad: list[BadRecord] = []
        posts: list[PostRecord] = []
        if not isinstance(items, list):
            bad.append(bad_record(where, "answer has no items list", resp))
            items = []
        latest = (self.now() + FUTURE_TOLERANCE).astimezone(UTC)
        for item in items:
            try:
                rec = self.record(item)
            except PayloadError as exc:
                bad.append(bad_record(where, str(exc), item))
                continue
            updated = rec.raw["pos"].get("updated_at")
            if updated and datetime.fromisoformat(updated) > latest:
                log.warning(
                    "%s: message %s has updated_at %s, later than now + %s: quarantined, the cursor stays",
                    self.source_id,
                    rec.external_id,
                    updated,
                    FUTURE_TOLERANCE,
                )
                bad.append(
                    bad_record(
                        where,
                        f"updated_at {updated} is in the future (later than {latest.isoformat()})",
                        item,
                    )
                )
                continue
            posts.append(rec)
            if updated and updated > sweep["max"]:
                sweep["max"] = updated
        nxt = resp.get("next_cursor") if isinstance(resp, dict) else None
        if nxt and items:
            return FetchResult(
                posts, {"updated_since": cur.get("updated_since"), "sweep": {**sweep, "page": nxt}}, bad
            )
        # the sweep is over: next time, ask for what changed since the newest change seen
        return FetchResult(posts, {"updated_since": sweep["max"]}, bad, done=True)

    def _clamped(self, start: str) -> str:
        """The sweep's start, never later than now + tolerance.

        A cursor stored from a far-future message (before the check in `fetch`) kept the
        source dead for ever. It is not clamped to "now + tolerance": the changes between the
        last real sweep and now would be skipped; the sweep starts again from the lookback
        window instead (messages already stored are upserted, nothing doubles), with a warning."""
        try:
            when = datetime.fromisoformat(start)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
        except (TypeError, ValueError):
            when = None
        if when is not None and when <= self.now() + FUTURE_TOLERANCE:
            return start
        fresh = (self.now() - timedelta(days=self.lookback_days)).astimezone(UTC).isoformat()
        log.warning(
            "%s: stored cursor %r is not a date up to now + %s: the sweep starts again from %s",
            self.source_id,
            start,
            FUTURE_TOLERANCE,
            fresh,
        )
        return fresh

    def record(self, item: Any) -> PostRecord:
        if not isinstance(item, dict):
            raise PayloadError(f"expected a JSON object, got {type(item).__name__}")
        f = self.fields
        ext = dig(item, f["external_id"])
        if isinstance(ext, bool) or not isinstance(ext, str | int) or not str(ext):
            raise PayloadError(f"missing or invalid field {f['external_id']!r}")
        text = dig(item, f["text"])
        if not isinstance(text, str):
            raise PayloadError(f"{f['text']}: expected a string, got {type(text).__name__}")
        created = parse_datetime(dig(item, f["created_at"]), f["created_at"])
        updated_raw = dig(item, f["updated_at"])
        updated = parse_datetime(updated_raw, f["updated_at"]) if updated_raw is not None else created
        rating = dig(item, f["rating"])
        if rating is not None and (
            isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5
        ):
            raise PayloadError(f"{f['rating']}: expected 1..5, got {rating!r}")
        lat, lon = dig(item, f["latitude"]), dig(item, f["longitude"])
        if (lat is None) != (lon is None) or any(
            v is not None and not isinstance(v, int | float) for v in (lat, lon)
        ):
            raise PayloadError(f"coordinates: expected two numbers, got {lat!r}, {lon!r}")
        try:  # the interchange's own checks (ranges, finite), under the platform's field names
            point = point_of({"lat": lat, "lon": lon})
        except PayloadError as exc:
            raise PayloadError(f"{f['latitude']}, {f['longitude']}: {exc}") from exc
        address = dig(item, f["address"])
        status = dig(item, f["status"])
        pos = {
            "category": dig(item, f["category"]),
            "category_code": dig(item, f["category_code"]),
            "address": address,
            "latitude": lat,
            "longitude": lon,
            "status": status,
            "rating": rating,
            "updated_at": updated.astimezone(UTC).isoformat(),
        }
        full_text = text
        if isinstance(address, str) and address and address not in text:
            full_text = f"{text}\n\nАдрес: {address}"
        author = dig(item, f["author_id"])
        return PostRecord(
            network="pos",
            external_id=str(ext),
            source_id=self.source_id,
            text=full_text,
            created_at=created.astimezone(UTC),
            url=_opt_str(dig(item, f["url"])),
            author_id=None if author is None or isinstance(author, dict | list) else str(author),
            author_name=_opt_str(dig(item, f["author_name"])),
            address=" ".join(address.split()) or None if isinstance(address, str) else None,
            lat=point[0],
            lon=point[1],
            raw={**item, "pos": pos},
            deleted=isinstance(status, str) and status in self.deleted_statuses,
        )
