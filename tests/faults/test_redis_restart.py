"""Redis (the embedded Valkey, AOF on) killed between submit and forward, and killed
under load, with submissions running: every request the API acknowledged is still
there afterwards and goes on to its lender; those refused meanwhile were told so with
a 503 problem, and their retry makes one request each."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import aiohttp
import checks
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from rq import Queue

from broker.domain.states import State
from broker.jobs.dispatcher import Dispatcher
from broker.jobs.requests import process_request, resume_stalled
from broker.settings import Settings
from broker.store.accounts import AccountStore
from broker.store.embedded import EmbeddedValkey
from broker.store.keys import Keys
from broker.store.requests import OutboxJob, RequestStore
from broker.web import appkeys
from broker.web.app import create_app

from builders import BOTH, FAR, a_request, add_patron, three_library_consortium
from conformance import conformance_schema
from ncip_responder import SCHEMA, serve


@pytest.mark.timeout(30)
async def test_acknowledged_requests_survive_a_redis_crash(tmp_path: Path) -> None:
    path = three_library_consortium(tmp_path)
    server = EmbeddedValkey(tmp_path / "valkey", port=checks.free_port())
    server.start()
    settings = Settings(consortium_path=path, data_dir=tmp_path, redis_url=server.url,
                        namespace="ill")
    app = create_app(settings)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await checks.ana_logged_in(client, path)
        acknowledged = []
        for isbn in (BOTH, FAR):
            response = await client.post("/api/requests",
                                         json={"service": "loan", "item": {"isbn": isbn}})
            assert response.status == 201
            acknowledged.append((await response.json())["id"])
    finally:
        await client.close()
    assert server.pid is not None
    port = server.port
    os.kill(server.pid, signal.SIGKILL)
    server.stop()

    again = EmbeddedValkey(tmp_path / "valkey", port=port)
    again.start()
    try:
        sync = SyncRedis.from_url(again.url)
        keys = Keys("ill")
        dispatcher = Dispatcher(sync, keys, Queue(keys.queue("default"), connection=sync))
        assert dispatcher.dispatch_once() == 2 * len(acknowledged)
        env = {**os.environ, "REDIS_URL": again.url, "ILLBROKER_NAMESPACE": "ill",
               "ILLBROKER_CONSORTIUM": str(path)}
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "broker.cli", "worker", "--burst", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        assert await asyncio.wait_for(worker.wait(), 60) == 0
        app = create_app(Settings(consortium_path=path, data_dir=tmp_path,
                                  redis_url=again.url, namespace="ill"))
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            store = app[appkeys.STORE]
            lenders = await checks.assert_sound(store, acknowledged)
            assert [(r.state, r.lender) for r in lenders] == [(State.SENT, "C"),
                                                              (State.SENT, "B")]
        finally:
            await client.close()
        sync.close()
    finally:
        again.stop()


LOAD_TITLES = 16
SUBMITTERS = 3
# Acknowledged submissions before the crash, and how long Redis stays down.
BEFORE_CRASH = 5
DOWN_SECONDS = 0.5


async def health(client: TestClient) -> tuple[int, str]:
    """/healthz as a load balancer asks it: without the patron's cookies."""
    async with aiohttp.ClientSession() as balancer, \
            balancer.get(client.make_url("/healthz")) as response:
        return response.status, (await response.json())["redis"]


@pytest.mark.timeout(30)
async def test_redis_killed_under_load_loses_nothing_acknowledged(
        tmp_path: Path, namespace: str) -> None:
    path = checks.many_titles(tmp_path, LOAD_TITLES)
    server = EmbeddedValkey(tmp_path / "valkey", port=checks.free_port())
    server.start()
    again: EmbeddedValkey | None = None
    app = create_app(Settings(consortium_path=path, data_dir=tmp_path, redis_url=server.url,
                              namespace=namespace))
    client = TestClient(TestServer(app))
    await client.start_server()
    answers: dict[int, tuple[int, str | None]] = {}
    try:
        await checks.ana_logged_in(client, path)
        titles = iter(range(1, LOAD_TITLES + 1))
        rejected = after_restart = 0
        restarted = asyncio.Event()

        async def submit(n: int) -> tuple[int, str | None]:
            response = await client.post(
                "/api/requests", headers={"Idempotency-Key": f"key-{n}"},
                json={"service": "loan", "item": {"isbn": checks.isbn(n)}})
            body = await response.json(content_type=None)
            if response.status == 503:
                # Refused while Redis is away: a problem the client can act on.
                assert response.content_type == "application/problem+json", body
                assert body["type"].endswith("/unavailable"), body
            else:
                # 200: a retry finds the request stored by a submit whose answer was
                # lost with the connection to Redis (it got 503).
                assert response.status in (200, 201), body
            return response.status, body.get("id")

        async def submitter() -> None:
            nonlocal rejected, after_restart
            for n in titles:
                late = restarted.is_set()
                answers[n] = await submit(n)
                assert answers[n][0] != 200, "a first submission found a request"
                if answers[n][0] == 503:
                    rejected += 1
                    # The client backs off until the broker answers again (Redis may
                    # still be loading its append-only file just after the restart).
                    await restarted.wait()
                    await asyncio.sleep(0.3)
                elif late:
                    after_restart += 1

        load_tasks = [asyncio.create_task(submitter()) for _ in range(SUBMITTERS)]
        while sum(status == 201 for status, _ in answers.values()) < BEFORE_CRASH:
            await asyncio.sleep(0.01)
        assert server.pid is not None
        port = server.port
        os.kill(server.pid, signal.SIGKILL)
        server.stop()
        assert await health(client) == (503, "unreachable")  # what a load balancer sees
        await asyncio.sleep(DOWN_SECONDS)
        again = EmbeddedValkey(tmp_path / "valkey", port=port)
        again.start()
        restarted.set()
        await asyncio.gather(*load_tasks)
        assert len(answers) == LOAD_TITLES and rejected > 0
        # Some went through after the restart, on the same connection pool.
        assert after_restart > 0, answers
        assert await health(client) == (200, "ok")

        # Every rejected submission tried again with its key: one request each.
        for n, (status, _) in sorted(answers.items()):
            if status == 503:
                answers[n] = await submit(n)
                assert answers[n][0] in (200, 201)
        store = app[appkeys.STORE]
        ids = [request_id for _, request_id in answers.values() if request_id]
        account = await app[appkeys.ACCOUNTS].store.find("ana@example.org")
        assert account is not None
        assert sorted(await store.ids_for_patron(account.id)) == sorted(ids)
        checks.assert_once(await checks.assert_sound(store, ids))

        sync = SyncRedis.from_url(again.url)
        keys = Keys(namespace)
        queue = Queue(keys.queue("default"), connection=sync)
        await checks.work(Dispatcher(sync, keys, queue),
                          checks.process_env(again.url, namespace, path))
        for request in await checks.assert_sound(store, ids):
            assert (request.state, request.lender) == (State.SENT, "C"), request.id
        sync.close()
    finally:
        await client.close()
        (again or server).stop()


@pytest.mark.timeout(30)
async def test_the_scheduler_waits_for_a_restarted_redis(tmp_path: Path, namespace: str) -> None:
    """The scheduler (outbox dispatcher, timers) outlives a Redis restart: it waits for
    Redis, as rq's workers do, and then dispatches what the outbox holds."""
    path = three_library_consortium(tmp_path)
    server = EmbeddedValkey(tmp_path / "valkey", port=checks.free_port())
    server.start()
    port = server.port
    scheduler = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "broker.cli", "scheduler",
        env=checks.process_env(server.url, namespace, path),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    again: EmbeddedValkey | None = None
    try:
        await asyncio.sleep(1.5)  # it is up and dispatching
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        server.stop()
        await asyncio.sleep(1.5)  # it meets a Redis that is not there
        again = EmbeddedValkey(tmp_path / "valkey", port=port)
        again.start()
        assert scheduler.returncode is None, "the scheduler stopped with Redis"

        # Work written after the restart is dispatched by the same scheduler.
        keys = Keys(namespace)
        client = Redis.from_url(again.url, decode_responses=True)
        store = RequestStore(client, keys)
        new = a_request()
        request = await store.create(new, "t", jobs=[OutboxJob("process_request", new.id)])
        queue = Queue(keys.queue("default"), connection=SyncRedis.from_url(again.url))
        deadline = time.monotonic() + 15
        while f"{request.id}_1_0" not in queue.job_ids:
            assert time.monotonic() < deadline, "the outbox was not dispatched"
            await asyncio.sleep(0.1)
        await client.aclose()
        queue.connection.close()
    finally:
        err = await checks.stopped(scheduler)
        (again or server).stop()
    assert b"Traceback" not in err


@pytest.mark.timeout(30)
async def test_a_worker_outlives_redis_going_away_mid_job(
        tmp_path: Path, namespace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis killed while a worker runs a job (a borrower check waiting for a slow
    register): rq quits when it cannot follow its job; `illbroker worker` starts it
    again once Redis is back, and the request goes on from where the job left it."""
    path = checks.many_titles(tmp_path, 1)
    responder = checks.CountingResponder(schema=conformance_schema(SCHEMA),
                                         secret_path=tmp_path / "x",
                                         patrons={"111": checks.ANA}, delay=3.0)
    async with serve(responder):
        checks.with_ncip_register(path, responder.url, timeout=10)
        server = EmbeddedValkey(tmp_path / "valkey", port=checks.free_port())
        server.start()
        port = server.port
        keys = Keys(namespace)
        client = Redis.from_url(server.url, decode_responses=True)
        accounts = AccountStore(client, keys)
        await add_patron(accounts, "ana@example.org", "111", "Ana", "Čuk", date(1990, 4, 1))
        ana = await accounts.find("ana@example.org")
        assert ana is not None
        request = await RequestStore(client, keys).create(replace(
            a_request(ana.id), home_library="A", pickup_location="A",
            rota=json.dumps({"lenders": [{"library": "C"}]})), "t")
        await client.aclose()
        sync = SyncRedis.from_url(server.url)
        Queue(keys.queue("default"), connection=sync).enqueue(process_request, request.id)
        sync.close()
        env = checks.process_env(server.url, namespace, path)
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "broker.cli", "worker", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        again: EmbeddedValkey | None = None
        try:
            deadline = time.monotonic() + 10
            while not responder.asked:
                assert time.monotonic() < deadline, "the job did not ask the register"
                await asyncio.sleep(0.05)
            assert server.pid is not None
            os.kill(server.pid, signal.SIGKILL)  # the job waits for the register
            server.stop()
            await asyncio.sleep(3.0)  # the register answers; Redis is not there
            again = EmbeddedValkey(tmp_path / "valkey", port=port)
            again.start()
            await asyncio.sleep(2.0)
            assert worker.returncode is None, "the worker stopped with Redis"

            # The sweeper (here at once, not after two minutes) takes the request on.
            responder.delay = 0
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            assert await asyncio.to_thread(resume_stalled, "test", 0) == 1
            client = Redis.from_url(again.url, decode_responses=True)
            [done] = await checks.assert_sound(RequestStore(client, keys), [request.id])
            assert (done.state, done.lender) == (State.SENT, "C")
            await client.aclose()
        finally:
            await checks.stopped(worker)
            (again or server).stop()
