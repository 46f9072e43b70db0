"""Sending e-mail: SMTP (aiosmtplib) when configured, else the broker's own outbox
of mails (the demo shows it at /outbox), so nothing needs a mail server to try it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib
from redis.asyncio import Redis

from broker.settings import Settings
from broker.store.keys import Keys
from connectors.errors import ConnectorError

# The demo's outbox keeps the latest mails only.
OUTBOX_SIZE = 200
SMTP_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    body: str


class MailUnavailable(ConnectorError):
    """The SMTP server refused or did not answer; the mail job is retried."""


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


class SmtpMailer:
    def __init__(self, url: str, sender: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self.tls = parts.scheme == "smtps"
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender

    async def send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        try:
            await aiosmtplib.send(message, hostname=self.host, port=self.port,
                                  use_tls=self.tls, username=self.username,
                                  password=self.password, timeout=SMTP_TIMEOUT)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailUnavailable(f"cannot send mail: {exc}", peer="smtp") from exc


class OutboxMailer:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.key = keys.mail_outbox()

    async def send(self, mail: Mail) -> None:
        entry = {**asdict(mail), "at": datetime.now(UTC).isoformat()}
        pipe = self.redis.pipeline(transaction=True)
        pipe.lpush(self.key, json.dumps(entry, ensure_ascii=False))
        pipe.ltrim(self.key, 0, OUTBOX_SIZE - 1)
        await pipe.execute()

    async def latest(self, limit: int = 50) -> list[dict[str, str]]:
        raw = await self.redis.lrange(self.key, 0, limit - 1)
        return [json.loads(item) for item in raw]


def mailer_for(settings: Settings, redis: Redis) -> Mailer:
    """SMTP when ``ILLBROKER_SMTP_URL`` is set, else the broker's own outbox."""
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url, settings.mail_from)
    return OutboxMailer(redis, Keys(settings.namespace))
