"""The web console: where the administrator triages and municipal staff answer.

FastAPI + Jinja2, rendered on the server, in Russian; a little plain JavaScript (vendored in
`static/`, no CDN) only for the live SLA counters, the "who is working on it" lock and
select-all. Started by `incidents serve`. Every page reads through the domain
(`incidents.workflow`, `incidents.sla_clocks`, `incidents.sla_report`, `incidents.search`);
every change goes through `incidents.workflow.Workflow`, so the role and body checks of
`incidents.roles` apply to the console exactly as to the command line.

Modules: `auth` (passwords, signed session cookie, CSRF), `data` (read models of the pages),
`geo` (the offline SVG map), `exports` (CSV and XLSX), `ops` (merge/split/move, the
administrator's operations of `incidents.operations`), `app` (the routes), `cli` (`serve`).
"""
