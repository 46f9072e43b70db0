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
import asyncio
import csv
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from stdnum import ean

PROJECT = Path(__file__).resolve().parents[1]
# The project before tests/: tests/connectors must not shadow the connectors package.
sys.path[:0] = [str(PROJECT)]
sys.path.append(str(PROJECT / "tests"))
from builders import REQUEST_CATEGORIES, marc_collection, marc_record  # noqa: E402

# The same event loop and the same number of processes as the broker's web.
HELLO = """
import uvloop
from aiohttp import web
async def hello(request): return web.Response(text="Hello, world")
app = web.Application(); app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port={port}, print=None, access_log=None, reuse_port=True,
            loop=uvloop.new_event_loop())
"""
TITLES = 4000
PASSWORD = "bench-reader-2026"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


async def wait_for(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


async def load(seconds: float, concurrency: int,
               call: Callable[[aiohttp.ClientSession, int], Awaitable[bool]]
               ) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector,
                                     cookie_jar=aiohttp.DummyCookieJar()) as session:
        async def loop() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                counter += 1
                started = time.perf_counter()
                ok = await call(session, counter)
                latencies.append(time.perf_counter() - started)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies, errors


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000


async def run(args: argparse.Namespace, folder: Path, redis_url: str) -> None:
    path = consortium(folder, args.patrons)
    env = {**os.environ, "REDIS_URL": redis_url, "ILLBROKER_NAMESPACE": "bench",
           "ILLBROKER_CONSORTIUM": str(path), "ILLBROKER_DATA": str(folder)}
    subprocess.run([sys.executable, "-m", "broker.cli", "harvest"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    broker_port, hello_port = free_port(), free_port()
    servers = [
        subprocess.Popen([sys.executable, "-m", "broker.cli", "serve", "--port",
                          str(broker_port), "--processes", str(args.processes)], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        *(subprocess.Popen([sys.executable, "-c", HELLO.format(port=hello_port)])
          for _ in range(args.processes)),
    ]
    try:
        base = f"http://127.0.0.1:{broker_port}"
        await wait_for(base + "/healthz")
        await wait_for(f"http://127.0.0.1:{hello_port}/")
        await seed_patrons(redis_url, path, args.patrons)
        cookies = await log_in(base, args.patrons)

        async def hello(session: aiohttp.ClientSession, n: int) -> bool:
            async with session.get(f"http://127.0.0.1:{hello_port}/") as response:
                await response.read()
                return response.status == 200

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

        await load(1.0, args.concurrency, hello)  # warm-up
        hello_rate, hello_lat, _ = await load(args.seconds, args.concurrency, hello)
        intake_rate, intake_lat, errors = await load(args.seconds, args.concurrency, submit)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
    print(f"aiohttp hello world: {hello_rate:8.0f} req/s  p50 {pct(hello_lat, 50):.2f} ms  "
          f"p99 {pct(hello_lat, 99):.2f} ms")
    print(f"request intake:      {intake_rate:8.0f} req/s  p50 {pct(intake_lat, 50):.2f} ms  "
          f"p99 {pct(intake_lat, 99):.2f} ms  errors {errors}")
    print(f"ratio intake / hello world: {intake_rate / hello_rate:.3f} (target >= 0.1)")


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--patrons", type=int, default=300)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="web processes of each server (default: one per core)")
    args = parser.parse_args()
    from broker.store.embedded import EmbeddedValkey

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = os.environ.get("REDIS_URL")
        if url:
            asyncio.run(run(args, folder, url))
            return
        with EmbeddedValkey(folder / "valkey") as valkey:
            asyncio.run(run(args, folder, valkey.url))


if __name__ == "__main__":
    main()
