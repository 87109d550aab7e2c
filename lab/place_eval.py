"""`python -m lab evaluate-place`: does the place the platform gives (a post's `address` and
`lat`/`lon`, pipelines/placing.py) give the municipality, and does the municipality get right
more often with it?

Two files of `../shared/data/` (read in place, never copied):

* `kursk_appeals_train.csv` — Kursk feedback-platform appeals. The gold place is the
  municipality of the body that handled the appeal, for the bodies of exactly one municipality
  (as `evaluate-routing` counts it, `lab/routing_eval.py:place_stats`). The file is given an
  address or a point only if it has such columns; its `text_raw_html` is the same text with
  markup, not the form's fields.
* `spb_appeals_2020.csv.gz` — St Petersburg portal complaints, every one with the portal's
  `lat`/`lon` (the building's point) and most with the form's `address` line; the gold place
  is the `district` column (the region's 18 municipalities), placed by the portal from the
  building, so it is independent of our gazetteer and of the OSM polygons.

Each row is placed five ways: the text alone; the text with the address given as the field;
the text with the point; the text with both (what the product does); and, for comparison,
the text with the address line appended to it (how `evaluate-corpus` fed the address before
the field existed). The address line alone and the point alone are also placed, to see how
often each gives a municipality and who is right when they disagree.
"""

from __future__ import annotations

import argparse
import csv
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import RegionConfig
from core.records import PostRecord
from lab.routing_eval import executor_municipalities

if TYPE_CHECKING:
    from pipelines.signals import SignalBuilder

REGIONS = Path(__file__).resolve().parent.parent / "config" / "regions"
KURSK_FILE = "kursk_appeals_train.csv"
SPB_FILE = "spb_appeals_2020.csv.gz"
_EPOCH = datetime(2022, 1, 1, tzinfo=UTC)
WAYS = ("text", "text+address", "text+point", "text+address+point", "text with address appended")


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def given_of(row: dict[str, str]) -> tuple[str | None, float | None, float | None]:
    """The row's address line and point, if the file has them (both halves of a point or none)."""
    address = (row.get("address") or "").strip() or None
    lat, lon = _number(row.get("lat")), _number(row.get("lon"))
    if lat is None or lon is None:
        lat = lon = None
    return address, lat, lon


@dataclass(slots=True)
class WayScore:
    n: int = 0
    placed: int = 0
    right: int = 0

    def as_dict(self) -> dict[str, Any]:
        n = self.n or 1
        return {
            "n": self.n,
            "placed": round(self.placed / n, 4),
            "accuracy": round(self.right / n, 4),
            "accuracy_of_placed": round(self.right / self.placed, 4) if self.placed else 0.0,
        }


@dataclass(slots=True)
class PlaceReport:
    file: str
    rows: int
    gold: int  # rows with a gold municipality
    with_address: int
    with_point: int
    address_places: int  # the address line alone gives a municipality
    point_places: int  # the point alone falls in a polygon
    both_place: int
    both_agree: int
    disagree_point_right: int
    disagree_address_right: int
    ways: dict[str, WayScore] = field(default_factory=dict)
    ways_addressed: dict[str, WayScore] = field(default_factory=dict)  # the rows with an address line
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("ways", "ways_addressed", "errors")}
        out["ways"] = {w: s.as_dict() for w, s in self.ways.items()}
        out["ways_addressed"] = {w: s.as_dict() for w, s in self.ways_addressed.items()}
        return out


def evaluate(
    rows: Iterable[dict[str, str]],
    builder: SignalBuilder,
    gold_of: Any,
    *,
    file: str,
    keep_errors: int = 0,
) -> PlaceReport:
    """Place every row the five ways; `gold_of(row)` is its municipality code or None."""
    rep = PlaceReport(
        file,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        ways={w: WayScore() for w in WAYS},
        ways_addressed={w: WayScore() for w in WAYS},
    )

    def place(
        text: str, address: str | None = None, lat: float | None = None, lon: float | None = None
    ) -> str | None:
        post = PostRecord(
            network="pos",
            external_id="x",
            source_id="evaluate-place",
            text=text,
            created_at=_EPOCH,
            address=address,
            lat=lat,
            lon=lon,
        )
        return builder(post).municipality

    for row in rows:
        rep.rows += 1
        gold = gold_of(row)
        if gold is None:
            continue
        rep.gold += 1
        text = row.get("text") or ""
        address, lat, lon = given_of(row)
        rep.with_address += address is not None
        rep.with_point += lat is not None
        by_address = builder.given.of_address(address).municipality if address else None
        by_point = (
            builder.given.point_municipality(
                PostRecord(
                    network="pos",
                    external_id="x",
                    source_id="x",
                    text="",
                    created_at=_EPOCH,
                    lat=lat,
                    lon=lon,
                )
            )
            if lat is not None
            else None
        )
        rep.address_places += by_address is not None
        rep.point_places += by_point is not None
        if by_address and by_point:
            rep.both_place += 1
            if by_address == by_point:
                rep.both_agree += 1
            else:
                rep.disagree_point_right += by_point == gold
                rep.disagree_address_right += by_address == gold
                if len(rep.errors) < keep_errors:
                    rep.errors.append(
                        f"{row.get('id')}: точка {by_point}, адрес {by_address}, верно {gold} | {address}"
                    )
        got = {
            "text": place(text),
            "text+address": place(text, address),
            "text+point": place(text, None, lat, lon),
            "text+address+point": place(text, address, lat, lon),
            "text with address appended": place(f"{text}\n{address}" if address else text),
        }
        for way, code in got.items():
            for s in (rep.ways[way], *((rep.ways_addressed[way],) if address else ())):
                s.n += 1
                s.placed += code is not None
                s.right += code == gold
    return rep


def kursk_gold(cfg: RegionConfig) -> Any:
    """The municipality of the body that handled the appeal, where that body has one."""
    of_executor = executor_municipalities(cfg)
    return lambda row: of_executor.get(row.get("executor") or "")


def spb_gold(cfg: RegionConfig) -> Any:
    """The portal's district, as the region's municipality code."""
    by_name = {m.name: m.code for m in cfg.territories.municipalities}
    return lambda row: by_name.get(row.get("district") or "")


def cmd_evaluate_place(ctx: Any, args: argparse.Namespace) -> int:
    import json

    from core.config import load_region
    from core.tabular import read_csv
    from lab.corpus import sample_rows
    from pipelines.signals import SignalBuilder

    data = Path(args.data or os.environ.get("INCIDENTS_DATA_DIR") or "../shared/data")
    reports: list[PlaceReport] = []
    for name, file, gold in (("kursk", KURSK_FILE, kursk_gold), ("spb", SPB_FILE, spb_gold)):
        path = data / file
        if not path.is_file():
            print(f"{path}: нет файла, пропущено")
            continue
        cfg = load_region(REGIONS / name)
        builder = SignalBuilder(cfg, use_ner=False, use_model=False)
        csv.field_size_limit(1 << 30)
        rows = sample_rows(list(read_csv(path)), args.sample, args.seed)
        reports.append(evaluate(rows, builder, gold(cfg), file=file, keep_errors=args.errors))
    if args.json:
        print(json.dumps([r.as_dict() for r in reports], ensure_ascii=False, indent=2))
        return 0
    for r in reports:
        print(
            f"{r.file}: строк {r.rows}, с эталонным муниципалитетом {r.gold}; с адресом {r.with_address}, "
            f"с точкой {r.with_point}; адрес даёт муниципалитет {r.address_places}, точка {r.point_places}; "
            f"оба — {r.both_place}, совпали {r.both_agree}, при расхождении права точка "
            f"{r.disagree_point_right}, адрес {r.disagree_address_right}"
        )
        for title, ways in (("все строки", r.ways), ("строки с адресом", r.ways_addressed)):
            print(f"  {title}:")
            for way, s in ways.items():
                d = s.as_dict()
                print(
                    f"    {way:28} n {d['n']:6}  найден {d['placed']:.1%}  верно {d['accuracy']:.1%}  "
                    f"верно из найденных {d['accuracy_of_placed']:.1%}"
                )
        for e in r.errors:
            print("  " + e)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "evaluate-place", help="муниципалитет по адресу и точке платформы против текста (../shared/data)"
    )
    s.add_argument(
        "--data", metavar="DIR", help="папка с данными (или INCIDENTS_DATA_DIR; по умолчанию ../shared/data)"
    )
    s.add_argument(
        "--sample", type=int, help="случайная выборка строк каждого файла (с --seed), по умолчанию все"
    )
    s.add_argument("--seed", type=int, default=13)
    s.add_argument(
        "--errors", type=int, default=0, metavar="N", help="показать до N расхождений точки и адреса"
    )
    s.add_argument("--json", action="store_true", help="вывести метрики в JSON")
    s.set_defaults(func=cmd_evaluate_place)
