"""The fakes take more methods by registration (the workflow's reply methods are added that way)."""

from __future__ import annotations

import httpx

from crawlers.errors import Backoff
from crawlers.ok import OkClient
from crawlers.pos import PosClient
from crawlers.ratelimit import RateLimiter
from crawlers.vk import VkClient
from tests.fakes.base import Reply, redirected_session
from tests.fakes.ok import FakeOk
from tests.fakes.pos import FakePos
from tests.fakes.vk import TOKEN, FakeVk


def test_a_registered_vk_method_is_served_directly_and_inside_execute():
    with FakeVk() as fake:
        fake.register(
            "groups.getById", lambda p: {"groups": [{"id": int(p["group_ids"]), "name": "Администрация"}]}
        )
        client = VkClient(
            token=TOKEN,
            source_id="t",
            limiter=RateLimiter(0),
            backoff=Backoff(retries=0),
            session=redirected_session({"https://api.vk.ru/method/": f"{fake.url}/method/"}),
        )
        assert client.call("groups.getById", {"group_ids": 100001})["groups"][0]["name"] == "Администрация"
        both = client.execute([("groups.getById", {"group_ids": 1}), ("groups.getById", {"group_ids": 2})])
        assert [r["groups"][0]["id"] for r in both] == [1, 2]


def test_a_registered_ok_method_and_pos_endpoint_are_served_after_the_usual_checks():
    with FakeOk() as ok, FakePos() as pos:
        ok.register("group.getInfo", lambda p: [{"uid": p["uids"], "name": "Курск"}])
        d = ok.data
        client = OkClient(
            application_key=d["application_key"],
            secret_key=d["application_secret_key"],
            access_token=d["access_token"],
            source_id="t",
            api_url=f"{ok.url}/fb.do",
            http=httpx.Client(timeout=5),
            limiter=RateLimiter(0),
            backoff=Backoff(retries=0),
        )
        assert client.call("group.getInfo", {"uids": "1"}) == [{"uid": "1", "name": "Курск"}]
        pos.register("GET", "/categories", lambda req: Reply(200, {"items": [{"code": "roads"}]}))
        pc = PosClient(
            base_url=pos.url,
            token=pos.data["token"],
            source_id="t",
            http=httpx.Client(timeout=5),
            limiter=RateLimiter(0),
            backoff=Backoff(retries=0),
        )
        assert pc.call("GET", "/categories", "categories") == {"items": [{"code": "roads"}]}
