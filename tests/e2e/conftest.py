"""Fixtures of the request, lending and coordinator page tests: the app on a
three-library consortium with harvested catalogs, patrons and desk staff, and a real
rq worker for what the outbox holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from broker.settings import Settings

from builders import three_library_consortium
from pages_harness import app_for, populate, run_outbox


@pytest.fixture
def consortium_file(tmp_path: Path) -> Path:
    return three_library_consortium(tmp_path)


@pytest.fixture
async def client(consortium_file: Path, redis_url: str, namespace: str,
                 redis: Any) -> AsyncIterator[TestClient]:
    settings = Settings(consortium_path=consortium_file, data_dir=consortium_file.parent,
                        redis_url=redis_url, namespace=namespace)
    client = TestClient(TestServer(app_for(settings)))
    await client.start_server()
    await populate(client.server.app, consortium_file)
    yield client
    await client.close()


@pytest.fixture
def work(consortium_file: Path, redis_url: str, namespace: str) -> Callable[[], Any]:
    async def run() -> None:
        await asyncio.to_thread(run_outbox, redis_url, namespace, consortium_file)

    return run
