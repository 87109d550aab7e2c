"""The fake VK against VK's official JSON Schema (issue 23: the fakes cannot drift).

tests/conftest.py checks every answer the fake serves in every test; these tests prove the
check itself bites (a wrong shape, an undocumented error code, an unknown method) and that the
schema is where the tests expect it.
"""

from __future__ import annotations

import pytest

from tests import vk_schema

pytestmark = pytest.mark.skipif(
    not vk_schema.available(),
    reason=f"VK's JSON Schema not found at {vk_schema.SCHEMA_DIR} (../shared/api/vk-api-schema "
    "next to the checkout): the fake VK's answers are not validated",
)


def test_a_documented_answer_passes() -> None:
    body = {"response": {"comment_id": 5, "parents_stack": []}}
    assert vk_schema.check("wall.createComment", {}, body) == []


def test_a_wrong_shape_is_caught() -> None:
    body = {"response": {"count": 1, "items": [{"id": 1, "owner_id": -1, "date": "вчера", "text": "x"}]}}
    problems = vk_schema.check("wall.get", {}, body)
    assert any("date" in p and "integer" in p for p in problems), problems


def test_an_undocumented_error_code_is_caught() -> None:
    """212 belongs to wall.getComments and wall.createComment, not to newsfeed.search."""
    err = {"error": {"error_code": 212, "error_msg": "Access to post comments denied", "request_params": []}}
    assert vk_schema.check("wall.getComments", {}, err) == []
    assert vk_schema.check("newsfeed.search", {}, err)
    assert vk_schema.check("wall.get", {}, {"error": {"error_code": 99999, "error_msg": "?"}})


def test_an_unknown_method_is_caught() -> None:
    assert vk_schema.check("wall.comment", {}, {"response": 1})


def test_items_broken_on_purpose_are_the_only_tolerated_ones() -> None:
    from tests.fakes.vk import _strip_malformed

    body = {
        "response": {"count": 2, "items": [{"id": 1, "owner_id": -1, "date": "вчера", "_malformed": "x"}]}
    }
    clean, tolerated = _strip_malformed(body)
    assert "_malformed" not in clean["response"]["items"][0]
    assert vk_schema.check("wall.get", {}, clean, tolerated) == []
    clean["response"]["count"] = "два"
    assert vk_schema.check("wall.get", {}, clean, tolerated)
