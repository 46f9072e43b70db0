"""The SRU client against a real Zebra (see conftest.py), in SRU 1.2 and 2.0.

zebrasrv 2.2 (YAZ 5) answers both versions on one port: ``version=1.2`` in the
http://www.loc.gov/zing/srw/ namespace, ``version=2.0`` in the OASIS one, so every
search here runs against both, and the 2.0 responses are checked against the
official sruResponse.xsd.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import MappingProxyType

import aiohttp
import pytest

from broker.domain.consortium import HoldingsMapping
from broker.domain.holdings import ItemStatus, MaterialType
from connectors.errors import BadResponse, CatalogUnavailable
from connectors.marc.matchkey import match_keys
from connectors.marc.records import Problem
from connectors.sru import cql
from connectors.sru.client import SruClient
from connectors.sru.diagnostics import (
    FirstRecordOutOfRange,
    QuerySyntaxError,
    SruError,
    UnsupportedContextSet,
    UnsupportedIndex,
)
from connectors.sru.response import SRU12_NS, SRU20_NS, SruPage

pytestmark = pytest.mark.zebra

# How the fixture library writes its 852 holdings (tests/connectors/fixtures/marc).
TST = HoldingsMapping(
    tag="852",
    branch="b",
    call_number="h",
    barcode="p",
    status="y",
    due_date="d",
    status_map=MappingProxyType(
        {
            "a": ItemStatus.AVAILABLE,
            "o": ItemStatus.ON_LOAN,
            "r": ItemStatus.READING_ROOM,
            "l": ItemStatus.LOST,
            "n": ItemStatus.NOT_LOANABLE,
        }
    ),
)
LIGHTHOUSE_IDS = [f"TST{n:04d}" for n in range(10, 21)]


@pytest.fixture(params=["1.2", "2.0"])
def version(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def client(zebra: str, http: aiohttp.ClientSession, version: str) -> SruClient:
    return SruClient(zebra, http, library="TST", mapping=TST, version=version, timeout=5)


@pytest.fixture
def checked(
    version: str, assert_valid: Callable[[str, bytes], None]
) -> Callable[[SruPage], SruPage]:
    """Checks a page's raw response: its namespace, and for 2.0 the official schema."""

    def check(page: SruPage) -> SruPage:
        assert page.version == version
        if version == "2.0":
            assert SRU20_NS.encode() in page.raw[:300]
            assert_valid("sruResponse.xsd", page.raw)
        else:
            # No SRU 1.2 schema is among the conformance files; the namespace shows
            # that the server answered in 1.2.
            assert SRU12_NS.encode() in page.raw[:300]
        return page

    return check


async def test_isbn_10_and_13_find_the_same_record(
    client: SruClient, checked: Callable[[SruPage], SruPage]
) -> None:
    by_10 = checked(await client.search(cql.isbn("0-306-40615-2")))
    by_13 = checked(await client.search(cql.isbn("9780306406157")))
    assert by_10.total == by_13.total == 1
    assert by_10.records == by_13.records
    (record,) = by_10.records
    assert record.record_id == "TST0001"
    assert record.title == "Ocean currents: a primer"
    assert record.isbns == ("9780306406157",)
    assert [(h.branch, h.status) for h in record.holdings] == [
        ("TST-CEN", ItemStatus.AVAILABLE),
        ("TST-NOR", ItemStatus.ON_LOAN),
    ]
    assert all(h.library == "TST" for h in record.holdings)


async def test_isbn_written_both_ways_in_one_record(client: SruClient) -> None:
    # TST0008 carries 9789616241014 and 961624101X: one record, one ISBN.
    for number in ("961624101X", "978-961-6241-01-4"):
        page = await client.search(cql.isbn(number))
        assert [r.record_id for r in page.records] == ["TST0008"]
        assert page.records[0].isbns == ("9789616241014",)


async def test_issn(client: SruClient, checked: Callable[[SruPage], SruPage]) -> None:
    page = checked(await client.search(cql.issn("1392012X")))
    (record,) = page.records
    assert (record.record_id, record.material, record.issns) == (
        "TST0003",
        MaterialType.JOURNAL,
        ("1392-012X",),
    )
    assert record.holdings[0].status is ItemStatus.NOT_LOANABLE


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        (cql.title("ocean currents primer"), ["TST0001"]),
        (cql.title("Sneguljčica palčkov"), ["TST0008"]),
        (cql.author("Marsh"), ["TST0001"]),
        (cql.author("Kos Milko"), ["TST0004"]),
        (cql.keyword("oceanography"), ["TST0001"]),
        (cql.all_of(cql.title("verloren licht"), cql.author("jansen")), ["TST0007"]),
        (cql.title("no such words anywhere"), []),
    ],
)
async def test_title_author_keyword(client: SruClient, query: str, ids: list[str]) -> None:
    page = await client.search(query)
    assert sorted(r.record_id for r in page.records) == ids
    assert page.total == len(ids)
    assert page.errors == ()


async def test_record_without_isbn_gets_a_title_key(client: SruClient) -> None:
    page = await client.search(cql.title("Zgodovina Ljubljane"))
    (record,) = page.records
    assert record.isbns == ()
    assert match_keys(record) == ("tay:zgodovina ljubljane od zacetkov do danes/kos/1955",)


async def test_user_text_cannot_break_the_query(client: SruClient) -> None:
    # Quotes, masking characters and CQL syntax in user text are escaped: the
    # server sees one literal term and answers, with no diagnostic.
    page = await client.search(cql.title('ocean "currents" * ? ^ \\ ) or dc.title=(x'))
    assert page.total == 0


async def test_pages(client: SruClient, checked: Callable[[SruPage], SruPage]) -> None:
    first = checked(await client.search(cql.keyword("lighthouses"), start=1, maximum=4))
    assert (first.total, len(first.records), first.next_position) == (11, 4, 5)
    last = checked(await client.search(cql.keyword("lighthouses"), start=9, maximum=4))
    assert (len(last.records), last.next_position) == (3, None)


async def test_search_all_pages_through(client: SruClient) -> None:
    result = await client.search_all(cql.keyword("lighthouses"), limit=100, page_size=4)
    assert (result.total, result.pages) == (11, 3)
    assert sorted(r.record_id for r in result.records) == LIGHTHOUSE_IDS


async def test_search_all_stops_at_the_limit(client: SruClient) -> None:
    result = await client.search_all(cql.keyword("lighthouses"), limit=6, page_size=4)
    assert (len(result.records), result.pages, result.total) == (6, 2, 11)


async def test_whole_fixture_catalog_through_sru(client: SruClient) -> None:
    result = await client.search_all("cql.allRecords=1", limit=100, page_size=7)
    assert len(result.records) == 20
    assert [(e.code, e.record_id) for e in result.errors] == [(Problem.BAD_ISBN, "TST0009")]


@pytest.mark.parametrize(
    ("query", "error", "number"),
    [
        ("dc.title=(ocean", QuerySyntaxError, 10),
        ("dc.title=ocean and", QuerySyntaxError, 10),
        # bath.notes is in the CQL mapping but Zebra has no such index.
        ("bath.notes=lighthouse", UnsupportedIndex, 16),
        ("nosuchset.title=ocean", UnsupportedContextSet, 15),
    ],
)
async def test_diagnostics_raise_their_classes(
    client: SruClient, query: str, error: type[SruError], number: int
) -> None:
    with pytest.raises(error) as caught:
        await client.search(query)
    assert caught.value.uri == f"info:srw/diagnostic/1/{number}"
    assert caught.value.peer == "TST"


async def test_start_past_the_end(client: SruClient) -> None:
    with pytest.raises(FirstRecordOutOfRange):
        await client.search(cql.keyword("lighthouses"), start=50)


async def test_unknown_record_schema_gives_surrogate_diagnostics(
    zebra: str, http: aiohttp.ClientSession, version: str
) -> None:
    client = SruClient(
        zebra, http, library="TST", mapping=TST, version=version, record_schema="nosuch"
    )
    page = await client.search(cql.title("ocean"))
    assert page.records == ()
    assert [e.code for e in page.errors] == [Problem.SURROGATE_DIAGNOSTIC]
    assert "info:srw/diagnostic/1/66" in page.errors[0].message


async def test_unknown_database_is_a_bad_response(zebra: str, http: aiohttp.ClientSession) -> None:
    # Zebra answers a database it does not have with an HTML 404 page.
    url = zebra.rsplit("/", 1)[0] + "/NoSuchDatabase"
    with pytest.raises(BadResponse, match="HTTP 404"):
        await SruClient(url, http, library="TST").search(cql.title("ocean"))


async def test_response_over_the_size_limit(zebra: str, http: aiohttp.ClientSession) -> None:
    client = SruClient(zebra, http, library="TST", mapping=TST, max_bytes=2_000)
    with pytest.raises(BadResponse, match="2000"):
        await client.search(cql.keyword("lighthouses"), maximum=10)


async def test_dead_port_is_catalog_unavailable(dead_url: str, http: aiohttp.ClientSession) -> None:
    client = SruClient(dead_url, http, library="DEAD", timeout=2)
    started = time.monotonic()
    with pytest.raises(CatalogUnavailable) as caught:
        await client.search(cql.title("ocean"))
    assert time.monotonic() - started < 2.5
    assert caught.value.peer == "DEAD"


async def test_silent_server_is_catalog_unavailable_within_the_timeout(
    silent_server: str, http: aiohttp.ClientSession
) -> None:
    timeout = 0.5
    client = SruClient(silent_server, http, library="SLOW", timeout=timeout)
    started = time.monotonic()
    with pytest.raises(CatalogUnavailable, match=r"no answer within 0\.5 s"):
        await client.search(cql.title("ocean"))
    elapsed = time.monotonic() - started
    assert timeout <= elapsed < timeout * 1.1 + 0.1


def test_unknown_version_is_refused(http: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError, match=r"3\.0"):
        SruClient("http://127.0.0.1/", http, library="X", version="3.0")
