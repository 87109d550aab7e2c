"""The `incidents` command as a shell user meets it: exit codes, messages, export contracts."""

import csv
import io
import json

import pytest

from cli.main import main
from tests.conftest import LIPETSK


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("INCIDENTS_CONFIG", str(LIPETSK))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_list_show_export(env, capsys):
    code, out, _ = _run(capsys, "import", str(LIPETSK / "posts.jsonl"))
    assert code == 0 and "новых 14" in out
    code, out, _ = _run(capsys, "list", "--format", "jsonl")
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and len(rows) >= 4 and {"id", "title", "sla", "left_minutes"} <= set(rows[0])
    code, out, _ = _run(capsys, "show", str(rows[0]["id"]))
    assert code == 0 and "правила:" in out

    code, out, _ = _run(capsys, "export", "incidents")
    incidents = [json.loads(x) for x in out.splitlines()]
    required = {
        "id",
        "title",
        "status",
        "category",
        "subcategory",
        "municipality",
        "body",
        "priority",
        "opened_at",
        "due_at",
        "posts",
    }
    assert incidents and all(required <= set(i) for i in incidents)
    water = next(i for i in incidents if "Катукова" in i["title"])
    assert len(water["posts"]) >= 3 and all(p.count(":") >= 1 for p in water["posts"])
    assert {p.split(":")[0] for p in water["posts"]} >= {"vk", "ok", "telegram"}

    code, out, _ = _run(capsys, "export", "signals")
    signals = [json.loads(x) for x in out.splitlines()]
    assert len(signals) == 14
    assert all(
        {"post", "is_complaint", "in_region", "category", "municipality", "score"} <= set(s) for s in signals
    )
    off = next(s for s in signals if s["post"] == "telegram:lipetsk_chat/5601")
    assert off["is_complaint"] and not off["in_region"]

    code, out, _ = _run(capsys, "export", "incidents", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and list(rows[0])[:4] == ["id", "title", "status", "category"]


def test_import_reports_bad_lines_and_quarantine_lists_them(env, capsys, tmp_path):
    f = tmp_path / "bad.jsonl"
    good = (LIPETSK / "posts.jsonl").read_text(encoding="utf-8").splitlines()[0]
    f.write_text(
        good + "\n{not json}\n" + good.replace('"created_at": "2026', '"created_at": "20x6') + "\n",
        encoding="utf-8",
    )
    code, out, err = _run(capsys, "import", str(f))
    assert code == 3 and "в карантине 2" in out
    code, out, _ = _run(capsys, "quarantine", "list")
    assert "line 2" in out and "line 3" in out and "unparseable date" in out


def test_import_from_stdin(env, capsys, monkeypatch):
    data = (LIPETSK / "posts.jsonl").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, _ = _run(capsys, "import", "-")
    assert code == 0 and "новых 14" in out


def test_missing_file_and_bad_config_exit_2(env, capsys, tmp_path):
    code, _, err = _run(capsys, "import", str(tmp_path / "nope.jsonl"))
    assert code == 2 and "не найден" in err
    code, _, err = _run(capsys, "--config", str(tmp_path), "check-config")
    assert code == 2 and "region.yaml: file is missing" in err


def test_check_config(env, capsys):
    code, out, _ = _run(capsys, "check-config")
    assert code == 0 and "Липецкая область" in out


def test_evaluate_prints_all_figures(env, capsys):
    code, out, _ = _run(capsys, "evaluate", str(LIPETSK / "labels.jsonl"), "--json")
    d = json.loads(out)
    assert code == 0 and d["posts"] == 14 and d["missing"] == 0
    assert d["complaint"]["f1"] >= 0.8
    assert d["clustering_bcubed"]["f1"] > 0.7
    assert set(d) >= {"category_accuracy", "municipality_accuracy", "clustering_pairwise"}


def test_list_filters_by_name_pages_and_says_when_a_name_matches_nothing(env, capsys):
    """Names work as well as codes («Дороги», «липецк»); a name that matches nothing is an error that
    lists what exists, not an empty list with exit 0; a cut list says so and how to page on."""
    assert _run(capsys, "import", str(LIPETSK / "posts.jsonl"))[0] == 0
    code, out, _ = _run(capsys, "list", "--format", "jsonl")
    every = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and len(every) >= 4
    assert all({"status_name", "sla_name"} <= set(r) for r in every)
    assert all(r["status_name"] and r["status_name"] != r["status"] for r in every)

    by_code = _run(capsys, "list", "--format", "jsonl", "--category", "water")[1]
    by_name = _run(capsys, "list", "--format", "jsonl", "--category", "водоснабжение")[1]
    assert by_code and by_code == by_name

    code, out, err = _run(capsys, "list", "--category", "Космодром")
    assert code == 2 and "не найден" in err and "Дороги" in err and out == ""

    code, out, err = _run(capsys, "list", "--format", "jsonl", "--limit", "2")
    assert code == 0 and len(out.splitlines()) == 2 and f"из {len(every)}" in err and "--page 2" in err
    page2 = [
        json.loads(x)
        for x in _run(capsys, "list", "--format", "jsonl", "--limit", "2", "--page", "2")[1].splitlines()
    ]
    assert [r["id"] for r in page2] == [r["id"] for r in every[2:4]]


def test_exports_carry_readable_names_beside_the_codes(env, capsys):
    assert _run(capsys, "import", str(LIPETSK / "posts.jsonl"))[0] == 0
    incidents = [json.loads(x) for x in _run(capsys, "export", "incidents")[1].splitlines()]
    water = next(i for i in incidents if "Катукова" in i["title"])
    assert water["category"] == "water" and water["category_name"].startswith("Водоснабжение")
    assert water["municipality_name"] and water["body_name"] and water["status_name"]
    rows = list(csv.DictReader(io.StringIO(_run(capsys, "export", "incidents", "--format", "csv")[1])))
    assert list(rows[0])[:4] == ["id", "title", "status", "category"]  # the contract's columns first
    assert {"category_name", "municipality_name", "body_name", "status_name"} <= set(rows[0])
    signals = [json.loads(x) for x in _run(capsys, "export", "signals")[1].splitlines()]
    assert any(s["category_name"] for s in signals) and all("municipality_name" in s for s in signals)


def test_csv_for_a_russian_excel_has_a_bom_and_semicolons(env, capsys, tmp_path):
    """`--format csv` keeps the contract (commas); `csv-excel` opens right in a Russian-locale
    Excel: a UTF-8 BOM and «;» between columns, the Cyrillic intact."""
    assert _run(capsys, "import", str(LIPETSK / "posts.jsonl"))[0] == 0
    path = tmp_path / "incidents.csv"
    assert _run(capsys, "export", "incidents", "--format", "csv-excel", "-o", str(path))[0] == 0
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert list(rows[0])[:4] == ["id", "title", "status", "category"]
    assert any("Катукова" in r["title"] for r in rows) and all(r["category_name"] for r in rows)


def test_show_speaks_russian_in_the_regions_time(env, capsys):
    """No code a person reads leaks through `show` (status, subcategory, SLA state, history
    events, «система»), and times are the region's, not UTC (issue 18)."""
    assert _run(capsys, "import", str(LIPETSK / "posts.jsonl"))[0] == 0
    rows = [json.loads(x) for x in _run(capsys, "list", "--format", "jsonl")[1].splitlines()]
    code, out, _ = _run(capsys, "show", str(rows[0]["id"]))
    assert code == 0 and "UTC" not in out
    assert "статус: новый" in out or "статус: назначен" in out or "статус: разобран" in out
    assert "срок: " in out and not any(f"срок: {c} " in out for c in ("ok", "at_risk", "overdue"))
    assert "система: открыт" in out and "system:" not in out and "opened" not in out
    assert "(Europe/Moscow)" in out
