"""Inbound ISO 18626 SupplyingAgencyMessages processed per second over HTTP, against
aiohttp hello-world requests per second on the same machine in the same run (target
ratio >= 0.1), with p50 and p99.

Each message is the whole inbound path: the bearer token checked, the body read and
parsed by the lender's schema version, the request found and checked, the lender's
answer (WillSupply) applied as one atomic transition with its outbox job, and the
confirmation written and kept for repeats. Requests are created beforehand, each in
state ``sent`` at lender L; each message moves one of them.

Both servers run as many processes (one per core unless --processes says otherwise)
on uvloop, as bench/intake.py runs them.

    python bench/iso18626.py [--seconds 5] [--concurrency 16] [--requests 20000] [--processes N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

PROJECT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT)]
from harness import against_hello, parser, report, run_on_redis, servers  # noqa: E402

TOKEN_ENV = "ILL_BENCH_LENDER_TOKEN"
TOKEN = "bench-lender-token-7c1"
VERSION = "2021-2"
LIBRARY = """
[[libraries]]
code = "{code}"
name = "Library {code}"
country = "SI"
region = "R1"
timezone = "Europe/Ljubljana"
[libraries.policy]
password_min_length = 8
accepts_patron_requests = true
lends = ["book"]
[libraries.catalog]
connector = "marcfile"
path = "empty.xml"
[libraries.register]
connector = "file"
path = "register.csv"
[libraries.lending]
{lending}
"""


def consortium(folder: Path) -> Path:
    (folder / "empty.xml").write_text(
        '<collection xmlns="http://www.loc.gov/MARC21/slim"/>', encoding="utf-8")
    (folder / "register.csv").write_text("card_number\n", encoding="utf-8")
    lending = (f'connector = "iso18626"\nurl = "http://127.0.0.1:9/iso18626"\n'
               f'agency_id = "ISIL:SI-L"\nschema_version = "{VERSION}"\n'
               f'credential_env = "{TOKEN_ENV}"')
    path = folder / "consortium.toml"
    path.write_text('[consortium]\nname = "ISO 18626 bench"\n[[regions]]\ncode = "R1"\n'
                    'name = "One"\ncountry = "SI"\n[fees]\nill_item = "7.00"\n'
                    + LIBRARY.format(code="H", lending='connector = "inbox"')
                    + LIBRARY.format(code="L", lending=lending), encoding="utf-8")
    return path


async def orders(redis_url: str, count: int) -> list[bytes]:
    """``count`` requests of home library H sent to lender L, and for each the
    WillSupply message that answers it."""
    from redis.asyncio import Redis

    from broker.domain.request import ItemDescription, Request
    from broker.domain.states import Event, IsoStatus, Service, State
    from broker.store.keys import Keys, request_id_for
    from broker.store.requests import RequestStore
    from connectors.iso18626 import messages as iso

    redis = Redis.from_url(redis_url, decode_responses=True)
    store = RequestStore(redis, Keys("bench18626"))
    now = datetime.now(UTC)
    # H's agency id is the default, ISIL:H; L's is its lending config's.
    agency = {"H": iso.AgencyId(iso.SchemeValue("ISIL"), "H"),
              "L": iso.AgencyId(iso.SchemeValue("ISIL"), "SI-L")}
    bodies: list[bytes] = []
    limit = asyncio.Semaphore(64)

    async def one(n: int) -> bytes:
        async with limit:
            patron = f"p{n % 500}"
            request = await store.create(Request(
                id=request_id_for(patron), service=Service.LOAN, state=State.NEW, version=0,
                patron_id=patron, home_library="H", pickup_location="H",
                item=ItemDescription(title=f"Bench title {n}"), created_at=now,
                updated_at=now), "bench")
            for event, changes in ((Event.SUBMITTED, {}), (Event.BORROWER_CONFIRMED, {}),
                                   (Event.SENT_TO_LENDER, {"lender": "L"})):
                request = await store.apply(request, event, "bench", changes=changes)
        return iso.build(iso.SupplyingAgencyMessage(
            header=iso.Header(requesting_agency_id=agency["H"], timestamp=now,
                              requesting_agency_request_id=request.id,
                              supplying_agency_id=agency["L"]),
            message_info=iso.MessageInfo(iso.ReasonForMessage.REQUEST_RESPONSE),
            status_info=iso.StatusInfo(IsoStatus.WILL_SUPPLY, now)), VERSION)

    bodies = list(await asyncio.gather(*(one(n) for n in range(count))))
    await redis.aclose()
    return bodies


async def run(args: argparse.Namespace, folder: Path, redis_url: str) -> None:
    path = consortium(folder)
    env = {**os.environ, "REDIS_URL": redis_url, "ILLBROKER_NAMESPACE": "bench18626",
           "ILLBROKER_CONSORTIUM": str(path), "ILLBROKER_DATA": str(folder),
           TOKEN_ENV: TOKEN}
    bodies = await orders(redis_url, args.requests)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/xml"}
    async with servers(env, args.processes) as running:
        async def answer(session: aiohttp.ClientSession, n: int) -> bool:
            if n > len(bodies):
                return False  # more messages than requests: raise --requests
            async with session.post(f"{running.broker}/iso18626", data=bodies[n - 1],
                                    headers=headers) as response:
                text = await response.read()
                return response.status == 200 and b">OK<" in text

        hello, inbound = await against_hello(running.hello, args, answer)
    report("ISO 18626 inbound answer", "msg/s", "inbound", hello, inbound)


def main() -> None:
    arguments = parser(__doc__, seconds=5)
    arguments.add_argument("--requests", type=int, default=20000)
    run_on_redis(run, arguments.parse_args())


if __name__ == "__main__":
    main()
