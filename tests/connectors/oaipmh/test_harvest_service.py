"""`illbroker harvest` for an OAI-PMH library: the real test repository over HTTP, the
union index in a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from broker.domain.consortium import Library
from broker.services.consortium_file import load
from broker.services.harvest import Harvester
from broker.store.keys import Keys

from builders import VALID_CONSORTIUM, write_consortium
from oai_repository import (
    DELETED,
    WITHOUT_TITLE,
    Fault,
    OaiTestServer,
    StoredRecord,
    identifier,
    isbn13,
    marc_record,
)

HARVESTABLE = 30 - len(DELETED) - 1  # one record has no title


def oai_library(url: str) -> str:
    return f"""
[[libraries]]
code = "O"
name = "OAI library"
country = "LV"
region = "R2"
timezone = "Europe/Riga"
[libraries.policy]
password_min_length = 6
accepts_patron_requests = true
lends = ["book"]
[libraries.catalog]
connector = "oaipmh"
url = "{url}"
metadata_prefix = "marc21"
timeout = 2
[libraries.catalog.holdings]
tag = "852"
branch = "b"
call_number = "h"
status = "y"
due_date = "d"
status_map = {{ a = "available", o = "on_loan", r = "reading_room" }}
[libraries.register]
connector = "file"
path = "a.csv"
[libraries.lending]
connector = "inbox"
"""


@pytest.fixture
def library(tmp_path: Path, oai_server: OaiTestServer) -> Library:
    return load(write_consortium(tmp_path, VALID_CONSORTIUM + oai_library(oai_server.url))
                ).library("O")


@pytest.fixture
async def harvester(redis_url: str, namespace: str) -> AsyncIterator[Harvester]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield Harvester(client, Keys(namespace))
    async for key in client.scan_iter(match=f"*{namespace}*"):
        await client.delete(key)
    await client.aclose()


async def holders(harvester: Harvester, number: int) -> list[str]:
    found = await harvester.index.lookup([f"isbn:{isbn13(number)}"])
    return [e.library for page in found.values() for e in page]


def change(server: OaiTestServer, *records: StoredRecord) -> None:
    server.store.records = sorted([*server.store.records, *records], key=lambda r: r.datestamp)


async def test_first_harvest_indexes_everything_but_deleted_records(
        harvester: Harvester, library: Library) -> None:
    report = await harvester.harvest(library)
    assert report.failed is None
    assert report.indexed == HARVESTABLE
    assert report.errors["missing-245"] == 1 and report.errors["bad-isbn"] == 1
    assert await harvester.index.record_count("O") == HARVESTABLE
    assert await holders(harvester, 1) == ["O"]
    assert await holders(harvester, min(DELETED)) == []
    assert await holders(harvester, WITHOUT_TITLE) == []


async def test_the_next_harvest_asks_only_for_changes_and_honours_deletions(
        harvester: Harvester, library: Library, oai_server: OaiTestServer) -> None:
    await harvester.harvest(library)
    later = datetime.now(UTC) + timedelta(seconds=2)
    change(oai_server,
           StoredRecord(identifier(1), later, None),            # withdrawn
           StoredRecord(identifier(5), later, marc_record(5)))  # came back
    oai_server.log.clear()
    report = await harvester.harvest(library)
    assert report.failed is None
    assert (report.indexed, report.deleted) == (1, 1)
    froms = {e.params.get("from") for e in oai_server.log if e.params.get("verb") ==
             "ListRecords"}
    assert froms != {None}
    assert await holders(harvester, 1) == []
    assert await holders(harvester, 5) == ["O"]
    assert await harvester.index.record_count("O") == HARVESTABLE


async def test_a_repository_failing_half_way_loses_nothing_already_indexed(
        harvester: Harvester, library: Library, oai_server: OaiTestServer) -> None:
    await harvester.harvest(library)
    oai_server.faults.kind = Fault.HTTP_500
    oai_server.faults.from_page = 1
    later = datetime.now(UTC) + timedelta(seconds=2)
    change(oai_server, StoredRecord(identifier(2), later, None))
    report = await harvester.harvest(library)
    assert report.failed is not None
    assert await harvester.index.record_count("O") == HARVESTABLE
    assert await holders(harvester, 2) == ["O"]
    # The next run starts from the same point and catches up.
    oai_server.faults.kind = None
    report = await harvester.harvest(library)
    assert report.failed is None and report.deleted == 1
    assert await holders(harvester, 2) == []


async def test_a_first_harvest_that_breaks_off_publishes_nothing(
        harvester: Harvester, library: Library, oai_server: OaiTestServer) -> None:
    oai_server.faults.kind = Fault.TRUNCATED
    report = await harvester.harvest(library)
    assert report.failed is not None and "FAILED" in report.summary()
    assert await harvester.index.record_count("O") == 0
    assert await holders(harvester, 1) == []
