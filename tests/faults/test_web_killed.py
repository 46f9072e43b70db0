"""A web process (`illbroker serve`) killed with SIGKILL while submissions are in
flight, held up by a slow home register: after a restart, every request the client
got a 2xx for is there, and each submission retried with its Idempotency-Key gives one
request, the same one if it had been acknowledged, never a second."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import aiohttp
import pytest
from checks import (
    ANA,
    CountingResponder,
    assert_once,
    assert_sound,
    free_port,
    isbn,
    many_titles,
    process_env,
    with_ncip_register,
    work,
)
from redis.asyncio import Redis

from broker.domain.states import State
from broker.services.consortium_file import load
from broker.services.harvest import Harvester
from broker.store.accounts import AccountStore
from broker.store.keys import Keys
from broker.store.requests import RequestStore

from builders import PASSWORD, add_patron
from conformance import conformance_schema
from ncip_responder import SCHEMA, serve

ACKNOWLEDGED = 3
IN_FLIGHT = 3
DOUBLE = ACKNOWLEDGED + IN_FLIGHT + 1
# Long enough to kill the web process while the register is being asked.
REGISTER_DELAY = 5.0


async def start_web(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "broker.cli", "serve", "--port", str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    async with aiohttp.ClientSession() as session:
        while True:
            assert process.returncode is None, "the web process stopped"
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            assert time.monotonic() < deadline, "the web process did not come up"
            await asyncio.sleep(0.1)


@pytest.fixture
async def responder(tmp_path: Path) -> AsyncIterator[CountingResponder]:
    slow = CountingResponder(schema=conformance_schema(SCHEMA), secret_path=tmp_path / "none",
                             patrons={"111": ANA})
    async with serve(slow) as running:
        yield running


async def submit(session: aiohttp.ClientSession, base: str, n: int
                 ) -> tuple[int, str | None]:
    """The status and the request id of one submission of title ``n``, with its key."""
    async with session.post(f"{base}/api/requests", headers={"Idempotency-Key": f"key-{n}"},
                            json={"service": "loan", "item": {"isbn": isbn(n)}}) as response:
        body = await response.json()
        return response.status, body.get("id")


@pytest.mark.timeout(30)
async def test_a_killed_web_process_loses_and_repeats_nothing(
        tmp_path: Path, redis_url: str, namespace: str, redis: Redis,
        responder: CountingResponder, dispatcher: object) -> None:
    titles = range(1, ACKNOWLEDGED + IN_FLIGHT + 1)
    path = many_titles(tmp_path, DOUBLE)
    with_ncip_register(path, responder.url, timeout=10)
    client = Redis.from_url(redis_url, decode_responses=True)
    keys = Keys(namespace)
    for library in load(path).libraries.values():
        assert (await Harvester(client, keys).harvest(library)).failed is None
    await add_patron(AccountStore(client, keys), "ana@example.org", "111", "Ana", "Čuk",
                     date(1990, 4, 1))
    env = process_env(redis_url, namespace, path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = await start_web(env, port)
    jar = aiohttp.CookieJar(unsafe=True)
    try:
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            async with session.post(f"{base}/api/session", json={
                    "email": "ana@example.org", "password": PASSWORD}) as response:
                assert response.status == 200
            acknowledged = {}
            for n in titles[:ACKNOWLEDGED]:
                status, request_id = await submit(session, base, n)
                assert status == 201 and request_id
                acknowledged[n] = request_id
            # The register slows down: these wait for it when the process dies.
            responder.delay = REGISTER_DELAY
            in_flight = [asyncio.create_task(submit(session, base, n))
                         for n in titles[ACKNOWLEDGED:]]
            # Killed once each of them is with the register.
            deadline = time.monotonic() + REGISTER_DELAY - 1
            while responder.asked < ACKNOWLEDGED + IN_FLIGHT:
                assert time.monotonic() < deadline, "the submissions did not reach the register"
                await asyncio.sleep(0.01)
            web.send_signal(signal.SIGKILL)
            await web.wait()
            for task in in_flight:
                with pytest.raises(aiohttp.ClientError):
                    await task

            responder.delay = 0
            web = await start_web(env, port)
            # The client tries every submission again; the session cookie still holds.
            answers = await asyncio.gather(*(submit(session, base, n) for n in titles))
            # A double click: the same submission twice at once is one request.
            twice = await asyncio.gather(submit(session, base, DOUBLE),
                                         submit(session, base, DOUBLE))
        assert sorted(status for status, _ in twice) == [200, 201]
        assert twice[0][1] == twice[1][1]
        answers.append(twice[0])
        titles = range(1, DOUBLE + 1)
        for n, (status, request_id) in zip(titles, answers, strict=True):
            assert status in (200, 201) and request_id, (n, status)
            if n in acknowledged:
                assert (status, request_id) == (200, acknowledged[n])
        ids = [request_id for _, request_id in answers if request_id]

        store = RequestStore(client, keys)
        ana = await AccountStore(client, keys).find("ana@example.org")
        assert ana is not None
        assert sorted(await store.ids_for_patron(ana.id)) == sorted(ids)
        assert_once(await assert_sound(store, ids))

        # And they go on: the borrower check, then C, each exactly once.
        await work(dispatcher, env)  # type: ignore[arg-type]
        for request in await assert_sound(store, ids):
            assert (request.state, request.lender) == (State.SENT, "C"), request.id
    finally:
        if web.returncode is None:
            web.send_signal(signal.SIGTERM)
            await asyncio.wait_for(web.wait(), 15)
        await client.aclose()
