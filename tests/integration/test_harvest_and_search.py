"""MARC file harvests into the union index, and the search and holdings API over it."""

from __future__ import annotations

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

from builders import TWO_FILE_CONSORTIUM, marc_collection, marc_record, write_consortium

A_RECORDS = [
    marc_record("a1", "Alamut", isbn="86-11-16401-6", author="Bartol, Vladimir", year=1938,
                holdings=(("A-1", "a"), ("A", "r"))),
    marc_record("a2", "Čefurji raus!", isbn="9789612415099", author="Janša, Goran", year=2008,
                holdings=(("A", "a"),)),
    marc_record("a3", "Na klancu", author="Cankar, Ivan", year=1902, holdings=(("A", "a"),)),
]
B_RECORDS = [
    marc_record("b1", "Alamut :", isbn="978-86-11-16401-4", author="Bartol, Vladimir",
                year=1938, holdings=(("B", "o"),)),
    marc_record("b2", "Na klancu.", author="Cankar, Ivan", year=1902, holdings=(("B", "a"),)),
]


@pytest.fixture
def consortium_file(tmp_path: Path) -> Path:
    path = write_consortium(tmp_path, TWO_FILE_CONSORTIUM)
    (tmp_path / "a.xml").write_bytes(marc_collection(*A_RECORDS))
    (tmp_path / "b.xml").write_bytes(marc_collection(*B_RECORDS))
    return path


@pytest.fixture
def harvester(redis: Redis, namespace: str) -> Harvester:
    return Harvester(redis, Keys(namespace))


@pytest.fixture
async def client(consortium_file: Path, harvester: Harvester, redis_url: str,
                 namespace: str) -> AsyncIterator[TestClient]:
    consortium = load(consortium_file)
    for library in consortium.libraries.values():
        report = await harvester.harvest(library)
        assert report.failed is None and report.indexed > 0
    settings = Settings(consortium_path=consortium_file, data_dir=consortium_file.parent,
                        redis_url=redis_url, namespace=namespace)
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    yield client
    await client.close()


async def test_search_merges_one_title_from_two_catalogs(client: TestClient) -> None:
    body = await (await client.get("/api/search", params={"q": "alamut"})).json()
    [title] = body["titles"]
    assert title["isbns"] == ["9788611164014"]
    holdings = {h["library"]: [c["status"] for c in h["copies"]] for h in title["holdings"]}
    assert holdings == {"A": ["available", "reading_room"], "B": ["on_loan"]}
    assert title["lendable_now"] == ["A"]
    assert {c["library"]: c["answer"] for c in body["catalogs"]} == {"A": "index",
                                                                     "B": "index"}


async def test_records_without_isbn_match_on_title_author_year(client: TestClient) -> None:
    body = await (await client.get("/api/search", params={"author": "cankar"})).json()
    [title] = body["titles"]
    assert title["match_keys"][0].startswith("tay:")
    assert [h["library"] for h in title["holdings"]] == ["A", "B"]


@pytest.mark.parametrize("isbn", ["86-11-16401-6", "9788611164014", "978-86-11-16401-4"])
async def test_any_isbn_form_finds_the_title(client: TestClient, isbn: str) -> None:
    response = await client.get("/api/holdings", params={"isbn": isbn})
    assert response.status == 200
    body = await response.json()
    assert body["title"]["title"] == "Alamut"
    assert body["title"]["lendable_now"] == ["A"]


async def test_diacritics_do_not_matter(client: TestClient) -> None:
    body = await (await client.get("/api/search", params={"q": "cefurji"})).json()
    assert [t["title"] for t in body["titles"]] == ["Čefurji raus!"]


async def test_nobody_holds_it(client: TestClient) -> None:
    response = await client.get("/api/holdings", params={"isbn": "9780306406157"})
    assert response.status == 404
    assert (await response.json())["type"].endswith("/not-found")
    body = await (await client.get("/api/search", params={"q": "nonexistent"})).json()
    assert body["titles"] == []


@pytest.mark.parametrize(("params", "field"), [
    ({}, "q"),
    ({"isbn": "123"}, "isbn"),
    ({"issn": "1234-5678"}, "issn"),
    ({"q": "x" * 301}, "q"),
    ({"q": "ab cd ef gh ij kl mn op qr"}, "q"),
    ({"q": "alamut", "limit": "0"}, "limit"),
    ({"q": "alamut", "limit": "many"}, "limit"),
    ({"q": "alamut", "colour": "red"}, "colour"),
])
async def test_bad_search_input_is_a_validation_problem(client: TestClient, params: dict,
                                                        field: str) -> None:
    response = await client.get("/api/search", params=params)
    assert response.status == 422
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert body["type"].endswith("/validation") and field in body["errors"]


async def test_holdings_needs_one_identifier(client: TestClient) -> None:
    response = await client.get("/api/holdings", params={"q": "alamut"})
    assert response.status == 422


async def test_bad_records_are_counted_and_the_rest_indexed(tmp_path: Path,
                                                            harvester: Harvester) -> None:
    path = write_consortium(tmp_path, TWO_FILE_CONSORTIUM)
    (tmp_path / "b.xml").write_bytes(marc_collection(
        B_RECORDS[0],
        marc_record("b9", "", isbn="9789612415099"),  # no title
        "<record><leader>00000nam a2200000 i 4500</leader></record>",
        B_RECORDS[1]))
    library = load(path).library("B")
    report = await harvester.harvest(library)
    assert report.indexed == 2 and sum(report.errors.values()) == 2
    assert "2 records indexed" in report.summary()


async def test_a_failed_harvest_keeps_what_was_indexed(tmp_path: Path,
                                                       harvester: Harvester) -> None:
    path = write_consortium(tmp_path, TWO_FILE_CONSORTIUM)
    (tmp_path / "b.xml").write_bytes(marc_collection(*B_RECORDS))
    library = load(path).library("B")
    assert (await harvester.harvest(library)).indexed == 2
    (tmp_path / "b.xml").unlink()
    report = await harvester.harvest(library)
    assert report.failed is not None and "FAILED" in report.summary()
    assert await harvester.index.record_count("B") == 2


async def test_two_harvests_of_one_library_do_not_overlap(tmp_path: Path,
                                                          harvester: Harvester) -> None:
    path = write_consortium(tmp_path, TWO_FILE_CONSORTIUM)
    (tmp_path / "b.xml").write_bytes(marc_collection(*B_RECORDS))
    library = load(path).library("B")
    lock = harvester.keys.index_harvest("B") + ":lock"
    await harvester.redis.set(lock, "1")
    report = await harvester.harvest(library)
    assert report.skipped and report.indexed == 0
    await harvester.redis.delete(lock)
