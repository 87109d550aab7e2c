"""territories.yaml, bodies.yaml and routing.yaml: where things are and who answers for them."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from core.config.base import _Strict


# --------------------------------------------------------------------------- territories.yaml
class Place(_Strict):
    name: str
    aliases: list[str] = Field(
        default_factory=list, description="Other spellings; matched case-insensitively on lemmas."
    )


class Municipality(_Strict):
    code: str = Field(description="Stable code, used in routing rules, exports and labels.")
    name: str = Field(description="Official name, e.g. 'город Курск', 'Курский район'.")
    kind: Literal["city_okrug", "municipal_okrug", "municipal_district", "city_district"] = (
        "municipal_district"
    )
    oktmo: str | None = Field(
        None, description="ОКТМО code of the municipality (stable, from the state register)."
    )
    aliases: list[str] = Field(
        default_factory=list, description="Names as residents write them: 'Курск', 'Курске'."
    )
    centroid: tuple[float, float] | None = Field(None, description="(lat, lon) for maps.")
    population: int | None = Field(
        None,
        ge=1,
        description="Residents (e.g. Rosstat's census), for the map's incidents per 10,000 residents.",
    )
    settlements: list[Place] = Field(default_factory=list, description="Towns and villages inside it.")
    streets: list[Place] = Field(default_factory=list, description="Streets that identify it (unique ones).")
    subdivisions: list[Place] = Field(default_factory=list, description="Intra-city okrugs / microdistricts.")


class Territories(_Strict):
    municipalities: list[Municipality] = Field(min_length=1)
    foreign_places: list[str] = Field(
        default_factory=list,
        description="Places outside the region that residents mention (other regions' cities): off-region markers.",
    )
    shared_streets_in: str | None = Field(
        None,
        description="Municipality code (the regional centre) that a street also found in other towns names when "
        "the text names no other place: a weak place, the town of the local page or thread still wins. "
        "None: such a street names no municipality.",
    )

    @model_validator(mode="after")
    def _unique_codes(self) -> Territories:
        codes = [m.code for m in self.municipalities]
        dup = {c for c in codes if codes.count(c) > 1}
        if dup:
            raise ValueError(f"duplicate municipality codes: {sorted(dup)}")
        return self


# --------------------------------------------------------------------------- bodies.yaml
class Contacts(_Strict):
    email: str | None = None
    phone: str | None = None
    telegram_chat_id: str | None = None
    head_email: str | None = Field(
        None, description="Head of the body, notified when an incident is overdue."
    )


class Body(_Strict):
    code: str
    name: str = Field(description="Exact name, as the body names itself (and as real data names it).")
    level: Literal["municipal", "regional", "federal", "utility", "admin"]
    territories: list[str] = Field(
        default_factory=list, description="Municipality codes it serves; empty = whole region."
    )
    categories: list[str] = Field(default_factory=list, description="Category codes it handles.")
    contacts: Contacts = Field(default_factory=Contacts)
    accounts: list[str] = Field(
        default_factory=list, description="author_id values of the body's own accounts."
    )
    parent: str | None = Field(
        None,
        description="Code of the body this one is part of (a city committee → the city administration): "
        "routing to the parent or a sibling stays inside one organisation.",
    )


class Bodies(_Strict):
    bodies: list[Body] = Field(min_length=1)
    triage_body: str = Field(
        description="Code of the regional administrator's queue: where unrouted incidents go."
    )

    @model_validator(mode="after")
    def _check(self) -> Bodies:
        codes = [b.code for b in self.bodies]
        dup = {c for c in codes if codes.count(c) > 1}
        if dup:
            raise ValueError(f"duplicate body codes: {sorted(dup)}")
        if self.triage_body not in codes:
            raise ValueError(f"triage_body {self.triage_body!r} is not a body code")
        known = set(codes)
        for b in self.bodies:
            if b.parent is not None and (b.parent not in known or b.parent == b.code):
                raise ValueError(f"body {b.code!r}: parent {b.parent!r} is not another body's code")
        parents = {b.code: b.parent for b in self.bodies}
        for b in self.bodies:
            seen, cur = {b.code}, b.parent
            while cur is not None:
                if cur in seen:
                    raise ValueError(f"body {b.code!r}: parent chain loops through {cur!r}")
                seen.add(cur)
                cur = parents[cur]
        return self

    def organisation_of(self, code: str) -> str:
        """The top of a body's parent chain: the organisation it belongs to."""
        parents = {b.code: b.parent for b in self.bodies}
        while parent := parents.get(code):
            code = parent
        return code


# --------------------------------------------------------------------------- routing.yaml
class RoutingRule(_Strict):
    """First matching rule wins; a missing key matches anything."""

    category: str | None = None
    subcategory: str | None = None
    fact: str | None = None
    municipality: list[str] | None = Field(None, description="Municipality codes; None = any.")
    settlement: list[str] | None = Field(
        None,
        description="Settlement names as in territories.yaml (a town inside a district with an administration "
        "of its own: «Обоянь»); None = any.",
    )
    scale: list[Literal["house", "street", "settlement", "municipality", "region"]] | None = None
    body: str = Field(description="Body code, or '{municipality}' templates like 'adm_{municipality}'.")
    note: str | None = None
    explicit: bool = Field(
        False,
        description="An administrator's decision: tried before the table learned from history "
        "(learned_routing.yaml); the other rules come after it.",
    )


class Routing(_Strict):
    rules: list[RoutingRule]
    unplaced_municipality: str | None = Field(
        None,
        description="Municipality assumed when a complaint names no place in the region (the regional centre, "
        "where most such complaints come from); None sends them through the rules with no municipality.",
    )
