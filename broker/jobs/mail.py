"""The job that sends one e-mail (retried with back-off when SMTP fails)."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from broker.services.mail import Mail, Mailer, OutboxMailer, SmtpMailer
from broker.settings import Settings
from broker.store.keys import Keys


def mailer_for(settings: Settings, redis: Redis) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url, settings.mail_from)
    return OutboxMailer(redis, Keys(settings.namespace))


def send_mail(subject_id: str, to: str, subject: str, body: str) -> None:
    settings = Settings.from_env()

    async def send() -> None:
        redis = Redis.from_url(settings.existing_redis_url(), decode_responses=True)
        try:
            await mailer_for(settings, redis).send(Mail(to, subject, body))
        finally:
            await redis.aclose()

    asyncio.run(send())
