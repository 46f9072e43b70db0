"""The job that records what a borrowing library owes a lending one."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from broker.settings import Settings
from broker.store.client import connect
from broker.store.keys import Keys
from broker.store.ledger import Ledger


def record_fee(request_id: str, borrower: str, lender: str, amount: str,
               kind: str = "service") -> bool:
    settings = Settings.from_env()

    async def record() -> bool:
        redis = connect(settings.existing_redis_url())
        try:
            return await Ledger(redis, Keys(settings.namespace)).record(
                request_id, borrower, lender, Decimal(amount), kind)
        finally:
            await redis.aclose()

    return asyncio.run(record())
