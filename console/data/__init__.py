"""What the console's pages show, read from the database: plain functions over a `Session`.

Nothing here changes anything (the workflow does that). Every list is already narrowed to
what the viewer may see: an executor gets their body's incidents only, whatever the URL
asks for — the routes pass the `Actor`, never a body taken from the query string alone.

One module per page family — `names` (codes to Russian, visibility), `snapshot` (the shared
per-process caches), `lists` (queue, inbox, SLA board), `locks` ("working on it"), `card`,
`figures` (heat map, ratings) — re-exported here so callers keep writing `data.queue(...)`.
"""

from __future__ import annotations

from console.data.card import Card, CardPost, card
from console.data.figures import (
    IncidentPoint,
    MapCell,
    Rating,
    heat,
    incident_points,
    median_or_none,
    ratings,
    users_by_login,
)
from console.data.lists import (
    Board,
    ListFilters,
    QueueRow,
    as_rows,
    board,
    matching,
    open_incidents,
    queue,
    search_incident_ids,
)
from console.data.locks import active_locks, release_lock, take_lock
from console.data.names import (
    ACTION_NAMES,
    CLOCK_NAMES,
    CLOCK_STATES,
    NETWORK_NAMES,
    OPEN,
    PERIODS,
    REPLY_STATUSES,
    STATUS_NAMES,
    UNTRIAGED,
    Names,
    left_text,
    may_see,
    visible,
)
from console.data.snapshot import Evaluated, Memo, OpenSnapshot, worst_state

__all__ = [
    "ACTION_NAMES",
    "CLOCK_NAMES",
    "CLOCK_STATES",
    "NETWORK_NAMES",
    "OPEN",
    "PERIODS",
    "REPLY_STATUSES",
    "STATUS_NAMES",
    "UNTRIAGED",
    "Board",
    "Card",
    "CardPost",
    "Evaluated",
    "IncidentPoint",
    "ListFilters",
    "MapCell",
    "Memo",
    "Names",
    "OpenSnapshot",
    "QueueRow",
    "Rating",
    "active_locks",
    "as_rows",
    "board",
    "card",
    "heat",
    "incident_points",
    "left_text",
    "matching",
    "may_see",
    "median_or_none",
    "open_incidents",
    "queue",
    "ratings",
    "release_lock",
    "search_incident_ids",
    "take_lock",
    "users_by_login",
    "visible",
    "worst_state",
]
