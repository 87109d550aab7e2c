import io
import json
import re
from pathlib import Path

import pytest

from core.interchange import BadLine, PayloadError, post_from_dict, post_to_dict, read_jsonl

GOOD = {
    "network": "vk",
    "external_id": "-170000001_4521",
    "source_id": "vk_adm_kursk",
    "parent_id": None,
    "url": "https://vk.com/wall-170000001_4521",
    "author_id": "12345",
    "author_name": "Ольга Смирнова",
    "text": "На ул. Мира, д. 6 третий день нет горячей воды!",
    "created_at": "2026-11-20T08:15:00+03:00",
    "likes": 3,
    "reposts": 0,
    "views": 120,
}


def _lines(*objs) -> io.BytesIO:
    out = []
    for o in objs:
        out.append(o if isinstance(o, bytes) else json.dumps(o, ensure_ascii=False).encode())
    return io.BytesIO(b"\n".join(out) + b"\n")


def test_good_post_roundtrips_and_keeps_unknown_fields():
    obj = dict(GOOD, geo={"lat": 51.73, "lon": 36.19})
    post = post_from_dict(obj)
    assert post.key == "vk:-170000001_4521"
    assert post.created_at.utcoffset().total_seconds() == 3 * 3600
    back = post_to_dict(post)
    assert back["geo"] == {"lat": 51.73, "lon": 36.19}
    assert {k: back[k] for k in GOOD} == GOOD


@pytest.mark.parametrize(
    "patch, reason",
    [
        ({"network": "facebook"}, "network"),
        ({"text": 42}, "text: expected a string"),
        ({"created_at": "вчера"}, "unparseable date"),
        ({"created_at": "2026-11-20T08:15:00"}, "no UTC offset"),
        ({"likes": "много"}, "likes: expected a whole number"),
        ({"likes": -1}, "negative"),
        ({"external_id": ""}, "external_id: empty"),
        ({"source_id": ["x"]}, "source_id: expected a string"),
    ],
)
def test_bad_fields_have_precise_reasons(patch, reason):
    with pytest.raises(PayloadError, match=reason):
        post_from_dict(dict(GOOD, **patch))


def test_missing_field():
    obj = dict(GOOD)
    del obj["created_at"]
    with pytest.raises(PayloadError, match="missing field 'created_at'"):
        post_from_dict(obj)


def test_reader_reports_file_and_line_and_goes_on():
    stream = _lines(
        GOOD, b"{broken json", dict(GOOD, external_id="2"), [1, 2], dict(GOOD, external_id="3", likes=None)
    )
    items = list(read_jsonl(stream, "posts.jsonl"))
    kinds = [(n, type(x).__name__) for n, x in items]
    assert kinds == [(1, "PostRecord"), (2, "BadLine"), (3, "PostRecord"), (4, "BadLine"), (5, "PostRecord")]
    bad = items[1][1]
    assert isinstance(bad, BadLine)
    assert str(bad).startswith("posts.jsonl:2: broken JSON")
    assert "expected a JSON object" in items[3][1].reason


def test_windows_1251_when_declared_and_bom_are_decoded():
    cp = json.dumps(GOOD, ensure_ascii=False).encode("cp1251")
    bom = b"\xef\xbb\xbf" + json.dumps(dict(GOOD, external_id="b"), ensure_ascii=False).encode()
    items = [x for _, x in read_jsonl(io.BytesIO(cp + b"\n"), "x", encoding="cp1251")]
    items += [x for _, x in read_jsonl(io.BytesIO(bom + b"\n"), "x")]
    assert [p.text for p in items] == [GOOD["text"], GOOD["text"]]


def test_resume_after_line():
    stream = _lines(GOOD, dict(GOOD, external_id="2"), dict(GOOD, external_id="3"))
    items = [x.external_id for _, x in read_jsonl(stream, "x", start_line=2)]
    assert items == ["3"]


# ------------------------------------------------------------------ the place the platform gives
PLACED = dict(GOOD, address="г. Курск, ул. Союзная, д. 61", lat=51.7035, lon=36.1547)


def test_address_and_point_are_read_and_written_back():
    post = post_from_dict(PLACED)
    assert (post.address, post.lat, post.lon) == ("г. Курск, ул. Союзная, д. 61", 51.7035, 36.1547)
    back = post_to_dict(post)
    assert {k: back[k] for k in ("address", "lat", "lon")} == {
        "address": "г. Курск, ул. Союзная, д. 61",
        "lat": 51.7035,
        "lon": 36.1547,
    }
    assert "address" not in post_from_dict(GOOD).raw and post_from_dict(GOOD).lat is None
    # whole degrees are numbers too; an empty address is no address
    whole = post_from_dict(dict(GOOD, address="  ", lat=52, lon=35))
    assert (whole.address, whole.lat, whole.lon) == (None, 52.0, 35.0)


@pytest.mark.parametrize(
    "patch, reason",
    [
        ({"lat": 51.7}, "lat given without lon: a point needs both or neither"),
        ({"lon": 36.1}, "lon given without lat"),
        ({"lat": 91.0, "lon": 36.1}, "lat: 91.0 is not between -90 and 90"),
        ({"lat": 51.7, "lon": -180.5}, "lon: -180.5 is not between -180 and 180"),
        ({"lat": "51.7035", "lon": 36.1547}, "lat: expected a number of degrees, got str '51.7035'"),
        ({"lat": True, "lon": 36.1547}, "lat: expected a number of degrees, got bool"),
        ({"lat": float("nan"), "lon": 36.1547}, "lat: nan is not between"),
        ({"address": {"full": "Курск"}}, "address: expected a string, got dict"),
    ],
)
def test_a_bad_point_or_address_has_a_precise_reason(patch, reason):
    with pytest.raises(PayloadError, match=re.escape(reason)):
        post_from_dict(dict(GOOD, **patch))


def test_a_bad_point_names_its_line_and_keeps_the_line_whole():
    half = dict(GOOD, external_id="2", lat=51.7)
    quoted = dict(GOOD, external_id="3", lat="51.7035", lon="36.1547")
    items = list(read_jsonl(_lines(PLACED, half, quoted), "pos.jsonl"))
    assert [type(x).__name__ for _, x in items] == ["PostRecord", "BadLine", "BadLine"]
    assert str(items[1][1]) == "pos.jsonl:2: lat given without lon: a point needs both or neither"
    assert str(items[2][1]).startswith("pos.jsonl:3: lat: expected a number of degrees")
    assert [json.loads(x.payload) for _, x in items[1:]] == [half, quoted]  # nothing lost


SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "interchange.schema.json"


@pytest.mark.parametrize(
    "obj",
    [
        GOOD,
        PLACED,
        dict(GOOD, lat=None, lon=None, address=None),
        dict(GOOD, external_id=4521, likes=None),
        dict(GOOD, lat=51.7),
        dict(GOOD, lon=36.1),
        dict(GOOD, lat=91.0, lon=36.1),
        dict(GOOD, lat="51.7035", lon=36.1547),
        dict(GOOD, lat=True, lon=36.1547),
        dict(GOOD, address={"full": "Курск"}),
        dict(GOOD, network="facebook"),
        dict(GOOD, likes=-1),
        dict(GOOD, likes="много"),
        dict(GOOD, text=42),
        dict(GOOD, created_at="2026-11-20T08:15:00"),
        {k: v for k, v in GOOD.items() if k != "created_at"},
    ],
)
def test_the_published_schema_agrees_with_the_parser(obj):
    """docs/interchange.schema.json is what another system validates against: it accepts a
    line exactly when the parser does (for everything a schema can say)."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    by_schema = jsonschema.Draft202012Validator(schema).is_valid(obj)
    try:
        post_from_dict(obj)
        by_parser = True
    except PayloadError:
        by_parser = False
    assert by_schema == by_parser
