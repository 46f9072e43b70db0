"""Redis (the embedded Valkey, AOF on) killed between submit and forward: every request
the API acknowledged is still there afterwards and goes on to its lender."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import date
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis import Redis as SyncRedis
from rq import Queue

from broker.domain.states import State
from broker.jobs.dispatcher import Dispatcher
from broker.services.consortium_file import load
from broker.services.harvest import Harvester
from broker.settings import Settings
from broker.store.embedded import EmbeddedValkey
from broker.store.keys import Keys
from broker.web import appkeys
from broker.web.app import create_app

from builders import BOTH, FAR, PASSWORD, add_patron, three_library_consortium


@pytest.mark.timeout(120)
async def test_acknowledged_requests_survive_a_redis_crash(tmp_path: Path) -> None:
    path = three_library_consortium(tmp_path)
    server = EmbeddedValkey(tmp_path / "valkey")
    server.start()
    settings = Settings(consortium_path=path, data_dir=tmp_path, redis_url=server.url,
                        namespace="ill")
    app = create_app(settings)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        harvester = Harvester(app[appkeys.REDIS], app[appkeys.KEYS])
        for library in load(path).libraries.values():
            await harvester.harvest(library)
        await add_patron(app[appkeys.ACCOUNTS].store, "ana@example.org", "111", "Ana", "Čuk",
                         date(1990, 4, 1))
        await client.post("/api/session", json={"email": "ana@example.org",
                                                "password": PASSWORD})
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
            lenders = [(await store.get(rid)) for rid in acknowledged]
            assert [(r.state, r.lender) for r in lenders] == [(State.SENT, "C"),
                                                              (State.SENT, "B")]
        finally:
            await client.close()
        sync.close()
    finally:
        again.stop()
