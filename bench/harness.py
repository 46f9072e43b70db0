"""What the HTTP benches share: the broker and an aiohttp hello world served side by
side (as many processes each, on uvloop), a closed-loop load at a fixed concurrency,
p50 and p99, the ratio printed against the hello world, and the Redis to run on (the
one in REDIS_URL, else an embedded Valkey).

A bench brings its own consortium, its own data and its own measured call."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

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


async def against_hello(hello_url: str, args: argparse.Namespace,
                        call: Call) -> tuple[Load, Load]:
    """The hello world's load (after a one-second warm-up), then ``call``'s, each for
    ``args.seconds`` at ``args.concurrency``."""
    async def hello(session: aiohttp.ClientSession, n: int) -> bool:
        async with session.get(hello_url) as response:
            await response.read()
            return response.status == 200

    await load(1.0, args.concurrency, hello)  # warm-up
    return (await load(args.seconds, args.concurrency, hello),
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


def run_on_redis(run: Callable[[argparse.Namespace, Path, str], Awaitable[None]],
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
