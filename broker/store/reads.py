"""Reads of several stores sent to Redis in one round trip.

A store method that can take part queues its commands on ``Reads.pipe`` and returns a
``Pending`` whose value is there once ``Reads.run`` has been awaited. Each round trip
costs the web process more than the commands in it, so a request that needs several
independent reads makes one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from redis.asyncio import Redis

T = TypeVar("T")
_UNSET: Any = object()


class Pending(Generic[T]):
    def __init__(self, count: int, decode: Callable[[list[Any]], T]) -> None:
        self.count = count
        self.decode = decode
        self._value: T = _UNSET

    @property
    def value(self) -> T:
        if self._value is _UNSET:
            raise RuntimeError("the reads have not been run yet")
        return self._value

    def fill(self, results: list[Any]) -> None:
        self._value = self.decode(results)


class Reads:
    def __init__(self, redis: Redis) -> None:
        self.pipe = redis.pipeline(transaction=False)
        self._pending: list[Pending[Any]] = []

    def add(self, count: int, decode: Callable[[list[Any]], T]) -> Pending[T]:
        """Take the results of the last ``count`` commands queued, through ``decode``."""
        pending = Pending(count, decode)
        self._pending.append(pending)
        return pending

    async def run(self) -> None:
        results = await self.pipe.execute() if self._pending else []
        start = 0
        for pending in self._pending:
            pending.fill(results[start:start + pending.count])
            start += pending.count


async def read_one(redis: Redis, queue: Callable[[Reads], Pending[T]]) -> T:
    """A single store read on its own, through the same code as a batched one."""
    reads = Reads(redis)
    pending = queue(reads)
    await reads.run()
    return pending.value
