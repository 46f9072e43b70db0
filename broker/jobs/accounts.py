"""Account housekeeping jobs."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from broker.settings import Settings
from broker.store.accounts import AccountStore
from broker.store.client import connect
from broker.store.keys import Keys

log = logging.getLogger(__name__)


def purge_unconfirmed(subject_id: str) -> int:
    """Delete registrations whose 24 hours passed unconfirmed (run every few minutes)."""
    settings = Settings.from_env()

    async def purge() -> int:
        redis = connect(settings.existing_redis_url())
        try:
            store = AccountStore(redis, Keys(settings.namespace))
            return await store.purge_expired(datetime.now(UTC))
        finally:
            await redis.aclose()

    purged = asyncio.run(purge())
    if purged:
        log.info("deleted %d registrations not confirmed in time", purged)
    return purged
