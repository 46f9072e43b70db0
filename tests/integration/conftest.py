"""Fixtures of the request and lending API tests: the app on a three-library
consortium with harvested catalogs, two patrons of A and desk staff at B and C, and a
real rq worker for what the outbox holds."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis import Redis as SyncRedis
from rq import Queue

from broker.domain.accounts import Role
from broker.jobs.dispatcher import Dispatcher
from broker.services.consortium_file import load
from broker.services.harvest import Harvester
from broker.settings import Settings
from broker.store.keys import Keys
from broker.web import appkeys
from broker.web.app import create_app

from builders import add_patron, three_library_consortium


@pytest.fixture
def consortium_file(tmp_path: Path) -> Path:
    return three_library_consortium(tmp_path)


@pytest.fixture
async def served(consortium_file: Path, redis_url: str, namespace: str,
                 redis: Any) -> AsyncIterator[TestClient]:
    """The app on ``consortium_file`` (a module may override it), with nothing
    harvested and no accounts."""
    settings = Settings(consortium_path=consortium_file, data_dir=consortium_file.parent,
                        redis_url=redis_url, namespace=namespace)
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    yield client
    await client.close()


@pytest.fixture
async def client(served: TestClient, consortium_file: Path) -> TestClient:
    """``served`` with harvested catalogs, patrons Ana and Mojca of A, and desk staff
    at B and C."""
    app = served.server.app
    harvester = Harvester(app[appkeys.REDIS], app[appkeys.KEYS])
    for library in load(consortium_file).libraries.values():
        assert (await harvester.harvest(library)).failed is None
    store = app[appkeys.ACCOUNTS].store
    await add_patron(store, "ana@example.org", "111", "Ana", "Čuk", date(1990, 4, 1))
    await add_patron(store, "mojca@example.org", "222", "Mojca", "Novak", date(1980, 2, 2))
    for code in ("B", "C"):
        await app[appkeys.ACCOUNTS].add_staff(f"desk@{code.lower()}.example.org", "Desk",
                                              code, Role.STAFF, code, "stamp-lipa-41")
    return served


@pytest.fixture
def work(consortium_file: Path, redis_url: str, namespace: str,
         monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run what the outbox holds in a real rq worker, as `illbroker worker` would."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("ILLBROKER_NAMESPACE", namespace)
    monkeypatch.setenv("ILLBROKER_CONSORTIUM", str(consortium_file))
    sync = SyncRedis.from_url(redis_url)
    dispatcher = Dispatcher(sync, Keys(namespace), Queue(Keys(namespace).queue("default"),
                                                          connection=sync))

    async def run() -> None:
        # The outbox into rq, then a real worker process until the queue is empty.
        while dispatcher.dispatch_once():
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "broker.cli", "worker", "--burst",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            assert await asyncio.wait_for(worker.wait(), 60) == 0

    yield run
    sync.close()


