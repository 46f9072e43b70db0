"""Union index lookups by ISBN with a million holdings loaded: p99 latency against a
plain HGET round trip on the same server in the same run, and memory per holding.

Target: lookup p99 under 1 ms. Uses REDIS_URL, else an embedded Valkey with the
broker's persistence settings.

    python bench/index.py [--holdings 1000000] [--libraries 5] [--lookups 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from redis.asyncio import Redis
from stdnum import ean

from broker.domain.holdings import BibRecord, Holding, ItemStatus
from broker.services.harvest import indexable
from broker.store.embedded import EmbeddedValkey
from broker.store.holdings import BATCH, Indexable, UnionIndex
from broker.store.keys import Keys

WORDS = ("river", "garden", "history", "stars", "winter", "city", "letters", "sea", "night",
         "mountain", "light", "bridge", "forest", "island", "voices", "time")


def isbn13(n: int) -> str:
    stem = f"978{n:09d}"
    return stem + ean.calc_check_digit(stem)


def record(library: str, n: int, rng: random.Random) -> Indexable:
    title = " ".join(rng.choice(WORDS) for _ in range(3)) + f" {n}"
    rec = BibRecord(record_id=f"{library}-{n}", title=title, author=f"Author{n % 5000}, A.",
                    year=1950 + n % 70, isbns=(isbn13(n),),
                    holdings=(Holding(library, ItemStatus.AVAILABLE, branch=library,
                                      call_number=f"82-{n % 999}"),))
    ready = indexable(rec)
    assert ready is not None
    return ready


async def percentiles(call: Callable[[], Awaitable[object]], n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    q = statistics.quantiles(times, n=100)
    return q[49] * 1000, q[98] * 1000


async def measure(url: str, holdings: int, libraries: int, lookups: int) -> None:
    client = Redis.from_url(url, decode_responses=True)
    keys = Keys("benchindex")
    index = UnionIndex(client, keys)
    await client.set("benchindex:probe", "x")
    before = int((await client.info("memory"))["used_memory"])
    titles = holdings // libraries
    rng = random.Random(7)
    started = time.perf_counter()
    for lib in range(libraries):
        code = f"L{lib}"
        generation = await index.new_generation(code)
        batch: list[Indexable] = []
        for n in range(titles):
            batch.append(record(code, n, rng))
            if len(batch) == BATCH:
                await index.write(code, generation, batch)
                batch = []
        await index.write(code, generation, batch)
        await index.switch(code, generation)
        print(f"  loaded {code}: {titles} holdings", flush=True)
    load_seconds = time.perf_counter() - started
    after = int((await client.info("memory"))["used_memory"])

    probes = [f"isbn:{isbn13(rng.randrange(titles))}" for _ in range(lookups)]
    it = iter(probes * 2)

    async def lookup() -> object:
        found = await index.lookup([next(it)])
        assert found
        return found

    async def hget() -> object:
        return await client.hget("benchindex:index:generations", "L0")

    await percentiles(lookup, 1000)
    base50, base99 = await percentiles(hget, lookups)
    p50, p99 = await percentiles(lookup, lookups)
    print(f"holdings loaded:        {titles * libraries} ({libraries} libraries) "
          f"in {load_seconds:.0f} s")
    print(f"memory per holding:     {(after - before) / (titles * libraries):.0f} bytes "
          f"(index, word sets and record lists included)")
    print(f"plain HGET p50/p99:     {base50:.3f} / {base99:.3f} ms")
    print(f"ISBN lookup p50/p99:    {p50:.3f} / {p99:.3f} ms (target p99 < 1 ms)")
    print(f"ratio lookup p99 / HGET p99: {p99 / base99:.2f}")
    async for key in client.scan_iter(match="benchindex:*", count=5000):
        await client.unlink(key)
    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holdings", type=int, default=1_000_000)
    parser.add_argument("--libraries", type=int, default=5)
    parser.add_argument("--lookups", type=int, default=20_000)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL")
    if url:
        asyncio.run(measure(url, args.holdings, args.libraries, args.lookups))
        return
    with tempfile.TemporaryDirectory() as folder, EmbeddedValkey(Path(folder)) as server:
        asyncio.run(measure(server.url, args.holdings, args.libraries, args.lookups))


if __name__ == "__main__":
    main()
