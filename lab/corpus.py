"""Measurement on real texts nobody on the team wrote (`incidents evaluate-corpus`).

Two files of `../shared/data/` (see its README) answer two questions the bundled labels
cannot:

* **Recall and district accuracy** on the St Petersburg city portal complaints
  (`spb_appeals_2020.csv.gz`): every row is a real complaint, so every row the signal stage
  does not call a complaint is a miss. The portal's form carries the address beside a short
  text (median 48 characters), so recall is measured twice: on the text alone (what a
  resident writes when the address is elsewhere) and on the text followed by the address
  line (what a resident writes when there is no form). District accuracy compares the
  resolved municipality with the file's `district` column: on the text with the address,
  and — the harder figure — on the text alone, over the rows whose text itself names the
  place (the street of the address or the okrug occurs in it).
* **False-positive rate** on public Telegram news channels (`telegram_news_dev.csv.gz`):
  almost none of them are resident complaints, so the share called complaints is (nearly)
  the false-positive rate. A few posts relay a real grievance; `--errors` prints the posts
  called complaints so that a person can look before counting them as errors.

The signal stage is run directly (`SignalBuilder`), with no database: these are
measurements of the classifier, not of storage.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.config import RegionConfig
from core.records import PostRecord, SignalRecord
from core.tabular import read_csv  # noqa: F401 - the studies read through it

SPB_FILE = "spb_appeals_2020.csv.gz"
TELEGRAM_FILE = "telegram_news_dev.csv.gz"

_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
_HOUSE = re.compile(r"^(дом|корпус|литера|строение|кв)\b", re.I)
_WORD = re.compile(r"[а-яёa-z]{4,}", re.I)
_STREET_WORDS = frozenset(
    [
        "улица",
        "проспект",
        "переулок",
        "шоссе",
        "бульвар",
        "набережная",
        "площадь",
        "проезд",
        "линия",
        "аллея",
        "дорога",
        "канала",
        "реки",
        "город",
        "поселок",
        "посёлок",
        "муниципальный",
        "округ",
    ]
)


def sample_rows(rows: list[dict[str, str]], n: int | None, seed: int) -> list[dict[str, str]]:
    """A seeded sample (the same rows every run), or all rows when n is None or too big."""
    if not n or n >= len(rows):
        return rows
    return random.Random(seed).sample(rows, n)


def street_of(address: str) -> str | None:
    """«г.Санкт-Петербург, Тамбовская улица, дом 11, литера А» → «Тамбовская улица»."""
    parts = [p.strip() for p in address.split(",")]
    for p in parts[1:]:
        if p and not _HOUSE.match(p):
            return p
    return None


def _stems(name: str) -> set[str]:
    """Distinctive word stems of a place name, to test whether a text names it."""
    return {w.lower().replace("ё", "е")[:5] for w in _WORD.findall(name) if w.lower() not in _STREET_WORDS}


def text_names_place(text: str, address: str, okrug: str) -> bool:
    """Whether the resident's own words name the place (judged from the gold columns, not
    by the system): a distinctive word of the address's street or of the okrug occurs."""
    words = {w.lower().replace("ё", "е")[:5] for w in _WORD.findall(text)}
    street = street_of(address) if address else None
    cands = _stems(street or "") | _stems(
        re.sub(r"^(муниципальный округ|город|пос[её]лок)\s+", "", okrug.strip())
    )
    return bool(cands & words)


@dataclass(slots=True)
class SpbReport:
    rows: int
    recall_text: float
    recall_with_address: float
    candidates_text: float
    district_n: int
    district_accuracy: float
    district_found: float
    district_text_n: int
    district_text_accuracy: float
    by_category: dict[str, tuple[int, float]]
    misses: list[str] = field(default_factory=list)
    wrong_district: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "recall_text": round(self.recall_text, 4),
            "recall_with_address": round(self.recall_with_address, 4),
            "candidates_text": round(self.candidates_text, 4),
            "district_n": self.district_n,
            "district_accuracy": round(self.district_accuracy, 4),
            "district_found": round(self.district_found, 4),
            "district_text_n": self.district_text_n,
            "district_text_accuracy": round(self.district_text_accuracy, 4),
            "recall_text_by_category": {
                k: {"n": n, "recall": round(r, 4)} for k, (n, r) in self.by_category.items()
            },
        }


@dataclass(slots=True)
class NewsReport:
    posts: int
    complaint_rate: float
    in_region_complaint_rate: float
    candidates: float
    by_channel: dict[str, tuple[int, float]]
    flagged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "posts": self.posts,
            "false_positive_rate": round(self.complaint_rate, 4),
            "in_region_false_positive_rate": round(self.in_region_complaint_rate, 4),
            "candidates": round(self.candidates, 4),
            "by_channel": {
                k: {"n": n, "false_positive_rate": round(r, 4)} for k, (n, r) in self.by_channel.items()
            },
        }


Signaller = Callable[[PostRecord], SignalRecord]


def _post(network: str, ident: str, text: str, source: str) -> PostRecord:
    return PostRecord(network=network, external_id=ident, source_id=source, text=text, created_at=_EPOCH)


def evaluate_spb(
    rows: list[dict[str, str]], signal: Signaller, cfg: RegionConfig, *, keep_errors: int = 0
) -> SpbReport:
    """Recall and district accuracy over portal complaints (see the module docstring)."""
    names = {m.code: m.name for m in cfg.territories.municipalities}
    hit_text = hit_addr = cand = 0
    d_n = d_ok = d_found = 0
    dt_n = dt_ok = 0
    per_cat: Counter[str] = Counter()
    per_cat_hit: Counter[str] = Counter()
    misses: list[str] = []
    wrong: list[str] = []
    for i, r in enumerate(rows):
        text, address, gold = r.get("text") or "", r.get("address") or "", r.get("district") or ""
        ident = r.get("id") or str(i)
        sig = signal(_post("pos", ident, text, "spb_portal"))
        hit_text += sig.is_complaint
        cand += bool(sig.rules)
        cat = r.get("category") or "—"
        per_cat[cat] += 1
        per_cat_hit[cat] += sig.is_complaint
        if not sig.is_complaint and len(misses) < keep_errors:
            misses.append(f"{ident}: {' '.join(text.split())[:160]} | {'; '.join(sig.reasons) or 'no rule'}")
        if gold and text_names_place(text, address, r.get("municipality") or ""):
            dt_n += 1
            dt_ok += names.get(sig.municipality or "") == gold
        full = f"{text}\n{address}" if address else text
        sig2 = signal(_post("pos", ident + "+a", full, "spb_portal")) if address else sig
        hit_addr += sig2.is_complaint
        if gold and address:
            d_n += 1
            got = names.get(sig2.municipality or "")
            d_found += got is not None
            d_ok += got == gold
            if got != gold and len(wrong) < keep_errors:
                wrong.append(
                    f"{ident}: {got or '—'} ≠ {gold} | {address} | {sig2.entities.municipality_evidence or ''}"
                )
    n = len(rows) or 1
    by_cat = {c: (k, per_cat_hit[c] / k) for c, k in per_cat.most_common()}
    return SpbReport(
        rows=len(rows),
        recall_text=hit_text / n,
        recall_with_address=hit_addr / n,
        candidates_text=cand / n,
        district_n=d_n,
        district_accuracy=d_ok / d_n if d_n else 0.0,
        district_found=d_found / d_n if d_n else 0.0,
        district_text_n=dt_n,
        district_text_accuracy=dt_ok / dt_n if dt_n else 0.0,
        by_category=by_cat,
        misses=misses,
        wrong_district=wrong,
    )


def evaluate_news(rows: list[dict[str, str]], signal: Signaller, *, keep_errors: int = 0) -> NewsReport:
    """Share of news posts called complaints (the false-positive rate), overall and by channel."""
    flagged = in_region = cand = 0
    per: Counter[str] = Counter()
    per_fp: Counter[str] = Counter()
    shown: list[str] = []
    for i, r in enumerate(rows):
        text = r.get("text") or ""
        ident = r.get("message_id") or str(i)
        channel = r.get("channel") or "—"
        sig = signal(_post("telegram", f"{channel}:{ident}", text, channel))
        per[channel] += 1
        cand += bool(sig.rules)
        if sig.is_complaint:
            flagged += 1
            per_fp[channel] += 1
            in_region += sig.in_region
            if len(shown) < keep_errors:
                shown.append(
                    f"{channel}:{ident} [{sig.category}, {sig.score}]: {' '.join(text.split())[:220]}"
                    f" | {'; '.join(sig.reasons)}"
                )
    n = len(rows) or 1
    return NewsReport(
        posts=len(rows),
        complaint_rate=flagged / n,
        in_region_complaint_rate=in_region / n,
        candidates=cand / n,
        by_channel={c: (k, per_fp[c] / k) for c, k in per.most_common()},
        flagged=shown,
    )
