"""MARC file harvests into the union index, and the search and holdings API over it."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from broker.domain.consortium import HoldingsMapping, Library
from broker.domain.holdings import BibRecord
from broker.services import harvest as harvest_service
from broker.services.consortium_file import load
from broker.services.harvest import Harvester, ParseProcess, ParseProcessFailed, StartMethod
from broker.settings import Settings
from broker.store.holdings import UnionIndex
from broker.store.keys import Keys
from broker.web.app import create_app
from connectors.marc.records import CopiedRecord, RecordError, iter_copies, iter_records

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


# ---------------------------------------------------------------- a parse process

def big_catalog(path: Path, prefix: str, count: int, isbn_base: int) -> list[str]:
    """``count`` records with ids ``prefix0``... and distinct ISBN-13s; returns the
    match keys. Large enough that the parse process is still busy when a test
    interferes with it."""
    keys, records = [], []
    for n in range(count):
        core = f"978{isbn_base + n:09d}"
        check = (10 - sum((3 if i % 2 else 1) * int(d) for i, d in enumerate(core)) % 10) % 10
        keys.append(f"isbn:{core}{check}")
        records.append(marc_record(f"{prefix}{n}", "Lighthouse keeping", isbn=f"{core}{check}",
                                   author="Cankar, Ivan", holdings=(("B", "a"),)))
    path.write_bytes(marc_collection(*records))
    return keys


@pytest.fixture
def library_b(tmp_path: Path) -> Library:
    """Library B, whose catalog is the export ``tmp_path / "b.xml"``."""
    (tmp_path / "b.xml").write_bytes(marc_collection())
    return load(write_consortium(tmp_path, TWO_FILE_CONSORTIUM)).library("B")


@pytest.fixture
def process_harvester(redis: Redis, namespace: str) -> Harvester:
    """A harvester that parses every export in a parse process, however small."""
    return Harvester(redis, Keys(namespace), parse_process_bytes=0)


def no_parse_process_left() -> bool:
    return not [p for p in multiprocessing.active_children() if p.name.startswith("harvest-")]


MIXED_EXPORT = (
    marc_collection(
        B_RECORDS[0],
        marc_record("b9", "", isbn="9789612415099"),  # no title
        marc_record("b8", "Bad ISBN", isbn="978-0-000-00000-1"),  # the record and a warning
        marc_record("b7", "Na klancu \xff", author="Cankar, Ivan"),
        B_RECORDS[1],
    ).replace("\xff".encode(), b"\xff")  # a byte that is not UTF-8 spoils its record
    + b"<record><leader>broken"  # and the document breaks off
)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
async def test_a_parse_process_reads_what_iter_records_reads(tmp_path: Path,
                                                             start_method: StartMethod) -> None:
    path = tmp_path / "b.xml"
    path.write_bytes(MIXED_EXPORT)
    mapping = HoldingsMapping(tag="852", status="y")
    expected = list(iter_records(path, mapping, "B"))
    assert {type(i).__name__ for i in expected} == {"BibRecord", "RecordError"}
    async with ParseProcess(path, mapping, "B", start_method=start_method) as items:
        assert [item async for item in items] == expected
    assert no_parse_process_left()


async def test_an_export_parsed_in_a_process_is_indexed_as_one_parsed_here(
        tmp_path: Path, library_b: Library, redis: Redis, namespace: str) -> None:
    (tmp_path / "b.xml").write_bytes(MIXED_EXPORT)
    here = await Harvester(redis, Keys(namespace), parse_process_bytes=None).harvest(library_b)
    index = UnionIndex(redis, Keys(namespace))
    keys = ["isbn:9788611164014", "isbn:9780000000002"]
    indexed_here = await index.lookup(keys)
    elsewhere = await Harvester(redis, Keys(namespace), parse_process_bytes=0).harvest(library_b)
    assert (elsewhere.indexed, elsewhere.errors) == (here.indexed, here.errors)
    assert [(e.code, e.record_id) for e in elsewhere.samples] == [
        (e.code, e.record_id) for e in here.samples]
    assert await index.lookup(keys) == indexed_here


async def test_an_unreadable_export_fails_in_the_parse_process_too(
        tmp_path: Path, library_b: Library, process_harvester: Harvester) -> None:
    path = tmp_path / "b.xml"
    path.write_bytes(marc_collection(*B_RECORDS))
    assert (await process_harvester.harvest(library_b)).indexed == 2
    path.unlink()
    path.mkdir()  # there, but not a file: the parse process is started and cannot read it
    report = await process_harvester.harvest(library_b)
    assert report.failed is not None and "Is a directory" in report.failed
    assert await process_harvester.index.record_count("B") == 2
    assert no_parse_process_left()


async def test_a_parse_process_that_dies_fails_the_harvest_and_keeps_the_index(
        tmp_path: Path, library_b: Library, process_harvester: Harvester) -> None:
    path = tmp_path / "b.xml"
    old = big_catalog(path, "old", 200, 100_000_000)
    assert (await process_harvester.harvest(library_b)).indexed == 200
    new = big_catalog(path, "new", 20_000, 200_000_000)

    killed = False

    def kill_the_parse_process(_: int) -> None:
        nonlocal killed
        for process in multiprocessing.active_children():
            if process.name.startswith("harvest-") and process.pid and not killed:
                os.kill(process.pid, signal.SIGKILL)
                killed = True

    report = await process_harvester.harvest(library_b, kill_the_parse_process)
    assert report.failed is not None and "killed by signal 9" in report.failed
    assert "FAILED" in report.summary() and report.indexed == 0
    index = process_harvester.index
    assert await index.record_count("B") == 200
    assert len(await index.lookup(old)) == 200
    assert await index.lookup(new) == {}
    assert no_parse_process_left()


async def test_a_cancelled_harvest_stops_its_parse_process_and_keeps_the_index(
        tmp_path: Path, library_b: Library, process_harvester: Harvester, redis: Redis,
        namespace: str) -> None:
    path = tmp_path / "b.xml"
    old = big_catalog(path, "old", 200, 100_000_000)
    assert (await process_harvester.harvest(library_b)).indexed == 200
    new = big_catalog(path, "new", 20_000, 200_000_000)
    seen = 0
    well_under_way = asyncio.Event()

    def progress(count: int) -> None:
        nonlocal seen
        seen += count
        if seen == 2_000:  # a few batches written, more in flight
            well_under_way.set()

    harvest = asyncio.create_task(process_harvester.harvest(library_b, progress))
    await well_under_way.wait()
    harvest.cancel()
    with pytest.raises(asyncio.CancelledError):
        await harvest
    assert no_parse_process_left()
    index = process_harvester.index
    assert await index.record_count("B") == 200
    assert len(await index.lookup(old)) == 200
    # Nothing of the cancelled generation is left, visible or not.
    assert await index.lookup(new) == {}
    assert not await redis.exists(*(Keys(namespace).index_match(k) for k in new[:2_000]))
    generations = await index.generations()
    assert [k async for k in redis.scan_iter(match=f"{namespace}:index:records:B:*")] == [
        Keys(namespace).index_records("B", generations["B"]).encode()]
    # ...and the library can be harvested again at once.
    big_catalog(path, "again", 10, 300_000_000)
    assert (await process_harvester.harvest(library_b)).indexed == 10


async def test_a_bug_in_the_parse_process_is_reported_with_its_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "b.xml"
    path.write_bytes(marc_collection(*B_RECORDS))

    def iter_copies_with_a_bug(*args: Any) -> Iterator[CopiedRecord | RecordError]:
        yield from iter_copies(*args)
        raise RuntimeError("a bug in the reader")

    # A forked parse process runs this module as patched here.
    monkeypatch.setattr(harvest_service, "iter_copies", iter_copies_with_a_bug)
    read: list[BibRecord | RecordError] = []
    async with ParseProcess(path, HoldingsMapping(), "B", start_method="fork") as items:
        with pytest.raises(ParseProcessFailed, match="RuntimeError: a bug in the reader"):
            async for item in items:
                read.append(item)
    assert len(read) == 2
    assert no_parse_process_left()


def resident_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"process {pid} has ended")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
async def test_a_parse_process_streams_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "b.xml"
    big_catalog(path, "r", 50_000, 100_000_000)
    mapping = HoldingsMapping(tag="852", status="y")
    seen = 0
    async with ParseProcess(path, mapping, "B") as items:
        [child] = [p for p in multiprocessing.active_children() if p.name.startswith("harvest-")]
        assert child.pid is not None
        tracemalloc.start()
        try:
            async for _ in items:
                seen += 1
                if seen == 2_000:
                    child_early = resident_bytes(child.pid)
                    tracemalloc.reset_peak()
                elif seen == 15_000:  # the parse process is well ahead, but not done
                    child_late = resident_bytes(child.pid)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert seen == 50_000
    # Neither process keeps what it has read: the child frees the tree as it goes,
    # and this process holds no more than the batches in the pipe's buffer.
    assert child_late - child_early < 8_000_000, "the parse process grew"
    assert peak < 8_000_000, f"Python peak {peak} bytes in the harvesting process"
