"""The lists as files: the columns and rows each list downloads as CSV or XLSX (`?export=csv|xlsx`).

The same rows the page shows, named as the page names them; the cell encoding (formulas written as
text) is `console.exports`'."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.responses import Response

from console import data, exports
from console.web import ConsoleContext

QUEUE_COLUMNS = [
    "ID",
    "Заголовок",
    "Статус",
    "Категория",
    "Муниципалитет",
    "Орган",
    "Сети",
    "Постов",
    "Охват",
    "Приоритет",
    "Открыт",
    "Ближайший срок",
    "Осталось",
    "Состояние",
    "В работе у",
]
MAP_COLUMNS = ["Муниципалитет", "Инцидентов", "Предыдущий период", "Изменение"]
RATING_COLUMNS = [
    "",
    "Инцидентов",
    "Отвечено за 24 ч, доля",
    "Медиана до первого ответа, ч",
    "Повторных рассмотрений, доля",
    "Просрочено",
    "В рейтинге",
    "Красная зона",
]


Table = tuple[list[str], list[list[Any]]]


def download(ctx: ConsoleContext, kind: str | None, name: str, table: Callable[[], Table]) -> Response | None:
    """The file when `kind` asks for one (csv, xlsx); None: the route renders its page instead.

    `table` builds the columns and rows only when a file is asked for: building them for every row
    of the queue on each page view cost more than the page itself (issue 18, `bench/console_cpu.py`)."""
    if kind not in ("csv", "xlsx"):
        return None
    columns, rows = table()
    stamp = ctx.now().strftime("%Y%m%d-%H%M")
    if kind == "csv":
        body, mime = exports.to_csv(columns, rows), exports.CSV_TYPE
    else:
        body, mime = exports.to_xlsx(columns, rows, name), exports.XLSX_TYPE
    return Response(
        body,
        media_type=mime,
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.{kind}"'},
    )


def queue_table(ctx: ConsoleContext, rows: list[data.QueueRow]) -> tuple[list[str], list[list[Any]]]:
    """The queue, the inbox and the SLA board share these columns."""
    names, local = ctx.names, ctx.local
    out = [
        [
            r.inc.id,
            r.inc.title,
            names.status(r.inc.status),
            names.category(r.inc.category),
            names.municipality(r.inc.municipality),
            names.body(r.inc.body_code),
            r.inc.networks or "",
            r.inc.post_count,
            r.inc.reach,
            r.inc.priority,
            local(r.inc.opened_at),
            f"{names.clock(r.first.name)} {local(r.first.due_at)}" if r.first else "",
            data.left_text(r.first.left) if r.first else "",
            data.CLOCK_STATES.get(r.worst, ""),
            r.lock or "",
        ]
        for r in rows
    ]
    return QUEUE_COLUMNS, out


def map_table(cells: list[data.MapCell]) -> tuple[list[str], list[list[Any]]]:
    return MAP_COLUMNS, [[c.name, c.count, c.previous, c.change] for c in cells]


def ratings_table(chosen: list[data.Rating]) -> tuple[list[str], list[list[Any]]]:
    rows = [
        [
            r.name,
            r.fig.incidents,
            None if r.share_24h is None else round(r.share_24h, 3),
            r.fig.median_hours_to_answer,
            None if r.rereview_rate is None else round(r.rereview_rate, 3),
            r.fig.overdue,
            "да" if r.fig.rated else "мало данных",
            "да" if r.red else "",
        ]
        for r in chosen
    ]
    return RATING_COLUMNS, rows
