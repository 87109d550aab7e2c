"""A closed incident comes back: reopened within the window, continued by a linked one after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from core.records import PostRecord
from incidents.services.processing import prepare, process_pending
from storage.models import AuditEvent, Incident, IncidentPost, Post
from storage.store import save_posts

T0 = datetime(2026, 11, 10, 7, tzinfo=UTC)


def _post(ext: str, text: str, days: float, network: str = "vk") -> PostRecord:
    return PostRecord(
        network=network,
        external_id=ext,
        source_id="test",
        text=text,
        created_at=T0 + timedelta(days=days),
        author_id=f"{network}:{ext}",
        author_name="Жительница",
    )


def _process(engine, cfg, builder, posts, at):
    with Session(engine) as s, s.begin():
        save_posts(s, posts, at)
    return process_pending(engine, cfg, lambda: at, builder=builder)


def _incident_of(engine, ext: str) -> Incident:
    with Session(engine) as s:
        return s.exec(
            select(Incident)
            .join(IncidentPost, IncidentPost.incident_id == Incident.id)
            .join(Post, Post.id == IncidentPost.post_id)
            .where(Post.external_id == ext)
        ).one()


def _close(engine, incident_id: int, at: datetime) -> None:
    """What the workflow does when the body reports the fix and the controller closes the incident."""
    with Session(engine) as s, s.begin():
        inc = s.get(Incident, incident_id)
        inc.status, inc.closed_at, inc.first_answer_at, inc.updated_at = "closed", at, at, at
        s.add(inc)


def test_reopen_within_window_then_linked_incident_after_it(engine, kursk, kursk_builder):
    prepare(engine, kursk)
    first = _post(
        "-1_100",
        "Кати Зеленко 9 — канализация опять хлещет из колодца прямо во двор. Вонь на весь двор, "
        "дети на площадке рядом!",
        0,
    )
    _process(engine, kursk, kursk_builder, [first], T0 + timedelta(hours=1))
    inc = _incident_of(engine, "-1_100")
    closed_at = T0 + timedelta(days=3)
    _close(engine, inc.id, closed_at)

    # Five days after closing (the window is 14): the same incident, reopened, with a new deadline.
    back = _post(
        "pos-1",
        "Повторно сообщаю: во дворе дома № 9 по ул. Кати Зеленко г. Курска вновь изливаются "
        "сточные воды из колодца, запах по всему двору",
        8,
        network="pos",
    )
    at = T0 + timedelta(days=8, hours=2)
    stats = _process(engine, kursk, kursk_builder, [back], at)
    assert stats.reopened == 1 and stats.incidents_opened == 0
    again = _incident_of(engine, "pos-1")
    assert again.id == inc.id and again.status == "reopened" and again.closed_at is None
    assert again.first_answer_at is None and again.due_at > at and again.post_count == 2
    with Session(engine) as s:
        (ev,) = s.exec(
            select(AuditEvent).where(AuditEvent.incident_id == inc.id, AuditEvent.action == "reopened")
        ).all()
    assert (ev.from_state, ev.to_state, ev.actor) == ("closed", "reopened", "system")
    assert ev.data["post"] == "pos:pos-1" and ev.data["reopen_window_days"] == 14

    # Closed again; a month later the sewer overflows again: a new incident that points to the old one.
    _close(engine, inc.id, T0 + timedelta(days=10))
    later = _post(
        "-1_200",
        "Кати Зеленко 9, колодец канализации снова переполнен, течёт во двор, вонь. Когда это закончится?",
        45,
    )
    stats = _process(engine, kursk, kursk_builder, [later], T0 + timedelta(days=45, hours=1))
    assert stats.incidents_opened == 1 and stats.linked == 1 and stats.reopened == 0
    new = _incident_of(engine, "-1_200")
    assert new.id != inc.id and new.linked_incident_id == inc.id and new.status in ("new", "assigned")
    with Session(engine) as s:
        assert s.get(Incident, inc.id).status == "closed"
        actions = {(e.incident_id, e.action) for e in s.exec(select(AuditEvent)).all()}
    assert (new.id, "linked") in actions and (inc.id, "recurred") in actions

    # Long after the link window: an unrelated new incident.
    much_later = _post(
        "-1_300", "Кати Зеленко 9, из колодца канализации течёт во двор, вонь невозможная", 200
    )
    _process(engine, kursk, kursk_builder, [much_later], T0 + timedelta(days=200, hours=1))
    assert _incident_of(engine, "-1_300").linked_incident_id is None


def test_a_reply_backing_a_complaint_joins_its_incident_and_advice_does_not(engine, kursk, kursk_builder):
    prepare(engine, kursk)
    parent = PostRecord(
        network="ok",
        external_id="7767038",
        source_id="test",
        created_at=T0,
        text="Фатежане, у вас тоже из крана идёт вода цвета чая? Второй день на Карла Маркса такая, "
        "стирать невозможно, бельё жёлтое!",
        author_id="ok:1",
    )
    backing = PostRecord(
        network="ok",
        external_id="7767038_c1",
        source_id="test",
        parent_id="7767038",
        created_at=T0 + timedelta(minutes=45),
        author_id="ok:2",
        text="И на Урицкого такая же ржавчина. Набрали ведро — на дне осадок",
    )
    advice = PostRecord(
        network="ok",
        external_id="7767038_c2",
        source_id="test",
        parent_id="7767038",
        created_at=T0 + timedelta(minutes=50),
        author_id="ok:3",
        text="Пишите в прокуратуру, только так шевелятся",
    )
    stats = _process(engine, kursk, kursk_builder, [parent, backing, advice], T0 + timedelta(hours=1))
    assert stats.thread_replies == 1
    inc = _incident_of(engine, "7767038")
    assert _incident_of(engine, "7767038_c1").id == inc.id and inc.post_count == 2
    with Session(engine) as s:
        link = s.exec(
            select(IncidentPost)
            .join(Post, Post.id == IncidentPost.post_id)
            .where(Post.external_id == "7767038_c1")
        ).one()
        assert link.added_by == "auto:thread" and not link.manual
        advice_id = s.exec(select(Post.id).where(Post.external_id == "7767038_c2")).one()
        assert s.get(IncidentPost, advice_id) is None
