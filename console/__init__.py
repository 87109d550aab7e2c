"""The web console: where the administrator triages and municipal staff answer.

FastAPI + Jinja2, rendered on the server, in Russian; a little plain JavaScript (vendored in
`static/`, no CDN) only for the live SLA counters, the "who is working on it" lock and
select-all. Started by `incidents serve`. Every page reads through the domain
(`incidents.services.workflow`, `incidents.domain.sla_clocks`, `incidents.domain.sla_report`, `incidents.services.search`);
every change goes through `incidents.services.workflow.Workflow`, so the role and body checks of
`core.roles` apply to the console exactly as to the command line.

Modules: `auth` (passwords, signed session cookie, CSRF), `data` (read models of the pages, one
module per page family), `geo` (the offline SVG map), `exports` (CSV and XLSX), `ops` (merge/split/move,
the administrator's operations of `incidents.services.operations`), `web` (the per-process context, the
viewer, the form), `deps` (the FastAPI dependencies), `routes` (one router per area), `app`
(`create_app`, the factory that puts them together). `incidents serve` starts it.
"""
