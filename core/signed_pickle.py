"""Pickled model files with a SHA-256 written beside them, read only when it matches.

A pickle runs code when it is loaded, so a model file is trusted only if its SHA-256 equals the
checksum our own training wrote beside it (issue 19, F3): a file copied or planted without it, or
changed after training, is refused unread. The signal model (`pipelines.model`) and the routing
text model (`incidents.domain.text_routing`) both keep their files this way; each keeps the one
model of its process in a cache of its own, keyed by the file's path, version and checksum.
The routing models learned from a region's history (the text model, the desk step) are
`{"format": N, "router": …}` payloads read with `read_router` and kept at `data_model_path`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
CacheKey = tuple[str, int, int, str]


def checksum_path(path: Path) -> Path:
    """The SHA-256 written beside a model: `signals.pkl.sha256`."""
    return path.with_name(path.name + ".sha256")


def write_signed(path: Path, payload: Any) -> Path:
    """Pickle `payload` aside, write its checksum, then rename: a reader never sees a model file
    without its checksum, nor half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(pickle.dumps(payload))
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    checksum_path(path).write_text(f"{digest}  {path.name}\n", encoding="ascii")
    os.replace(tmp, path)
    return path


def read_signed(
    path: Path,
    cache: dict[CacheKey, T],
    build: Callable[[Any], T],
    *,
    refuse: Callable[[str], Exception],
    no_checksum: str,
    mismatch: str,
) -> T:
    """`build(payload)` of the file at `path`, once per process and file version (kept in `cache`,
    which holds one model: an older version is dropped). `refuse(message)` is the caller's error:
    `no_checksum` and `mismatch` are its messages, formatted with `path` and `side` (the checksum
    file's name)."""
    side = checksum_path(path)
    try:
        expected = side.read_text(encoding="ascii").split()[0].lower()
    except (OSError, IndexError, UnicodeDecodeError) as exc:
        raise refuse(no_checksum.format(path=path, side=side.name)) from exc
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, expected)
    if key not in cache:
        data = path.read_bytes()
        if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), expected):
            raise refuse(mismatch.format(path=path, side=side.name))
        built = build(pickle.loads(data))  # noqa: S301 - checked against the checksum our training wrote
        cache.clear()
        cache[key] = built
    return cache[key]


def read_router(
    path: Path,
    cache: dict[CacheKey, T],
    *,
    fmt: int,
    refuse: Callable[[str], Exception],
    what: str,
    hint: str = "",
) -> T | None:
    """The router of a `{"format": fmt, "router": …}` file at `path` (see `read_signed`), or None
    when there is none; refused with `refuse` when unsigned, changed or of another format. `what`
    names the model in the messages («модель», «модель отделов»), `hint` says how to make one."""
    if not path.is_file():
        return None

    def unpack(payload: Any) -> T:
        if not isinstance(payload, dict) or payload.get("format") != fmt:
            got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            raise refuse(f"{path}: формат модели {got}, нужен {fmt}")
        router: T = payload["router"]
        return router

    return read_signed(
        path,
        cache,
        unpack,
        refuse=refuse,
        no_checksum="{path}: нет контрольной суммы {side}" + hint,
        mismatch="{path}: SHA-256 не совпадает с {side}: " + what + " не загружена",
    )


def data_model_path(region_folder: str, kind: str, data_dir: Path | None = None) -> Path:
    """Where a model learned at the user's site from the region's own history lives:
    `<data dir>/models/<kind>-<region folder>.pkl` (INCIDENTS_DATA_DIR, `var/` by default), never
    the repository (it is fitted on the region's appeals)."""
    from core.settings import get_settings

    base = data_dir if data_dir is not None else get_settings().data_dir
    return base / "models" / f"{kind}-{region_folder}.pkl"
