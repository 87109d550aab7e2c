"""The commented files of a new region folder (`incidents region new`): each says what it is for,
what the language base already gives, and what to write — with examples in comments, so that the
folder is valid as it stands and `incidents check-config` lists what is left."""

from __future__ import annotations

REGION = """\
# region.yaml — the region itself. Model: core.config.RegionInfo; every key:
# config/README.md. Made by `incidents region new`; what is left to fill in:
# `incidents --config {folder} check-config`, step by step: docs/new-region.md.

code: {code}
name: {title}
base: ru              # the Russian-language base, config/base/ru: rubricator, markers, answer templates
timezone: {timezone}
# Words that name the region as a whole in posts (matched in every inflection): the region's
# name, its short forms, what its residents are called («Курская область», «Курщина», «куряне»).
aliases:
  - {title}
{centroid}
{map}
# schedules: {{process: every 2m, sla_watch: every 5m, report: "0 6 * * *"}}   # the defaults
# privacy: {{raw_retention_days: 90}}                                            # the defaults
"""

RUBRICATOR = """\
# rubricator.yaml — this region's deltas over the Russian-language base
# (config/base/ru/rubricator.yaml: 15 categories, their subcategories, facts and keyword rules).
# Write here only what is local; by id, a rule of the base can be:
#
#   added      — a new id where it belongs:
#     categories:
#       - code: housing_utilities
#         subcategories:
#           - code: heating
#             rules:
#               - id: {code}.heating.companies
#                 phrases: [Название теплосети]       # the local heat supplier
#                 weight: 0.7
#   overridden — a base id with the keys to change (the others stay the base's):
#               - id: water.water_supply.generic
#                 phrases: {{add: [Название водоканала]}}   # or a full list to replace them
#   removed    — a base id with `remove: true`:
#               - id: transport.rail.train
#                 remove: true
#
# Candidates: the utility companies (heat, water, power, gas, waste operator), rivers and
# lakes, parks, the highways and bus routes between the region's towns (see Kursk's file).
"""

SIGNALS = """\
# signals.yaml — this region's deltas over the Russian-language base (config/base/ru/signals.yaml:
# complaint, noise, event, thanks and place markers, weights and threshold, explained there).
#
# How officials address the residents — an announcement's opening, noise:
# noise_markers:
#   phrases:
#     add: [уважаемые жители области]
#
# author_ids of the bodies' own pages besides bodies.yaml → accounts (their posts are not complaints):
# official_authors: ["vk:-123456"]
#
# The region's own appeal history (a feedback-platform export, CSV with `text`; outside the
# repository) makes the shipped model a regional one:
# model:
#   appeals: /srv/data/{code}_appeals.csv
"""

REPLIES = """\
# replies.yaml — this region's deltas over the Russian-language base (config/base/ru/replies.yaml:
# the answer templates, approval, retries). A template of the base is overridden by its id, or
# removed with `- {{id: …, remove: true}}`; a new id adds one.

signature: "ЦУР {title_gen}"
"""

BODIES = """\
# bodies.yaml — who answers. Model: core.config.Body; every key: config/README.md.
# Only the triage queue exists yet: until bodies and routing rules are written, EVERY incident
# goes to it for manual triage (`incidents check-config` says so).
#
# A body (name it exactly as it names itself and as the platform's data names it):
#   - code: adm_{example}
#     name: Администрация …
#     level: municipal              # municipal, regional, federal, utility or admin
#     territories: [{example}]      # municipality codes of territories.yaml; empty = the whole region
#     categories: [roads, landscaping]
#     contacts: {{email: …, telegram_chat_id: "…"}}   # where SLA warnings go
#     accounts: ["vk:-123456"]      # its own pages: their posts are announcements, not complaints

triage_body: cur_{code}
bodies:
  - code: cur_{code}
    name: ЦУР {title_gen}
    level: admin
    contacts: {{}}                   # e-mail and Telegram chat of the triage desk
"""

ROUTING = """\
# routing.yaml — who answers which incident. Model: core.config.RoutingRule; every key:
# config/README.md. The first matching rule wins; a key left out matches anything; with no rule
# every incident goes to the triage queue (bodies.yaml → triage_body).
#
# rules:
#   - {{category: roads, municipality: [{example}], body: adm_{example}, note: "дороги города"}}
#   - {{category: roads, scale: [region], body: reg_roads, note: "дороги между районами"}}
#   - {{body: "adm_{{municipality}}", note: "остальное — администрация муниципалитета"}}
# (quote a value with {{ }} or a comma in a one-line mapping, as above)
#
# The municipality assumed when a complaint names no place (the regional centre):
# unplaced_municipality: {example}

rules: []
"""

SOURCES = """\
# sources.yaml — where posts come from. Model: core.config.SourceConfig; every kind and
# its params: crawlers/README.md. Tokens never go here (the environment: VK_TOKEN, …). With no
# enabled source nothing is crawled: posts come in only through `incidents import`.
#
# sources:
#   - {{id: vk_{code}_news, network: vk, kind: wall, params: {{owner_id: -123456}}, schedule: every 10m}}
#   - {{id: tg_{code}_chat, network: telegram, kind: preview, params: {{channel: name}}, municipality: {example}}}

sources: []
"""

SLA = """\
# sla.yaml — answer deadlines. Model: core.config.SlaPolicy; every key: config/README.md.

first_answer_hours: 24        # the public first answer is due a day after the incident opens
hours: calendar               # or `working` (the calendar below)
at_risk_margin_hours: 4
calendar:
  country: RU                 # official holidays and day transfers of every year
  workday_start: "09:00"
  workday_end: "18:00"
# clocks: {{triage: {{hours: 2}}, draft: {{hours: 8}}}}   # the region's stricter internal clocks
# escalation: {{at_risk: [body], overdue: [body, body_head, regional_admin]}}
"""

CLUSTERING = """\
# clustering.yaml — merging posts into incidents. Model: core.config.ClusteringPolicy;
# every key and its default: config/README.md. The defaults apply; write a key to change it:
# window_hours: 72
# threshold: 0.45
"""
