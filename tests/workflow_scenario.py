"""One real-looking incident for the workflow tests: overflowing bins at ул. Союзная, 61 in Kursk,
written about in VK, OK, Telegram and on the feedback platform — each post identified exactly as the
crawlers store it, so that answers go back to the same objects on the fake servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.config import RegionConfig
from core.records import PostRecord
from incidents.services.processing import prepare, process_pending
from storage.models import Incident, IncidentPost, Post
from storage.store import save_posts

T0 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # Monday 09:00 in Kursk

VK_COMMENT = {
    "id": 2201,
    "from_id": 611,
    "post_id": 1011,
    "owner_id": -100001,
    "parents_stack": [],
    "date": int(T0.timestamp()),
    "text": "Союзная, 61 — мусор не вывозят уже неделю, контейнеры переполнены, всё разносит по двору! "
    "Когда вывезут?",
    "likes": {"count": 4, "user_likes": 0, "can_like": 1},
}
OK_COMMENT = {
    "id": "MTU1MDAwMDAwMDAwMTI6OTk",
    "date": "2026-11-23 09:20:00",
    "created_ms": int(T0.timestamp() * 1000) + 1_200_000,
    "author_ref": "user:580000000077",
    "text": "На Союзной 61 контейнерная площадка завалена мусором, не вывозят с прошлой недели. Крысы бегают.",
    "type": "ACTIVE_MESSAGE",
    "like_count": 2,
    "liked_it": False,
}
TG_MESSAGE = {
    "id": 7101,
    "date": "2026-11-23T06:40:00+00:00",
    "from_user": 9177,
    "text": "Курск, Союзная 61: мусор не вывозят неделю, баки переполнены, вонь на весь двор. Куда жаловаться?",
}
POS_ID = "POS-46-000101"


def records() -> list[PostRecord]:
    return [
        PostRecord(
            network="vk",
            external_id="comment-100001_2201",
            source_id="vk-adm-kursk",
            parent_id="wall-100001_1011",
            text=VK_COMMENT["text"],
            created_at=T0,
            url="https://vk.com/wall-100001_1011?reply=2201",
            author_id="611",
            author_name="Ольга Дементьева",
            raw=VK_COMMENT,
        ),
        PostRecord(
            network="ok",
            external_id=f"comment{OK_COMMENT['id']}",
            source_id="ok-kursk-oblast",
            parent_id="topic155000000000012",
            text=OK_COMMENT["text"],
            created_at=T0 + timedelta(minutes=20),
            url="https://ok.ru/group/70000001234567/topic/155000000000012",
            author_id="user:580000000077",
            author_name="Виктор Пахомов",
            raw=OK_COMMENT,
        ),
        PostRecord(
            network="telegram",
            external_id="kursk_chat/7101",
            source_id="tg-kursk-chat",
            parent_id=None,
            text=TG_MESSAGE["text"],
            created_at=T0 + timedelta(minutes=40),
            url="https://t.me/kursk_chat/7101",
            author_id="user9177",
            raw=TG_MESSAGE,
        ),
        PostRecord(
            network="pos",
            external_id=POS_ID,
            source_id="pos-kursk",
            parent_id=None,
            text="Во дворе дома не вывозят мусор с 15 ноября, контейнеры переполнены.\n\n"
            "Адрес: г. Курск, ул. Союзная, д. 61",
            created_at=T0 + timedelta(minutes=50),
            url=f"https://pos.example.org/messages/{POS_ID}",
            author_id="esia-1101",
            author_name="Соколова И. В.",
            raw={
                "id": POS_ID,
                "pos": {
                    "category": "Вывоз мусора",
                    "category_code": "waste",
                    "status": "new",
                    "rating": None,
                    "updated_at": "2026-11-23T06:50:00+00:00",
                    "address": "г. Курск, ул. Союзная, д. 61",
                },
            },
        ),
    ]


def open_incident(engine: Engine, cfg: RegionConfig, builder, clock) -> tuple[int, list[int]]:
    """Store the four posts, run the pipeline (signals, clustering, routing, SLA) and return the
    incident and its posts. Posts the clustering left apart are merged by hand, as the
    administrator does (the four are one problem: the same bins at the same house)."""
    prepare(engine, cfg)
    with Session(engine) as session, session.begin():
        save_posts(session, records(), clock())
    process_pending(engine, cfg, clock, builder=builder)
    with Session(engine) as session, session.begin():
        posts = session.exec(select(Post).order_by(Post.created_at)).all()
        links = {ip.post_id: ip for ip in session.exec(select(IncidentPost)).all()}
        main = links[posts[0].id].incident_id
        for p in posts:
            link = links.get(p.id)
            if link is None:
                session.add(
                    IncidentPost(
                        post_id=p.id, incident_id=main, added_at=clock(), added_by="admin", manual=True
                    )
                )
            elif link.incident_id != main:
                other = session.get(Incident, link.incident_id)
                link.incident_id, link.manual, link.added_by = main, True, "admin"
                session.add(link)
                if other is not None:
                    other.merged_into_id = main
                    session.add(other)
        return main, [p.id for p in posts]


# --------------------------------------------------------------------------- the fakes, seeded with the four posts
def seed_fakes(vk, ok, tg, pos) -> None:  # noqa: ANN001 - the fake servers
    """Put the residents' posts on the fake networks, where the answers must land."""
    if vk is not None:
        vk.data["comments"].setdefault("-100001_1011", []).append(dict(VK_COMMENT))
    if ok is not None:
        ok.data["comments"].setdefault("155000000000012", []).append(dict(OK_COMMENT))
    if tg is not None:
        tg.messages(1500000003).append(dict(TG_MESSAGE))


def fake_channels(vk=None, ok=None, tg=None, pos=None):  # noqa: ANN001, ANN201
    """The real channel classes over the real clients, pointed at the fakes (fresh connections)."""
    import httpx

    from crawlers.errors import Backoff
    from crawlers.ok import OkClient
    from crawlers.pos import PosClient
    from crawlers.ratelimit import RateLimiter
    from crawlers.vk import VkClient
    from incidents.services.channels import Channels, OkChannel, PosChannel, TelegramChannel, VkChannel
    from tests.fakes.base import redirected_session
    from tests.fakes.vk import TOKEN

    available = {}
    if vk is not None:
        session = redirected_session({"https://api.vk.ru/method/": f"{vk.url}/method/"})
        available["vk"] = VkChannel(
            VkClient(
                token=TOKEN,
                source_id="replies:vk",
                session=session,
                limiter=RateLimiter(0),
                backoff=Backoff(retries=0),
            )
        )
    if ok is not None:
        d = ok.data
        available["ok"] = OkChannel(
            OkClient(
                application_key=d["application_key"],
                secret_key=d["application_secret_key"],
                access_token=d["access_token"],
                source_id="replies:ok",
                api_url=f"{ok.url}/fb.do",
                http=httpx.Client(timeout=5),
                limiter=RateLimiter(0),
                backoff=Backoff(retries=0),
            )
        )
    if tg is not None:
        available["telegram"] = TelegramChannel(lambda: tg)
    if pos is not None:
        available["pos"] = PosChannel(
            PosClient(
                base_url=pos.url,
                token=pos.data["token"],
                source_id="replies:pos",
                http=httpx.Client(timeout=5),
                limiter=RateLimiter(0),
                backoff=Backoff(retries=0),
            )
        )
    missing = {n: "not in this test" for n in ("vk", "ok", "telegram", "pos") if n not in available}
    return Channels(available, missing)
