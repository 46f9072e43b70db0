"""Federated search through the web API: a live Zebra, a dead catalog, a silent one,
and a harvested MARC file, all at once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from broker.services.consortium_file import load
from broker.services.harvest import Harvester
from broker.settings import Settings
from broker.store.keys import Keys
from broker.web.app import create_app

from builders import VALID_CONSORTIUM, marc_collection, marc_record, write_consortium

pytestmark = pytest.mark.zebra

TIMEOUT = 1.5


def sru_library(code: str, url: str) -> str:
    return f"""
[[libraries]]
code = "{code}"
name = "Library {code}"
country = "LV"
region = "R2"
timezone = "Europe/Riga"
[libraries.policy]
password_min_length = 6
accepts_patron_requests = true
lends = ["book", "journal", "score"]
[libraries.catalog]
connector = "sru"
url = "{url}"
version = "2.0"
timeout = {TIMEOUT}
[libraries.catalog.holdings]
tag = "852"
branch = "b"
call_number = "h"
status = "y"
due_date = "d"
status_map = {{ a = "available", o = "on_loan", r = "reading_room", l = "lost" }}
[libraries.register]
connector = "file"
path = "a.csv"
[libraries.lending]
connector = "inbox"
"""


@pytest.fixture
async def client(tmp_path: Path, zebra: str, dead_url: str, silent_server: str,
                 redis_url: str, namespace: str) -> AsyncIterator[TestClient]:
    text = (VALID_CONSORTIUM + sru_library("Z", zebra) + sru_library("DEAD", dead_url)
            + sru_library("SILENT", silent_server))
    path = write_consortium(tmp_path, text)
    (tmp_path / "a.xml").write_bytes(marc_collection(
        marc_record("a1", "Lighthouse keeping", isbn="9781861972712", holdings=(("A", "a"),))))
    redis = Redis.from_url(redis_url)
    await Harvester(redis, Keys(namespace)).harvest(load(path).library("A"))
    settings = Settings(consortium_path=path, data_dir=tmp_path, redis_url=redis_url,
                        namespace=namespace)
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    yield client
    await client.close()
    async for key in redis.scan_iter(match=f"*{namespace}*"):
        await redis.delete(key)
    await redis.aclose()


async def test_live_and_indexed_holdings_merge_and_dead_catalogs_do_not_hang(
        client: TestClient) -> None:
    started = time.perf_counter()
    response = await client.get("/api/search", params={"isbn": "978-1-86197-271-2"})
    elapsed = time.perf_counter() - started
    assert response.status == 200
    body = await response.json()
    answers = {c["library"]: c["answer"] for c in body["catalogs"]}
    assert answers == {"A": "index", "B": "not answered", "Z": "answered", "DEAD": "not answered",
                       "SILENT": "not answered"}
    [title] = body["titles"]
    libraries = {h["library"]: h["live"] for h in title["holdings"]}
    assert libraries == {"A": False, "Z": True}
    # The silent catalog costs its timeout and no more.
    assert elapsed < TIMEOUT * 1.1 + 0.5


async def test_holdings_check_with_live_status(client: TestClient) -> None:
    response = await client.get("/api/holdings", params={"isbn": "9781861972712"})
    body = await response.json()
    assert response.status == 200
    assert "Z" in {h["library"] for h in body["title"]["holdings"]}
    off = await (await client.get("/api/holdings", params={"isbn": "9781861972712",
                                                            "live": "0"})).json()
    assert {h["library"] for h in off["title"]["holdings"]} == {"A"}
