"""`incidents evaluate-routing-spb`: St Petersburg portal complaints → text + address → router,
compared with the real executor; the portal's own first routing recovered from reroute_log."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from core.config import RegionConfig, load_region
from lab.__main__ import main
from lab.routing_spb import (
    HELD_FOLD,
    SPB_FILE,
    SpbDataError,
    evaluate_routing_spb,
    first_body,
    fold_of,
    load_spb,
    parse_reroute_log,
)

ROOT = Path(__file__).resolve().parents[1]
SPB = ROOT / "config" / "regions" / "spb"
REAL_DIRS = (ROOT.parent / "shared" / "data", Path("/work/shared/data"))

COLUMNS = [
    "id",
    "created_at",
    "district",
    "municipality",
    "address",
    "lat",
    "lon",
    "building_id",
    "building_is_nearest",
    "city_object",
    "category",
    "reason",
    "reason_original",
    "n_reason_changes",
    "text",
    "n_petitions",
    "followup_texts",
    "n_photos",
    "responsible_label",
    "executor_org",
    "coordinator_org",
    "controller_org",
    "first_answer_org",
    "final_answer_org",
    "n_answers",
    "n_reroutes",
    "reroute_log",
    "final_status",
    "watchers_count",
    "final_answer_text",
    "silver_incident_id",
    "silver_incident_size",
    "shared_answer_group",
]

ZHA_NEVSKY = "СПб ГКУ ЖА Невского района"
ADM_NEVSKY = "Администрация Невского района"
ZHA_PRIMORSKY = "СПб ГКУ ЖА Приморского района"
ADM_PRIMORSKY = "Администрация Приморского района"
KPPI = "Комитет по печати и взаимодействию со средствами массовой информации"
LENSVET = "СПб ГБУ «Ленсвет»"
DODD = 'СПб ГКУ "Дирекция по организации дорожного движения"'


def _entry(frm: str, to: str, *, controllers: tuple[str, str] | None = None) -> str:
    """One correction, worded as the portal words it."""
    if controllers:
        body = (
            f'от контролера: "{controllers[0]}", от координатора: "{frm}" '
            f'контролеру: "{controllers[1]}", координатору: "{to}"'
        )
    else:
        body = f'от координатора: "{frm}" координатору: "{to}"'
    return (
        f"Ваше сообщение передано по принадлежности вопроса {body}. "
        "В связи с этим срок решения изменен с 02.11.2020 на 10.11.2020"
    )


# Written for this test, in the portal's column format: how residents write to «Наш
# Санкт-Петербург», with the body that handled each complaint. Folds (hash of the id): 3001 → 2,
# 3002 → 3, 3003–3005 → 0, 3006 → 4 (held back).
ROWS = [
    # the entrance's lamps → the district housing agency: right
    dict(
        id="3001",
        district="Фрунзенский",
        address="г.Санкт-Петербург, Тамбовская улица, дом 11, литера А",
        category="Содержание МКД",
        reason="Неисправное освещение в парадной",
        text="В парадной на 3 этаже не горит свет, лампочки перегорели неделю назад.",
        executor_org="СПб ГКУ ЖА Фрунзенского района",
        n_reroutes="0",
    ),
    # a playground: first sent to the housing agency, passed to the administration: we are right
    dict(
        id="3002",
        district="Невский",
        address="г.Санкт-Петербург, проспект Большевиков, дом 17, литера А",
        category="Благоустройство",
        reason="Повреждение элементов детской площадки",
        text="Во дворе сломаны качели на детской площадке, дети могут пораниться.",
        executor_org=ADM_NEVSKY,
        n_reroutes="1",
        reroute_log=_entry(ZHA_NEVSKY, ADM_NEVSKY),
    ),
    # a road sign, no building → ДОДД: right
    dict(
        id="3003",
        category="Благоустройство",
        reason="Повреждения дорожных знаков",
        text="Сломан дорожный знак на перекрёстке, лежит на земле. Просьба восстановить.",
        executor_org=DODD,
        n_reroutes="0",
    ),
    # notices on a lamp post: the portal first sent it to the Press Committee, then to Ленсвет;
    # we make the portal's first mistake again
    dict(
        id="3004",
        category="Благоустройство",
        reason="Несанкционированные надписи /объявления на опорах освещения",
        text="Несанкционированные объявления на опоре освещения.",
        executor_org=LENSVET,
        n_reroutes="1",
        reroute_log=_entry(
            KPPI, LENSVET, controllers=(KPPI, "Комитет по энергетике и инженерному обеспечению")
        ),
    ),
    # still under review: no executor yet, the coordinator is the body holding it: right
    dict(
        id="3005",
        district="Приморский",
        address="г.Санкт-Петербург, Мебельная улица, дом 47, корпус 1, литера А",
        category="Благоустройство",
        reason="Переполнение контейнеров",
        text="Переполнены мусорные контейнеры, мусор не вывозят.",
        executor_org="",
        coordinator_org=ZHA_PRIMORSKY,
        controller_org=ADM_PRIMORSKY,
        n_reroutes="0",
    ),
    # graffiti: passed to the administration and back (the portal's first body was right after all),
    # the log cut by the portal's length cap; we say the administration: the right organisation only
    dict(
        id="3006",
        district="Приморский",
        address="г.Санкт-Петербург, улица Савушкина, дом 104, литера А",
        category="Фасад",
        reason="Надписи на фасаде",
        text="Граффити на фасаде дома, просьба закрасить.",
        executor_org=ZHA_PRIMORSKY,
        n_reroutes="3",
        reroute_log=" | ".join(
            [_entry(ZHA_PRIMORSKY, ADM_PRIMORSKY), _entry(ADM_PRIMORSKY, ZHA_PRIMORSKY), "Ваше сообщение пер"]
        ),
    ),
]


def _write(path: Path, rows: list[dict[str, str]] = ROWS) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in COLUMNS})
    return path


@pytest.fixture(scope="module")
def spb() -> RegionConfig:
    return load_region(SPB)


def test_the_log_parser_reads_both_shapes_nested_quotes_and_a_cut_tail() -> None:
    log = " | ".join(
        [
            _entry(
                'СПб ГКУ "Центр комплексного благоустройства"',
                "Администрация Выборгского района",
                controllers=(
                    "Комитет по благоустройству Санкт-Петербурга",
                    "Администрация Выборгского района",
                ),
            ),
            _entry("Администрация Выборгского района", ZHA_NEVSKY),
            'Ваше сообщение передано по принадлежности вопроса от координатора: "СПб ГКУ ЖА К',
            "Ваше сообщение пер",
        ]
    )
    e = parse_reroute_log(log)
    assert len(e) == 3  # the last fragment names nothing
    assert e[0].from_coordinator == 'СПб ГКУ "Центр комплексного благоустройства"'
    assert e[0].from_controller == "Комитет по благоустройству Санкт-Петербурга"
    assert e[0].to_coordinator == "Администрация Выборгского района"
    assert (e[1].from_controller, e[1].from_coordinator, e[1].to_coordinator) == (
        None,
        "Администрация Выборгского района",
        ZHA_NEVSKY,
    )
    assert not e[2].complete and e[2].from_coordinator is None  # cut inside the quoted name
    assert first_body(log, ZHA_NEVSKY) == 'СПб ГКУ "Центр комплексного благоустройства"'
    assert first_body("", ZHA_NEVSKY) == ZHA_NEVSKY
    controller_only = (
        "Ваше сообщение передано по принадлежности вопроса от контролера: "
        '"Администрация Петродворцового района" контролеру: "Администрация Петроградского района". '
        "В связи с этим срок решения изменен с 19.11.2020 на 03.12.2020"
    )
    assert first_body(controller_only, "x") == "Администрация Петродворцового района"


def test_folds_of_the_small_file() -> None:
    assert [fold_of(r["id"]) for r in ROWS] == [2, 3, 0, 0, 0, HELD_FOLD]


def test_evaluate_on_a_small_file(tmp_path: Path, spb: RegionConfig) -> None:
    appeals = load_spb(_write(tmp_path / SPB_FILE))
    assert [a.under_review for a in appeals] == [False] * 4 + [True, False]
    assert [a.first for a in appeals] == [
        "СПб ГКУ ЖА Фрунзенского района",
        ZHA_NEVSKY,
        DODD,
        KPPI,
        ZHA_PRIMORSKY,
        ZHA_PRIMORSKY,
    ]
    assert "\nг.Санкт-Петербург, проспект Большевиков" in appeals[1].pipeline_text
    rep = evaluate_routing_spb(spb, appeals, file=SPB_FILE)
    got = [r.routed.body_name for r in rep.results]
    assert got == ["СПб ГКУ ЖА Фрунзенского района", ADM_NEVSKY, DODD, KPPI, ZHA_PRIMORSKY, ADM_PRIMORSKY]
    assert (rep.ours.n, rep.ours.exact, rep.ours.organisation) == (6, 4, 5)
    assert (rep.executor_only.n, rep.executor_only.exact) == (5, 3)
    assert (rep.dev.n, rep.dev.exact, rep.dev.organisation) == (5, 4, 4)
    assert (rep.held.n, rep.held.exact, rep.held.organisation) == (1, 0, 1)
    # the portal's first routing: right for 3001, 3003, 3005 and (after a round trip) 3006;
    # 3002 went to the right organisation's other desk, 3004 to another organisation
    assert (rep.portal_first.n, rep.portal_first.exact, rep.portal_first.organisation) == (6, 4, 5)
    assert rep.first_unknown == 0
    assert (rep.rerouted.n, rep.rerouted.exact, rep.rerouted.organisation) == (2, 1, 1)
    assert rep.rerouted_as_first == 1
    assert (rep.corrected_log, rep.corrections, rep.n_reroutes_sum) == (3, 4, 5)
    assert rep.triage == 0 and rep.under_review == 1 and not rep.unknown_executors
    assert rep.by_body[LENSVET].confusions == {KPPI: 1}
    assert rep.by_category["Благоустройство"].score.n == 4
    assert rep.by_category["Благоустройство"].score.exact == 3


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / SPB_FILE)
    rc = main(
        ["--config", str(SPB), "evaluate-routing-spb", "--data", str(tmp_path), "--json", "--errors", "5"]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ours"]["exact"] == 4 and out["ours"]["organisation"] == 5
    assert out["portal_first_routing"]["exact_rate"] == round(4 / 6, 4)
    assert out["rerouted"] == {
        "n": 2,
        "exact": 1,
        "exact_rate": 0.5,
        "organisation": 1,
        "organisation_rate": 0.5,
        "ours_as_portal_first": 1,
    }
    assert [e["id"] for e in out["errors"]] == ["3004", "3006"]
    rc = main(
        ["--config", str(SPB), "evaluate-routing-spb", "--data", str(tmp_path), "--part", "held", "--json"]
    )
    assert rc == 0 and json.loads(capsys.readouterr().out)["complaints"] == 1


def test_missing_file_and_column_are_usage_errors(tmp_path: Path) -> None:
    assert main(["--config", str(SPB), "evaluate-routing-spb", "--data", str(tmp_path)]) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text\n1,яма\n", encoding="utf-8")
    with pytest.raises(SpbDataError):
        load_spb(bad)
    assert main(["--config", str(SPB), "evaluate-routing-spb", "--data", str(bad)]) == 2


def test_every_executor_of_the_real_file_is_a_configured_body(spb: RegionConfig) -> None:
    real = next((d / SPB_FILE for d in REAL_DIRS if (d / SPB_FILE).is_file()), None)
    if real is None:
        pytest.skip("../shared/data is absent")
    appeals = load_spb(real)
    names = {b.name for b in spb.bodies.bodies}
    assert len(appeals) == 22445
    assert {a.executor for a in appeals} <= names
    firsts = [a for a in appeals if a.corrections]
    assert all(a.first for a in firsts)  # the first entry is whole in this file
