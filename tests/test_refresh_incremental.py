"""The card kept incrementally is the card computed from all posts.

Each batch folds only its new posts into the incident's `CardState`; these tests process the
Kursk sample in small batches (so incidents grow across many of them) and compare every card
with the one `card_of` computes from all the incident's posts, and with a rebuild from scratch.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

import incidents.services.refresh as refresh
from core.records import PostRecord
from crawlers.replay import ReplaySource
from incidents.domain.assess import card_of
from incidents.services.processing import crawl_adapter, prepare, process_pending
from storage.models import Incident, IncidentPost, Post
from storage.store import save_posts
from tests.conftest import KURSK

SAMPLE = KURSK / "sample" / "posts.jsonl"


def _card(inc: Incident) -> tuple:
    return (
        inc.title,
        inc.scale,
        inc.priority,
        inc.post_count,
        inc.reach,
        inc.networks,
        inc.first_post_at,
        inc.last_post_at,
        inc.street,
        inc.municipality,
        inc.address,
    )


def _process_in_small_batches(engine, kursk, kursk_builder, clock) -> None:
    prepare(engine, kursk)
    crawl_adapter(engine, ReplaySource(source_id="sample", path=SAMPLE), clock)
    process_pending(engine, kursk, clock, builder=kursk_builder, batch_size=13, workers=0)


def test_incremental_card_equals_the_card_of_all_posts(engine, kursk, kursk_builder, clock):
    _process_in_small_batches(engine, kursk, kursk_builder, clock)
    with Session(engine) as s:
        incs = s.exec(select(Incident).where(Incident.merged_into_id == None)).all()  # noqa: E711
        grown = [i for i in incs if i.post_count >= 3]
        assert len(incs) > 50 and len(grown) >= 10  # incidents that grew across batches
        facts = refresh.post_facts(s, [i.id for i in incs])
        for inc in incs:
            assert inc.card_state is not None and not inc.card_stale
            card = card_of(kursk, inc.category, inc.subcategory, facts[inc.id])
            assert (
                inc.title,
                inc.scale,
                inc.priority,
                inc.post_count,
                inc.reach,
                inc.first_post_at,
                inc.last_post_at,
            ) == (
                card.title,
                card.scale,
                card.priority,
                card.post_count,
                card.reach,
                card.first_post_at,
                card.last_post_at,
            ), inc.id
            assert inc.networks == ",".join(card.networks)
            if inc.post_count < refresh.REPRESENTATIVE_POOL:  # a small incident's summary is always current
                assert inc.summary == card.summary, inc.id
        before = {inc.id: _card(inc) for inc in incs}
    with Session(engine) as s, s.begin():  # a rebuild from all posts (as after a merge) changes nothing
        for inc in s.exec(select(Incident)).all():
            inc.card_state = None
            s.add(inc)
        s.flush()
        rebuilt = refresh.refresh_incidents(s, kursk, list(before), clock())
        assert {inc.id: _card(inc) for inc in rebuilt} == before


def test_recrawled_counters_rebuild_the_card(engine, kursk, kursk_builder, clock):
    _process_in_small_batches(engine, kursk, kursk_builder, clock)
    with Session(engine) as s:
        inc = s.exec(select(Incident).order_by(Incident.post_count.desc())).first()  # type: ignore[union-attr]
        post = s.exec(
            select(Post)
            .join(IncidentPost, IncidentPost.post_id == Post.id)
            .where(IncidentPost.incident_id == inc.id)
        ).first()
        reach_before, iid = inc.reach, inc.id
    rec = PostRecord(
        network=post.network,
        external_id=post.external_id,
        source_id=post.source_id,
        text=post.text,
        created_at=post.created_at,
        parent_id=post.parent_id,
        url=post.url,
        author_id=post.author_id,
        author_name=post.author_name,
        likes=post.likes + 5000,
        reposts=post.reposts,
        views=post.views,
        raw=post.raw or {},
        deleted=post.deleted,
    )
    with Session(engine) as s, s.begin():
        assert save_posts(s, [rec], clock() + timedelta(hours=1))[1] == 1  # updated
    with Session(engine) as s:
        assert s.get(Incident, iid).card_stale
    process_pending(
        engine, kursk, clock, builder=kursk_builder, workers=0
    )  # nothing pending: only the rebuild
    with Session(engine) as s:
        inc = s.get(Incident, iid)
        assert not inc.card_stale and inc.reach == reach_before + 5000


def _row(pid: int, score: float, **kw) -> refresh.FoldRow:
    base = dict(
        network="vk",
        author_id=f"a{pid}",
        created_at=None,
        likes=0,
        reposts=0,
        views=0,
        municipality="kursk",
        street="ул. Мира",
        house="6",
        settlement=None,
        municipalities=(),
        address=None,
    )
    base.update(kw)
    return refresh.FoldRow(post_id=pid, score=score, **base)  # type: ignore[arg-type]


def test_state_survives_json_and_keeps_the_pool_of_best_complaints():
    st = refresh.CardState()
    for pid in range(1, 41):
        st.add(_row(pid, score=float(pid % 7), likes=pid))
    st.rep, st.rep_n = st.pool[0][0], st.n
    again = refresh.CardState.from_json(st.to_json())
    assert again == st
    assert len(st.pool) == refresh.REPRESENTATIVE_POOL
    assert [e[1] for e in st.pool] == sorted((e[1] for e in st.pool), reverse=True)
    assert st.authors == ["a1", "a2", "a3"] and st.street_houses[("ул. Мира", "6")] == 40
    # a weak complaint does not enter a full pool: nothing to choose again
    assert st.add(_row(41, score=0.0)) is False and not st.wants_representative(False)
    # a strong one does, but a big incident's representative waits until it has grown by a fifth
    assert st.add(_row(42, score=9.0)) is True and not st.wants_representative(True)
    for pid in range(43, 43 + int(40 * (refresh.REPRESENTATIVE_REGROWTH - 1)) + 1):
        st.add(_row(pid, score=9.5))
    assert st.wants_representative(True)
    assert refresh.CardState.from_json({"v": 0}) is None  # an older state is rebuilt, not misread
