"""One appeal of a platform's history, and the stable fold it falls in: shared by the routing studies."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Appeal:
    id: str
    text: str
    executor: str
    topic: str = ""
    category_code: str = ""
    # the place the platform gives beside the text, when the file has it (interchange fields)
    address: str | None = None
    lat: float | None = None
    lon: float | None = None


def fold_of(appeal_id: str, folds: int) -> int:
    """The fold of an appeal, from a hash of its id: every run and every evaluation splits alike."""
    return int(hashlib.sha1(appeal_id.encode("utf-8")).hexdigest(), 16) % folds
