"""A worker killed with SIGKILL in the middle of forwarding: every accepted request
still reaches its first lender exactly once, with a gap-free history."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from checks import ana_logged_in, assert_sound, isbn, many_titles
from redis import Redis as SyncRedis
from rq import Queue

from broker.domain.states import Event, State
from broker.jobs.dispatcher import Dispatcher
from broker.jobs.requests import resume_stalled
from broker.settings import Settings
from broker.store.keys import Keys
from broker.web import appkeys
from broker.web.app import create_app

REQUESTS = 20


async def worker(env: dict[str, str], burst: bool) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "broker.cli", "worker", *(["--burst"] if burst else []),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


@pytest.mark.timeout(30)
async def test_a_killed_worker_loses_and_repeats_nothing(
        tmp_path: Path, redis_url: str, namespace: str, redis: object,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = many_titles(tmp_path, REQUESTS)
    titles = range(1, REQUESTS + 1)
    settings = Settings(consortium_path=path, data_dir=tmp_path, redis_url=redis_url,
                        namespace=namespace)
    app = create_app(settings)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await ana_logged_in(client, path)
        ids = []
        for n in titles:
            response = await client.post("/api/requests",
                                         json={"service": "loan", "item": {"isbn": isbn(n)}})
            assert response.status == 201, await response.text()
            ids.append((await response.json())["id"])
        store = app[appkeys.STORE]

        sync = SyncRedis.from_url(redis_url)
        keys = Keys(namespace)
        dispatcher = Dispatcher(sync, keys, Queue(keys.queue("default"), connection=sync))
        assert dispatcher.dispatch_once() == 2 * REQUESTS  # forwarding and receipts
        env = {**os.environ, "REDIS_URL": redis_url, "ILLBROKER_NAMESPACE": namespace,
               "ILLBROKER_CONSORTIUM": str(path)}
        rng = random.Random(18626)
        for _round in range(3):
            victim = await worker(env, burst=False)
            await asyncio.sleep(rng.uniform(1.2, 2.5))
            victim.send_signal(signal.SIGKILL)
            await victim.wait()
        survivor = await worker(env, burst=True)
        assert await asyncio.wait_for(survivor.wait(), 120) == 0
        # Jobs the killed workers had started are abandoned in rq; the sweeper picks up
        # their requests (at once here, instead of after two minutes).
        for name, value in (("REDIS_URL", redis_url), ("ILLBROKER_NAMESPACE", namespace),
                            ("ILLBROKER_CONSORTIUM", str(path))):
            monkeypatch.setenv(name, value)
        await asyncio.to_thread(resume_stalled, "test", 0)

        for request in await assert_sound(store, ids):
            assert (request.state, request.lender) == (State.SENT, "C"), request.id
            history = await store.history(request.id)
            assert [e.event for e in history].count(Event.SENT_TO_LENDER) == 1
        sync.close()
    finally:
        await client.close()
