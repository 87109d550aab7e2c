"""The one explicit list of source adapters, by network and kind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.config import SourceConfig
from crawlers.base import SourceAdapter, SourceNotConfigured
from crawlers.replay import ReplaySource

Factory = Callable[[str, dict[str, Any], Path], SourceAdapter]


def _lazy(target: str) -> Factory:
    """`module:Class` whose `from_settings` builds the adapter; imported on first use (the network
    SDKs — vk_api, Telethon, Scrapy — are not loaded by commands that crawl nothing)."""

    def factory(source_id: str, params: dict[str, Any], root: Path) -> SourceAdapter:
        import importlib

        module, cls = target.split(":")
        return getattr(importlib.import_module(module), cls).from_settings(source_id, params, root)

    factory.__qualname__ = f"lazy({target})"
    return factory


ADAPTERS: dict[tuple[str, str], Factory] = {
    ("replay", "replay"): ReplaySource.from_settings,
    ("vk", "wall"): _lazy("crawlers.vk:VkWallSource"),
    ("vk", "newsfeed"): _lazy("crawlers.vk:VkNewsfeedSource"),
    ("vk", "streaming"): _lazy("crawlers.vk:VkStreamingSource"),
    ("ok", "group"): _lazy("crawlers.ok:OkGroupSource"),
    ("telegram", "channel"): _lazy("crawlers.telegram:TelegramSource"),
    ("telegram", "chat"): _lazy("crawlers.telegram:TelegramSource"),
    ("telegram", "preview"): _lazy("crawlers.tg_preview:TgPreviewSource"),
    ("pos", "messages"): _lazy("crawlers.pos:PosMessagesSource"),
}


def build_adapter(source: SourceConfig, root: Path) -> SourceAdapter:
    factory = ADAPTERS.get((source.network, source.kind))
    if factory is None:
        raise SourceNotConfigured(
            f"source {source.id!r}: no adapter for network {source.network!r}, kind {source.kind!r}"
        )
    return factory(source.id, source.params, root)
