"""Federated search over 20 live SRU catalogs (20 Zebra databases) at once.

Prints the fan-out time against the slowest single catalog's own time, both
measured in this run (target ratio <= 1.3), and the time to answer when one more
catalog accepts the connection but never answers (target: within its timeout + 10 %).

A Zebra on localhost answers in about a millisecond, where member catalogs on the
network take tens to hundreds; at a millisecond the figure would only measure the
client's own work per response. So each catalog is reached through a small proxy
that holds every request for that catalog's network latency (spread from
``--min-latency`` to ``--max-latency``); ``--max-latency 0`` measures localhost as is.
Needs Debian idzebra-2.0; uses REDIS_URL, else an embedded Valkey.

    python bench/fanout.py [--catalogs 20] [--rounds 7] [--timeout 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

from broker.domain.search import SearchQuery
from broker.services.catalogs import live_catalogs
from broker.services.consortium_file import build
from broker.services.search import LiveCatalog, search
from broker.store.embedded import EmbeddedValkey
from broker.store.holdings import UnionIndex
from broker.store.keys import Keys

# The project before tests/: tests/connectors must not shadow the connectors package.
sys.path[:0] = [str(Path(__file__).resolve().parents[1])]
sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))
from zebra_server import FIXTURES, ZebraServer  # noqa: E402

RECORDS = FIXTURES / "marc" / "catalog.xml"
QUERY = SearchQuery(text="lighthouse")


def library(code: str, url: str, timeout: float) -> dict[str, Any]:
    return {
        "code": code, "name": code, "country": "SI", "region": "R", "timezone": "UTC",
        "policy": {"password_min_length": 8, "accepts_patron_requests": True, "lends": ["book"]},
        "catalog": {"connector": "sru", "url": url, "timeout": timeout,
                    "holdings": {"tag": "852", "branch": "b", "status": "y",
                                 "status_map": {"a": "available", "o": "on_loan"}}},
        "register": {"connector": "ncip", "url": "http://127.0.0.1:1/ncip"},
        "lending": {"connector": "inbox"},
    }


def consortium(urls: dict[str, str], timeout: float) -> Any:
    return build({
        "consortium": {"name": "Fan-out bench"},
        "regions": [{"code": "R", "name": "R", "country": "SI"}],
        "fees": {"ill_item": "0"},
        "libraries": [library(code, url, timeout) for code, url in urls.items()],
    }, Path("."))


async def timed(query: SearchQuery, members: Any, index: UnionIndex,
                live: dict[str, LiveCatalog]) -> float:
    started = time.perf_counter()
    result = await search(query, members, index, live)
    took = time.perf_counter() - started
    answered = {c.library for c in result.catalogs if c.answer.value == "answered"}
    missing = set(live) - answered
    if missing and "SILENT" not in live:
        raise SystemExit(f"catalogs did not answer: {sorted(missing)}")
    if not result.titles:
        raise SystemExit(f"no titles found for {query}: the bench would measure nothing")
    return took


async def measure(redis_url: str, urls: dict[str, str], rounds: int, timeout: float,
                  silent_url: str) -> None:
    client = Redis.from_url(redis_url, decode_responses=True)
    index = UnionIndex(client, Keys("benchfanout"))
    names = list(urls)
    async with aiohttp.ClientSession() as session:
        members = consortium(urls | {"SILENT": silent_url}, timeout)
        live = live_catalogs(members, session)
        catalogs = {n: live[n] for n in names}
        await timed(QUERY, members, index, catalogs)  # warm-up: connections, forks

        singles = {}
        for name in names:
            singles[name] = statistics.median(
                [await timed(QUERY, members, index, {name: catalogs[name]})
                 for _ in range(rounds)])
        slowest = max(singles.values())
        fanout = statistics.median([await timed(QUERY, members, index, catalogs)
                                    for _ in range(rounds)])
        with_silent = await timed(QUERY, members, index, live)
    await client.aclose()
    print(f"single catalog, median of {rounds}: fastest {min(singles.values()) * 1000:.1f} ms, "
          f"slowest {slowest * 1000:.1f} ms")
    print(f"fan-out to {len(names)} catalogs, median of {rounds}: {fanout * 1000:.1f} ms")
    print(f"with one silent catalog (timeout {timeout:g} s): {with_silent:.3f} s "
          f"= {with_silent / timeout:.2f} x timeout (target <= 1.10)")
    print(f"ratio fan-out / slowest single: {fanout / slowest:.2f} (target <= 1.3)")


async def latency_proxy(port: int, delay: float) -> tuple[asyncio.Server, int]:
    """A TCP proxy to 127.0.0.1:``port`` that holds each request ``delay`` seconds."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   hold: bool) -> None:
        try:
            while data := await reader.read(1 << 16):
                if hold:
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(pipe(reader, upstream_writer, True),
                             pipe(upstream_reader, writer, False))

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def silent_server() -> tuple[asyncio.Server, str]:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(1 << 16):
            pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/Default"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalogs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--min-latency", type=float, default=0.02, help="seconds")
    parser.add_argument("--max-latency", type=float, default=0.15, help="seconds")
    args = parser.parse_args()
    names = [f"db{n:02d}" for n in range(1, args.catalogs + 1)]
    with tempfile.TemporaryDirectory() as folder:
        zebra = ZebraServer(Path(folder) / "zebra", dict.fromkeys(names, RECORDS))
        (Path(folder) / "zebra").mkdir()
        zebra.start()
        try:
            with EmbeddedValkey(Path(folder) / "valkey") as valkey:
                url = os.environ.get("REDIS_URL") or valkey.url

                async def run() -> None:
                    servers, urls = [], {}
                    step = (args.max_latency - args.min_latency) / max(len(names) - 1, 1)
                    for i, name in enumerate(names):
                        if args.max_latency > 0:
                            assert zebra.port is not None
                            proxy, port = await latency_proxy(zebra.port,
                                                              args.min_latency + i * step)
                            servers.append(proxy)
                            urls[name] = f"http://127.0.0.1:{port}/{name}"
                        else:
                            urls[name] = zebra.url(name)
                    silent_server_, silent = await silent_server()
                    servers.append(silent_server_)
                    if args.max_latency > 0:
                        print(f"catalog latency {args.min_latency * 1000:.0f} to "
                              f"{args.max_latency * 1000:.0f} ms")
                    try:
                        await measure(url, urls, args.rounds, args.timeout, silent)
                    finally:
                        for server in servers:
                            server.close()

                asyncio.run(run())
        finally:
            zebra.stop()


if __name__ == "__main__":
    main()
