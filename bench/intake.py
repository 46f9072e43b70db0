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
import csv
import os
import random
import subprocess
import sys
from pathlib import Path

import aiohttp
from stdnum import ean

PROJECT = Path(__file__).resolve().parents[1]
# The project before tests/: tests/connectors must not shadow the connectors package.
sys.path[:0] = [str(PROJECT)]
sys.path.append(str(PROJECT / "tests"))
from builders import REQUEST_CATEGORIES, marc_collection, marc_record  # noqa: E402
from harness import against_hello, parser, report, run_on_redis, servers  # noqa: E402

TITLES = 4000
PASSWORD = "bench-reader-2026"


def isbn(n: int) -> str:
    stem = f"978100{n:06d}"
    return stem + ean.calc_check_digit(stem)


def consortium(folder: Path, patrons: int) -> Path:
    """Home library H with ``patrons`` patrons; lenders L1 (same region) and L2."""
    libraries = ""
    for code, region, country in (("H", "R1", "SI"), ("L1", "R1", "SI"), ("L2", "R2", "LV")):
        libraries += f"""
[[libraries]]
code = "{code}"
name = "Library {code}"
country = "{country}"
region = "{region}"
timezone = "Europe/Ljubljana"
[libraries.policy]
password_min_length = 8
accepts_patron_requests = true
lends = ["book"]
max_open_requests = 1000
[libraries.catalog]
connector = "marcfile"
path = "{code}.xml"
[libraries.catalog.holdings]
tag = "852"
status = "y"
status_map = {{ a = "available" }}
[libraries.register]
connector = "file"
path = "register.csv"
cache_seconds = 3600
[libraries.lending]
connector = "inbox"
"""
        held = [] if code == "H" else [
            marc_record(f"{code}{n}", f"Bench title {n}", isbn=isbn(n), author="Writer, A.",
                        holdings=((code, "a"),)) for n in range(TITLES)]
        (folder / f"{code}.xml").write_bytes(marc_collection(*held))
    with (folder / "register.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["card_number", "surname", "given_name", "birth_date", "email",
                         "category", "fee_paid", "statement_signed", "blocked", "expires",
                         "fines_due"])
        for n in range(patrons):
            writer.writerow([f"C{n:05d}", "Reader", f"Number{n}", "1990-01-01", "", "adult",
                             "true", "true", "false", "2030-01-01", "0.00"])
    path = folder / "consortium.toml"
    path.write_text(f"""
[consortium]
name = "Intake bench"
{REQUEST_CATEGORIES}
[[regions]]
code = "R1"
name = "One"
country = "SI"
free_transfers = true
[[regions]]
code = "R2"
name = "Two"
country = "LV"
[fees]
ill_item = "7.00"
{libraries}""", encoding="utf-8")
    return path


async def run(args: argparse.Namespace, folder: Path, redis_url: str) -> None:
    path = consortium(folder, args.patrons)
    env = {**os.environ, "REDIS_URL": redis_url, "ILLBROKER_NAMESPACE": "bench",
           "ILLBROKER_CONSORTIUM": str(path), "ILLBROKER_DATA": str(folder)}
    subprocess.run([sys.executable, "-m", "broker.cli", "harvest"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    async with servers(env, args.processes) as running:
        base = running.broker
        await seed_patrons(redis_url, path, args.patrons)
        cookies = await log_in(base, args.patrons)
        order = list(range(TITLES))
        random.Random(7).shuffle(order)
        per_patron: dict[int, int] = {}

        async def submit(session: aiohttp.ClientSession, n: int) -> bool:
            patron = n % args.patrons
            title = order[(per_patron.get(patron, 0) * args.patrons + patron) % TITLES]
            per_patron[patron] = per_patron.get(patron, 0) + 1
            async with session.post(f"{base}/api/requests",
                                    json={"service": "loan", "item": {"isbn": isbn(title)}},
                                    headers={"Cookie": cookies[patron]}) as response:
                await response.read()
                return response.status == 201

        hello, intake = await against_hello(running.hello, args, submit)
    report("request intake", "req/s", "intake", hello, intake)


async def seed_patrons(redis_url: str, path: Path, patrons: int) -> None:
    from datetime import UTC, date, datetime

    from redis.asyncio import Redis

    from broker.domain.accounts import Account, AccountStatus, Address, Role
    from broker.services.passwords import hash_password
    from broker.store.accounts import AccountStore
    from broker.store.keys import Keys

    redis = Redis.from_url(redis_url, decode_responses=True)
    store = AccountStore(redis, Keys("bench"))
    hashed = await hash_password(PASSWORD)
    now = datetime.now(UTC)
    for n in range(patrons):
        email = f"reader{n}@bench.example.org"
        await store.create(Account(
            id=store.new_id(email), email=email, role=Role.PATRON, status=AccountStatus.ACTIVE,
            created_at=now, library="H", given_name=f"Number{n}", surname="Reader",
            birth_date=date(1990, 1, 1), category="adult", address=Address("a", "b", "c", "SI"),
            card_number=f"C{n:05d}", consent_at=now, activated_at=now),
            hashed, expires=None, token=None, token_ttl=0)
    await redis.aclose()


async def log_in(base: str, patrons: int) -> list[str]:
    cookies = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        for n in range(patrons):
            async with session.post(f"{base}/api/session", json={
                    "email": f"reader{n}@bench.example.org", "password": PASSWORD}) as response:
                token = response.cookies["ill_session"].value
            cookie = f"ill_session={token}"
            # The borrower check's cache is warm before the measured run.
            async with session.get(f"{base}/api/me/eligibility",
                                   headers={"Cookie": cookie}) as response:
                await response.read()
            cookies.append(cookie)
    return cookies


def main() -> None:
    arguments = parser(__doc__, seconds=10)
    arguments.add_argument("--patrons", type=int, default=300)
    run_on_redis(run, arguments.parse_args())


if __name__ == "__main__":
    main()
