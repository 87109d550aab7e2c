"""What no single file can check: the codes one file names that another defines."""

from __future__ import annotations

from typing import Any

from core.config.base import CATEGORY_CODES, ConfigError
from core.config.region import RegionConfig
from core.config.yamlread import locate

_Error = tuple[str, tuple[Any, ...], str]  # file, key path, message


def _where(cfg: RegionConfig, name: str, loc: tuple[Any, ...]) -> str:
    """`file:line` of the key (the file only, when the line cannot be found)."""
    files = cfg.files.get(name) or [cfg.root / name]
    found = locate(loc, cfg.raw.get(name), files)
    return f"{found[0]}:{found[1]}" if found else str(files[-1])


def cross_check(cfg: RegionConfig) -> None:
    """Raise one ConfigError listing every dangling code as `file:line: key.path: message`."""
    errors = _errors(cfg)
    if errors:
        raise ConfigError(
            "\n".join(
                f"{_where(cfg, name, loc)}: {'.'.join(map(str, loc))}: {msg}" for name, loc, msg in errors
            )
        )


def _errors(cfg: RegionConfig) -> list[_Error]:
    errors: list[_Error] = []
    munis = set(cfg.municipality_by_code)
    cats = {c.code for c in cfg.rubricator.categories}
    settlements = {s.name for m in cfg.territories.municipalities for s in m.settlements}
    for i, body in enumerate(cfg.bodies.bodies):
        for t in body.territories:
            if t not in munis:
                errors.append(("bodies.yaml", ("bodies", i, "territories"), f"unknown municipality {t!r}"))
        for c in body.categories:
            if c not in CATEGORY_CODES:
                errors.append(("bodies.yaml", ("bodies", i, "categories"), f"unknown category {c!r}"))
    subs = {c.code: {s.code for s in c.subcategories} for c in cfg.rubricator.categories}
    all_subs = {s for codes in subs.values() for s in codes}
    for i, rule in enumerate(cfg.routing.rules):
        if rule.category and rule.category not in cats:
            errors.append(
                (
                    "routing.yaml",
                    ("rules", i, "category"),
                    f"{rule.category!r} is not in the rubricator; the codes: {', '.join(sorted(cats))}",
                )
            )
        if rule.subcategory and rule.subcategory not in subs.get(rule.category or "", all_subs):
            where = f"category {rule.category!r}" if rule.category in subs else "the rubricator"
            known = sorted(subs.get(rule.category or "", set())) if rule.category in subs else []
            errors.append(
                (
                    "routing.yaml",
                    ("rules", i, "subcategory"),
                    f"{rule.subcategory!r} is no subcategory of {where}"
                    + (f"; its subcategories: {', '.join(known)}" if known else ""),
                )
            )
        for m in rule.municipality or []:
            if m not in munis:
                errors.append(("routing.yaml", ("rules", i, "municipality"), f"unknown municipality {m!r}"))
        for name in rule.settlement or []:
            if name not in settlements:
                errors.append(
                    (
                        "routing.yaml",
                        ("rules", i, "settlement"),
                        f"{name!r} is no settlement of territories.yaml",
                    )
                )
        if "{" not in rule.body and rule.body not in cfg.body_by_code:
            errors.append(("routing.yaml", ("rules", i, "body"), f"unknown body {rule.body!r}"))
    shared = cfg.territories.shared_streets_in
    if shared is not None and shared not in munis:
        errors.append(("territories.yaml", ("shared_streets_in",), f"unknown municipality {shared!r}"))
    unplaced = cfg.routing.unplaced_municipality
    if unplaced is not None and unplaced not in munis:
        errors.append(("routing.yaml", ("unplaced_municipality",), f"unknown municipality {unplaced!r}"))
    for i, ov in enumerate(cfg.sla.overrides):
        if ov.category and ov.category not in CATEGORY_CODES:
            errors.append(("sla.yaml", ("overrides", i, "category"), f"unknown category {ov.category!r}"))
    for c in cfg.sla.pos_resolution_days:
        if c not in CATEGORY_CODES:
            errors.append(("sla.yaml", ("pos_resolution_days", c), f"unknown category {c!r}"))
    for i, tpl in enumerate(cfg.replies.templates):
        if tpl.category and tpl.category not in CATEGORY_CODES:
            errors.append(
                ("replies.yaml", ("templates", i, "category"), f"unknown category {tpl.category!r}")
            )
        try:
            from jinja2.sandbox import SandboxedEnvironment

            SandboxedEnvironment().parse(tpl.text)
        except Exception as exc:  # a template that does not compile is a configuration error
            errors.append(("replies.yaml", ("templates", i, "text"), f"not a valid template: {exc}"))
    for i, src in enumerate(cfg.sources.sources):
        if src.municipality and src.municipality not in munis:
            errors.append(
                ("sources.yaml", ("sources", i, "municipality"), f"unknown municipality {src.municipality!r}")
            )
    for feature, code in cfg.region.map.features.items():
        if code not in munis:
            errors.append(("region.yaml", ("map", "features", feature), f"unknown municipality {code!r}"))
    ids = [s.id for s in cfg.sources.sources]
    for s in sorted({x for x in ids if ids.count(x) > 1}):
        errors.append(("sources.yaml", ("sources", ids.index(s), "id"), f"duplicate source id {s!r}"))
    return errors
