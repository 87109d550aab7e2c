"""The console's routes, one router per area of the work.

`auth` (log-in, log-out, the home redirect), `queue` (the triage queue and its bulk actions), `card`
(the incident card, its "working on it" mark), `actions` (the workflow steps taken from the card),
`operations` (the administrator's merge, split and move), `inbox`, `sla` (the board and its live
counters), `maps` (the heat map), `ratings`; `exports` holds the tables the lists download as CSV or
XLSX. `console.app.create_app` includes them in this order.
"""

from __future__ import annotations

from fastapi import APIRouter

from console.routes import actions, auth, card, inbox, maps, operations, queue, ratings, sla

ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    queue.router,
    card.router,
    actions.router,
    operations.router,
    inbox.router,
    sla.router,
    maps.router,
    ratings.router,
)

__all__ = ["ROUTERS"]
