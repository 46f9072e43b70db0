"""Atomic transitions per second against plain HSET per second, same client, same run.

A transition writes the state, the event, the indexes and the outbox in one Lua
script with a version check; the baseline is one HSET of the same client on the
same server. Target ratio >= 0.5. Uses REDIS_URL, else an embedded Valkey with
the broker's persistence settings (AOF, fsync always).

    python bench/store.py [--seconds 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis

from broker.domain.request import ItemDescription, Request
from broker.domain.states import Event, Service, State
from broker.store.embedded import EmbeddedValkey
from broker.store.keys import Keys, request_id_for
from broker.store.requests import RequestStore

# Alternating between these two keeps a request moving forever without new ids.
FLIP = {State.ROUTING: Event.SENT_TO_LENDER, State.SENT: Event.LENDER_UNFILLED}


async def rate(worker: Callable[[int], Awaitable[None]], seconds: float,
               concurrency: int) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def loop(i: int) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await worker(i)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(concurrency)))
    return done / (time.perf_counter() - started)


async def routed_request(store: RequestStore) -> Request:
    now = datetime.now(UTC)
    r = await store.create(Request(
        id=request_id_for("bench"), service=Service.LOAN, state=State.NEW, version=0,
        patron_id="bench",
        home_library="A", pickup_location="A", item=ItemDescription(title="Bench"),
        created_at=now, updated_at=now), actor="bench")
    r = await store.apply(r, Event.SUBMITTED, "bench")
    return await store.apply(r, Event.BORROWER_CONFIRMED, "bench")


async def measure(url: str, seconds: float, concurrency: int) -> None:
    client = Redis.from_url(url, decode_responses=True, max_connections=concurrency * 2)
    store = RequestStore(client, Keys("bench"))
    requests = [await routed_request(store) for _ in range(concurrency)]

    async def hset(i: int) -> None:
        await client.hset(f"bench:plain:{i}", mapping={"state": "sent", "version": "1"})

    async def transition(i: int) -> None:
        r = requests[i]
        lender = "B" if r.state is State.ROUTING else None
        requests[i] = await store.apply(r, FLIP[r.state], "bench", changes={"lender": lender})

    await rate(hset, 0.5, concurrency)  # warm-up: connections, script cache
    plain = await rate(hset, seconds, concurrency)
    atomic = await rate(transition, seconds, concurrency)
    await client.aclose()
    print(f"plain HSET:          {plain:10.0f} /s")
    print(f"atomic transitions:  {atomic:10.0f} /s (state + event + indexes + outbox)")
    print(f"ratio transitions/HSET: {atomic / plain:.2f} (target >= 0.5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL")
    if url:
        asyncio.run(measure(url, args.seconds, args.concurrency))
        return
    with tempfile.TemporaryDirectory() as folder, EmbeddedValkey(Path(folder)) as server:
        asyncio.run(measure(server.url, args.seconds, args.concurrency))


if __name__ == "__main__":
    main()
