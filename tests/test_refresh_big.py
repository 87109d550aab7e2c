"""A big incident's card: drawn from its latest posts, but its counts always cover all posts."""

from __future__ import annotations

from sqlmodel import Session, func, select

import incidents.refresh as refresh
from crawlers.replay import ReplaySource
from flows.steps import crawl_adapter, prepare, process_pending
from incidents.models import Incident, IncidentPost, Post
from tests.conftest import LIPETSK


def test_big_incident_counts_cover_every_post(engine, lipetsk, lipetsk_builder, clock, monkeypatch):
    prepare(engine, lipetsk)
    crawl_adapter(engine, ReplaySource(source_id="sample", path=LIPETSK / "posts.jsonl"), clock)
    process_pending(engine, lipetsk, clock, builder=lipetsk_builder)
    with Session(engine) as s:
        iid, n = s.exec(select(IncidentPost.incident_id, func.count()).group_by(IncidentPost.incident_id)
                        .order_by(func.count().desc())).first()
        assert n >= 2
        whole = s.get(Incident, iid)
        expected = (whole.post_count, whole.reach, whole.networks, whole.first_post_at, whole.last_post_at)
        views = s.exec(select(func.sum(Post.views)).join(IncidentPost, IncidentPost.post_id == Post.id)
                       .where(IncidentPost.incident_id == iid)).one()
    monkeypatch.setattr(refresh, "CARD_SAMPLE", 1)  # every incident with 2+ posts is now "big"
    with Session(engine) as s, s.begin():
        (inc,) = refresh.refresh_incidents(s, lipetsk, [iid], clock())
        got = (inc.post_count, inc.reach, inc.networks, inc.first_post_at, inc.last_post_at)
        big = refresh._big_incidents(s, [iid], 1)
    assert big == {iid} and got == expected and views >= 0
