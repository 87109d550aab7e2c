"""Routing: category × subcategory × municipality × scale → the responsible body.

Rules are tried in order and the first match wins; a missing key matches anything. When no
rule matches, the incident goes to the regional administrator's triage queue: never dropped.

A complaint that names no place in the region can be routed as if it were in the region's
`unplaced_municipality` (routing.yaml): on Kursk's feedback platform most appeals whose text
names no town came from the regional centre, and its body is a better first guess than the
triage queue. The reason says the place was assumed, so the administrator can see it.

A complaint about the whole region («по всей области не чистят дороги»: scale `region`, no
municipality) is not such a complaint: it is routed by the rules alone, where `scale: [region]`
sends it to the regional body of its branch (docs/place-matching.md §8).

With a table learned from the region's history (`learned_routing.yaml`, see
`incidents.domain.learned_routing`) the order is: the administrator's explicit rules
(`explicit: true`), then the learned table where it is confident, then the other rules, then
the triage queue. The reason of a learned decision gives its evidence: how many earlier
appeals with the same key went to the body.

With a text model learned from the same history (`incidents.domain.text_routing`, in the data
directory) it comes right after the explicit rules: where it is at least as sure as the
threshold chosen on its validation slice, its body wins over the table and the rules; below
the threshold the post goes on to them. Its reason names the words that decided it and its
probability.

With the desk step (`incidents.domain.desk_routing`, in the data directory) a rule's body is moved
to the desk of its organisation that is taking complaints now: the head itself when it took
most of the organisation's latest appeals, else, where the rule named the head, the desk its
desks' model reads from the text.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config import RegionConfig, RoutingRule
from core.records import SignalRecord
from incidents.domain.desk_routing import (
    DeskDecision,
    DeskExample,
    DeskRouter,
    desk_model_path,
    load_desk_router,
)
from incidents.domain.learned_routing import LEVELS, Case, Entry, LearnedTable, load_learned, normalise_street
from incidents.domain.text_routing import TextDecision, TextRouter, load_text_router, model_path


@dataclass(slots=True, frozen=True)
class RouteDecision:
    body: str
    rule: int | None  # index in routing.yaml, None for the triage fallback and a learned decision
    reason: str
    learned: str | None = None  # the learned level ("place", "street"…, "text" for the text model)
    probability: float | None = None  # the text model's, when it decided

    @property
    def assigned(self) -> bool:
        """A body was chosen (by a rule or the learned table), not the triage queue."""
        return self.rule is not None or self.learned is not None


class Router:
    def __init__(
        self,
        cfg: RegionConfig,
        *,
        learned: LearnedTable | None | bool = True,
        text: TextRouter | None | bool = None,
        desk: DeskRouter | None | bool = None,
    ) -> None:
        """`learned`: True reads the region folder's learned table if it has one; False or None
        routes on the rules alone; a table is used as given. `text`: the text model; True reads
        the region's model from the data directory if there is one (refused, with
        UntrustedRoutingModel, when its checksum does not match); None follows `learned`.
        `desk`: the desk step (`incidents.domain.desk_routing`), which moves a rule's body to the
        desk of its organisation that is taking complaints now; True reads the region's from the data
        directory if there is one; None follows `learned`."""
        self.rules = cfg.routing.rules
        self.bodies = cfg.body_by_code
        self.triage = cfg.bodies.triage_body
        self.unplaced = cfg.routing.unplaced_municipality
        self._muni_names = {m.code: m.name for m in cfg.territories.municipalities}
        self._cat_names = {c.code: c.name for c in cfg.rubricator.categories}
        self._sub_names = {s.code: s.name for c in cfg.rubricator.categories for s in c.subcategories}
        learned_arg = learned
        if learned is True:
            learned = load_learned(cfg.root)
        self.learned: LearnedTable | None = learned or None
        if text is None:
            text = learned_arg is True  # Router(cfg) reads both; a table given, or none, reads no model
        if text is True:
            text = load_text_router(model_path(cfg))
        self.text: TextRouter | None = text or None
        if desk is None:
            desk = learned_arg is True  # like the text model: Router(cfg) reads it, a given table does not
        if desk is True:
            desk = load_desk_router(desk_model_path(cfg))
        self.desk: DeskRouter | None = desk or None

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

    def route_case(self, case: Case) -> RouteDecision:
        """Route what a history row or an incident is known by (our codes and its street)."""
        return self.route(
            category=case.category,
            subcategory=case.subcategory,
            fact=case.fact,
            municipality=case.municipality,
            street=case.street,
        )

    def route_signal(self, sig: SignalRecord, scale: str | None) -> RouteDecision:
        """Route one post's signal as an incident of it alone (`assess.scale_of_signal` gives the
        scale): how the routing studies and the desk step read a history one appeal at a time."""
        return self.route(
            category=sig.category,
            subcategory=sig.subcategory,
            fact=sig.fact,
            municipality=sig.municipality,
            scale=scale,
            settlement=sig.entities.address.settlement,
        )

    def route(
        self,
        *,
        category: str | None,
        subcategory: str | None = None,
        fact: str | None = None,
        municipality: str | None = None,
        scale: str | None = None,
        settlement: str | None = None,
        street: str | None = None,
        text: str | None = None,
        address: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
    ) -> RouteDecision:
        """`settlement`: the town or village the incident is in (territories.yaml name), if known;
        `street`: its street, for the learned table; `text` and `address`: the complaint's words
        and address line, for the text model; `lat`/`lon`: its point, for a text model learned
        with points (its district, okrug and the bodies of earlier complaints around it)."""
        named_municipality = municipality
        assumed = ""
        whole_region = municipality is None and scale == "region"
        if whole_region:
            # «по всей области»: the region's problem goes to the regional body of its branch
            # (the rules' `scale: [region]`), not to the unplaced municipality's nor to a body
            # the learned table or the text model know for complaints that merely named no town
            assumed = " (весь регион)"
        elif municipality is None and self.unplaced is not None:
            municipality = self.unplaced
            assumed = f" (место не названо — как для: {self._muni_names.get(municipality, municipality)})"
        explicit = [(i, r) for i, r in enumerate(self.rules) if r.explicit]
        d = self._by_rules(explicit, category, subcategory, fact, municipality, scale, settlement, assumed)
        if d is not None:
            return d
        entry = None
        if self.learned is not None and not whole_region:
            case = Case(category, subcategory, fact, municipality, normalise_street(street))
            entry = self.learned.lookup(case, self.bodies)
            if entry is not None and entry.corrections:  # dispatchers said so since the model learned
                return self._learned_decision(entry, case, assumed)
        if self.text is not None and text and not whole_region:
            td = self.text.predict(text, address or "", named_municipality, self.bodies, lat, lon)
            if td is not None and td.confident:
                by_point = lat is not None and lon is not None and self.text.point_history is not None
                return self._text_decision(td, by_point)
        if entry is not None:
            return self._learned_decision(entry, case, assumed)
        rest = [(i, r) for i, r in enumerate(self.rules) if not r.explicit]
        d = self._by_rules(rest, category, subcategory, fact, municipality, scale, settlement, assumed)
        if d is not None and self.desk is not None:
            item = DeskExample(text or "", d.body, category, subcategory, named_municipality, scale, street)
            dd = self.desk.choose(d.body, item)
            if dd is not None and dd.body in self.bodies:
                return self._desk_decision(dd, d)
        if d is not None:
            return d
        return RouteDecision(self.triage, None, "no routing rule matched: regional administrator's queue")

    def _text_decision(self, td: TextDecision, by_point: bool = False) -> RouteDecision:
        """The text model's body, with the words that decided it, whether the post's point
        counted too (its district and the earlier complaints around it), and how sure it is."""
        words = ", ".join(f"«{w}»" for w in td.words) or "—"
        assert self.text is not None
        point = " и точка на карте" if by_point else ""
        why = (
            f"обучено по тексту: слова {words}{point} → {self.bodies[td.body].name} "
            f"(вероятность {td.probability:.2f}, порог {self.text.threshold:.2f})"
        )
        if td.body == self.triage:
            return RouteDecision(td.body, None, why)
        return RouteDecision(td.body, None, why, learned="text", probability=round(td.probability, 3))

    def _desk_decision(self, dd: DeskDecision, by_rule: RouteDecision) -> RouteDecision:
        """The desk step's body, with the organisation's latest handlers that decided it."""
        head = self.bodies[dd.head].name
        if dd.kind == "head":
            why = (
                f"сейчас обращения организации принимает {head}: {dd.taken} из {dd.recent} последних "
                f"(правило назвало {self.bodies[by_rule.body].name})"
            )
        else:
            why = (
                f"сейчас обращения организации «{head}» принимают её отделы ({dd.recent - dd.taken} из "
                f"{dd.recent} последних); по тексту — {self.bodies[dd.body].name}"
            )
        return RouteDecision(dd.body, by_rule.rule, why, learned="desk")

    def _learned_decision(self, entry: Entry, case: Case, assumed: str) -> RouteDecision:
        """The learned body with its evidence, in words a dispatcher reads on the card."""
        body = LearnedTable.resolve(entry, case) or self.triage
        what = self._sub_names.get(case.subcategory or "") if "subcategory" in _fields(entry) else None
        what = what or self._cat_names.get(case.category or "", case.category or "—")
        where = ""
        if "street" in _fields(entry):
            where = f" на {case.street}"
        if "municipality" in _fields(entry) or "{" in entry.body:
            where += f" в {self._muni_names.get(case.municipality or '', case.municipality)}"
        why = (
            f"обучено: {entry.hits} из {entry.n} прежних обращений о «{what}»{where} "
            f"ушли в {self.bodies[body].name}"
        )
        if entry.corrections:
            why += f" (из них переназначения диспетчеров: {entry.corrections})"
        if body == self.triage:
            return RouteDecision(body, None, why)
        return RouteDecision(body, None, why + assumed, learned=entry.level)

    def _by_rules(
        self,
        rules: list[tuple[int, RoutingRule]],
        category: str | None,
        subcategory: str | None,
        fact: str | None,
        municipality: str | None,
        scale: str | None,
        settlement: str | None,
        assumed: str,
    ) -> RouteDecision | None:
        """The first of `rules` that matches and names a configured body; None if none does."""
        for i, rule in rules:
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
        return None


def _fields(entry: Entry) -> tuple[str, ...]:
    return dict(LEVELS)[entry.level]
