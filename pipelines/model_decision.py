"""How the model decides beside the rules (signals.yaml → model): the feedback platform's
prior, the topic classifier where the rules are silent (or unsure), and the reasons that record
both. `pipelines.signals.SignalBuilder` calls `apply_model` once per batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.records import NormalizedText, SignalRecord
from pipelines.model import best_in, example

if TYPE_CHECKING:
    from core.config import SignalModelPolicy
    from pipelines.model import SignalModel

POS = "pos"  # the feedback platform (ПОС): a complaint channel
INQUIRY_REASON = "inquiry"
# Complaint markers that only make a request polite: beside an inquiry they do not say what is wrong.
_POLITE = frozenset(["прошу", "просить", "необходимо", "необходимый", "пожалуйста"])

# The rules are unsure of a category named by less weight than one strong rule, or by barely
# more than a rival category's (then the topic classifier may choose: model.topic_over_unsure).
UNSURE_WEIGHT = 1.0
UNSURE_RIVAL = 0.75


def rules_unsure(sig: SignalRecord) -> bool:
    """Whether the rules' category is light or contested (see UNSURE_WEIGHT, UNSURE_RIVAL)."""
    by_cat: dict[str, float] = {}
    for h in sig.rules:
        by_cat[h.category] = by_cat.get(h.category, 0.0) + h.weight
    mine = by_cat.get(sig.category or "", 0.0)
    rival = max((w for c, w in by_cat.items() if c != sig.category), default=0.0)
    return mine < UNSURE_WEIGHT or rival >= UNSURE_RIVAL * mine


def pos_rejects(sig: SignalRecord, text: str) -> bool:
    """On the feedback platform (a complaint channel) only thanks, spam, requests for
    information or proposals, and pure questions are not complaints. A complaint marker
    beside thanks or an inquiry overrules them unless it only makes a request polite
    («прошу»)."""
    said = {r.split(" ", 1)[0] for r in sig.reasons}
    markers = [r for r in sig.reasons if r.startswith("complaint markers ")]
    found = {m.strip() for r in markers for m in r[len("complaint markers ") :].split(":")[0].split(",")}
    complaint = bool(found - _POLITE)
    if ("thanks" in said or INQUIRY_REASON in said) and not complaint:
        return True
    if any(r.startswith("noise markers") for r in sig.reasons) and not sig.rules:
        return True
    return not sig.rules and not complaint and text.rstrip().endswith("?")


def decide_pos(mp: SignalModelPolicy, sig: SignalRecord, p: float, text: str) -> bool:
    """The feedback platform is a complaint channel (a strong prior): a message a problem
    rule fired on is a complaint whatever the model's probability — the model was fitted on
    social-media posts, where a two-word «реклама на опоре» is an ad, not a form's title —
    and one no rule fired on is one from `pos_threshold`; thanks, inquiries, spam and pure
    questions are not (`pos_rejects`) — except a request that the model reads as a complaint
    (p ≥ `threshold`): «… прошу сообщить, когда уберут свалку» describes the problem first."""
    said = {r.split(" ", 1)[0] for r in sig.reasons}
    if INQUIRY_REASON in said and "thanks" not in said and sig.category is not None and p >= mp.threshold:
        return True
    if pos_rejects(sig, text):
        return False
    return sig.category is not None or p >= mp.pos_threshold


def apply_model(
    model: SignalModel, mp: SignalModelPolicy, sigs: Sequence[SignalRecord], norms: Sequence[NormalizedText]
) -> None:
    """The trained model (signals.yaml → model) decides on candidates, beside the rules'
    findings, which it takes as features; the reasons record both."""
    exs = [example(sig, norm) for sig, norm in zip(sigs, norms, strict=True)]
    a = model.assess(exs)  # the features once per batch, for the decision and the topic
    if mp.complaint:
        silent: list[int] = []
        off_platform = mp.threshold
        if mp.regional_threshold is not None and model.meta.get("kind") == "regional":
            off_platform = mp.regional_threshold
        for i, (sig, p) in enumerate(zip(sigs, a.probs, strict=True)):
            pos = sig.network == POS
            threshold = mp.pos_threshold if pos else off_platform
            decided = decide_pos(mp, sig, p, norms[i].text) if pos else p >= threshold
            if decided and _by_organisation(sig):
                decided = False  # an organisation's announcement or reply: the rules' word is final
            grams = model.grams(a, i) if decided else []
            why = f"; {', '.join(grams)}" if grams else ""
            channel = ", feedback platform" if pos else ""
            if sig.rules:
                sig.reasons.append(
                    f"model: p(complaint) = {p:.2f} (from {threshold:.2f}{channel}) → "
                    f"{'complaint' if decided else 'not a complaint'}"
                    f"{' (a problem on the feedback platform)' if pos and decided and p < mp.threshold else ''}"
                    "; rules alone: "
                    f"{'complaint' if sig.is_complaint else 'not a complaint'} at {sig.score:.2f}{why}"
                )
            elif decided:
                sig.reasons.append(
                    f"model {p:.2f}: {', '.join(grams) or 'the words as a whole'} "
                    f"(from {threshold:.2f}{channel}; no rule fired)"
                )
                silent.append(i)
            sig.is_complaint = decided
        unsure = [i for i, sig in enumerate(sigs) if sig.is_complaint and sig.rules and rules_unsure(sig)]
        if model.topic is not None and (silent or (unsure and mp.topic_over_unsure < 1.0)):
            asked = silent + (unsure if mp.topic_over_unsure < 1.0 else [])
            for i, (cat, pc) in zip(asked, model.topics_at(a, asked), strict=True):
                sig = sigs[i]
                if not sig.rules:
                    sig.category = cat
                    sig.reasons.append(f"model: category {cat} ({pc:.2f}), the rules are silent")
                elif cat != sig.category and pc >= mp.topic_over_unsure:
                    sig.reasons.append(
                        f"model: category {cat} ({pc:.2f}) over the rules' unsure {sig.category}"
                    )
                    sig.category = cat
                    sig.subcategory, sig.fact = best_in(sig.rules, cat)
        for i in silent:
            if sigs[i].category is None:
                sigs[i].is_complaint = False
    if mp.category and model.category is not None:
        for sig, (cat, pc) in zip(sigs, model.categories(exs), strict=True):
            if sig.rules and cat != sig.category and any(h.category == cat for h in sig.rules):
                sig.reasons.append(f"model: category {cat} ({pc:.2f}) over the rules' {sig.category}")
                sig.category = cat
                sig.subcategory, sig.fact = best_in(sig.rules, cat)


def _by_organisation(sig: SignalRecord) -> bool:
    """The signal stage found the author to be an official account or an organisation's page."""
    return any(r.startswith(("official account ", "official author ")) for r in sig.reasons)
