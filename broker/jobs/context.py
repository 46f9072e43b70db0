"""What a job needs to do its work: the stores, the consortium and an HTTP session,
opened for the job and closed after it (rq runs each job in a fresh event loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
from redis.asyncio import Redis

from broker.domain.consortium import Consortium
from broker.services.consortium_file import current
from broker.settings import Settings
from broker.store.accounts import AccountStore
from broker.store.client import connect
from broker.store.keys import Keys
from broker.store.requests import RequestStore

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class JobContext:
    settings: Settings
    redis: Redis
    keys: Keys
    consortium: Consortium
    session: aiohttp.ClientSession
    requests: RequestStore
    accounts: AccountStore


def run_job(work: Callable[[JobContext], Awaitable[T]]) -> T:
    settings = Settings.from_env()

    async def run() -> T:
        redis = connect(settings.existing_redis_url())
        keys = Keys(settings.namespace)
        try:
            async with aiohttp.ClientSession() as session:
                return await work(JobContext(settings, redis, keys,
                                             current(settings.consortium_path), session,
                                             RequestStore(redis, keys),
                                             AccountStore(redis, keys)))
        finally:
            await redis.aclose()

    return asyncio.run(run())
