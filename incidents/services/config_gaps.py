"""What a region's configuration still lacks, and what each gap costs (`incidents check-config`).

A region made by `incidents region new` loads and runs from its first minute — every incident
then goes to the triage queue, nothing is crawled, the map shows circles. These checks say so,
one line per gap, in the words of what the centre loses, so that whoever fills the folder in
knows which file to write first (docs/new-region.md)."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import RegionConfig

SAMPLE_LABELS = "sample/labels.jsonl"
_DISTRICT_KINDS = ("municipal_district", "municipal_okrug")


@dataclass(frozen=True, slots=True)
class Gap:
    code: str
    """Stable code of the check (for tests and scripts)."""
    what: str
    """What is missing, in Russian, naming the file and key."""
    cost: str
    """What the centre loses while it is missing."""


def _names(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" и ещё {len(items) - limit}" if len(items) > limit else "")


def config_gaps(cfg: RegionConfig) -> list[Gap]:
    """Every gap of the region, the most costly first."""
    gaps: list[Gap] = []
    triage = cfg.bodies.triage_body
    if all(b.code == triage for b in cfg.bodies.bodies):
        gaps.append(
            Gap(
                "no_bodies",
                f"bodies.yaml: нет органов, кроме очереди разбора «{triage}»",
                "все инциденты уходят на ручной разбор: ни один не назначается исполнителю автоматически",
            )
        )
    if not cfg.routing.rules:
        gaps.append(
            Gap(
                "no_routing",
                "routing.yaml: нет правил маршрутизации (rules)",
                f"ни один инцидент не назначается органу по категории и месту: все попадают в очередь «{triage}»",
            )
        )
    else:
        open_rule = any(
            r.category is None and not r.municipality and not r.settlement for r in cfg.routing.rules
        )
        routed = {r.category for r in cfg.routing.rules}
        missing = [c.code for c in cfg.rubricator.categories if c.code not in routed]
        if missing and not open_rule:
            gaps.append(
                Gap(
                    "categories_unrouted",
                    f"routing.yaml: нет правила для категорий: {_names(missing)}",
                    f"их инциденты уходят в очередь разбора «{triage}»",
                )
            )
    live = [s for s in cfg.sources.sources if s.enabled and not s.sample]
    if not live:
        gaps.append(
            Gap(
                "no_sources",
                "sources.yaml: нет включённых источников (сообществ VK/OK, каналов Telegram, ПОС)",
                "ничего не собирается: посты попадают в систему только через `incidents import`",
            )
        )
    if not (cfg.root / SAMPLE_LABELS).is_file() and not any(s.sample for s in cfg.sources.sources):
        gaps.append(
            Gap(
                "no_labels",
                f"{SAMPLE_LABELS}: нет размеченной выборки постов региона",
                "качество на постах региона не измерить (`incidents evaluate`); пороги и правила не проверены "
                "на его жителях",
            )
        )
    model = cfg.signals.model
    if model is not None and not (model.appeals and cfg.resolve_path(model.appeals).is_file()):
        gaps.append(
            Gap(
                "no_appeals",
                "signals.yaml → model.appeals: нет истории обращений региона",
                "модель — общая языковая, не региональная: на обращениях жителей она находит меньше жалоб "
                "(docs/quality.md, «Signals across sources»)",
            )
        )
    gaps += _place_gaps(cfg)
    accounts = any(b.accounts for b in cfg.bodies.bodies) or bool(cfg.signals.official_authors)
    if not accounts:
        gaps.append(
            Gap(
                "no_official_accounts",
                "bodies.yaml → accounts (или signals.yaml → official_authors): нет страниц органов",
                "объявления органов в их сообществах могут стать сигналами",
            )
        )
    silent = [b.code for b in cfg.bodies.bodies if not (b.contacts.email or b.contacts.telegram_chat_id)]
    if silent:
        gaps.append(
            Gap(
                "bodies_without_contacts",
                f"bodies.yaml → contacts: органы без e-mail и Telegram: {_names(silent)}",
                "предупреждения о сроках (sla-watch) им не уходят",
            )
        )
    if cfg.replies.signature is None:
        gaps.append(
            Gap(
                "no_signature",
                "replies.yaml → signature: нет подписи",
                "ответы жителям уходят без подписи центра",
            )
        )
    return gaps


def _place_gaps(cfg: RegionConfig) -> list[Gap]:
    gaps: list[Gap] = []
    munis = cfg.territories.municipalities
    if not cfg.region.aliases:
        gaps.append(
            Gap(
                "no_region_aliases",
                "region.yaml → aliases: нет названий региона («Курская область», «куряне»)",
                "пост, где назван только регион, не признаётся постом о нём",
            )
        )
    if cfg.routing.unplaced_municipality is None:
        gaps.append(
            Gap(
                "no_unplaced_municipality",
                "routing.yaml → unplaced_municipality: не задан муниципалитет для жалоб без места",
                "жалоба, где не названо место, идёт только по правилам без муниципалитета, а затем в очередь разбора",
            )
        )
    if not any(m.streets for m in munis):
        gaps.append(
            Gap(
                "no_streets",
                "territories.yaml → streets: нет улиц ни у одного муниципалитета",
                "адрес без названия города («на Ленина 5 нет воды») не привязывается к муниципалитету",
            )
        )
    bare = [m.name for m in munis if m.kind in _DISTRICT_KINDS and len(m.settlements) <= 1]
    if bare:
        gaps.append(
            Gap(
                "no_settlements",
                f"territories.yaml → settlements: районы без сёл и посёлков ({len(bare)}): {_names(bare)}",
                "жалоба, где назван только посёлок или село, остаётся без муниципалитета и не маршрутизируется",
            )
        )
    unmapped = [m.name for m in munis if m.centroid is None]
    if unmapped:
        gaps.append(
            Gap(
                "no_centroid",
                f"territories.yaml → centroid: нет координат ({len(unmapped)}): {_names(unmapped)}",
                "эти муниципалитеты не показаны на карте",
            )
        )
    if not cfg.region.map.boundaries:
        gaps.append(
            Gap(
                "no_boundaries",
                "region.yaml → map.boundaries: нет границ муниципалитетов (GeoJSON)",
                "карта — кружки в центрах муниципалитетов, а не границы",
            )
        )
    return gaps
