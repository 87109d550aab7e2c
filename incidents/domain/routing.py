"""Routing: category × subcategory × municipality × scale → the responsible body.

Rules are tried in order and the first match wins; a missing key matches anything. When no
rule matches, the incident goes to the regional administrator's triage queue: never dropped.

A complaint that names no place in the region can be routed as if it were in the region's
`unplaced_municipality` (routing.yaml): on Kursk's feedback platform most appeals whose text
names no town came from the regional centre, and its body is a better first guess than the
triage queue. The reason says the place was assumed, so the administrator can see it.
"""

from __future__ import annotations

from dataclasses import dataclass

from incidents.core.config import RegionConfig, RoutingRule


@dataclass(slots=True, frozen=True)
class RouteDecision:
    body: str
    rule: int | None  # index in routing.yaml, None for the triage fallback
    reason: str


class Router:
    def __init__(self, cfg: RegionConfig) -> None:
        self.rules = cfg.routing.rules
        self.bodies = cfg.body_by_code
        self.triage = cfg.bodies.triage_body
        self.unplaced = cfg.routing.unplaced_municipality
        self._muni_names = {m.code: m.name for m in cfg.territories.municipalities}

    @staticmethod
    def _matches(
        rule: RoutingRule,
        category: str | None,
        subcategory: str | None,
        fact: str | None,
        municipality: str | None,
        scale: str | None,
        settlement: str | None = None,
    ) -> bool:
        if rule.category is not None and rule.category != category:
            return False
        if rule.subcategory is not None and rule.subcategory != subcategory:
            return False
        if rule.fact is not None and rule.fact != fact:
            return False
        if rule.municipality is not None and municipality not in rule.municipality:
            return False
        if rule.settlement is not None and settlement not in rule.settlement:
            return False
        return not (rule.scale is not None and scale not in rule.scale)

    def route(
        self,
        *,
        category: str | None,
        subcategory: str | None = None,
        fact: str | None = None,
        municipality: str | None = None,
        scale: str | None = None,
        settlement: str | None = None,
    ) -> RouteDecision:
        """`settlement`: the town or village the incident is in (territories.yaml name), if known."""
        assumed = ""
        if municipality is None and self.unplaced is not None:
            municipality = self.unplaced
            assumed = f" (место не названо — как для: {self._muni_names.get(municipality, municipality)})"
        for i, rule in enumerate(self.rules):
            if not self._matches(rule, category, subcategory, fact, municipality, scale, settlement):
                continue
            body = rule.body
            if "{" in body:
                if municipality is None:
                    continue
                body = body.format(municipality=municipality)
            if body not in self.bodies:
                continue  # a template that names no configured body: try the next rule
            why = (
                rule.note
                or f"rule {i}: {category or '*'}/{subcategory or '*'} in {municipality or '*'} ({scale or '*'})"
            )
            if body == self.triage:
                # a rule that names the triage queue is a decision not to assign: triage it
                return RouteDecision(body, None, f"{why} (rule {i})")
            return RouteDecision(body, i, why + assumed)
        return RouteDecision(self.triage, None, "no routing rule matched: regional administrator's queue")
