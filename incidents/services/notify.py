"""Escalation messages: email over SMTP and a Telegram bot message over the Bot API.

Both are plain clients with `__init__(values…)` and `from_env()`; a notifier whose settings are
missing raises `NotifierMissing` and the watch reports those messages as dry run. Secrets
(SMTP password, bot token) come from the environment only.

| variable | meaning |
|---|---|
| `SMTP_HOST`, `SMTP_PORT` (25), `SMTP_FROM` | the mail relay and the sender address |
| `SMTP_USER`, `SMTP_PASSWORD`, `SMTP_STARTTLS` (0/1) | optional login |
| `TELEGRAM_BOT_TOKEN` | the bot's token from @BotFather |
| `TELEGRAM_BOT_API_URL` | the Bot API base (default `https://api.telegram.org`; a local Bot API server or a test fake) |
"""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage
from typing import Protocol

import httpx


class NotifierMissing(Exception):
    """The channel is not configured (its environment variables are not set)."""


class NotifyFailed(Exception):
    """The message could not be delivered now; the watch tries again on its next run."""


class Notifier(Protocol):
    channel: str

    def send(self, recipient: str, subject: str, text: str) -> str: ...


class EmailNotifier:
    channel = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int = 25,
        sender: str,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 15.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout

    @classmethod
    def from_env(cls) -> EmailNotifier:
        host, sender = os.environ.get("SMTP_HOST", "").strip(), os.environ.get("SMTP_FROM", "").strip()
        if not host or not sender:
            raise NotifierMissing("SMTP_HOST and SMTP_FROM are not set")
        return cls(
            host=host,
            port=int(os.environ.get("SMTP_PORT") or 25),
            sender=sender,
            user=os.environ.get("SMTP_USER") or None,
            password=os.environ.get("SMTP_PASSWORD") or None,
            starttls=os.environ.get("SMTP_STARTTLS", "0") == "1",
        )

    def send(self, recipient: str, subject: str, text: str) -> str:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, recipient, subject
        msg.set_content(text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                refused = smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyFailed(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise NotifyFailed(f"SMTP refused {recipient}: {refused}")
        return msg["Message-ID"] or recipient


class TelegramBotNotifier:
    channel = "telegram"

    def __init__(
        self, *, token: str, base_url: str = "https://api.telegram.org", http: httpx.Client | None = None
    ) -> None:
        self.token, self.base_url = token, base_url.rstrip("/")
        self.http = http or httpx.Client(timeout=15.0)

    @classmethod
    def from_env(cls) -> TelegramBotNotifier:
        token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            raise NotifierMissing("TELEGRAM_BOT_TOKEN is not set")
        return cls(token=token, base_url=os.environ.get("TELEGRAM_BOT_API_URL") or "https://api.telegram.org")

    def send(self, recipient: str, subject: str, text: str) -> str:
        try:
            resp = self.http.post(
                f"{self.base_url}/bot{self.token}/sendMessage",
                json={
                    "chat_id": recipient,
                    "text": f"{subject}\n\n{text}",
                    # Bot API 7.0 replaced disable_web_page_preview with this object
                    "link_preview_options": {"is_disabled": True},
                },
            )
            body = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise NotifyFailed(f"Bot API: {type(exc).__name__}: {exc}") from exc
        if not body.get("ok"):
            retry = (body.get("parameters") or {}).get("retry_after")
            raise NotifyFailed(
                f"Bot API error {body.get('error_code')}: {body.get('description')}"
                + (f" (retry after {retry} s)" if retry else "")
            )
        return str(body["result"]["message_id"])


def build_notifiers() -> tuple[dict[str, Notifier], dict[str, str]]:
    """The configured notifiers by channel, and why the others are missing."""
    out: dict[str, Notifier] = {}
    missing: dict[str, str] = {}
    for channel, build in (("email", EmailNotifier.from_env), ("telegram", TelegramBotNotifier.from_env)):
        try:
            out[channel] = build()
        except NotifierMissing as exc:
            missing[channel] = str(exc)
    return out, missing
