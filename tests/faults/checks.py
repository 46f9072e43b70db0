"""What the fault tests share (importable as ``checks``): what every one asserts
afterwards (each request the broker acknowledged is still there, in a legal state,
with a gap-free history that the state machine could have written, and nothing was
stored twice), and how they set the broker up: a consortium of many titles, the
environment its processes read, and real worker processes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient
from rq.scheduler import RQScheduler
from stdnum import ean

from broker.domain.request import Request
from broker.domain.states import Event, State, transition
from broker.jobs.dispatcher import Dispatcher
from broker.services.consortium_file import load
from broker.services.harvest import Harvester
from broker.store.requests import RequestStore
from broker.web import appkeys

from builders import (
    PASSWORD,
    add_patron,
    marc_collection,
    marc_record,
    three_library_consortium,
)
from ncip_responder import NcipResponder, Patron

# Patron Ana of A (builders.add_patron's card 111) as her library's NCIP register has her.
ANA = Patron("111", "Čuk", "Ana", "1990-04-01T00:00:00Z", None, "adult", date(2030, 1, 1),
             "Paid", "Signed")


async def assert_sound(store: RequestStore, request_ids: Iterable[str]) -> list[Request]:
    """Every request of ``request_ids``, each checked: present, its state one of
    ``State``, its history numbered 1..version without a gap, opened by CREATED,
    every later event a row of the state machine's table, and each event starting
    where the one before left the request. Returns them in order."""
    found = []
    for request_id in request_ids:
        request = await store.get(request_id)  # NotFound: an acknowledged request lost
        assert isinstance(request.state, State), request_id
        history = await store.history(request_id)
        assert [e.seq for e in history] == list(range(1, request.version + 1)), (
            f"{request_id}: events {[e.seq for e in history]} at version {request.version}")
        assert history[0].event is Event.CREATED, request_id
        state = State.NEW
        for entry in history[1:]:
            assert entry.source is state, f"{request_id}: {entry.event} from {entry.source}, " \
                                          f"but the request was {state}"
            assert transition(entry.source, entry.event, request.service) is entry.target
            state = entry.target
        assert state is request.state, f"{request_id}: history ends {state}, hash says " \
                                       f"{request.state}"
        found.append(request)
    return found


def assert_once(requests: Iterable[Request], key: str = "title") -> None:
    """No two requests are for the same item (a retried submit stored twice)."""
    counted = Counter(getattr(r.item, key) for r in requests)
    assert [k for k, n in counted.items() if n > 1] == []


async def events_of(store: RequestStore, request_id: str, event: Event) -> int:
    """How many times ``event`` happened to the request."""
    return [e.event for e in await store.history(request_id)].count(event)


# The register section of library A (the first of the consortium file).
FILE_REGISTER = '[libraries.register]\nconnector = "file"\npath = "a.csv"\n'
ISO_LENDER_URL = 'url = "http://127.0.0.1:9997/iso18626"'


def isbn(n: int) -> str:
    stem = f"978000{n:06d}"
    return stem + ean.calc_check_digit(stem)


def many_titles(tmp_path: Path, count: int) -> Path:
    """The three-library consortium (home A; C in A's region, B abroad), with titles
    1..count at both B and C (so C, free and first, gets each order) and no limit on
    open requests that a test would reach."""
    path = three_library_consortium(tmp_path)
    path.write_text(path.read_text().replace('lends = ["book"]',
                                             'lends = ["book"]\nmax_open_requests = 500', 1))
    for code in ("b", "c"):
        (tmp_path / f"{code}.xml").write_bytes(marc_collection(*(
            marc_record(f"{code}{n}", f"Title {n}", isbn=isbn(n),
                        holdings=((code.upper(), "a"),)) for n in range(1, count + 1))))
    return path


def with_ncip_register(path: Path, url: str, timeout: float) -> None:
    """A's register over NCIP at ``url`` (the responder's agency), never cached, so
    every check goes to it."""
    text = path.read_text()
    assert FILE_REGISTER in text
    path.write_text(text.replace(FILE_REGISTER, (
        '[libraries.register]\nconnector = "ncip"\n'
        f'url = "{url}"\nagency_id = "SI-LJMK"\ntimeout = {timeout}\ncache_seconds = 0\n'), 1))


def process_env(redis_url: str, namespace: str, path: Path) -> dict[str, str]:
    return {**os.environ, "REDIS_URL": redis_url, "ILLBROKER_NAMESPACE": namespace,
            "ILLBROKER_CONSORTIUM": str(path), "ILLBROKER_DATA": str(path.parent)}


async def run_worker(env: dict[str, str], seconds: float = 60) -> None:
    """`illbroker worker --burst` until the queue is empty."""
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "broker.cli", "worker", "--burst", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(worker.communicate(), seconds)
    assert worker.returncode == 0, err.decode()[-2000:]


async def work(dispatcher: Dispatcher, env: dict[str, str]) -> None:
    """The outbox into rq and real workers, until nothing is left to run now."""
    while dispatcher.dispatch_once() or dispatcher.queue.count:
        await run_worker(env)


def retries_due(dispatcher: Dispatcher) -> int:
    """What the scheduler does each round: jobs whose time (a retry's back-off, a
    deadline) has come, from rq's scheduled registry into the queue."""
    scheduler = RQScheduler([dispatcher.queue], connection=dispatcher.redis)
    assert scheduler.acquire_locks()
    before = dispatcher.queue.count
    scheduler.enqueue_scheduled_jobs()
    scheduler.release_locks()
    return dispatcher.queue.count - before


async def ana_logged_in(client: TestClient, path: Path) -> None:
    """The catalogs of ``path`` harvested, and patron Ana of A logged in on ``client``."""
    app = client.app
    assert app is not None
    harvester = Harvester(app[appkeys.REDIS], app[appkeys.KEYS])
    for library in load(path).libraries.values():
        assert (await harvester.harvest(library)).failed is None
    await add_patron(app[appkeys.ACCOUNTS].store, "ana@example.org", "111", "Ana", "Čuk",
                     date(1990, 4, 1))
    response = await client.post("/api/session", json={"email": "ana@example.org",
                                                       "password": PASSWORD})
    assert response.status == 200


def free_port() -> int:
    """A port the kernel has free now, from its ephemeral range: not one of those an
    embedded Valkey takes by default (16379 upwards), where another test session's
    server could come up while a test has its own one down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class CountingResponder(NcipResponder):
    """The NCIP responder, counting the lookups that have reached it."""

    asked: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.asked += 1
        return await super().handle(request)


async def stopped(process: asyncio.subprocess.Process) -> bytes:
    """Stop a broker process as a deploy does (SIGTERM) unless it stopped by itself;
    asserts that it ends well, and returns what it wrote to stderr."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, (err or b"").decode()[-2000:]
    return err or b""
