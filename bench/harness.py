"""What the HTTP benches share: the broker and an aiohttp hello world served side by
side (as many processes each, on uvloop), a closed-loop load at a fixed concurrency,
p50 and p99, the ratio printed against the hello world, and the Redis to run on (the
one in REDIS_URL, else an embedded Valkey); and a generated consortium (members with
inboxes and MARCXML catalogs of numbered titles, a file register) with its patrons
seeded and logged in.

A bench picks its members and titles, brings its own data and its own measured call."""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

PROJECT = Path(__file__).resolve().parents[1]

# The same event loop and the same number of processes as the broker's web.
HELLO = """
import uvloop
from aiohttp import web
async def hello(request): return web.Response(text="Hello, world")
app = web.Application(); app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port={port}, print=None, access_log=None, reuse_port=True,
            loop=uvloop.new_event_loop())
"""

Call = Callable[[aiohttp.ClientSession, int], Awaitable[bool]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


@dataclass(frozen=True, slots=True)
class Servers:
    broker: str  # the broker's base URL
    hello: str  # the hello world's one URL


@asynccontextmanager
async def servers(env: Mapping[str, str], processes: int) -> AsyncIterator[Servers]:
    """``illbroker serve`` with ``env`` and the hello world, ``processes`` each, up and
    answering; both are stopped on leaving."""
    broker_port, hello_port = free_port(), free_port()
    started = [
        subprocess.Popen([sys.executable, "-m", "broker.cli", "serve", "--port",
                          str(broker_port), "--processes", str(processes)], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        *(subprocess.Popen([sys.executable, "-c", HELLO.format(port=hello_port)])
          for _ in range(processes)),
    ]
    try:
        running = Servers(f"http://127.0.0.1:{broker_port}", f"http://127.0.0.1:{hello_port}/")
        await wait_for(running.broker + "/healthz")
        await wait_for(running.hello)
        yield running
    finally:
        for server in started:
            server.terminate()
            server.wait(timeout=10)


@dataclass(frozen=True, slots=True)
class Load:
    rate: float  # calls per second
    latencies: list[float]  # seconds
    errors: int


async def load(seconds: float, concurrency: int, call: Call) -> Load:
    """``call`` from ``concurrency`` loops for ``seconds``, each call numbered from 1."""
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
    return Load(len(latencies) / elapsed, latencies, errors)


def pct(values: list[float], q: int) -> float:
    """The ``q``th percentile of ``values`` (seconds), in milliseconds."""
    return statistics.quantiles(values, n=100)[q - 1] * 1000


async def hello_load(hello_url: str, seconds: float, concurrency: int) -> Load:
    """The hello world's load for ``seconds`` at ``concurrency``, after a one-second
    warm-up."""
    async def hello(session: aiohttp.ClientSession, n: int) -> bool:
        async with session.get(hello_url) as response:
            await response.read()
            return response.status == 200

    await load(1.0, concurrency, hello)  # warm-up
    return await load(seconds, concurrency, hello)


async def against_hello(hello_url: str, args: argparse.Namespace,
                        call: Call) -> tuple[Load, Load]:
    """The hello world's load (after a one-second warm-up), then ``call``'s, each for
    ``args.seconds`` at ``args.concurrency``."""
    return (await hello_load(hello_url, args.seconds, args.concurrency),
            await load(args.seconds, args.concurrency, call))


def report(label: str, unit: str, ratio: str, hello: Load, measured: Load) -> None:
    """Both loads' rates and percentiles, and ``measured``'s rate over hello world's."""
    width = max(len(label), len("aiohttp hello world")) + 1
    print(f"{'aiohttp hello world:':<{width}} {hello.rate:8.0f} req/s  "
          f"p50 {pct(hello.latencies, 50):.2f} ms  p99 {pct(hello.latencies, 99):.2f} ms")
    print(f"{label + ':':<{width}} {measured.rate:8.0f} {unit}  "
          f"p50 {pct(measured.latencies, 50):.2f} ms  "
          f"p99 {pct(measured.latencies, 99):.2f} ms  errors {measured.errors}")
    print(f"ratio {ratio} / hello world: {measured.rate / hello.rate:.3f} (target >= 0.1)")


def parser(doc: str, seconds: float) -> argparse.ArgumentParser:
    """The options every bench takes; a bench adds its own."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=seconds)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="web processes of each server (default: one per core)")
    return parser


def run_on_redis(run: Callable[[argparse.Namespace, Path, str], Coroutine[Any, Any, None]],
                 args: argparse.Namespace) -> None:
    """``run(args, folder, redis_url)`` in a temporary folder, on REDIS_URL when it is
    set, else on an embedded Valkey in that folder."""
    from broker.store.embedded import EmbeddedValkey

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = os.environ.get("REDIS_URL")
        if url:
            asyncio.run(run(args, folder, url))
            return
        with EmbeddedValkey(folder / "valkey") as valkey:
            asyncio.run(run(args, folder, valkey.url))


# The benches' generated consortium: titles numbered from 0, each with its ISBN and a
# title of two words from WORDS (so that a two-word search finds a few), patrons of a
# home library in its file register, all of them able to borrow.
WORDS = ("amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "heath", "inlet",
         "juniper", "karst", "larch", "moss", "nettle", "oak", "pine", "quartz", "reed",
         "sorrel", "thistle", "umber", "vale", "willow", "yarrow", "zephyr", "alder",
         "bracken", "clover", "dune", "elm", "fern", "gorse", "hazel", "iris", "jade",
         "kelp", "lichen", "maple", "nutmeg", "orchid")
PASSWORD = "bench-reader-2026"
# Region R1 (Slovenia) transfers for free between its members; R2 is Latvia.
REGIONS = {"R1": "SI", "R2": "LV"}


def isbn(n: int) -> str:
    from stdnum import ean

    stem = f"978100{n:06d}"
    return stem + ean.calc_check_digit(stem)


def title_of(n: int) -> str:
    return f"{WORDS[n % len(WORDS)].title()} {WORDS[n // len(WORDS) % len(WORDS)]} {n}"


@dataclass(frozen=True, slots=True)
class Member:
    code: str
    region: str  # a key of REGIONS
    titles: Iterable[int] = ()  # the numbers of the titles it holds (available)


def consortium(folder: Path, name: str, members: Iterable[Member], patrons: int) -> Path:
    """The consortium file in ``folder``: each member with its MARCXML catalog (852
    holdings), the file register (``patrons`` patrons, card numbers C00000 up) and its
    inbox for orders; a 7.00 EUR fee per item outside the free region."""
    sys.path.append(str(PROJECT / "tests"))
    from builders import REQUEST_CATEGORIES, marc_collection, marc_record

    libraries = ""
    for member in members:
        libraries += f"""
[[libraries]]
code = "{member.code}"
name = "Library {member.code}"
country = "{REGIONS[member.region]}"
region = "{member.region}"
timezone = "Europe/Ljubljana"
[libraries.policy]
password_min_length = 8
accepts_patron_requests = true
lends = ["book"]
max_open_requests = 1000
[libraries.catalog]
connector = "marcfile"
path = "{member.code}.xml"
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
        (folder / f"{member.code}.xml").write_bytes(marc_collection(*(
            marc_record(f"{member.code}{n}", title_of(n), isbn=isbn(n), author="Writer, A.",
                        holdings=((member.code, "a"),)) for n in member.titles)))
    with (folder / "register.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["card_number", "surname", "given_name", "birth_date", "email",
                         "category", "fee_paid", "statement_signed", "blocked", "expires",
                         "fines_due"])
        for n in range(patrons):
            writer.writerow([f"C{n:05d}", "Reader", f"Number{n}", "1990-01-01", "", "adult",
                             "true", "true", "false", "2030-01-01", "0.00"])
    regions = "".join(f'[[regions]]\ncode = "{code}"\nname = "Region {code}"\n'
                      f'country = "{country}"\nfree_transfers = {str(code == "R1").lower()}\n'
                      for code, country in REGIONS.items())
    path = folder / "consortium.toml"
    path.write_text(f'[consortium]\nname = "{name}"\n{REQUEST_CATEGORIES}\n{regions}'
                    f'[fees]\nill_item = "7.00"\n{libraries}', encoding="utf-8")
    return path


async def seed_patrons(redis_url: str, namespace: str, patrons: int,
                       library: str = "H") -> list[str]:
    """``patrons`` active patrons of ``library``, reader0@bench.example.org up, with
    the cards of ``consortium``'s register; their account ids."""
    from datetime import UTC, date, datetime

    from redis.asyncio import Redis

    from broker.domain.accounts import Account, AccountStatus, Address, Role
    from broker.services.passwords import hash_password
    from broker.store.accounts import AccountStore
    from broker.store.keys import Keys

    redis = Redis.from_url(redis_url, decode_responses=True)
    store = AccountStore(redis, Keys(namespace))
    hashed = await hash_password(PASSWORD)
    now = datetime.now(UTC)
    ids = []
    for n in range(patrons):
        email = f"reader{n}@bench.example.org"
        account_id = store.new_id(email)
        await store.create(Account(
            id=account_id, email=email, role=Role.PATRON, status=AccountStatus.ACTIVE,
            created_at=now, library=library, given_name=f"Number{n}", surname="Reader",
            birth_date=date(1990, 1, 1), category="adult", address=Address("a", "b", "c", "SI"),
            card_number=f"C{n:05d}", consent_at=now, activated_at=now),
            hashed, expires=None, token=None, token_ttl=0)
        ids.append(account_id)
    await redis.aclose()
    return ids


async def log_in(base: str, patrons: int) -> list[str]:
    """The session cookie of each patron of ``seed_patrons``, each with the borrower
    check's cache warm."""
    cookies = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        for n in range(patrons):
            async with session.post(f"{base}/api/session", json={
                    "email": f"reader{n}@bench.example.org", "password": PASSWORD}) as response:
                token = response.cookies["ill_session"].value
            cookie = f"ill_session={token}"
            async with session.get(f"{base}/api/me/eligibility",
                                   headers={"Cookie": cookie}) as response:
                await response.read()
            cookies.append(cookie)
    return cookies
