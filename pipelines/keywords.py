"""Keyword rules from the rubricator, compiled once into one phrase matcher.

A rule fires when one of its phrases matches within its window, at least one `require`
lemma occurs (if any are given) and no `forbid` lemma does. The fired rules are kept in the
signal, so an administrator can see why a post became a signal.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from core.config import KeywordRule, Markers, Rubricator, _all_rules
from core.records import RuleHit
from pipelines.lemmas import Lemmatizer
from pipelines.phrases import PhraseMatcher


@dataclass(slots=True, frozen=True)
class _RuleMeta:
    rule_id: str
    category: str
    subcategory: str | None
    fact: str | None
    weight: float
    require: frozenset[str]
    forbid: frozenset[str]


def _context(lem: Lemmatizer, words: list[str]) -> frozenset[str]:
    out: set[str] = set()
    for w in words:
        for token in w.lower().replace("ё", "е").split():
            out.add(lem.lemma(token))
    return frozenset(out)


class KeywordRules:
    def __init__(self, rubricator: Rubricator, lemmatizer: Lemmatizer) -> None:
        self._matcher: PhraseMatcher[_RuleMeta] = PhraseMatcher(lemmatizer, headwords=True)
        self.rule_count = 0
        for cat in rubricator.categories:
            self._add(lemmatizer, cat.rules, cat.code, None, None)
            for sub in cat.subcategories:
                self._add(lemmatizer, sub.rules, cat.code, sub.code, None)
                for fact in sub.facts:
                    self._add(lemmatizer, fact.rules, cat.code, sub.code, fact.code)
        self.category_names = {c.code: c.name for c in rubricator.categories}
        self.precedence = tuple((frozenset(r.object), frozenset(r.over)) for r in rubricator.precedence)
        self.rule_ids = {r.id for c in rubricator.categories for r in _all_rules(c)}

    def _add(
        self, lem: Lemmatizer, rules: list[KeywordRule], cat: str, sub: str | None, fact: str | None
    ) -> None:
        for rule in rules:
            meta = _RuleMeta(
                rule.id, cat, sub, fact, rule.weight, _context(lem, rule.require), _context(lem, rule.forbid)
            )
            for phrase in rule.phrases:
                self._matcher.add(phrase, meta, window=rule.window)
            self.rule_count += 1

    def __call__(self, lemmas: list[tuple[str, ...]], tokens: list[str]) -> list[RuleHit]:
        matches = self._matcher.find(lemmas)
        if not matches:
            return []
        present: set[str] | None = None
        fired: dict[str, RuleHit] = {}
        for m in matches:
            meta = m.payload
            if meta.rule_id in fired:
                continue
            if meta.require or meta.forbid:
                if present is None:
                    present = {lemma for cands in lemmas for lemma in cands}
                if meta.require and not (meta.require & present):
                    continue
                if meta.forbid & present:
                    continue
            words = " ".join(tokens[m.start : m.end + 1])
            fired[meta.rule_id] = RuleHit(
                meta.rule_id, meta.category, meta.subcategory, meta.fact, meta.weight, words
            )
        return list(fired.values())


# A rule at least this heavy that is not a category's generic word names the problem itself.
SPECIFIC_WEIGHT = 1.2


def _generic(h: RuleHit) -> bool:
    """A category's generic words (rule ids `<category>.generic.*`, or rules on the category itself)."""
    return h.subcategory is None or h.subcategory == "generic"


def _codes(h: RuleHit) -> tuple[str, str, str]:
    """A hit's codes for precedence: its category, `category.subcategory` — `category.generic`
    for a category's generic words (rule ids `<category>.generic.*`, no subcategory), so that
    `over: [waste.generic]` reaches «мусор» — and its rule id."""
    return h.category, f"{h.category}.{h.subcategory or 'generic'}", h.rule_id


def _object_over(
    hits: list[RuleHit],
    cat: str,
    by_cat: dict[str, float],
    precedence: tuple[tuple[frozenset[str], frozenset[str]], ...],
) -> str:
    """rubricator.yaml → precedence: when the winning category's strongest rule is a generic
    problem listed in `over` and a rule naming an object listed in `object` fired too, the
    object's category wins («крыша течёт» in a hospital is the hospital's matter)."""
    # on equal weight a specific rule is the stronger evidence than the category's generic words
    top = max((h for h in hits if h.category == cat), key=lambda h: (h.weight, not _generic(h)))
    for objects, over in precedence:
        if not over.intersection(_codes(top)):
            continue
        cands = {h.category for h in hits if h.category != cat and objects.intersection(_codes(h))}
        if cands:
            return max(cands, key=lambda c: by_cat[c])
    return cat


def best_category(
    hits: list[RuleHit], precedence: tuple[tuple[frozenset[str], frozenset[str]], ...] = ()
) -> tuple[str | None, str | None, str | None, float]:
    """The category with the most rule weight (or the object's, by `precedence`); the most
    specific subcategory and fact in it. The score is the heaviest category's weight either way."""
    if not hits:
        return None, None, None, 0.0
    by_cat: dict[str, float] = defaultdict(float)
    for h in hits:
        by_cat[h.category] += h.weight
    cat = max(by_cat, key=lambda c: (by_cat[c], -min(i for i, h in enumerate(hits) if h.category == c)))
    score = by_cat[cat]
    if all(_generic(h) for h in hits if h.category == cat):
        # a category named only by its generic words («мусор», «дорога») gives way to one a
        # specific rule found («пьяная компания, мусор, шприцы» is public order)
        specific = {
            h.category: by_cat[h.category] for h in hits if not _generic(h) and h.weight >= SPECIFIC_WEIGHT
        }
        if specific:
            cat = max(
                specific, key=lambda c: (specific[c], -min(i for i, h in enumerate(hits) if h.category == c))
            )
    if precedence:
        cat = _object_over(hits, cat, by_cat, precedence)
    in_cat = [h for h in hits if h.category == cat]
    by_sub: dict[str, float] = defaultdict(float)
    for h in in_cat:
        if h.subcategory:
            by_sub[h.subcategory] += h.weight
    sub = max(by_sub, key=by_sub.__getitem__) if by_sub else None
    facts = [h for h in in_cat if h.fact and h.subcategory == sub]
    fact = max(facts, key=lambda h: h.weight).fact if facts else None
    return cat, sub, fact, score


class MarkerSet:
    """Complaint, noise or thanks markers: how many distinct marker phrases occur."""

    def __init__(self, markers: Markers, lemmatizer: Lemmatizer, window: int = 3) -> None:
        self.weight = markers.weight
        self._matcher: PhraseMatcher[str] = PhraseMatcher(lemmatizer)
        for phrase in markers.phrases:
            # «=продаю»: these very word forms, not every form of the lemma (PhraseMatcher.add)
            exact = phrase.startswith("=")
            text = phrase[1:].strip() if exact else phrase
            self._matcher.add(text, text, window=max(window, len(text.split()) - 1), exact=exact)

    def __call__(self, lemmas: list[tuple[str, ...]]) -> list[str]:
        return sorted({m.payload for m in self._matcher.find(lemmas)})
