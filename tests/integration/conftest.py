from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from broker.store.keys import Keys
from broker.store.requests import RequestStore


@pytest.fixture
async def redis(redis_url: str, namespace: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    # The test's keyspace goes with it, whatever the test left behind.
    async for key in client.scan_iter(match=f"*{namespace}*", count=1000):
        await client.delete(key)
    await client.aclose()


@pytest.fixture
def store(redis: Redis, namespace: str) -> RequestStore:
    return RequestStore(redis, Keys(namespace))
