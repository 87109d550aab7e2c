"""post → signal: normalize → keyword filter → entities → classify, in that order.

The cheap steps run on every post; places and NER only on posts where a problem rule fired
(the candidates). The decision is a score the administrator can read back from the signal's
reasons: which rules, which markers, which place, which penalties.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from core.config import RegionConfig
from core.records import THREAD_CATEGORY_REASON, Entities, NormalizedText, PostRecord, SignalRecord
from pipelines.entities import NER_MAX_CHARS, EntityExtractor, NerTagger, add_ner
from pipelines.keywords import KeywordRules, MarkerSet, best_category
from pipelines.lemmas import Lemmatizer
from pipelines.model_decision import INQUIRY_REASON, POS, apply_model, pos_rejects
from pipelines.normalize import _TOKEN, Normalizer
from pipelines.placing import GivenPlace, region_locator
from pipelines.source_places import SourcePlaces

if TYPE_CHECKING:
    from pipelines.model import SignalModel

# Imperatives that ask other residents for information, not officials for action.
_PEER_VERBS = frozenset(
    [
        "подсказать",
        "откликнуться",
        "посоветовать",
        "сказать",
        "помочь",
        "поделиться",
        "написать",
        "смотреть",
        "посмотреть",
        "представить",
        "знать",
    ]
)
log = logging.getLogger(__name__)
# A resident speaking of themselves: event words («погибли», «спасателей нет») then describe
# their own trouble, not a news story (signals.yaml → event_markers).
_FIRST_PERSON = frozenset(
    [
        "я",
        "мы",
        "меня",
        "мне",
        "мной",
        "нас",
        "нам",
        "нами",
        "мой",
        "моя",
        "мое",
        "мои",
        "моего",
        "моей",
        "моих",
        "наш",
        "наша",
        "наше",
        "наши",
        "нашего",
        "нашей",
        "наших",
        "нашем",
    ]
)
# How channels and news sites write, and residents do not (measured on ../shared/data: 55 % and
# 5 % of the Telegram news posts, none of 24,000 resident complaints): a link under a word,
# «[исключить](https://…)», and a quote attributed after a dash, «…отопление, — Собянин.»
_NEWS_FORMAT = re.compile(
    r"\]\((?:https?|tg)://|,\s*[—–]\s*[^.!?\n]{2,60}(?:\.|$)|[.!]\s*[—–]\s*[А-ЯЁA-Z«\"][^.!?\n]{0,60}(?:\.|$)",
    re.M,
)
_SENTENCE = re.compile(r"[.!?\n;]+")


def model_path(cfg: RegionConfig) -> Path:
    """signals.yaml → model.path with {region} replaced by the region folder's name."""
    assert cfg.signals.model is not None
    return cfg.project_path(cfg.signals.model.path.replace("{region}", cfg.root.name))


def appeals_path(cfg: RegionConfig) -> Path | None:
    """signals.yaml → model.appeals (relative to the region folder), or None."""
    mp = cfg.signals.model
    return cfg.resolve_path(mp.appeals) if mp is not None and mp.appeals else None


def training_fingerprint(cfg: RegionConfig, labels: Sequence[str]) -> str:
    """What a model trained on first use depends on: the labelled files (and the posts beside
    them), the negatives and the region's appeal history, the region's rule files (with the
    language base's they build on) and scikit-learn's version."""
    import hashlib

    from pipelines.model import FORMAT

    h = hashlib.sha256()
    h.update(f"format {FORMAT}".encode())
    files = [cfg.project_path(name) for name in labels]
    files += [f.with_name("posts.jsonl") for f in list(files)]
    mp = cfg.signals.model
    if mp is not None:
        files += [cfg.project_path(name) for name in mp.negatives]
        ap = appeals_path(cfg)
        if ap is not None:
            files.append(ap)
    for name in ("rubricator.yaml", "signals.yaml", "territories.yaml"):  # the language base's files too
        files += cfg.files.get(name) or [cfg.root / name]
    for f in files:
        h.update(str(f.name).encode())
        h.update(f.read_bytes() if f.is_file() else b"-")
    try:
        import sklearn

        h.update(sklearn.__version__.encode())
    except ImportError:
        pass
    return h.hexdigest()[:16]


class SignalBuilder:
    """Build once per region (compiles the rules); call per post."""

    def __init__(
        self,
        cfg: RegionConfig,
        *,
        use_ner: bool | None = None,
        lemmatizer: Lemmatizer | None = None,
        use_model: bool | None = None,
    ) -> None:
        self.cfg = cfg
        policy = cfg.signals
        self.policy = policy
        lem = lemmatizer or Lemmatizer()
        self.normalize = Normalizer(lemmatizer=lem, max_chars=policy.max_text_chars)
        self.rules = KeywordRules(cfg.rubricator, lem)
        self.complaint_markers = MarkerSet(policy.complaint_markers, lem)
        self.noise_markers = MarkerSet(policy.noise_markers, lem)
        self.event_markers = MarkerSet(policy.event_markers, lem)
        self.thanks_markers = MarkerSet(policy.thanks_markers, lem)
        self.place_markers = MarkerSet(policy.place_markers, lem)
        self.inquiry_markers = MarkerSet(policy.inquiry_markers, lem)
        self._lem = lem
        self._fix_verbs = frozenset(lem.lemma(w) for w in policy.resolved_verbs)
        self._supply_verbs = frozenset(lem.lemma(w) for w in policy.resolved_supply_verbs)
        self._supplies = frozenset(lem.lemma(w) for w in policy.resolved_supplies)
        # Imperatives of ads and calls to subscribe are noise, not requests to officials.
        self._ad_verbs = frozenset(
            lem.lemma(w) for ph in policy.noise_markers.phrases for w in ph.lower().split()
        )
        ner = policy.use_ner if use_ner is None else use_ner
        self.entities = EntityExtractor(cfg, lem, ner=NerTagger() if ner else None)
        self.given = GivenPlace(self.entities, self.normalize, region_locator(cfg))
        official = set(policy.official_authors)
        for body in cfg.bodies.bodies:
            official.update(body.accounts)
        self.official_authors = frozenset(official)
        # an organisation by its display name: a configured word, or a body's own name
        self._org_words = frozenset(_name_key(w) for w in policy.official_author_words)
        self._body_names = frozenset(_name_key(b.name) for b in cfg.bodies.bodies)
        self.source_places = SourcePlaces(cfg)
        self.model = None
        if use_model is None:  # INCIDENTS_SIGNALS_MODEL=off: rules alone whatever signals.yaml says (tests)
            use_model = os.environ.get("INCIDENTS_SIGNALS_MODEL", "on") != "off"
        if use_model and policy.model is not None:
            path = model_path(cfg)
            found = self._readable_model(path)
            if (
                found is not None
                and policy.model.train
                and found.meta.get("fingerprint") is not None  # None: trained by hand, used as is
                and found.meta.get("fingerprint") != training_fingerprint(cfg, policy.model.train)
            ):
                # trained from other labels or rules: it would decide on features the rules no
                # longer produce (incidents.services.training.signal_builder trains it again first)
                log.warning(
                    "signals.yaml → model.path %s was trained from other labels or rules; "
                    "deciding by the rules alone (train it again with `incidents train`)",
                    path,
                )
                found = None
            if found is not None and policy.model.category and found.category is None:
                log.warning(
                    "signals.yaml → model.category is on, but %s was trained without the category "
                    "classifier: the rules choose the category (train it again with `incidents train`)",
                    path,
                )
            if found is not None:
                self.model = found
            elif not path.is_file():
                log.warning(
                    "signals.yaml → model.path %s: no such file; deciding by the rules alone "
                    "(train one with `incidents train`)",
                    path,
                )

    @staticmethod
    def _readable_model(path: Path) -> SignalModel | None:
        """The model file, loaded once; None when absent or unreadable (another format)."""
        from pipelines import model as _model

        if not path.is_file():
            return None
        try:
            return _model.load(path)
        except Exception as exc:  # noqa: BLE001 - retrained or, without labels, the rules alone
            log.warning("signals.yaml → model.path %s: cannot load it (%s)", path, exc)
            return None

    def __call__(
        self, post: PostRecord, *, thread_municipality: str | None = None, thread_category: str | None = None
    ) -> SignalRecord:
        """`thread_municipality`, `thread_category`: where the post this one replies to is
        placed and what it is about, if known."""
        norm = self.normalize(post.text)
        return self.decide(
            post, norm, thread_municipality=thread_municipality, thread_category=thread_category
        )

    def build_many(
        self,
        posts: Sequence[PostRecord],
        thread_municipalities: Sequence[str | None] | None = None,
        thread_categories: Sequence[str | None] | None = None,
    ) -> list[SignalRecord | Exception]:
        """What the processor calls per batch: `many` with each post's thread place, and a post
        that fails yields its exception in its place, so that the caller quarantines it and
        keeps the rest of the batch."""
        places = thread_municipalities or [None] * len(posts)
        topics = thread_categories or [None] * len(posts)
        out: list[SignalRecord | Exception] = []
        asked: list[tuple[SignalRecord, NormalizedText]] = []
        for post, place, topic in zip(posts, places, topics, strict=True):
            try:
                norm = self.normalize(post.text)
                sig = self.decide(
                    post,
                    norm,
                    thread_municipality=place,
                    thread_category=topic,
                    run_ner=False,
                    run_model=False,
                )
                out.append(sig)
                if self._model_asked(sig, norm):
                    asked.append((sig, norm))
            except Exception as exc:  # noqa: BLE001 - handed back to the caller per post
                out.append(exc)
        if asked:  # one call for the batch: scikit-learn costs ≈10 ms a call, ≈0.2 ms a post
            self._apply_model([s for s, _ in asked], [n for _, n in asked])
        self._add_ner(posts, out)
        return out

    def _add_ner(self, posts: Sequence[PostRecord], out: Sequence[SignalRecord | Exception]) -> None:
        ner = self.entities.ner
        if ner is None:
            return
        cands = [i for i, s in enumerate(out) if isinstance(s, SignalRecord) and s.rules]
        texts = [self.normalize.display_of(posts[i].text)[:NER_MAX_CHARS] for i in cands]
        try:
            for i, spans in zip(cands, ner.many(texts), strict=True):
                sig = out[i]
                assert isinstance(sig, SignalRecord)  # cands are the SignalRecords
                add_ner(sig.entities, spans)
        except Exception as exc:  # NER is an enrichment: never lose posts over it
            log.warning("NER failed: %s", exc)

    def many(self, posts: list[PostRecord]) -> list[SignalRecord]:
        """The same as calling the builder on each post, with NER batched over the candidates
        (the posts where a rule fired): ≈1.3× the throughput (bench/signals.py). NER finds
        persons and organisations, which do not change the decision."""
        out: list[SignalRecord] = []
        for sig in self.build_many(posts):
            if isinstance(sig, Exception):
                raise sig
            out.append(sig)
        return out

    def _settle(
        self, post: PostRecord, ent: Entities, in_region: bool, thread_municipality: str | None
    ) -> tuple[str | None, str | None]:
        """The post's municipality from its own places, the thread it replies to and its source,
        with the reason when the thread or the source decided it (the last step of `decide`)."""
        municipality = ent.municipality if in_region else None
        source = self.source_places.get(post.source_id, post.network)
        local = thread_municipality or source
        if (
            in_region
            and municipality
            and local
            and municipality != local
            and ent.municipality_kind == "street"
            and not ent.address.settlement
        ):
            # Streets repeat from town to town («улица Гагарина»): a street alone does not
            # outweigh the town of the local page or thread the post comes from.
            return local, (
                f"street {ent.address.street} also exists elsewhere: the place of the "
                f"{'thread' if thread_municipality else 'source'} wins: {local}"
            )
        if (
            in_region
            and municipality
            and local
            and municipality != local
            and ent.municipality_kind == "destination"
        ):
            # «ездим в Курск», «отправляют в Курск»: where the author travels to, not where the
            # problem is; the local page or thread places it
            return local, (
                f"{ent.municipality_evidence} is where the author travels to: the place of the "
                f"{'thread' if thread_municipality else 'source'} wins: {local}"
            )
        if in_region and ent.region_wide:
            # «по всей области»: the whole region, not the town of the page or the thread
            return None, f"{ent.municipality_evidence}: без муниципалитета, масштаб — регион"
        if in_region and municipality is None and not ent.address.settlement:
            if thread_municipality:
                return thread_municipality, f"place from the thread it replies to: {thread_municipality}"
            if source is not None:
                named = " name" if self.source_places.inferred(post.source_id, post.network) else ""
                return source, f"place from the source{named} {post.source_id}: {source}"
        return municipality, None

    @staticmethod
    def _thread_topic(sig: SignalRecord, thread_category: str | None) -> str | None:
        """The reason to give a reply its thread's category: a reply on which no problem rule
        fired («у нас на Лазарева тоже», «подтверждаю, второй день») is about what the post it
        answers is about. It stays what the rules decided (no rule: not a complaint by itself)."""
        if thread_category and sig.category is None and not sig.rules:
            return f"{THREAD_CATEGORY_REASON}: {thread_category}"
        return None

    def rethread(
        self,
        post: PostRecord,
        sig: SignalRecord,
        thread_municipality: str | None,
        thread_category: str | None = None,
    ) -> SignalRecord:
        """`sig`, built for `post` without its thread, as `decide` builds it with the thread's
        place and category: only the last steps (municipality, the category of a reply no rule
        fired on, and their reasons) depend on the thread. Lets the signals be built ahead, in
        another process, before the posts they reply to are stored."""
        if thread_municipality:
            if self.model is not None:
                raise ValueError(
                    "rethread: the model reads the thread's place among the reasons; build in place"
                )
            ent = sig.entities
            _, why = self._settle(post, ent, sig.in_region, None)
            reasons = sig.reasons[:-1] if why else list(sig.reasons)
            municipality, why = self._settle(post, ent, sig.in_region, thread_municipality)
            if why:
                reasons.append(why)
            sig = replace(sig, municipality=municipality, reasons=reasons)
        topic = self._thread_topic(sig, thread_category)
        if topic:  # the last reason, as in `decide`
            sig = replace(sig, category=thread_category, reasons=[*sig.reasons, topic])
        return sig

    def organisation(self, author_name: str | None) -> bool:
        """An organisation's page by its display name («Администрация Рыльского района», «ЦУР
        Курской области», «Льговская ЦРБ»): announcements and replies, not a resident."""
        if not author_name:
            return False
        key = _name_key(author_name)
        return key in self._body_names or not self._org_words.isdisjoint(key.split())

    def requests(self, norm: NormalizedText) -> list[str]:
        """Words asking for action: plural imperatives anywhere («уберите»), infinitives that
        open a sentence («Заменить водосточную трубу.»); ads' verbs («звоните») excluded."""
        out: set[str] = set()
        starts = {0}
        pos = 0
        for sentence in _SENTENCE.split(norm.text):
            n = len(_TOKEN.findall(sentence))
            if n:
                starts.add(pos)
            pos += n
        for i, (t, c) in enumerate(zip(norm.tokens, norm.lemmas, strict=True)):
            mood = self._lem.mood(t)
            if mood is None or c[0] in self._ad_verbs or c[0] in _PEER_VERBS:
                continue
            if mood == "impr" or i in starts:
                out.add(t)
        return sorted(out)

    def resolved(self, norm: NormalizedText) -> list[str]:
        """Verbs reporting a fix in the past, not negated: «лифт починили», «воду дали»,
        «течь устранили» — a report that a problem is over. «не починили», and the requests
        «почините», «устраните» (another mood) do not count."""
        out = []
        for i, (t, c) in enumerate(zip(norm.tokens, norm.lemmas, strict=True)):
            fix, supply = c[0] in self._fix_verbs, c[0] in self._supply_verbs
            if (not fix and not supply) or (i > 0 and norm.tokens[i - 1] == "не") or not self._lem.is_past(t):
                continue
            if fix or any(
                lem in self._supplies for cands in norm.lemmas[max(0, i - 3) : i + 4] for lem in cands
            ):
                out.append(t)
        return out

    def decide(
        self,
        post: PostRecord,
        norm: NormalizedText,
        *,
        thread_municipality: str | None = None,
        thread_category: str | None = None,
        run_ner: bool = True,
        run_model: bool = True,
    ) -> SignalRecord:
        p = self.policy
        hits = self.rules(norm.lemmas, norm.tokens)
        category, sub, fact, cat_score = best_category(hits, self.rules.precedence)
        reasons: list[str] = []
        # Places for every post (cheap, and replies inherit them); NER only for candidates.
        ent = self.entities(norm.lemmas, norm.tokens, norm.display, deep=bool(hits) and run_ner)
        if post.address or post.lat is not None:  # the platform's address and point before the text
            reasons.extend(self.given.apply(post, ent))
        score = 0.0
        if category:
            score += p.problem_weight * min(cat_score, 2.0)
            reasons.append(f"problem {category}: +{p.problem_weight * min(cat_score, 2.0):.2f}")
        complaint = self.complaint_markers(norm.lemmas)
        if complaint:
            add = self.complaint_markers.weight * min(len(complaint), 3)
            score += add
            reasons.append(f"complaint markers {', '.join(complaint)}: +{add:.2f}")
        if hits and p.request_weight:
            requests = self.requests(norm)
            if requests:
                score += p.request_weight
                reasons.append(f"request to act {', '.join(requests[:3])}: +{p.request_weight:.2f}")
        noise = self.noise_markers(norm.lemmas)
        events = self.event_markers(norm.lemmas) if p.event_markers.phrases else []
        if events:
            if not _FIRST_PERSON.isdisjoint(norm.tokens):
                reasons.append(f"news words {', '.join(events)} not counted: the author speaks of themselves")
            else:
                noise = sorted({*noise, *events})
        if noise:
            sub_ = self.noise_markers.weight * min(len(noise), 3)
            score -= sub_
            reasons.append(f"noise markers {', '.join(noise)}: -{sub_:.2f}")
        if p.news_format_weight and hits:
            fmt = _NEWS_FORMAT.search(norm.display)
            if fmt:
                noise = [*noise, "news format"]
                score -= p.news_format_weight
                reasons.append(
                    f"formatted as a channel post «{fmt.group(0).strip()[:40]}»: -{p.news_format_weight:.2f}"
                )
        thanks = self.thanks_markers(norm.lemmas)
        if (
            hits
            and p.brief_weight
            and not noise
            and not thanks
            and "?" not in norm.text
            and len(norm.tokens) <= p.brief_max_words
        ):
            score += p.brief_weight
            reasons.append(f"brief statement ({len(norm.tokens)} words): +{p.brief_weight:.2f}")
        if thanks and "заранее" in norm.tokens:
            thanks = []  # «заранее спасибо» closes a request, it does not thank for a fix
        if thanks and (not complaint or p.thanks_over_markers):
            score -= self.thanks_markers.weight
            reasons.append(f"thanks {', '.join(thanks)}: -{self.thanks_markers.weight:.2f}")
        if p.resolved_weight and hits:
            fixed = self.resolved(norm)
            if fixed:
                score -= p.resolved_weight
                reasons.append(f"reported fixed {', '.join(fixed[:3])}: -{p.resolved_weight:.2f}")
        if ent.municipality or ent.address.settlement:
            score += p.location_weight
            reasons.append(
                f"place {ent.municipality_evidence or ent.address.settlement}: +{p.location_weight:.2f}"
            )
        elif hits:
            near = self.place_markers(norm.lemmas)
            if near:
                score += self.place_markers.weight
                reasons.append(
                    f"place near the author {', '.join(near[:3])}: +{self.place_markers.weight:.2f}"
                )
        if ent.address.street:
            score += p.address_weight
            reasons.append(f"address {ent.address.normalized()}: +{p.address_weight:.2f}")
        if post.author_id and post.author_id in self.official_authors:
            score -= p.official_author_penalty
            reasons.append(f"official account {post.author_id}: -{p.official_author_penalty:.2f}")
        elif self.organisation(post.author_name):
            score -= p.official_author_penalty
            reasons.append(f"official author «{post.author_name}»: -{p.official_author_penalty:.2f}")
        if norm.truncated:
            reasons.append(f"text cut to its first {p.max_text_chars} characters for analysis")
        inquiry = self.inquiry_markers(norm.lemmas) if post.network == POS else []
        if inquiry:
            reasons.append(f"{INQUIRY_REASON} {', '.join(inquiry)}")
        too_short = len(norm.text.strip()) < p.min_text_chars
        if too_short and post.network == POS and category:
            # the platform's form: «Граффити», «Мусор.», «Ямы» under a photo and an address
            too_short = False
            reasons.append(f"short, but a problem on the feedback platform: {category}")
        elif too_short:
            reasons.append(f"text shorter than {p.min_text_chars} characters")
        is_complaint = bool(category) and not too_short and score >= p.threshold
        local = bool(ent.municipality or ent.region_mentioned or ent.address.settlement)
        in_region = local or not ent.foreign_places
        if ent.foreign_places:
            reasons.append(f"places outside the region: {', '.join(sorted(set(ent.foreign_places)))}")
        municipality, why = self._settle(post, ent, in_region, thread_municipality)
        if why:
            reasons.append(why)
        sig = SignalRecord(
            post_key=post.key,
            is_complaint=is_complaint,
            in_region=in_region,
            score=round(score, 3),
            category=category,
            subcategory=sub,
            fact=fact,
            municipality=municipality,
            address=ent.address.normalized(),
            street=ent.address.street,
            scale=ent.scale,
            rules=hits,
            reasons=reasons,
            entities=ent,
            lemma_text=norm.lemma_text,
            created_at=post.created_at,
            network=post.network,
            author_id=post.author_id,
            reach=post.likes + post.reposts + post.views // 100,
        )
        if run_model and self._model_asked(sig, norm):
            self._apply_model([sig], [norm])
        topic = self._thread_topic(sig, thread_category)
        if topic:
            sig.category = thread_category
            sig.reasons.append(topic)
        return sig

    def _model_asked(self, sig: SignalRecord, norm: NormalizedText) -> bool:
        """The model is asked about every post whose text is long enough (a post no rule fired
        on can be a complaint), and about a short platform message a problem rule fired on; a
        model without the topic classifier only about candidates."""
        return (
            self.model is not None
            and (bool(sig.rules) or self.model.topic is not None)
            and (
                len(norm.text.strip()) >= self.policy.min_text_chars
                or (sig.network == POS and sig.category is not None)
            )
        )

    _pos_rejects = staticmethod(pos_rejects)

    def _apply_model(self, sigs: Sequence[SignalRecord], norms: Sequence[NormalizedText]) -> None:
        """The trained model (signals.yaml → model) decides beside the rules' findings, which
        it takes as features (pipelines/model_decision.py); the reasons record both."""
        assert self.policy.model is not None and self.model is not None
        apply_model(self.model, self.policy.model, sigs, norms)


def _name_key(name: str) -> str:
    """An author's or a body's name compared as words: lower case, ё = е, punctuation as spaces."""
    return " ".join(re.sub(r"[^\w-]+", " ", name.lower().replace("ё", "е")).split())
