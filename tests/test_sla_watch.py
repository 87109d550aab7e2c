"""The SLA watch escalates on a controlled clock: email through a local SMTP server (aiosmtpd),
Telegram through a local fake of the Bot API; each step once, failures tried again."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from incidents.services.notify import EmailNotifier, TelegramBotNotifier
from incidents.services.sla_watch import sla_watch
from incidents.services.workflow import Workflow, add_user, get_actor
from storage.models import Notification
from tests.conftest import FixedClock
from tests.fakes.telegram_bot import TOKEN, FakeBotApi
from tests.workflow_scenario import T0, open_incident


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str, str]] = []  # (to, subject, body)

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802 - aiosmtpd hook
        msg = message_from_bytes(envelope.content)
        subject = str(make_header(decode_header(msg["Subject"])))
        self.messages.append(
            (
                list(envelope.rcpt_tos),
                subject,
                msg.get_content()
                if hasattr(msg, "get_content")
                else msg.get_payload(decode=True).decode("utf-8"),
            )
        )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[str]:
        return [s for rcpt, s, _ in self.messages if address in rcpt]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_at_risk_then_overdue_each_step_once(sqlite_engine, kursk, kursk_builder, smtp):
    inbox, port = smtp
    engine, cfg = sqlite_engine, kursk
    clock = FixedClock(T0)
    iid, _ = open_incident(engine, cfg, kursk_builder, clock)
    with Session(engine) as s, s.begin():
        add_user(s, cfg, login="moder", role="moderator", now=clock())
        add_user(
            s,
            cfg,
            login="dorogi",
            role="executor",
            body="reg_transport_roads",
            now=clock(),
            email="petrov@transport.example.org",
            telegram_chat_id="-1002000000001",
        )
        add_user(s, cfg, login="admin", role="admin", now=clock(), email="duty.admin@example.org")
    clock.advance(minutes=5)
    with Session(engine) as s, s.begin():
        Workflow(s, cfg, clock).assign(get_actor(s, "moder"), iid, "reg_transport_roads", "площадка у дороги")

    bot = FakeBotApi(chats={"-1002000000001", "-1001000000000"})
    with bot:
        notifiers = {
            "email": EmailNotifier(host="127.0.0.1", port=port, sender="sla@cur46.example.org"),
            "telegram": TelegramBotNotifier(token=TOKEN, base_url=bot.url),
        }

        def watch():  # noqa: ANN202
            return sla_watch(engine, cfg, clock, notifiers)

        clock.advance(hours=1)  # 10:05 MSK: everything in time
        assert watch().sent == 0 and not inbox.messages and not bot.sent

        # the draft is due at 17:05 MSK (8 working hours); from 15:05 it is at risk → the body only
        clock.t = T0.replace(hour=12, minute=30)
        r = watch()
        assert r.sent == 3 and r.failed == 0
        assert inbox.to("transport-roads@example.org") and inbox.to("petrov@transport.example.org")
        assert "Под угрозой" in inbox.messages[0][1] and "подготовка ответа" in inbox.messages[0][1]
        assert [m["chat"]["id"] for m in bot.sent] == [-1002000000001]
        assert not inbox.to("head.transport-roads@example.org") and not inbox.to("cur@example.org")

        clock.advance(minutes=20)  # the next scheduled run: nothing new, nothing repeated
        r = watch()
        assert r.sent == 0 and r.already == 3 and len(inbox.messages) == 2 and len(bot.sent) == 1

        # overdue → the body again, its head and the regional administrator; the bot floods once
        clock.t = T0.replace(hour=14, minute=30)
        bot.flood(1)
        r = watch()
        assert r.failed == 1
        assert inbox.to("head.transport-roads@example.org") and inbox.to("cur@example.org")
        assert inbox.to("duty.admin@example.org")
        assert any("ПРОСРОЧЕНО" in s for s in inbox.to("head.transport-roads@example.org"))
        before_mail, before_bot = len(inbox.messages), len(bot.sent)
        clock.advance(minutes=15)
        r = watch()  # only the flooded Telegram message goes out now
        assert r.sent == 1 and len(inbox.messages) == before_mail and len(bot.sent) == before_bot + 1
        assert watch().sent == 0

    with Session(engine) as s:
        rows = s.exec(select(Notification).where(Notification.incident_id == iid)).all()
    steps = {(n.clock, n.step, n.channel, n.recipient): n for n in rows}
    assert all(n.status == "sent" for n in rows)
    assert steps[("draft", "overdue", "telegram", "-1002000000001")].attempts == 2  # flooded once, then sent
    assert steps[("draft", "overdue", "telegram", "-1001000000000")].attempts == 1
    assert len(steps) == len(rows)  # one row per step and recipient


def test_without_settings_the_watch_is_a_dry_run(sqlite_engine, kursk, kursk_builder):
    clock = FixedClock(T0)
    open_incident(sqlite_engine, kursk, kursk_builder, clock)
    clock.t = T0.replace(hour=15)  # the draft is overdue
    r = sla_watch(sqlite_engine, kursk, clock, {}, {"email": "SMTP_HOST and SMTP_FROM are not set"})
    assert r.sent == 0 and r.dry_run["email"] >= 1
    assert r.dry_run_reasons["email"] == "SMTP_HOST and SMTP_FROM are not set"
    with Session(sqlite_engine) as s:
        assert s.exec(select(Notification)).all() == []  # nothing recorded: it goes out once configured
