"""VK's keyword Streaming API: rules built from the rubricator's phrases (or `rules` in the
params), kept in sync by tag; events read from the websocket for `listen_seconds`.

The stream has no replay: what arrives while nobody listens is lost, so run a `newsfeed`
source with the same keywords to fill gaps. Split from `crawlers.vk` (module size); the client
is `crawlers.vk_client.VkClient` with the application's service key.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import vk_api
from vk_api.streaming import VkStreaming, VkStreamingError

from core.interchange import PayloadError
from core.records import PostRecord
from crawlers.base import BadRecord, FetchResult
from crawlers.errors import (
    VK_POLICY,
    ApiFailure,
    TransientFailure,
    bad_record,
    call_with_policy,
)
from crawlers.vk_client import (
    SERVICE_PURPOSE,
    SERVICE_VAR,
    TRANSIENT_HTTP_ERRORS,
    VkClient,
    _client_from_settings,
    _require,
    _ts,
    comment_key,
    post_key,
)

log = logging.getLogger(__name__)


_TAG_RE = re.compile(r"[^A-Za-z0-9_]")


def rules_from_rubricator(root: Path, max_rules: int = 300) -> list[dict[str, str]]:
    """One streaming rule per rubricator phrase (words = AND, forbidden words as minus-words).

    The rubricator is read by the region loader, merged over the region's language base (and an
    `extends` chain), exactly as the processing reads it: before issue 21 this read the region's
    file alone and missed every rule of a base."""
    from core.config import Rubricator, _all_rules, has_file, load_file

    if not has_file(root, "rubricator.yaml"):
        return []
    rub = load_file(root / "rubricator.yaml", Rubricator)
    rules: list[dict[str, str]] = []
    seen_values: set[str] = set()
    for cat in rub.categories:
        for rule in sorted(_all_rules(cat), key=lambda r: -r.weight):
            minus = " ".join(f"-{w}" for w in rule.forbid if " " not in w)
            for i, phrase in enumerate(rule.phrases):
                value = " ".join(phrase.lower().split()) + (f" {minus}" if minus else "")
                if value in seen_values:
                    continue
                seen_values.add(value)
                rules.append({"tag": _TAG_RE.sub("_", f"{rule.id}_{i}")[:256], "value": value})
    return rules[:max_rules]


class VkStreamingSource:
    """The keyword Streaming API: rules kept in sync, events read from the websocket."""

    def __init__(
        self,
        *,
        source_id: str,
        client: VkClient,
        rules: list[dict[str, str]],
        listen_seconds: float = 60,
        page_size: int = 500,
        ws_scheme: str = "wss",
        recv_timeout: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source_id, self.client, self.rules = source_id, client, rules
        self.listen_seconds, self.page_size = listen_seconds, page_size
        self.ws_scheme, self.recv_timeout, self.monotonic = ws_scheme, recv_timeout, monotonic
        self._stream: VkStreaming | None = None
        self._ws: Any = None
        self._deadline: float | None = None
        self.rules_synced: dict[str, int] = {}
        self._pending_bad: list[BadRecord] = []  # rules refused while syncing, reported with the next page

    @classmethod
    def from_settings(cls, source_id: str, params: dict[str, Any], root: Path) -> VkStreamingSource:
        rules = params.get("rules") or rules_from_rubricator(root, int(params.get("max_rules", 300)))
        if not rules:
            from crawlers.base import SourceNotConfigured

            raise SourceNotConfigured(
                f"vk source {source_id!r}: no rules (params.rules empty and no rubricator.yaml)"
            )
        client = _client_from_settings(source_id, params, SERVICE_VAR, SERVICE_PURPOSE)
        return cls(
            source_id=source_id,
            client=client,
            rules=list(rules),
            listen_seconds=float(params.get("listen_seconds", 60)),
        )

    def _ensure_stream(self) -> VkStreaming:
        if self._stream is None:
            self._stream = call_with_policy(
                lambda: self._streaming_once(),
                policy=VK_POLICY,
                backoff=self.client.backoff,
                source_id=self.source_id,
                what="streaming.getServerUrl",
                token_var=self.client.token_var,
            )
            self._sync_rules(self._stream)
        return self._stream

    def _streaming_once(self) -> VkStreaming:
        self.client.limiter.wait()
        try:
            return VkStreaming(self.client.vk)
        except vk_api.ApiError as exc:
            err = exc.error or {}
            raise ApiFailure(
                "vk",
                int(exc.code),
                str(err.get("error_msg", "")),
                method="streaming.getServerUrl",
                payload=err,
            ) from exc
        except requests.RequestException as exc:
            raise TransientFailure(str(exc)) from exc

    def _sync_rules(self, stream: VkStreaming) -> None:
        """Make the server's rules equal to ours, by tag: delete stale ones, add missing ones.

        A rule the endpoint refuses (too many rules, a malformed value) is skipped and recorded
        with the endpoint's `[error_code] message`; the other rules still work.
        """
        wanted = {r["tag"]: r["value"] for r in self.rules}
        have = {r["tag"]: r["value"] for r in self._rules_call("get rules", stream.get_rules)}
        deleted = added = refused = 0
        for tag, value in have.items():
            if wanted.get(tag) != value:
                self._rules_call(f"delete rule {tag}", functools.partial(stream.delete_rule, tag))
                deleted += 1
        for tag, value in wanted.items():
            if have.get(tag) != value:
                try:
                    self._rules_call(f"add rule {tag}", functools.partial(stream.add_rule, value, tag))
                except VkStreamingError as exc:
                    self._pending_bad.append(
                        bad_record(
                            f"streaming rule {tag}",
                            f"skipped: rule refused: {exc}",
                            {"tag": tag, "value": value},
                        )
                    )
                    refused += 1
                    continue
                added += 1
        self.rules_synced = {"kept": len(wanted) - added - refused, "added": added, "deleted": deleted}
        if refused:
            self.rules_synced["refused"] = refused
        log.info("%s: streaming rules: %s", self.source_id, self.rules_synced)

    def _rules_call(self, what: str, fn: Callable[[], Any]) -> Any:
        """One call to the rules endpoint: paced; connection trouble retried under the policy."""

        def once() -> Any:
            self.client.limiter.wait()
            try:
                return fn()
            except TRANSIENT_HTTP_ERRORS as exc:
                raise TransientFailure(f"{type(exc).__name__} on {what}: {exc}") from exc

        return call_with_policy(
            once,
            policy=VK_POLICY,
            backoff=self.client.backoff,
            source_id=self.source_id,
            what=what,
            token_var=self.client.token_var,
        )

    def _connect(self, stream: VkStreaming) -> Any:
        import websocket

        url = f"{self.ws_scheme}://{stream.server}/stream?key={stream.key}"
        return websocket.create_connection(url, timeout=self.recv_timeout)

    def close(self) -> None:
        if self._ws is not None:
            try:
                self._ws.close()
            finally:
                self._ws = None

    def fetch(self, cursor: dict[str, Any] | None) -> FetchResult:
        import websocket

        stream = self._ensure_stream()
        if self._ws is None:
            self._ws = self._connect(stream)
        if self._deadline is None:
            self._deadline = self.monotonic() + self.listen_seconds
        posts: list[PostRecord] = []
        bad, self._pending_bad = self._pending_bad, []
        done = False
        last = dict(cursor or {})
        while len(posts) + len(bad) < self.page_size:
            if self.monotonic() >= self._deadline:
                done = True
                break
            try:
                frame = self._ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
                done = True
                break
            try:
                msg = json.loads(frame)
            except (TypeError, ValueError) as exc:
                bad.append(bad_record("streaming", f"broken JSON: {exc}", frame))
                continue
            code = msg.get("code") if isinstance(msg, dict) else None
            if code == 300:
                log.warning("%s: streaming service message: %s", self.source_id, msg.get("service_message"))
                done = True
                break
            if code != 100:
                bad.append(bad_record("streaming", f"unknown message code {code!r}", msg))
                continue
            try:
                rec = event_record(msg.get("event"), self.source_id)
            except PayloadError as exc:
                bad.append(bad_record("streaming event", str(exc), msg))
                continue
            if rec is not None:
                posts.append(rec)
                last = {"last_event_time": rec.raw.get("action_time"), "last_event": rec.external_id}
        if done:
            self.close()
            self._deadline = None
        return FetchResult(posts, last or None, bad, done=done)


def event_record(event: Any, source_id: str) -> PostRecord | None:
    """A Streaming API event (post, comment, share) as a record; `delete` flags it."""
    if not isinstance(event, dict):
        raise PayloadError(f"event: expected a JSON object, got {type(event).__name__}")
    kind = _require(event, "event_type", str)
    ids = _require(event, "event_id", dict)
    owner = _require(ids, "post_owner_id", int)
    action = event.get("action", "new")
    created = event.get("creation_time", event.get("action_time"))
    if not isinstance(created, int):
        raise PayloadError("creation_time: missing or not a Unix time")
    text = event.get("text", "")
    if not isinstance(text, str):
        raise PayloadError(f"text: expected a string, got {type(text).__name__}")
    author_obj = event.get("author")
    author = author_obj.get("id") if isinstance(author_obj, dict) else None
    if author is not None and (isinstance(author, bool) or not isinstance(author, int | str)):
        author = None
    if kind == "comment":
        cid = _require(ids, "comment_id", int)
        post_id = _require(ids, "post_id", int)
        key, parent = comment_key(owner, cid), post_key(owner, post_id)
    elif kind in ("post", "share"):
        key, parent = post_key(owner, _require(ids, "post_id", int)), None
    else:
        return None  # topic posts and others are not read
    return PostRecord(
        network="vk",
        external_id=key,
        source_id=source_id,
        text=text,
        created_at=_ts(created),
        parent_id=parent,
        url=url if isinstance(url := event.get("event_url"), str) else None,
        author_id=None if author is None else str(author),
        raw=event,
        deleted=action == "delete",
    )
