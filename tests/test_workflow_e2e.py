"""From new to closed, through every role: routing, an SLA escalation on a controlled clock, and the
answer published under each post on the fake VK, OK, Telegram and feedback-platform servers —
exactly once each, although the sending process is killed between "sent" and "recorded" on
every one of the four networks.

The HTTP networks are crashed for real: the outbox runs in a forked child process, and the fake
server kills that process (SIGKILL) after it has stored the comment and before it answers.
Telegram is reached through Telethon's interface in-process, so there the fake client stores
the message and then raises `ProcessKilled`, a BaseException nothing of ours catches.
"""

from __future__ import annotations

import os
import signal
import threading
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from core.roles import PermissionDenied
from incidents.services.answered import mark_published
from incidents.services.notify import EmailNotifier, TelegramBotNotifier
from incidents.services.outbox import Outbox
from incidents.services.sla_watch import sla_watch
from incidents.services.workflow import Workflow, add_user, get_actor
from storage.db import open_database
from storage.models import AuditEvent, Incident, Notification, Reply
from storage.store import save_posts
from tests.conftest import FixedClock
from tests.fakes.ok import FakeOk
from tests.fakes.pos import FakePos
from tests.fakes.telegram import FakeTelegramClient, ProcessKilled
from tests.fakes.telegram_bot import TOKEN, FakeBotApi
from tests.fakes.vk import FakeVk
from tests.test_sla_watch import smtp  # noqa: F401 - the local SMTP server fixture
from tests.workflow_scenario import POS_ID, T0, fake_channels, open_incident, records, seed_fakes

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the crash test forks the sending process")


def crash_on_send(fake, url: str, cfg, clock) -> None:  # noqa: ANN001
    """Run the outbox in a child process that the fake server kills right after storing the reply."""
    forked = threading.Event()
    child: dict[str, int] = {}

    def kill(*_args) -> None:  # noqa: ANN002 - runs in the fake server's thread
        forked.wait(5)
        os.kill(child["pid"], signal.SIGKILL)

    fake.on_create = kill
    pid = os.fork()
    if pid == 0:  # the child: a fresh engine and fresh connections, as a new process would have
        try:
            engine = open_database(url)
            Outbox(engine, cfg, fake_channels(vk=_VK, ok=_OK, pos=_POS), clock).run()
        finally:
            os._exit(0)
    child["pid"] = pid
    forked.set()
    _, status = os.waitpid(pid, 0)
    fake.on_create = None
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
        "the child was not killed mid-send"
    )


_VK = _OK = _POS = None


def _do(engine, cfg, clock, fn):  # noqa: ANN001, ANN202
    with Session(engine, expire_on_commit=False) as s, s.begin():
        return fn(Workflow(s, cfg, clock), s)


def _statuses(engine) -> dict[str, str]:  # noqa: ANN001
    with Session(engine) as s:
        return {r.network: r.status for r in s.exec(select(Reply).order_by(Reply.id)).all()}


def test_new_to_closed_through_every_role_exactly_once(tmp_path, kursk, kursk_builder, smtp):  # noqa: F811
    global _VK, _OK, _POS
    inbox, smtp_port = smtp
    cfg = kursk
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    engine = open_database(url)
    clock = FixedClock(T0)
    tg = FakeTelegramClient()
    with FakeVk() as vk, FakeOk() as ok, FakePos() as pos, FakeBotApi() as bot:
        _VK, _OK, _POS = vk, ok, pos
        seed_fakes(vk, ok, tg, pos)

        # --- found and routed by the pipeline: one incident from four networks, assigned by a rule
        iid, post_ids = open_incident(engine, cfg, kursk_builder, clock)
        with Session(engine) as s, s.begin():
            inc = s.get(Incident, iid)
            assert (
                inc.status == "assigned" and inc.body_code == "kursk_gorinspektsiya" and inc.post_count == 4
            )
            add_user(s, cfg, login="admin", role="admin", now=clock(), email="duty.admin@example.org")
            add_user(s, cfg, login="moder", role="moderator", now=clock())
            add_user(
                s,
                cfg,
                login="gorinsp",
                role="executor",
                body="kursk_gorinspektsiya",
                now=clock(),
                email="ivanova@gorinsp.example.org",
                telegram_chat_id="-1003000000001",
            )
            add_user(s, cfg, login="dorogi", role="executor", body="reg_transport_roads", now=clock())
            add_user(s, cfg, login="control", role="controller", now=clock())
            add_user(s, cfg, login="fed", role="observer", now=clock())
            actors = {u: get_actor(s, u) for u in ("admin", "moder", "gorinsp", "dorogi", "control", "fed")}

        # --- the observer looks and can do nothing; the moderator overrides the rule, the roads
        # committee hands the incident back ("not ours"), the moderator assigns it to the inspection
        with pytest.raises(PermissionDenied, match="наблюдатель"):
            _do(engine, cfg, clock, lambda w, s: w.reject(actors["fed"], iid, "не жалоба"))
        clock.advance(minutes=5)
        _do(
            engine,
            cfg,
            clock,
            lambda w, s: w.assign(
                actors["moder"], iid, "reg_transport_roads", "площадка стоит на обочине дороги"
            ),
        )
        clock.advance(minutes=5)
        _do(
            engine,
            cfg,
            clock,
            lambda w, s: w.hand_back(actors["dorogi"], iid, "не наше: контейнерная площадка во дворе МКД"),
        )
        clock.advance(minutes=5)
        _do(
            engine,
            cfg,
            clock,
            lambda w, s: w.assign(
                actors["moder"], iid, "kursk_gorinspektsiya", "двор МКД — городская инспекция"
            ),
        )
        notifiers = {
            "email": EmailNotifier(host="127.0.0.1", port=smtp_port, sender="sla@cur46.example.org"),
            "telegram": TelegramBotNotifier(token=TOKEN, base_url=bot.url),
        }
        clock.t = T0.replace(hour=12, minute=30)  # 15:30 MSK: the draft (due 17:15) is at risk
        report = sla_watch(engine, cfg, clock, notifiers)
        assert report.sent == 3  # the body's address, its executor by email and by Telegram
        assert [rcpt for rcpt, _, _ in inbox.messages] == [
            ["inspection.kursk@example.org"],
            ["ivanova@gorinsp.example.org"],
        ]
        assert len(bot.sent) == 1 and "подготовка ответа" in bot.sent[0]["text"]
        assert sla_watch(engine, cfg, clock, notifiers).sent == 0  # once per step

        # --- executor drafts from the template, controller approves and publishes to all four posts
        clock.advance(minutes=10)
        answer = _do(
            engine,
            cfg,
            clock,
            lambda w, s: w.draft_answer(actors["gorinsp"], iid, template="waste_not_collected"),
        )
        _do(engine, cfg, clock, lambda w, s: w.approve(actors["control"], iid))
        replies = _do(engine, cfg, clock, lambda w, s: w.publish(actors["control"], iid))
        assert sorted(r.network for r in replies) == ["ok", "pos", "telegram", "vk"]

        # --- the outbox, killed between "sent" and "recorded" on every network
        crash_on_send(vk, url, cfg, clock)  # VK comment made, process dead
        assert len(vk.data["created_comments"]) == 1 and _statuses(engine)["vk"] == "sending"
        crash_on_send(ok, url, cfg, clock)  # VK found in the thread: not sent again
        assert len(vk.data["created_comments"]) == 1 and _statuses(engine)["vk"] == "sent"
        assert len(ok.created_comments()) == 1 and _statuses(engine)["ok"] == "sending"
        crash_on_send(pos, url, cfg, clock)  # OK found on the remote, not sent again
        assert len(ok.created_comments()) == 1 and _statuses(engine)["ok"] == "sent"
        assert len(pos.answers) == 1 and _statuses(engine)["pos"] == "sending"
        tg.crash_after_send = True
        with pytest.raises(ProcessKilled):
            Outbox(engine, cfg, fake_channels(vk=vk, ok=ok, tg=tg, pos=pos), clock).run()
        assert len(tg.sent()) == 1 and _statuses(engine)["telegram"] == "sending"
        final = Outbox(engine, cfg, fake_channels(vk=vk, ok=ok, tg=tg, pos=pos), clock).run()
        assert (
            final.recovered == 2 and final.sent == 0 and final.failed == 0
        )  # Telegram found; ПОС by its key
        assert _statuses(engine) == {"vk": "sent", "ok": "sent", "telegram": "sent", "pos": "sent"}

        # --- exactly once each, in the right place, replying to the resident
        text = answer.text + "\n\nЦУР Курской области"
        [vk_c] = vk.data["created_comments"]
        assert (vk_c["owner_id"], vk_c["post_id"], vk_c["reply_to_comment"], vk_c["text"]) == (
            -100001,
            1011,
            2201,
            text,
        )
        assert vk_c["from_id"] == -100001  # as the community
        [ok_c] = ok.created_comments()
        assert ok_c["reply_to_comment_id"] == "MTU1MDAwMDAwMDAwMTI6OTk" and ok_c["text"] == text
        [tg_m] = tg.sent()
        assert tg_m["reply_to"] == {"msg": 7101} and tg_m["text"] == text
        [pos_a] = pos.answers.values()
        assert pos_a["message_id"] == POS_ID and pos_a["text"] == text
        assert len(pos.calls(f"/messages/{POS_ID}/answers")) == 2  # sent, then resent with the same key
        with Session(engine) as s:
            rows = s.exec(select(Reply).order_by(Reply.id)).all()
            assert {r.network: r.remote_id for r in rows} == {
                "vk": f"comment-100001_{vk_c['id']}",
                "ok": f"comment{ok_c['id']}",
                "telegram": f"kursk_chat/{tg_m['id']}",
                "pos": pos_a["id"],
            }
            inc = s.get(Incident, iid)
            assert (
                inc.status == "answered"
                and inc.first_answer_at == clock()
                and inc.first_answer_at <= inc.due_at
            )

        # --- a resident writes again under the VK post: the incident's answer goes to them too
        clock.advance(hours=1)
        again = records()[0]
        again.external_id, again.created_at = "comment-100001_2202", clock()
        again.text = "Присоединяюсь: Союзная 61, мусор так и лежит, контейнеры переполнены."
        again.raw = {**again.raw, "id": 2202, "text": again.text}
        vk.data["comments"]["-100001_1011"].append(again.raw)
        with Session(engine) as s, s.begin():
            save_posts(s, [again], clock())
        from incidents.services.processing import process_pending

        process_pending(engine, cfg, clock, builder=kursk_builder)
        assert _do(engine, cfg, clock, lambda w, s: w.auto_answer_new_posts()) == 1
        assert Outbox(engine, cfg, fake_channels(vk=vk, ok=ok, tg=tg, pos=pos), clock).run().sent == 1
        assert [c["reply_to_comment"] for c in vk.data["created_comments"]] == [2201, 2202]

        # --- resolved by the executor, closed by the controller; nothing is sent twice afterwards
        clock.advance(days=1)
        _do(
            engine,
            cfg,
            clock,
            lambda w, s: w.resolve(actors["gorinsp"], iid, "площадка вычищена, график вывоза восстановлен"),
        )
        _do(engine, cfg, clock, lambda w, s: w.close(actors["admin"], iid))
        assert Outbox(engine, cfg, fake_channels(vk=vk, ok=ok, tg=tg, pos=pos), clock).run().sent == 0
        assert len(vk.data["created_comments"]) == 2 and len(ok.created_comments()) == 1
        assert len(tg.sent()) == 1 and len(pos.answers) == 1

    with Session(engine) as s:
        inc = s.get(Incident, iid)
        assert inc.status == "closed" and inc.closed_at == clock()
        moves = [
            (e.actor, e.action, e.to_state)
            for e in s.exec(
                select(AuditEvent)
                .where(AuditEvent.incident_id == iid, AuditEvent.to_state != None)  # noqa: E711
                .order_by(AuditEvent.id)
            ).all()
        ]
        assert moves == [
            ("system", "opened", "new"),
            ("system", "assigned", "assigned"),
            ("moder", "reassigned", "assigned"),
            ("dorogi", "handed_back", "triaged"),
            ("moder", "assigned", "assigned"),
            ("gorinsp", "answer_drafted", "answer_drafted"),
            ("control", "answer_approved", "answer_approved"),
            ("control", "answer_published", "answered"),
            ("gorinsp", "resolved", "resolved"),
            ("admin", "closed", "closed"),
        ]
        assert len(s.exec(select(Notification)).all()) == 3
    engine.dispose()


def test_a_low_rating_on_the_platform_reopens_once(tmp_path, kursk, kursk_builder):
    cfg = kursk
    engine = open_database(f"sqlite:///{tmp_path / 'rating.db'}")
    clock = FixedClock(T0)
    iid, _ = open_incident(engine, cfg, kursk_builder, clock)
    with Session(engine) as s, s.begin():
        add_user(s, cfg, login="gorinsp", role="executor", body="kursk_gorinspektsiya", now=clock())
        add_user(s, cfg, login="control", role="controller", now=clock())
        gorinsp, control = get_actor(s, "gorinsp"), get_actor(s, "control")
    _do(engine, cfg, clock, lambda w, s: w.draft_answer(gorinsp, iid, template="waste_not_collected"))
    _do(engine, cfg, clock, lambda w, s: w.approve(control, iid))
    _do(engine, cfg, clock, lambda w, s: w.publish(control, iid))
    # setup: no outbox runs here, so the answer is marked published by hand (a queued answer no
    # longer counts as answered: issue 18)
    _do(engine, cfg, clock, lambda w, s: mark_published(s, control, w.incident(iid), clock()))
    clock.advance(days=2)
    pos_record = records()[3]
    for rating, expect in ((4, []), (2, [iid]), (2, [])):
        pos_record.raw = {
            **pos_record.raw,
            "pos": {
                **pos_record.raw["pos"],
                "rating": rating,
                "status": "answered",
                "updated_at": f"2026-11-25T10:0{rating}:00+00:00",
            },
        }
        with Session(engine) as s, s.begin():
            save_posts(s, [pos_record], clock())  # the crawler brings the platform's new rating
        assert _do(engine, cfg, clock, lambda w, s: w.apply_ratings()) == expect
    with Session(engine) as s:
        inc = s.get(Incident, iid)
        assert inc.status == "reopened" and inc.first_answer_at is None
        assert inc.due_at == clock() + timedelta(hours=24)
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "reopened")).one()
        assert ev.actor == "system" and "оценка 2" in ev.reason
    engine.dispose()
