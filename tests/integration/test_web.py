from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from broker.settings import Settings
from broker.web.app import create_app

from builders import write_consortium


def dead_redis_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


async def client_for(settings: Settings) -> TestClient:
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    return client


@pytest.fixture
async def client(tmp_path: Path, redis_url: str, namespace: str) -> AsyncIterator[TestClient]:
    settings = Settings(consortium_path=write_consortium(tmp_path), data_dir=tmp_path,
                        redis_url=redis_url, namespace=namespace)
    client = await client_for(settings)
    yield client
    await client.close()


async def test_healthz_is_green_with_redis_and_the_consortium(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body == {"status": "ok", "redis": "ok",
                    "consortium": {"name": "Test", "libraries": 2, "regions": 2}}


async def test_healthz_says_unavailable_without_redis(tmp_path: Path) -> None:
    settings = Settings(consortium_path=write_consortium(tmp_path), data_dir=tmp_path,
                        redis_url=dead_redis_url())
    client = await client_for(settings)
    try:
        response = await client.get("/healthz")
        assert response.status == 503
        assert (await response.json())["redis"] == "unreachable"
    finally:
        await client.close()


async def test_metrics_count_requests_by_route(client: TestClient) -> None:
    await client.get("/api/libraries/A")
    await client.get("/api/libraries/B")
    text = await (await client.get("/metrics")).text()
    assert ('illbroker_http_requests_total{method="GET",route="/api/libraries/{code}",'
            'status="200"} 2.0') in text


async def test_libraries_api(client: TestClient) -> None:
    body = await (await client.get("/api/libraries")).json()
    assert [lib["code"] for lib in body["libraries"]] == ["A", "B"]
    assert body["fees"] == {"ill_item": "7.00", "free_within_region": ["R1"]}
    a = await (await client.get("/api/libraries/A")).json()
    assert a["region"]["free_transfers"] is True and a["branches"][0]["code"] == "A-1"


@pytest.mark.parametrize(("method", "path", "status", "problem"), [
    ("GET", "/api/libraries/NOPE", 404, "not-found"),
    ("GET", "/no/such/page", 404, "not-found"),
    ("DELETE", "/api/libraries", 405, "method-not-allowed"),
    ("GET", "/api/libraries/%00%ff", 404, "not-found"),
])
async def test_errors_are_problem_json(client: TestClient, method: str, path: str, status: int,
                                       problem: str) -> None:
    response = await client.request(method, path)
    assert response.status == status
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert body["status"] == status and body["type"].endswith("/" + problem)
    assert "Traceback" not in body["detail"]


async def test_index_page_lists_libraries(client: TestClient) -> None:
    response = await client.get("/")
    assert response.status == 200
    html = await response.text()
    assert "Library A" in html and "Region one" in html
