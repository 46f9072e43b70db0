"""Requests accepted per second over HTTP, against aiohttp hello-world requests per
second on the same machine in the same run (target ratio >= 0.1), with p50 and p99.

Each accepted request is the whole intake: the patron's session, the borrower check
(from its short-lived cache, warmed first), the holdings from the union index, the
rota and the fee, and the request stored with its forwarding job in one atomic step.
The load comes from this process.

Both servers run as many processes (one per core unless --processes says otherwise)
on the same event loop (uvloop), as the broker's web is deployed.

    python bench/intake.py [--seconds 10] [--concurrency 16] [--patrons 300] [--processes N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import aiohttp

PROJECT = Path(__file__).resolve().parents[1]
# The project before tests/: tests/connectors must not shadow the connectors package.
sys.path[:0] = [str(PROJECT)]
from harness import (  # noqa: E402
    Member,
    against_hello,
    consortium,
    isbn,
    log_in,
    parser,
    report,
    run_on_redis,
    seed_patrons,
    servers,
)

TITLES = 4000


async def run(args: argparse.Namespace, folder: Path, redis_url: str) -> None:
    # Home library H with the patrons; lenders L1 (same region) and L2.
    path = consortium(folder, "Intake bench", [
        Member("H", "R1"), Member("L1", "R1", range(TITLES)), Member("L2", "R2", range(TITLES))],
        args.patrons)
    env = {**os.environ, "REDIS_URL": redis_url, "ILLBROKER_NAMESPACE": "bench",
           "ILLBROKER_CONSORTIUM": str(path), "ILLBROKER_DATA": str(folder)}
    subprocess.run([sys.executable, "-m", "broker.cli", "harvest"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    async with servers(env, args.processes) as running:
        base = running.broker
        await seed_patrons(redis_url, "bench", args.patrons)
        cookies = await log_in(base, args.patrons)
        order = list(range(TITLES))
        random.Random(7).shuffle(order)
        per_patron: dict[int, int] = {}
        # Bodies and headers made before the clock runs: the load generator shares the
        # cores with the broker, and its own work is not what is measured.
        bodies = [json.dumps({"service": "loan", "item": {"isbn": isbn(n)}}).encode()
                  for n in range(TITLES)]
        headers = [{"Cookie": cookie, "Content-Type": "application/json"}
                   for cookie in cookies]
        url = f"{base}/api/requests"

        async def submit(session: aiohttp.ClientSession, n: int) -> bool:
            patron = n % args.patrons
            title = order[(per_patron.get(patron, 0) * args.patrons + patron) % TITLES]
            per_patron[patron] = per_patron.get(patron, 0) + 1
            async with session.post(url, data=bodies[title],
                                    headers=headers[patron]) as response:
                await response.read()
                return response.status == 201

        hello, intake = await against_hello(running.hello, args, submit)
    report("request intake", "req/s", "intake", hello, intake)


def main() -> None:
    arguments = parser(__doc__, seconds=10)
    arguments.add_argument("--patrons", type=int, default=300)
    run_on_redis(run, arguments.parse_args())


if __name__ == "__main__":
    main()
