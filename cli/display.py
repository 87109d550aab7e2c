"""What the commands show people: Russian names for codes, tables, progress bars."""

from collections import Counter
from collections.abc import Callable
from typing import Any

from rich.table import Table

from cli.context import err
from core.config import RegionConfig


def _progress(total: int | None, label: str):  # noqa: ANN202 - rich Progress
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def _muni_name(cfg: RegionConfig, code: str | None) -> str:
    if code is None:
        return "— не определено"
    m = cfg.municipality_by_code.get(code)
    return m.name if m else code


def _place_name(cfg: RegionConfig, code: str | None, scale: str | None) -> str:
    """The municipality, or the region for an incident about the whole region («по всей области»)."""
    if code is None and scale == "region":
        return f"{cfg.region.name} (весь регион)"
    return _muni_name(cfg, code)


def _cat_name(cfg: RegionConfig, code: str | None) -> str:
    for c in cfg.rubricator.categories:
        if c.code == code:
            return c.name
    return code or "—"


def _counter_table(title: str, counts: Counter, name: Callable[[Any], str]) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("")
    t.add_column("инцидентов", justify="right")
    for key, n in counts.most_common():
        t.add_row(name(key), str(n))
    return t


def _subcat_name(cfg: RegionConfig, category: str | None, code: str | None) -> str:
    """The subcategory's Russian name («бездомные животные»), not its code."""
    for c in cfg.rubricator.categories:
        if c.code == category:
            for sub in c.subcategories:
                if sub.code == code:
                    return sub.name
    return code or "—"
