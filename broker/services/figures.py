"""Reading what the coordinator's dashboard needs: every request with its history,
and the ledger, for ``broker.domain.figures`` to compute on.

A dashboard load reads the state indexes (one pipeline over every state and shard:
ids with the time of their last change), then only the requests whose state or last
change differs from what it read before (their hashes and event streams, pipelined in
batches). So a consortium with thousands of requests costs one cheap read per load
plus the requests that moved, and the page is never stale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from broker.domain.figures import Debt
from broker.domain.request import Request, RequestEvent
from broker.domain.states import State
from broker.store.codec import event_from_fields, request_from_fields, text, texts
from broker.store.keys import SHARDS, Keys
from broker.store.ledger import Ledger

# Requests read per pipeline: large enough for few round trips, small enough that one
# reply does not hold the event loop for long.
BATCH = 500


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every request with its history, and the fees owed, as read at ``at``."""

    at: datetime
    requests: list[tuple[Request, list[RequestEvent]]]
    debts: list[Debt]


@dataclass
class Dashboard:
    redis: Redis
    keys: Keys
    # Request id -> (state, last change) as last read, and what was read then.
    _seen: dict[str, tuple[str, float]] = field(default_factory=dict)
    _read: dict[str, tuple[Request, list[RequestEvent]]] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def snapshot(self, now: datetime | None = None) -> Snapshot:
        async with self._lock:
            index = await self._index()
            changed = [rid for rid, mark in index.items() if self._seen.get(rid) != mark]
            for start in range(0, len(changed), BATCH):
                await self._read_batch(changed[start:start + BATCH])
            for gone in self._read.keys() - index.keys():
                del self._read[gone]
            self._seen = {rid: mark for rid, mark in index.items() if rid in self._read}
            found = list(self._read.values())
        ledger = await Ledger(self.redis, self.keys).balances()
        return Snapshot(now or _now(), found,
                        [Debt(b.borrower, b.lender, b.amount) for b in ledger])

    async def _index(self) -> dict[str, tuple[str, float]]:
        """Every request id with its state and the time of its last change."""
        pipe = self.redis.pipeline(transaction=False)
        pairs = [(state, shard) for state in State for shard in range(SHARDS)]
        for state, shard in pairs:
            pipe.zrange(self.keys.by_state(shard, state), 0, -1, withscores=True)
        found: dict[str, tuple[str, float]] = {}
        for (state, _), page in zip(pairs, await pipe.execute(), strict=True):
            for rid, score in page:
                found[text(rid)] = (state.value, float(score))
        return found

    async def _read_batch(self, ids: Sequence[str]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for rid in ids:
            pipe.hgetall(self.keys.request(rid))
            pipe.xrange(self.keys.events(rid))
        replies: list[Any] = await pipe.execute()
        for rid, fields, entries in zip(ids, replies[::2], replies[1::2], strict=True):
            if not fields:
                self._read.pop(rid, None)
                continue
            self._read[rid] = (request_from_fields(texts(fields)),
                               [event_from_fields(texts(f)) for _, f in entries or []])
