from pathlib import Path

import pytest
import yaml

from core.config import CATEGORY_CODES, FILES, ConfigError, load_region
from tests.conftest import KURSK, LIPETSK, ROOT


def _copy_region(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in FILES:
        (dst / name).write_text((src / name).read_text(encoding="utf-8"), encoding="utf-8")
    return dst


def test_default_region_is_rich_enough(kursk):
    assert len(kursk.territories.municipalities) >= 8
    levels = {b.level for b in kursk.bodies.bodies}
    assert {"municipal", "regional"} <= levels
    assert [c.code for c in kursk.rubricator.categories] == list(CATEGORY_CODES)


def test_second_region_loads(lipetsk):
    assert lipetsk.region.code == "lipetsk"
    assert lipetsk.bodies.triage_body == "cur_lipetsk"


def test_missing_file_is_named(tmp_path):
    d = _copy_region(LIPETSK, tmp_path / "r")
    (d / "sla.yaml").unlink()
    with pytest.raises(ConfigError, match=r"sla\.yaml: file is missing"):
        load_region(d)


def test_unknown_category_names_file_and_key(tmp_path):
    d = _copy_region(LIPETSK, tmp_path / "r")
    data = yaml.safe_load((d / "rubricator.yaml").read_text(encoding="utf-8"))
    data["categories"][1]["code"] = "potholes"
    (d / "rubricator.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_region(d)
    msg = str(exc.value)
    assert "rubricator.yaml" in msg and "categories.1.code" in msg and "potholes" in msg


def test_broken_yaml_is_reported(tmp_path):
    d = _copy_region(LIPETSK, tmp_path / "r")
    (d / "bodies.yaml").write_text("bodies: [\n  - {code: x", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bodies\.yaml:2:3: not valid YAML"):
        load_region(d)


def test_cross_references_are_checked(tmp_path):
    d = _copy_region(LIPETSK, tmp_path / "r")
    (d / "routing.yaml").write_text("rules:\n  - {category: roads, body: nobody}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"routing\.yaml:2: rules\.0\.body: unknown body 'nobody'"):
        load_region(d)


def test_a_routing_rules_subcategory_must_exist(tmp_path):
    """A typo in a subcategory left a rule silently doing nothing (the Oryol set-up of issue 21)."""
    d = _copy_region(LIPETSK, tmp_path / "r")
    body = load_region(LIPETSK).bodies.bodies[0].code
    (d / "routing.yaml").write_text(
        f"rules:\n  - {{category: roads, subcategory: nosuch, body: {body}}}\n", encoding="utf-8"
    )
    with pytest.raises(
        ConfigError,
        match=r"routing\.yaml:2: rules\.0\.subcategory: 'nosuch' is no subcategory of category 'roads'; its subcategories: .*pothole",
    ):
        load_region(d)


def test_kursk_bodies_named_exactly_as_the_real_data():
    """Every executor of the Kursk feedback-platform data is a body, spelled the same."""
    import csv

    data = ROOT.parent / "shared" / "data" / "kursk_appeals_train.csv"
    if not data.is_file():
        pytest.skip("shared data not present")
    names = {r["executor"] for r in csv.DictReader(data.open(encoding="utf-8"))}
    cfg = load_region(KURSK)
    configured = {b.name for b in cfg.bodies.bodies}
    assert names <= configured, sorted(names - configured)[:5]


def test_a_region_parse_is_cached_as_json_and_an_edit_is_read_again(tmp_path, monkeypatch):
    """Commands start fast because a region's YAML parse is kept (as JSON, never pickle) under the
    data folder; an edited file has another key, so the edit is what the next command reads."""
    monkeypatch.setenv("INCIDENTS_DATA_DIR", str(tmp_path / "data"))
    region = _copy_region(KURSK, tmp_path / "r")
    first = load_region(region)
    cached = sorted((tmp_path / "data" / "cache" / "yaml").glob("*.json"))
    assert len(cached) >= len(FILES) - 1  # every file that survives JSON unchanged is kept
    again = load_region(region)
    assert again.region.name == first.region.name
    path = region / "region.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["name"] = first.region.name + " (правка)"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert load_region(region).region.name == first.region.name + " (правка)"
