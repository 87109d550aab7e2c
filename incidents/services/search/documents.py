"""Database rows → Elasticsearch documents. Pure functions over rows and the region config.

Persons' names stay out unless `signals.yaml: keep_person_names` is true: the author's name and
the names NER found are left out, and those names are masked in texts, titles and summaries.
Places are points: the feedback platform's own coordinates when a post carries them, else the
centroid of the municipality.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.config import RegionConfig
from core.states import OPEN_STATES
from incidents.domain.sla import SlaPolicyEngine
from storage.models import Incident, Post, Signal

PERSON_MASK = "[имя скрыто]"
_OPEN = frozenset(s.value for s in OPEN_STATES)


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).isoformat()


def coordinates_of(raw: dict[str, Any] | None) -> tuple[float, float] | None:
    """(lat, lon) the source gave. The feedback platform's adapter (`crawlers/pos.py`) keeps them
    in `raw["pos"]` as latitude/longitude, taken from wherever its field mapping says; other
    payloads may carry geo {lat, lon}, lat/lon, latitude/longitude, coordinates [lat, lon] or an
    address object with lat/lon. Anything out of range (or the 0, 0 of an empty form) is ignored."""
    if not isinstance(raw, dict):
        return None
    cands: list[tuple[Any, Any]] = []
    pos = raw.get("pos")
    if isinstance(pos, dict):
        cands.append((pos.get("latitude"), pos.get("longitude")))
    address = raw.get("address")
    if isinstance(address, dict):
        cands.append((address.get("lat"), address.get("lon", address.get("lng"))))
    geo = raw.get("geo")
    if isinstance(geo, dict):
        cands.append((geo.get("lat"), geo.get("lon", geo.get("lng"))))
    cands.append((raw.get("lat"), raw.get("lon", raw.get("lng"))))
    cands.append((raw.get("latitude"), raw.get("longitude")))
    coords = raw.get("coordinates")
    if isinstance(coords, list | tuple) and len(coords) == 2:
        cands.append((coords[0], coords[1]))
    for lat, lon in cands:
        if isinstance(lat, bool) or isinstance(lon, bool):
            continue
        try:
            la, lo = float(lat), float(lon)
        except (TypeError, ValueError):
            continue
        if (
            math.isfinite(la)
            and math.isfinite(lo)
            and -90 <= la <= 90
            and -180 <= lo <= 180
            and (la, lo) != (0, 0)
        ):
            return la, lo
    return None


def mask_names(text: str | None, names: Iterable[str]) -> str | None:
    """Replace every occurrence of the given names (case-insensitive) with a mask."""
    if not text:
        return text
    uniq = sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True)
    if not uniq:
        return text
    pattern = re.compile("|".join(re.escape(n) for n in uniq), re.IGNORECASE)
    return pattern.sub(PERSON_MASK, text)


def persons_of(sig: Signal | None) -> list[str]:
    return list(((sig.entities if sig else None) or {}).get("persons") or [])


@dataclass(slots=True, frozen=True)
class IncidentRef:
    """The incident a post belongs to after following merges."""

    id: int
    status: str


class DocumentBuilder:
    """Builds documents for one region; holds the lookups (names, centroids, SLA engine)."""

    def __init__(self, cfg: RegionConfig, *, keep_person_names: bool | None = None) -> None:
        self.cfg = cfg
        self.region = cfg.region.code
        self.keep_person_names = (
            cfg.signals.keep_person_names if keep_person_names is None else keep_person_names
        )
        self.sla = SlaPolicyEngine(cfg.sla, cfg.region.timezone)
        self.triage_body = cfg.bodies.triage_body
        self.categories: dict[str, str] = {}
        self.subcategories: dict[tuple[str, str], str] = {}
        self.facts: dict[tuple[str, str, str], str] = {}
        for c in cfg.rubricator.categories:
            self.categories[c.code] = c.name
            for s in c.subcategories:
                self.subcategories[(c.code, s.code)] = s.name
                for f in s.facts:
                    self.facts[(c.code, s.code, f.code)] = f.name

    # ------------------------------------------------------------------ shared parts
    def _names(self, category: str | None, subcategory: str | None, fact: str | None) -> dict[str, Any]:
        cat_name = self.categories.get(category or "", category)
        sub_name = self.subcategories.get((category or "", subcategory or ""), subcategory)
        fact_name = self.facts.get((category or "", subcategory or "", fact or ""), fact)
        return {
            "category": category,
            "category_name": cat_name,
            "subcategory": subcategory,
            "subcategory_name": sub_name if subcategory else None,
            "fact": fact,
            "problem": fact_name or sub_name or cat_name,
        }

    def _place(self, municipality: str | None, coords: tuple[float, float] | None) -> dict[str, Any]:
        muni = self.cfg.municipality_by_code.get(municipality or "")
        out: dict[str, Any] = {"municipality": municipality, "municipality_name": muni.name if muni else None}
        if coords is not None:
            out["location"] = {"lat": coords[0], "lon": coords[1]}
            out["location_source"] = "platform"
        elif muni is not None and muni.centroid is not None:
            out["location"] = {"lat": muni.centroid[0], "lon": muni.centroid[1]}
            out["location_source"] = "municipality"
        return out

    # ------------------------------------------------------------------ posts
    def post_document(
        self, post: Post, sig: Signal | None, incident: IncidentRef | None, now: datetime
    ) -> dict[str, Any]:
        persons = persons_of(sig)
        keep = self.keep_person_names
        text = post.text if keep else mask_names(post.text, persons)
        ents = (sig.entities if sig else None) or {}
        doc: dict[str, Any] = {
            "post_key": f"{post.network}:{post.external_id}",
            "post_id": post.id,
            "region": self.region,
            "network": post.network,
            "external_id": post.external_id,
            "source_id": post.source_id,
            "parent_id": post.parent_id,
            "url": post.url,
            "author_id": post.author_id,
            "author_name": post.author_name if keep else None,
            "text": text,
            "created_at": iso(post.created_at),
            "updated_at": iso(
                max(t for t in (post.updated_at, sig.updated_at if sig else None) if t is not None)
            ),
            "indexed_at": iso(now),
            "edited": post.edited,
            "likes": post.likes,
            "reposts": post.reposts,
            "views": post.views,
            "reach": post.likes + post.reposts + post.views // 100,
            "analysed": sig is not None,
            "incident_id": incident.id if incident else None,
            "incident_status": incident.status if incident else None,
        }
        if sig is not None:
            doc.update(
                {
                    "is_complaint": sig.is_complaint,
                    "in_region": sig.in_region,
                    "decision": sig.decision,
                    "score": sig.score,
                    "address": sig.address,
                    "street": sig.street,
                    "scale": sig.scale,
                    "rules": [
                        r.get("rule_id")
                        for r in (sig.rules or [])
                        if isinstance(r, dict) and r.get("rule_id")
                    ],
                    "organisations": list(ents.get("organisations") or []),
                    "places": list(ents.get("locations") or []),
                    "persons": persons if keep else [],
                }
            )
            doc.update(self._names(sig.category, sig.subcategory, sig.fact))
        # the stored point first (interchange lat/lon, migration 0012), else what the payload holds
        point = (post.lat, post.lon) if post.lat is not None and post.lon is not None else None
        doc.update(self._place(sig.municipality if sig else None, point or coordinates_of(post.raw)))
        return {k: v for k, v in doc.items() if v is not None and v != []}

    # ------------------------------------------------------------------ incidents
    def incident_document(
        self,
        inc: Incident,
        now: datetime,
        *,
        persons: Iterable[str] = (),
        coords: tuple[float, float] | None = None,
    ) -> dict[str, Any]:
        persons = list(persons)
        keep = self.keep_person_names
        title = inc.title if keep else mask_names(inc.title, persons)
        summary = inc.summary if keep else mask_names(inc.summary, persons)
        status = self.sla.status(inc.due_at, inc.first_answer_at, now)
        open_ = inc.status in _OPEN
        if inc.first_answer_at is not None:
            outcome = "met" if inc.due_at is None or inc.first_answer_at <= inc.due_at else "late"
        elif inc.due_at is not None and inc.due_at <= now:
            outcome = "overdue"
        else:
            outcome = "pending"
        body = self.cfg.body_by_code.get(inc.body_code or "")
        doc: dict[str, Any] = {
            "incident_id": inc.id,
            "region": self.region,
            "title": title,
            "summary": summary,
            "status": inc.status,
            "open": open_,
            "priority": inc.priority,
            "body_code": inc.body_code,
            "body_name": body.name if body else inc.body_code,
            "assigned": bool(inc.body_code) and inc.body_code != self.triage_body,
            "address": inc.address,
            "street": inc.street,
            "scale": inc.scale,
            "opened_at": iso(inc.opened_at),
            "due_at": iso(inc.due_at),
            "first_answer_at": iso(inc.first_answer_at),
            "closed_at": iso(inc.closed_at),
            "first_post_at": iso(inc.first_post_at),
            "last_post_at": iso(inc.last_post_at),
            "updated_at": iso(inc.updated_at),
            "indexed_at": iso(now),
            "post_count": inc.post_count,
            "reach": inc.reach,
            "networks": [n for n in (inc.networks or "").split(",") if n],
            "manual": inc.manual,
            "linked_incident_id": inc.linked_incident_id,
            "sla_state": status.state,
            "sla_outcome": outcome,
            "sla_met": {"met": True, "late": False, "overdue": False}.get(outcome),
            "overdue": outcome == "overdue" and open_,
            "answer_minutes": (
                int((inc.first_answer_at - inc.opened_at).total_seconds() // 60)
                if inc.first_answer_at is not None
                else None
            ),
        }
        doc.update(self._names(inc.category, inc.subcategory, inc.fact))
        doc.update(
            self._place(
                inc.municipality, None if inc.municipality in self.cfg.municipality_by_code else coords
            )
        )
        return {k: v for k, v in doc.items() if v is not None and v != []}
