"""Residents' personal data (152-ФЗ): masked in exports, raw payloads purged after their retention.

What is personal here: an author's name and account id, and a post key that embeds a person's
account (a post on a VK user's own wall is `vk:wall505_311`, 505 being the user). The exports
carry neither by default: post keys of that kind are pseudonymised with a keyed hash
(`INCIDENTS_PSEUDONYM_KEY`; stable across exports when it is set, per run otherwise), and
authors' ids and names appear only with `--with-authors`, which `region.yaml →
privacy.export_personal_data` must allow. Raw payloads (every field the network sent, with
profiles and contacts) are emptied after `privacy.raw_retention_days` by `purge` — scheduled
as the `purge` job — except the feedback platform's status and rating the workflow reads.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from functools import lru_cache

KEY_VAR = "INCIDENTS_PSEUDONYM_KEY"
# VK wall posts and comments on a person's own wall: the owner id is the person (groups are negative).
_PERSONAL_KEY = re.compile(r"^(vk:(?:wall|comment))(\d+)_(\d+)$")


# A link that leads to a person: a VK profile (`id505`), a post or comment on a person's own wall
# (`wall505_311`, also as `?w=wall505_311`), an OK profile. Communities' walls (`wall-1_2`) are public.
_PERSONAL_URL = re.compile(
    r"^https?://(?:m\.)?vk\.(?:com|ru)/(?:id\d+(?:[/?#]|$)|wall\d+_|[^#]*[?&]w=wall\d+_)"
    r"|^https?://(?:m\.)?ok\.ru/profile/",
    re.IGNORECASE,
)


def personal_link(url: str | None) -> bool:
    """Whether `url` leads to a person's own page or wall (masked for who may not see authors)."""
    return url is not None and _PERSONAL_URL.match(url.strip()) is not None


@lru_cache(maxsize=1)
def _run_key() -> bytes:
    return secrets.token_bytes(32)


def pseudonym_key() -> bytes:
    value = os.environ.get(KEY_VAR, "")
    return value.encode("utf-8") if value else _run_key()


def pseudonym(value: str, key: bytes | None = None) -> str:
    """A short keyed hash of a personal identifier: the same person gives the same pseudonym."""
    return hmac.new(key or pseudonym_key(), value.encode("utf-8"), hashlib.sha256).hexdigest()[:12]


def mask_post_key(post_key: str, key: bytes | None = None) -> str:
    """`vk:wall505_311` → `vk:wall~3f2a…_311`; keys that name no person are returned as they are."""
    m = _PERSONAL_KEY.match(post_key)
    if m is None:
        return post_key
    return f"{m.group(1)}~{pseudonym(m.group(2), key)}_{m.group(3)}"
