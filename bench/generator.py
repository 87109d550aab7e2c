"""A seeded generator of realistic Russian post streams for a configured region.

Why a generator and not the bundled sample repeated: throughput and memory must be measured
on 10⁶ posts whose texts, places and incidents are all different (repeating 381 posts would
make every cache hit and every cluster join the same few incidents). The stream mimics what
the centres see: mostly noise (news, ads, thanks, announcements, chatter), about a fifth
concrete complaints; complaints about one problem come in clusters with a long tail (sizes
drawn from a Pareto law: three problems in four are written about once, one in a hundred ten
times or more, a few in ten thousand by a hundred residents across networks, spread over a
day and a half); residents comment under official posts, which come from an account the
region lists as official; people make typos, shout, add emoji.

Places come from the region's `territories.yaml` (streets of towns with a house, villages of
districts with one of their usual streets and often a house), so the stream exercises the same
gazetteer the pipeline uses, and two problems of one district are not one place. Deterministic for
a given seed and size.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from core.config import RegionConfig

NETWORKS = ("vk", "vk", "vk", "ok", "ok", "telegram", "telegram", "pos")

# Problem families: one real problem, several ways residents write about it. {place} is an
# address or settlement phrase, filled per incident so that all posts of a cluster share it.
PROBLEMS: list[tuple[str, list[str]]] = [
    (
        "water",
        [
            "На {place} опять нет холодной воды с утра, когда дадут?",
            "{place} — вторые сутки без воды!!! Сколько можно, водоканал молчит",
            "Прорвало трубу на {place}, вода течёт по дороге, никто не приезжает",
            "у нас на {place} воды нет ни холодной ни горячей 😡 дети немытые",
        ],
    ),
    (
        "water",
        [
            "Канализация на {place} забита, всё течёт во двор, вонь стоит невыносимая",
            "Опять затопило подвал нечистотами, {place}. Управляющая компания не отвечает",
            "{place}: из люка льются стоки уже неделю, кто-нибудь починит?",
        ],
    ),
    (
        "roads",
        [
            "Огромные ямы на {place}, вчера пробил колесо. Когда отремонтируют дорогу?",
            "Дорога на {place} разбита полностью, ямы по колено, проехать невозможно",
            "ямыы на {place} — это позор, асфальт разваливается третий год",
            "Сделайте уже ремонт дороги на {place}!! сплошные ямы после зимы",
        ],
    ),
    (
        "roads",
        [
            "Не работает светофор на перекрёстке {place}, чуть не сбили ребёнка",
            "Светофор у {place} мигает жёлтым вторую неделю, опасно переходить",
        ],
    ),
    (
        "energy",
        [
            "На {place} не горят фонари, вечером идём в полной темноте",
            "{place} — уличное освещение не работает уже месяц, страшно ходить",
            "Почему на {place} выключено освещение? темно хоть глаз выколи",
        ],
    ),
    (
        "energy",
        [
            "Отключили свет на {place} ещё вчера, до сих пор нет электричества",
            "{place} без электричества с обеда, холодильники текут, когда включат??",
        ],
    ),
    (
        "housing_utilities",
        [
            "В доме на {place} холодные батареи, отопление так и не дали, дети болеют",
            "{place}: в квартирах +15, отопления нет, управляющая компания кормит обещаниями",
            "Когда дадут тепло на {place}? батареи ледяные уже неделю",
        ],
    ),
    (
        "housing_utilities",
        [
            "Течёт крыша на {place}, после дождя вода в квартире на пятом этаже",
            "Протекает кровля, {place}, заявки в УК игнорируют второй месяц",
        ],
    ),
    (
        "waste",
        [
            "Мусор не вывозят на {place} уже две недели, контейнеры переполнены",
            "{place} — помойка! баки переполнены, мусор разносит ветер, крысы бегают",
            "Не вывозят мусор с площадки на {place}, когда это закончится?",
        ],
    ),
    (
        "waste",
        [
            "Стихийная свалка за домами на {place}, строительный мусор сваливают прямо у леса",
            "На {place} организовали несанкционированную свалку, кто будет убирать?",
        ],
    ),
    (
        "transport",
        [
            "Автобус до {place} не ходит по расписанию, ждали час на остановке",
            "Отменили маршрут до {place}, людям не на чем доехать до работы",
        ],
    ),
    (
        "landscaping",
        [
            "Двор на {place} не чистят от снега, не пройти ни пешком ни на машине",
            "Гололёд на тротуарах {place}, никто не посыпает, люди падают",
        ],
    ),
    (
        "landscaping",
        [
            "Открытый люк на {place} без крышки, ребёнок чуть не провалился",
            "Сломана детская площадка на {place}, качели оторваны, торчат железки",
        ],
    ),
    (
        "safety",
        [
            "Стая бродячих собак на {place}, кидаются на детей, примите меры!",
            "Бездомные собаки на {place} покусали женщину, когда их отловят?",
        ],
    ),
    (
        "healthcare",
        [
            "В поликлинике на {place} невозможно записаться к врачу, телефон не отвечает",
            "Нет терапевта в амбулатории {place} уже месяц, люди ездят в район",
        ],
    ),
    (
        "ecology",
        [
            "Едкий дым и запах гари над {place}, жгут что-то по ночам, дышать нечем",
            "Завод на {place} опять выбрасывает что-то вонючее, окна не открыть",
        ],
    ),
]

NOISE: list[str] = [
    "Продаю гараж на {place}, недорого, торг уместен. Пишите в личку",
    "Куплю б/у холодильник в рабочем состоянии, самовывоз",
    "Сегодня в {place} прошёл фестиваль народного творчества, спасибо организаторам!",
    "Администрация сообщает: с 1 числа начинается приём заявлений в первые классы",
    "Уважаемые жители! Завершён ремонт дороги на {place}, работы выполнены в срок",
    "Поздравляем всех с праздником! Добра и мира вашим семьям 🌷",
    "Отдам котят в добрые руки, приучены к лотку 🐱",
    "Кто знает хороший сервис по ремонту телефонов в {place}?",
    "Спасибо коммунальщикам, на {place} быстро всё починили 👍",
    "Сдаётся однокомнатная квартира на {place}, без посредников",
    "В выходные ожидается до +25, без осадков. Хороших выходных!",
    "Афиша на неделю: концерты, выставки и спектакли в {place}",
    "Ищу попутчиков до Москвы в пятницу вечером",
    "Новости спорта: наша команда выиграла первенство области",
    "Ребята, а во сколько сегодня салют? 🎆",
    "Вакансия: требуется продавец-кассир, график 2/2, зарплата достойная",
    "Приглашаем на субботник в эту субботу, сбор в 10:00 у {place}",
    "Лайк если тоже любишь наш город ❤️",
]

OFFICIAL_POSTS: list[str] = [
    "Глава провёл приём граждан. Пишите ваши вопросы в комментариях",
    "Информируем о плановых работах на сетях водоснабжения на этой неделе",
    "Продолжается ремонт дорог по национальному проекту «Безопасные качественные дороги»",
    "Отопительный сезон: сообщайте о проблемах с теплом в комментариях",
]

COMMENT_CHATTER: list[str] = [
    "Спасибо за информацию!",
    "А когда будет приём в следующий раз?",
    "Молодцы, так держать 👍",
    "Хорошая новость",
    "Подскажите телефон приёмной",
    "Посмотрим, что из этого выйдет",
    "Всех с праздником!",
    "Интересно, а в нашем районе когда?",
]

# Streets every village has: a complaint from a village names its street (the gazetteer knows
# the villages, not their streets; the signal stage still reads «ул. Школьная» as the street).
VILLAGE_STREETS = (
    "Центральная",
    "Школьная",
    "Садовая",
    "Молодёжная",
    "Новая",
    "Лесная",
    "Полевая",
    "Луговая",
    "Заречная",
    "Набережная",
    "Советская",
    "Мира",
    "Колхозная",
    "Зелёная",
    "Речная",
    "Солнечная",
    "Октябрьская",
    "Первомайская",
    "Трудовая",
    "Комсомольская",
    "Садовый переулок",
    "Дачная",
    "Весенняя",
    "Степная",
    "Берёзовая",
    "Вишнёвая",
    "Пионерская",
    "Гагарина",
    "Кирова",
    "Победы",
)

EMOJI = ("😡", "🤬", "😢", "‼️", "🙏", "😤", "👎", "")
FIRST = ("Ольга", "Ирина", "Сергей", "Наталья", "Андрей", "Елена", "Дмитрий", "Татьяна", "Алексей", "Марина")
LAST = (
    "Иванова",
    "Петров",
    "Смирнова",
    "Кузнецов",
    "Попова",
    "Соколов",
    "Лебедева",
    "Козлов",
    "Новикова",
    "Морозов",
)


@dataclass(slots=True)
class StreamShape:
    """Proportions of the stream; the defaults follow what control centres report."""

    complaint_share: float = 0.16
    comment_share: float = 0.18  # residents' comments under official posts, half of them chatter
    typo_rate: float = 0.08
    days: float = 30.0
    # Posts per problem: P(size ≥ k) = k^-tail (Pareto), so 3 in 4 problems get one post, 1 in
    # 100 ten or more, a few in 10,000 a hundred; mean ≈ 1.6 posts.
    cluster_tail: float = 2.0
    max_cluster: int = 150
    spread_days: float = 1.5  # a problem's further posts come within this time of the first


class StreamGenerator:
    """Yields interchange records (dicts) for one region, deterministically for a seed."""

    def __init__(
        self,
        cfg: RegionConfig,
        *,
        seed: int = 46,
        shape: StreamShape | None = None,
        start: datetime | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.shape = shape or StreamShape()
        self.start = start or datetime(2026, 10, 1, tzinfo=UTC)
        self.places = self._places(cfg)
        # Official posts come from a page the region knows as official (a body's account): the
        # signal stage then never takes «Отопительный сезон: сообщайте о проблемах…» for a
        # complaint. (With an unknown author it did, and every complaint in the comments under it
        # joined that one incident: the giant incidents of the earlier streams.)
        accounts = [a for b in cfg.bodies.bodies for a in b.accounts if a.startswith("vk:")]
        accounts += [a for a in cfg.signals.official_authors if a.startswith("vk:")]
        self.official = (accounts[0] if accounts else "-100000001", "Администрация")
        self._seq = 0

    @staticmethod
    def _places(cfg: RegionConfig) -> list[tuple[str, list[str]]]:
        """(municipality code, place phrases): streets with a house for towns, settlements elsewhere."""
        out: list[tuple[str, list[str]]] = []
        for m in cfg.territories.municipalities:
            phrases: list[str] = []
            for st in m.streets:
                short = st.name.replace("улица ", "ул. ").replace("проспект", "пр.")
                phrases.append(short)
            for s in m.settlements:
                phrases.append(f"{s.name} ({m.name})" if m.kind == "municipal_district" else s.name)
            if not phrases:
                phrases.append(m.name)
            out.append((m.code, phrases))
        return out

    # -------------------------------------------------------------------- pieces
    def _place(self) -> str:
        # Big towns get most of the traffic, like in life: weight the first municipalities.
        idx = min(int(self.rng.expovariate(0.35)), len(self.places) - 1)
        _, phrases = self.places[idx]
        phrase = self.rng.choice(phrases)
        if phrase.startswith(("ул.", "пр.")) or "проспект" in phrase or "переулок" in phrase:
            phrase = f"{phrase}, д. {self.rng.randint(1, 120)}"
        elif "(" in phrase and self.rng.random() < 0.8:
            # a village of a district: residents name their street (and often the house), so two
            # villages' problems are not one place (they were: the districts' giant incidents)
            street = self.rng.choice(VILLAGE_STREETS)
            street = street if "переулок" in street else f"ул. {street}"
            phrase = f"{phrase}, {street}" + (
                f", д. {self.rng.randint(1, 60)}" if self.rng.random() < 0.5 else ""
            )
        return phrase

    def _typos(self, text: str) -> str:
        if self.rng.random() >= self.shape.typo_rate:
            return text
        chars = list(text)
        for _ in range(self.rng.randint(1, 3)):
            i = self.rng.randrange(len(chars))
            if chars[i].isalpha():
                op = self.rng.random()
                if op < 0.4:
                    chars[i] = chars[i] * 3  # «воооды»
                elif op < 0.7 and i + 1 < len(chars):
                    chars[i], chars[i + 1] = chars[i + 1], chars[i]
                else:
                    chars[i] = ""
        out = "".join(chars)
        return out.upper() if self.rng.random() < 0.1 else out

    def _author(self) -> tuple[str, str]:
        n = self.rng.randrange(2_000_000)
        return f"id{n}", f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"

    def _record(
        self,
        network: str,
        text: str,
        ts: datetime,
        *,
        parent: str | None = None,
        source: str | None = None,
        author: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        self._seq += 1
        ext = f"g{self._seq}"
        author_id, author_name = author or self._author()
        return {
            "network": network,
            "external_id": ext,
            "source_id": source or f"bench_{network}",
            "parent_id": parent,
            "url": f"https://example.org/{network}/{ext}",
            "author_id": author_id,
            "author_name": author_name,
            "text": text,
            "created_at": ts.isoformat(),
            "likes": int(self.rng.expovariate(0.2)),
            "reposts": int(self.rng.expovariate(1.0)),
            "views": int(self.rng.expovariate(0.002)),
        }

    def _ts(self, n: int, total: int) -> datetime:
        # Time advances with the stream, with jitter, so windows and SLA clocks behave.
        base = self.shape.days * 86400 * n / max(total, 1)
        return self.start + timedelta(seconds=base + self.rng.uniform(0, 3600))

    # -------------------------------------------------------------------- stream
    def records(self, total: int) -> Iterator[dict[str, Any]]:
        """Exactly `total` records in roughly chronological order."""
        rng, shape = self.rng, self.shape
        pending: list[tuple[int, int, dict[str, Any]]] = []  # heap of cluster follow-ups (due position)
        official_parent: dict[str, str] | None = None
        n = 0
        while n < total:
            if pending and pending[0][0] <= n:
                _, _, rec = heapq.heappop(pending)
                rec["created_at"] = self._ts(n, total).isoformat()
                yield rec
                n += 1
                continue
            ts = self._ts(n, total)
            r = rng.random()
            if r < shape.complaint_share:
                cat, variants = rng.choice(PROBLEMS)
                place = self._place()
                size = min(int(rng.paretovariate(shape.cluster_tail)), shape.max_cluster)
                spread = max(400, int(total * shape.spread_days / shape.days))
                for k in range(size):
                    text = rng.choice(variants).format(place=place) + " " + rng.choice(EMOJI)
                    rec = self._record(rng.choice(NETWORKS), self._typos(text.strip()), ts)
                    rec["bench_category"] = cat
                    if k == 0:
                        yield rec
                        n += 1
                    else:
                        heapq.heappush(pending, (n + rng.randint(1, spread), self._seq, rec))
            elif r < shape.complaint_share + shape.comment_share and official_parent:
                if rng.random() < 0.5:
                    text = self._typos(rng.choice(COMMENT_CHATTER))
                else:
                    _, variants = rng.choice(PROBLEMS)
                    text = self._typos(rng.choice(variants).format(place=self._place()))
                yield self._record(
                    official_parent["network"],
                    text,
                    ts,
                    parent=official_parent["external_id"],
                    source=official_parent["source_id"],
                )
                n += 1
            elif r < 0.5 and (official_parent is None or rng.random() < 0.05):
                rec = self._record(
                    "vk", rng.choice(OFFICIAL_POSTS), ts, source="bench_official", author=self.official
                )
                official_parent = rec
                yield rec
                n += 1
            else:
                yield self._record(
                    rng.choice(NETWORKS), self._typos(rng.choice(NOISE).format(place=self._place())), ts
                )
                n += 1

    def write(self, total: int, out: IO[str]) -> int:
        count = 0
        for rec in self.records(total):
            out.write(json.dumps(rec, ensure_ascii=False))
            out.write("\n")
            count += 1
        return count


def generate_file(cfg: RegionConfig, path: Path, total: int, *, seed: int = 46) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        return StreamGenerator(cfg, seed=seed).write(total, fh)
