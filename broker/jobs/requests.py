"""The job that moves a request along (borrower check, then the next lender)."""

from __future__ import annotations

import asyncio

import aiohttp
from redis.asyncio import Redis

from broker.services.borrower import BorrowerChecks
from broker.services.consortium_file import load
from broker.services.registers import registers
from broker.services.routing import Router
from broker.settings import Settings
from broker.store.accounts import AccountStore
from broker.store.keys import Keys
from broker.store.requests import RequestStore


def process_request(request_id: str) -> str:
    """Returns the state the request reached; raises (and is retried) while the home
    register does not answer, with the request waiting in its state."""
    settings = Settings.from_env()

    async def run() -> str:
        redis = Redis.from_url(settings.existing_redis_url(), decode_responses=True)
        keys = Keys(settings.namespace)
        consortium = load(settings.consortium_path)
        try:
            async with aiohttp.ClientSession() as session:
                router = Router(RequestStore(redis, keys), AccountStore(redis, keys),
                                BorrowerChecks(redis, keys, consortium,
                                               registers(consortium, session)))
                request = await router.advance(request_id)
        finally:
            await redis.aclose()
        return request.state.value

    return asyncio.run(run())
