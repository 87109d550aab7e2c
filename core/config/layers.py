"""A region over its language base: `config/base/<lang>/` holds what every region shares, the
region folder only its local deltas (issue 21).

How a delta file applies to the base file of the same name (`apply_delta`):

* a mapping merges key by key, recursively; a key the delta gives replaces the base's value;
* a list of mappings that carry an `id` (rules, templates) or a `code` (categories,
  subcategories, facts) merges item by item: an item whose id is in the base **overrides** it in
  place (only the keys it gives; `phrases: {add: […]}` adds to the base's phrases), an item
  with `remove: true` **removes** it, an item with a new id is **added** after the base's;
* any other list (phrases, verbs, accounts) is replaced by the delta's list, or edited by a
  mapping `{add: […], remove: […]}` (markers: `complaint_markers: {phrases: {remove: [нет]}}`);
* `null` in the delta sets the key to null (`model: null`: rules alone).

The merged data is then validated as if it had been written in one file; an error names the file
and line that wrote the offending key (`yamlread.locate`)."""

from __future__ import annotations

from typing import Any

from core.config.base import ConfigError

EDIT_KEYS = frozenset({"add", "remove"})


def _key_of(item: Any) -> str | None:
    """The key a list's items are merged by, if the item has one."""
    if isinstance(item, dict):
        for key in ("id", "code"):
            if key in item:
                return key
    return None


def _is_edit(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= EDIT_KEYS


def _edit_list(base: list[Any], edit: dict[str, Any], where: str) -> list[Any]:
    """`{add: […], remove: […]}` over a list of plain values: removed first, then added (once)."""
    remove = edit.get("remove") or []
    add = edit.get("add") or []
    if not isinstance(remove, list) or not isinstance(add, list):
        raise ConfigError(f"{where}: add and remove must be lists")
    missing = [v for v in remove if v not in base]
    if missing:
        raise ConfigError(f"{where}: remove: {missing!r} not in the base")
    out = [v for v in base if v not in remove]
    out += [v for v in add if v not in out]
    return out


def _merge_items(base: list[Any], delta: list[Any], key: str, where: str) -> list[Any]:
    out = list(base)
    index = {item.get(key): i for i, item in enumerate(out) if isinstance(item, dict)}
    removed: set[int] = set()
    for item in delta:
        if not isinstance(item, dict) or key not in item:
            raise ConfigError(f"{where}: every item of a delta needs its {key!r} (got {item!r})")
        ident = item[key]
        if ident in index:
            at = index[ident]
            if item.get("remove") is True:
                removed.add(at)
                continue
            out[at] = apply_delta(out[at], item, f"{where}.{ident}")
            continue
        if item.get("remove") is True:
            raise ConfigError(f"{where}: remove {ident!r}: no such {key} in the base")
        index[ident] = len(out)
        out.append(_plain(item, f"{where}.{ident}"))
    return [item for i, item in enumerate(out) if i not in removed]


def _plain(value: Any, where: str) -> Any:
    """An added item: no base to edit, so `{add: …}` lists are just their added values."""
    if _is_edit(value):
        if value.get("remove"):
            raise ConfigError(f"{where}: remove: nothing to remove from (not in the base)")
        return list(value.get("add") or [])
    if isinstance(value, dict):
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    return value


def apply_delta(base: Any, delta: Any, where: str = "") -> Any:
    """The base with the delta applied (see the module's docstring); neither is modified."""
    if isinstance(base, dict) and isinstance(delta, dict) and not _is_edit(delta):
        out = dict(base)
        for k, v in delta.items():
            out[k] = apply_delta(base[k], v, f"{where}.{k}" if where else k) if k in base else _plain(v, k)
        return out
    if isinstance(base, list) and _is_edit(delta):
        return _edit_list(base, delta, where)
    if isinstance(base, list) and isinstance(delta, list):
        key = next((k for k in map(_key_of, base + delta) if k is not None), None)
        if key is not None and all(_key_of(i) == key for i in base):
            return _merge_items(base, delta, key, where)
    return _plain(delta, where)
