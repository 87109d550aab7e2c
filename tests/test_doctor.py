"""`incidents doctor` against the fakes: every source and channel of the default region (Kursk),
good, then broken (issue 23)."""

from __future__ import annotations

import pytest

from incidents.services.doctor import BROKEN, MISSING, OFF, OK, Endpoints, run_doctor
from tests.fakes.base import redirected_session
from tests.fakes.ok import FakeOk
from tests.fakes.pos import FakePos
from tests.fakes.telegram import FakeTelegramClient
from tests.fakes.telegram_bot import TOKEN as BOT_TOKEN
from tests.fakes.telegram_bot import FakeBotApi
from tests.fakes.vk import TOKEN as VK_TOKEN
from tests.fakes.vk import FakeVk


@pytest.fixture
def smtp_port():
    from aiosmtpd.controller import Controller

    class Inbox:
        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
            return "250 OK"

    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


def _fakes_for(cfg, vk: FakeVk, ok: FakeOk, tg: FakeTelegramClient) -> None:  # noqa: ANN001
    """The region's groups and chats exist on the fakes (the config's ids are placeholders)."""
    for s in cfg.sources.sources:
        if s.network == "ok":
            ok.data["topics"].setdefault(str(s.params["gid"]), [])
        if s.network == "telegram" and s.kind in ("channel", "chat"):
            for i, ref in enumerate((s.params.get("channels") or []) + (s.params.get("chats") or [])):
                tg.data["entities"].append(
                    {"id": 1600000000 + len(tg.data["entities"]) + i, "username": ref, "title": ref}
                )


def _env(vk: FakeVk, ok: FakeOk, pos: FakePos, smtp_port: int) -> dict[str, str]:
    return {
        "VK_TOKEN": VK_TOKEN,
        "VK_SERVICE_KEY": VK_TOKEN,
        "VK_REPLY_TOKEN": VK_TOKEN,
        "OK_APPLICATION_KEY": ok.data["application_key"],
        "OK_APPLICATION_SECRET_KEY": ok.data["application_secret_key"],
        "OK_ACCESS_TOKEN": ok.data["access_token"],
        "POS_TOKEN": pos.data["token"],
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_FROM": "cur@example.ru",
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
    }


def _endpoints(vk, ok, pos, bot, tg, env) -> Endpoints:  # noqa: ANN001
    return Endpoints(
        vk_session=redirected_session({"https://api.vk.ru/method/": f"{vk.url}/method/"}),
        ok_api_url=f"{ok.url}/fb.do",
        pos_base_url=pos.url,
        bot_api_url=bot.url,
        telegram_client=lambda: tg,
        env=env,
    )


def test_doctor_good_then_broken(kursk, smtp_port, capsys, monkeypatch):
    tg = FakeTelegramClient()
    with FakeVk() as vk, FakeOk() as ok, FakePos() as pos, FakeBotApi() as bot:
        _fakes_for(kursk, vk, ok, tg)
        env = _env(vk, ok, pos, smtp_port)
        good = run_doctor(kursk, _endpoints(vk, ok, pos, bot, tg, env))
        assert good.broken == [], [(c.name, c.detail) for c in good.broken]
        names = [c.name for c in good.checks]
        network = [s for s in kursk.sources.sources if s.network not in ("replay", "telegram", "pos")]
        assert all(any(f"источник {s.id} " in n for n in names) for s in network)  # every VK and OK source
        chats = [c for c in good.checks if "чат " in c.name]
        assert chats and all(c.status == OK for c in chats)
        for channel in ("ответы VK", "ответы ОК", "ПОС", "SMTP", "getMe", "Telegram: сессия"):
            assert any(channel in n and c.status == OK for n, c in zip(names, good.checks, strict=True)), (
                channel
            )

        # --- broken: a revoked VK token, a reply token without the wall right, OK statistics
        # denied (not an admin), a chat the account is not in, a wrong platform token, a wrong bot
        vk.token = "vk1.a.other"
        vk2 = FakeVk()
        with vk2:
            vk2.data["token_rights"] = ["messages"]
            first_ok = next(s for s in kursk.sources.sources if s.network == "ok")
            ok.data["stat_denied"] = [str(first_ok.params["gid"])]
            tg.data["entities"][-1]["private"] = True
            env2 = {**env, "POS_TOKEN": "wrong", "TELEGRAM_BOT_TOKEN": "1:wrong"}
            ep = _endpoints(vk, ok, pos, bot, tg, env2)
            bad = run_doctor(kursk, ep)
            by_name = {c.name: c for c in bad.checks}
            vk_wall = next(c for n, c in by_name.items() if "(VK, wall)" in n)
            assert vk_wall.status == BROKEN and "VK_TOKEN" in vk_wall.fix
            assert by_name[f"источник {first_ok.id} (ОК, группа)"].status == BROKEN
            assert "администратора" in by_name[f"источник {first_ok.id} (ОК, группа)"].fix
            assert any(c.status == BROKEN and "чат" in n for n, c in by_name.items())
            assert next(c for n, c in by_name.items() if "ПОС" in n).status == BROKEN
            assert next(c for n, c in by_name.items() if "getMe" in n).status == BROKEN
            rights = run_doctor(
                kursk,
                Endpoints(
                    vk_session=redirected_session({"https://api.vk.ru/method/": f"{vk2.url}/method/"}),
                    env={"VK_REPLY_TOKEN": VK_TOKEN},
                    telegram_client=lambda: tg,
                ),
            )
            reply = next(c for c in rights.checks if "ответы VK" in c.name)
            assert reply.status == BROKEN and "wall" in reply.fix


def test_doctor_without_credentials_says_what_to_set(kursk):
    report = run_doctor(kursk, Endpoints(env={}))
    by_status = {c.name: c.status for c in report.checks}
    assert all(s in (MISSING, OFF) for s in by_status.values()), report.broken  # the sources are disabled
    missing = [c for c in report.checks if c.status == MISSING]
    assert any("VK_REPLY_TOKEN" in c.fix for c in missing) and any(
        "TELEGRAM_BOT_TOKEN" in c.fix for c in missing
    )


def test_doctor_command_prints_russian_and_exits_non_zero_when_broken(kursk, monkeypatch, capsys):
    from cli.main import main
    from incidents.services import doctor

    monkeypatch.setattr(
        doctor,
        "Endpoints",
        lambda: Endpoints(
            env={"VK_REPLY_TOKEN": "x", "TELEGRAM_BOT_TOKEN": "1:x"},
            bot_api_url="http://127.0.0.1:9",
            vk_session=redirected_session({"https://api.vk.ru/method/": "http://127.0.0.1:9/method/"}),
        ),
    )
    code = main(["--config", "config/regions/kursk", "doctor"])
    out = capsys.readouterr().out
    assert code == 1 and "НЕ РАБОТАЕТ" in out and "что сделать" in out and "итого" in out
