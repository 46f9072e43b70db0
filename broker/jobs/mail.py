"""The job that sends one e-mail (retried with back-off when SMTP fails)."""

from __future__ import annotations

import asyncio

from broker.services.mail import Mail, mailer_for
from broker.settings import Settings
from broker.store.client import connect


def send_mail(subject_id: str, to: str, subject: str, body: str) -> None:
    settings = Settings.from_env()

    async def send() -> None:
        redis = connect(settings.existing_redis_url())
        try:
            await mailer_for(settings, redis).send(Mail(to, subject, body))
        finally:
            await redis.aclose()

    asyncio.run(send())
