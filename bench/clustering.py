"""Benchmark of the clustering stage alone: time per post and memory as the stream grows.

    python -m bench.clustering                       # 10^4 … 10^5 posts, 100,000 open incidents preloaded
    python -m bench.clustering --posts 1000000       # up to 10^6 (about 10 minutes on one core)
    python -m bench.clustering --json                # machine-readable rows

What is measured: `Clusterer.assign` on ready `SignalRecord`s (signals are generated in
chunks outside the timed region), in CPU time of one core (the process time, so that other
work on a shared machine does not count), with a snapshot of `--open` incidents loaded
first as `incidents.services.processing.load_clusterer` would load them from the database. The stream
continues at `--rate` complaints an hour, so the incidents in memory stay near `--open`
(eviction forgets what no post can join any more). Each row reports the segment since the
previous row: microseconds per post, posts per second, incidents in memory, incidents
looked at and exact (rapidfuzz) comparisons per post (mean and max: the bound), resident
memory. The synthetic stream has real-looking lemma texts: per-category problem words,
streets and houses of 33 municipalities, and several posts per real incident written with
different words over hours to days; the pairing is known, so B-cubed against it is
reported too.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import sys
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.config import ClusteringPolicy
from core.records import Address, Entities, SignalRecord
from incidents.domain.clustering import Clusterer, IncidentView, content_tokens


def _w(text: str) -> list[str]:
    return text.split()


CATEGORIES: dict[str, list[str]] = {
    "water": _w(
        "вода нет холодный горячий кран напор труба прорыв водоканал течь колонка ржавый давление авария "
        "водоснабжение отключить подвоз бочка магистраль утечка колодец"
    ),
    "roads": _w(
        "яма дорога асфальт колесо машина провал ремонт покрытие лужа разбитый обочина тротуар бордюр "
        "ямочный заплатка выбоина проезжий часть"
    ),
    "waste": _w(
        "мусор контейнер вывоз площадка мусоровоз переполнить пакет свалка крыса запах бак вывозить "
        "экопол региональный оператор навал"
    ),
    "housing_utilities": _w(
        "отопление батарея холодный стояк подъезд управляющий компания радиатор температура "
        "градус теплый котельная тепло квартира крыша протекать"
    ),
    "energy": _w(
        "свет электричество отключение фонарь гореть темнота трансформатор напряжение сеть подстанция "
        "освещение столб провод выбить"
    ),
    "transport": _w(
        "автобус маршрут интервал остановка ждать рейс водитель перевозчик расписание маршрутка "
        "троллейбус час пик опоздать"
    ),
    "landscaping": _w(
        "дерево тополь ветка аварийный спил двор площадка детский газон скамейка клумба снег уборка наледь"
    ),
}
FILLER = _w(
    "уже второй третий день неделя сколько можно когда наконец кто отвечать звонить никто ребенок "
    "бабушка утро вечер ночь весь двор жилец сосед администрация обращаться заявка писать просить "
    "помочь срочно опять снова ужас безобразие невозможно холодно стоять жить месяц год город район "
    "люди проблема вопрос ответ решить сделать обещать ждать"
)
STREET_WORDS = _w(
    "ленин радищев сумской гагарин мира победа октябрьский советский садовый школьный молодежный "
    "кирова пушкин горький дзержинский чехов толстой лесной полевой заводской вокзальный "
    "пролетарский комсомольский первомайский набережный ватутин карл маркс клыков белгородский "
    "союзный хуторской студенческий энгельс щепкин челюскинец красноармейский"
)
T0 = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(slots=True)
class _Truth:
    category: str
    subcategory: str
    municipality: str
    street: str
    house: str
    words: list[str]
    at: datetime


class Stream:
    """Synthetic complaints: real incidents, each written about by several residents."""

    def __init__(self, seed: int, rate_per_hour: float, start: datetime) -> None:
        self.rnd = random.Random(seed)
        self.rate = rate_per_hour
        self.now = start
        self.active: deque[tuple[str, _Truth]] = deque()  # real incidents still written about, oldest first
        self.count = 0
        self.incidents = 0

    def _new_incident(self) -> tuple[str, _Truth]:
        r = self.rnd
        cat = r.choice(list(CATEGORIES))
        words = r.sample(CATEGORIES[cat], 6)
        truth = _Truth(
            cat,
            f"{cat}_{r.randrange(3)}",
            f"m{r.randrange(33)}",
            f"улица {r.choice(STREET_WORDS)} {r.randrange(60)}",
            str(r.randrange(1, 120)),
            words,
            self.now,
        )
        self.incidents += 1
        return f"t{self.incidents}", truth

    def _text(self, truth: _Truth, street: bool) -> str:
        r = self.rnd
        words = [w for w in truth.words if r.random() < 0.7] + r.sample(FILLER, r.randrange(4, 12))
        if street:
            words += truth.street.split()[1:] + [truth.house]
        r.shuffle(words)
        return " ".join(words)

    def next(self) -> tuple[SignalRecord, str]:
        """The next complaint and the real incident it is about."""
        r = self.rnd
        self.now += timedelta(hours=r.expovariate(self.rate))
        while self.active and self.now - self.active[0][1].at > timedelta(hours=48):
            self.active.popleft()
        if not self.active or r.random() < 0.6:
            self.active.append(self._new_incident())
            key, truth = self.active[-1]
        else:
            key, truth = self.active[r.randrange(len(self.active))]
        self.count += 1
        named = r.random() < 0.75
        ent = Entities(
            municipality=truth.municipality,
            address=Address(
                street=truth.street if named else None,
                house=truth.house if named and r.random() < 0.6 else None,
            ),
        )
        sig = SignalRecord(
            post_key=f"vk:{self.count}",
            is_complaint=True,
            in_region=True,
            score=2.0,
            category=truth.category,
            subcategory=truth.subcategory,
            fact=None,
            municipality=truth.municipality if r.random() < 0.92 else None,
            address=None,
            street=ent.address.street,
            scale=None,
            rules=[],
            reasons=[],
            entities=ent,
            lemma_text=self._text(truth, named),
            created_at=self.now,
            network=r.choice(("vk", "ok", "telegram", "pos")),
        )
        return sig, key


def preload(clusterer: Clusterer, stream: Stream, n: int, window: timedelta) -> None:
    """`n` open incidents spread over the last window, as `load_clusterer` builds them."""
    r = random.Random(1)
    for i in range(n):
        truth = stream._new_incident()[1]
        at = stream.now - window * r.random()
        v = IncidentView(
            ref=-(i + 1),
            category=truth.category,
            subcategory=truth.subcategory,
            municipality=truth.municipality,
            street=truth.street,
            house=truth.house,
            first_at=at,
            last_at=at,
        )
        v.texts.extend(" ".join(content_tokens(stream._text(truth, True))) for _ in range(r.randrange(1, 4)))
        v.post_keys.add(f"ok:pre{i}")
        clusterer.load(v)


def rss_mb() -> float:
    """Resident memory now (Linux /proc), falling back to the peak."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(
    total: int,
    open_incidents: int,
    rate: float,
    checkpoints: list[int],
    seed: int = 7,
    policy: ClusteringPolicy | None = None,
) -> list[dict]:
    policy = policy or ClusteringPolicy()
    clusterer = Clusterer(policy)
    stream = Stream(seed, rate, T0)
    window = timedelta(hours=policy.window_hours)
    stream.now = T0 + window
    t = time.perf_counter()
    preload(clusterer, stream, open_incidents, window)
    load_s = time.perf_counter() - t
    rows: list[dict] = []
    done = 0
    seg_time = 0.0
    seg_posts = 0
    seg_cmp = 0
    seg_cand = 0
    max_cmp = max_cand = 0
    truth: dict[str, str] = {}
    pred: dict[str, str] = {}
    gc.collect()
    for point in checkpoints:
        while done < point:
            chunk = [stream.next() for _ in range(min(5000, point - done))]
            before = clusterer.comparisons
            start = time.process_time()  # CPU time of this process: the machine is shared
            for sig, _key in chunk:
                c0 = clusterer.comparisons
                d = clusterer.assign(sig)
                used = clusterer.comparisons - c0
                if used > max_cmp:
                    max_cmp = used
                if d.compared > max_cand:
                    max_cand = d.compared
                seg_cand += d.compared
                if done < 20_000:
                    pred[sig.post_key] = str(d.incident)
            seg_time += time.process_time() - start
            seg_cmp += clusterer.comparisons - before
            seg_posts += len(chunk)
            for sig, key in chunk:
                if sig.post_key in pred and sig.post_key not in truth:
                    truth[sig.post_key] = key
            done += len(chunk)
        rows.append(
            {
                "posts": done,
                "incidents_in_memory": len(clusterer),
                "us_per_post": round(1e6 * seg_time / seg_posts, 1),
                "posts_per_s": round(seg_posts / seg_time),
                "candidates_mean": round(seg_cand / seg_posts, 1),
                "candidates_max": max_cand,
                "comparisons_mean": round(seg_cmp / seg_posts, 1),
                "comparisons_max": max_cmp,
                "rss_mb": round(rss_mb()),
                "evicted": clusterer.evicted,
                "preload_s": round(load_s, 1),
            }
        )
        seg_time, seg_posts, seg_cmp, seg_cand, max_cmp, max_cand = 0.0, 0, 0, 0, 0, 0
        gc.collect()
    if truth:
        from incidents.domain.evaluate import bcubed

        p, r, f = bcubed(truth, {k: pred[k] for k in truth})
        rows[0]["bcubed_first_20k"] = {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3)}
    return rows


def checkpoints_up_to(total: int) -> list[int]:
    points = [n for n in (10_000, 30_000, 100_000, 300_000, 1_000_000) if n <= total]
    return points if points and points[-1] == total else [*points, total]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.clustering", description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=100_000, help="length of the stream (default 10^5)")
    ap.add_argument("--open", type=int, default=100_000, help="open incidents preloaded into memory")
    ap.add_argument("--rate", type=float, default=1000.0, help="complaints per hour in the stream")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = run(args.posts, args.open, args.rate, checkpoints_up_to(args.posts))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    print(
        f"clustering stage, one core; {args.open:,} open incidents preloaded in {rows[0]['preload_s']} s; "
        f"{args.rate:g} complaints/h"
    )
    print(
        "| posts | incidents in memory | µs/post | posts/s | candidates mean / max | "
        "rapidfuzz comparisons mean / max | RSS MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['posts']:,} | {r['incidents_in_memory']:,} | {r['us_per_post']} | {r['posts_per_s']:,} | "
            f"{r['candidates_mean']} / {r['candidates_max']} | {r['comparisons_mean']} / {r['comparisons_max']} | "
            f"{r['rss_mb']} |"
        )
    if "bcubed_first_20k" in rows[0]:
        b = rows[0]["bcubed_first_20k"]
        print(f"B-cubed on the first 20,000 synthetic posts: P {b['precision']} R {b['recall']} F1 {b['f1']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
