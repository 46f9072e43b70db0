"""Fixtures every test folder may use: ../shared's conformance schemas, a real Redis
and an HTTP client session."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import aiohttp
import pytest
from lxml import etree
from redis.asyncio import Redis

from broker.store.keys import Keys
from broker.store.requests import RequestStore

import conformance


@pytest.fixture(scope="session")
def assert_valid() -> Callable[[str, bytes | etree._Element], None]:
    """``conformance.assert_valid`` as a fixture, for test folders with their own conftest."""
    return conformance.assert_valid


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: REDIS_URL if set, otherwise an embedded Valkey for the session."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    from broker.store.embedded import EmbeddedValkey

    server = EmbeddedValkey(tmp_path_factory.mktemp("valkey"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def namespace() -> str:
    """A key prefix of the test's own, so tests share a server but not a keyspace."""
    return f"t{uuid.uuid4().hex[:12]}"


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


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
