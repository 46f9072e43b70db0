"""The OAI-PMH harvester against a real OAI-PMH repository served over HTTP (see conftest)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from contextlib import aclosing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from broker.domain.consortium import ConnectorConfig
from broker.domain.holdings import ItemStatus, MaterialType
from connectors.errors import BadResponse, CatalogUnavailable, ConnectorError
from connectors.marc.records import Problem, RecordError
from connectors.oaipmh import (
    ERROR_CLASSES,
    BadArgument,
    BadResumptionToken,
    BadVerb,
    CannotDisseminateFormat,
    Deletion,
    Granularity,
    HarvestInterrupted,
    HarvestItem,
    IdDoesNotExist,
    NoRecordsMatch,
    OaiClient,
    OaiHarvester,
    OaiPmhError,
    Upsert,
    format_datestamp,
    parse_datestamp,
)
from connectors.oaipmh.client import defuse_doctype, parse_page

from oai_repository import (
    BAD_ISBN,
    DAY,
    DELETED,
    MAPPING,
    MARC_NS,
    OAI_NS,
    RECORD_COUNT,
    SERIAL,
    WITHOUT_TITLE,
    Fault,
    OaiTestServer,
    free_port,
    identifier,
    isbn13,
    stamp,
)

OAI = f"{{{OAI_NS}}}"
GOOD = [n for n in range(1, RECORD_COUNT + 1) if n not in DELETED and n != WITHOUT_TITLE]
FIRST_PAGE = range(1, 8)


def harvester(server: OaiTestServer, **options: Any) -> OaiHarvester:
    # No pause between retries: the tests' failures are on purpose, not load.
    options.setdefault("retry_wait", 0.0)
    return OaiHarvester(server.url, mapping=MAPPING, library="TST", **options)


def numbers(items: list[HarvestItem], kind: type) -> list[int]:
    """The record numbers of the items of one kind, in order."""
    found = []
    for item in items:
        if isinstance(item, kind):
            name = item.record_id if isinstance(item, RecordError) else item.identifier
            found.append(int(str(name).rsplit("-", 1)[1]))
    return found


# ---------------------------------------------------------------- whole harvests


def test_full_harvest_follows_resumption_tokens_to_every_record(oai_server: OaiTestServer) -> None:
    run = harvester(oai_server).harvest(None)
    items = list(run)

    assert numbers(items, Upsert) == GOOD
    assert numbers(items, Deletion) == sorted(DELETED)
    assert run.counts == {"upserts": 25, "deletions": 4, "missing-245": 1, "bad-isbn": 1}
    assert run.complete and run.yielded == len(items) == 31
    pages = oai_server.list_requests()
    assert [e.page for e in pages] == [1, 2, 3, 4, 5]
    assert all("resumptionToken" in e.params for e in pages[1:])
    # The next incremental harvest starts at the first response's responseDate.
    first_response = parse_page({}, pages[0].body, peer=None).response_date
    assert run.next_since == first_response is not None
    assert run.last_datestamp == stamp(RECORD_COUNT)


def test_records_are_read_with_the_librarys_holdings_layout(oai_server: OaiTestServer) -> None:
    upserts = {
        u.identifier: u for u in harvester(oai_server).harvest(None) if isinstance(u, Upsert)
    }

    book = upserts[identifier(1)]
    assert book.datestamp == stamp(1) == datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
    assert book.record.record_id == "TST-OAI-01"
    assert book.record.title == "Keeper of lights"
    assert book.record.isbns == (isbn13(1),)
    assert book.record.year == 2001
    (holding,) = book.record.holdings
    assert (holding.library, holding.branch, holding.status) == (
        "TST",
        "TST-CEN",
        ItemStatus.ON_LOAN,
    )
    assert holding.due_date == date(2031, 5, 14)
    assert etree.fromstring(book.raw).findtext(f"{OAI}header/{OAI}identifier") == identifier(1)
    journal = upserts[identifier(SERIAL)].record
    assert journal.material is MaterialType.JOURNAL and journal.issns


def test_incremental_harvest_asks_from_the_datestamp_and_gets_only_newer(
    oai_server: OaiTestServer,
) -> None:
    since = stamp(20)
    items = list(harvester(oai_server).harvest(since))

    assert numbers(items, Upsert) == [n for n in GOOD if n >= 20]
    assert numbers(items, Deletion) == [20, 27]
    (first, *_rest) = oai_server.list_requests()
    assert (
        first.params["from"]
        == "2024-04-05T13:07:00Z"
        == format_datestamp(since, Granularity.SECOND)
    )


def test_incremental_harvest_uses_the_repositorys_day_granularity(
    make_oai_server: Callable[..., OaiTestServer],
) -> None:
    server = make_oai_server(granularity=DAY)
    # The afternoon of record 21's day: asked by the day, the whole day comes back.
    items = list(harvester(server).harvest(stamp(21) + timedelta(hours=5)))

    (first, *_rest) = server.list_requests()
    assert first.params["from"] == stamp(21).date().isoformat()
    assert numbers(items, Upsert) == [n for n in GOOD if n >= 21]
    assert all(i.datestamp.time() == datetime.min.time() for i in items if isinstance(i, Upsert))


def test_deleted_records_come_through_as_deletions(oai_server: OaiTestServer) -> None:
    deletions = [i for i in harvester(oai_server).harvest(None) if isinstance(i, Deletion)]

    assert deletions == [Deletion(identifier(n), stamp(n)) for n in sorted(DELETED)]


def test_no_records_match_is_an_empty_harvest(oai_server: OaiTestServer) -> None:
    run = harvester(oai_server).harvest(stamp(RECORD_COUNT) + timedelta(seconds=1))

    assert list(run) == []
    assert run.complete and run.next_since is not None
    (request,) = oai_server.list_requests()
    assert b'code="noRecordsMatch"' in request.body


def test_a_set_is_harvested_alone(oai_server: OaiTestServer) -> None:
    items = list(harvester(oai_server, set_spec="serials").harvest(None))

    assert numbers(items, Upsert) == [SERIAL]
    assert oai_server.list_requests()[0].params["set"] == "serials"


def test_the_harvester_is_built_from_the_consortium_file(oai_server: OaiTestServer) -> None:
    config = ConnectorConfig(
        connector="oaipmh",
        settings={
            "url": oai_server.url,
            "metadata_prefix": "marc21",
            "set": "serials",
            "timeout": 5,
        },
        holdings=MAPPING,
    )
    built = OaiHarvester.from_config("TST", config, retry_wait=0.0)

    assert (built.library, built.set_spec, built.timeout) == ("TST", "serials", 5.0)
    assert numbers(list(built.harvest(None)), Upsert) == [SERIAL]


# ---------------------------------------------------------------- a server failing half-way


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        (Fault.HTTP_500, CatalogUnavailable),
        (Fault.HTML, BadResponse),
        (Fault.TRUNCATED, BadResponse),
    ],
)
def test_a_server_failing_half_way_interrupts_after_the_first_page(
    oai_server: OaiTestServer, fault: Fault, cause: type[ConnectorError]
) -> None:
    oai_server.faults.kind = fault
    since = stamp(1) - timedelta(days=1)
    run = harvester(oai_server).harvest(since)
    received: list[HarvestItem] = []

    with pytest.raises(HarvestInterrupted) as raised:
        for item in run:
            received.append(item)

    assert numbers(received, Upsert) + numbers(received, Deletion) == [1, 2, 3, 4, 6, 7, 5]
    interrupted = raised.value
    assert isinstance(interrupted, ConnectorError) and isinstance(interrupted.cause, cause)
    assert interrupted.yielded == len(received) == 7
    assert interrupted.last_datestamp == stamp(7)
    assert interrupted.since == since
    assert interrupted.peer == "TST"
    assert not run.complete and run.next_since is None


def test_a_page_that_times_out_half_way_interrupts_the_harvest(oai_server: OaiTestServer) -> None:
    oai_server.faults.kind = Fault.SLOW
    received: list[HarvestItem] = []
    started = time.monotonic()

    with pytest.raises(HarvestInterrupted) as raised:
        for item in harvester(oai_server, timeout=0.3, retries=1).harvest(None):
            received.append(item)

    assert isinstance(raised.value.cause, CatalogUnavailable)
    assert "no answer within 0.3 s" in str(raised.value)
    assert len(received) == raised.value.yielded == 7
    assert time.monotonic() - started < 2


def test_a_page_that_fails_once_is_asked_again_with_the_same_token(
    oai_server: OaiTestServer,
) -> None:
    oai_server.faults.kind, oai_server.faults.times = Fault.HTTP_500, 1

    items = list(harvester(oai_server).harvest(None))

    assert numbers(items, Upsert) == GOOD
    pages = oai_server.list_requests()
    assert [e.page for e in pages] == [1, 2, 2, 3, 4, 5]
    assert pages[1].status == 500 and pages[1].params == pages[2].params


def test_a_page_that_keeps_failing_is_tried_retries_plus_one_times(
    oai_server: OaiTestServer,
) -> None:
    oai_server.faults.kind = Fault.HTTP_500

    with pytest.raises(HarvestInterrupted):
        list(harvester(oai_server, retries=2).harvest(None))

    assert [e.page for e in oai_server.list_requests()] == [1, 2, 2, 2]


# ---------------------------------------------------------------- bad records


def test_bad_metadata_is_a_counted_named_error_and_the_harvest_goes_on(
    oai_server: OaiTestServer,
) -> None:
    run = harvester(oai_server).harvest(None)
    items = list(run)

    errors = [i for i in items if isinstance(i, RecordError)]
    missing = next(e for e in errors if e.code == Problem.MISSING_245)
    assert missing.record_id == identifier(WITHOUT_TITLE)
    assert missing.position == WITHOUT_TITLE
    assert "TST-OAI-09" in missing.message
    assert run.counts["missing-245"] == 1
    assert numbers(items, Upsert)[-1] == RECORD_COUNT
    # A bad ISBN spoils the ISBN, not the record: the upsert, then the warning.
    at = next(
        k
        for k, i in enumerate(items)
        if isinstance(i, Upsert) and i.identifier == identifier(BAD_ISBN)
    )
    warning = items[at + 1]
    assert isinstance(warning, RecordError) and warning.code == Problem.BAD_ISBN
    assert warning.record_id == identifier(BAD_ISBN)


def _entities_tamper(secret: Path) -> Callable[[bytes], bytes]:
    laughs = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    doctype = f'<!DOCTYPE OAI-PMH [{laughs}<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'.encode()

    def tamper(body: bytes) -> bytes:
        declaration, rest = body.split(b"\n", 1)
        rest = rest.replace(b"Keeper of lights", b"Keeper of &xxe;")
        rest = rest.replace(b"Winter ferries", b"Winter &lol9;")
        return declaration + b"\n" + doctype + b"\n" + rest

    return tamper


def test_entity_declarations_in_a_response_are_not_expanded(
    oai_server: OaiTestServer, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-PASSWORD")
    oai_server.tamper = _entities_tamper(secret)
    run = harvester(oai_server).harvest(None)
    items = list(run)

    assert run.complete
    refused = [i for i in items if isinstance(i, RecordError) and i.code == Problem.ENTITIES]
    assert [r.record_id for r in refused] == [identifier(1), identifier(4)]
    assert numbers(items, Upsert) == [n for n in GOOD if n not in (1, 4)]
    everything = repr(items).encode() + b"".join(i.raw for i in items if isinstance(i, Upsert))
    assert b"TOP-SECRET" not in everything
    assert b"lollol" not in everything
    assert all(e.altered for e in oai_server.list_requests())


def test_bytes_that_are_not_utf8_spoil_one_record(oai_server: OaiTestServer) -> None:
    oai_server.tamper = lambda body: body.replace(b"Moss and granite", b"Moss and gr\xe4nite")
    items = list(harvester(oai_server).harvest(None))

    (spoiled,) = [i for i in items if isinstance(i, RecordError) and i.code == Problem.NOT_UTF8]
    assert spoiled.record_id == identifier(6)
    assert numbers(items, Upsert) == [n for n in GOOD if n != 6]


# ---------------------------------------------------------------- OAI-PMH errors and dead peers


def test_an_unknown_metadata_prefix_is_cannot_disseminate_format(oai_server: OaiTestServer) -> None:
    with pytest.raises(CannotDisseminateFormat) as raised:
        list(harvester(oai_server, metadata_prefix="oai_dc").harvest(None))

    assert raised.value.error_code == "cannotDisseminateFormat"
    assert isinstance(raised.value, ConnectorError)
    assert "oai_dc" in str(raised.value)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"verb": "Harvest"}, BadVerb),
        ({"verb": "ListRecords"}, BadArgument),
        ({"verb": "ListRecords", "resumptionToken": "not-a-token"}, BadResumptionToken),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc"}, CannotDisseminateFormat),
        (
            {"verb": "GetRecord", "metadataPrefix": "marc21", "identifier": "oai:x:none"},
            IdDoesNotExist,
        ),
        ({"verb": "ListRecords", "metadataPrefix": "marc21", "from": "2100-01-01"}, NoRecordsMatch),
    ],
)
def test_the_repositorys_error_codes_raise_their_classes(
    oai_server: OaiTestServer, params: dict[str, str], expected: type[OaiPmhError]
) -> None:
    client = OaiClient(oai_server.url, peer="TST")
    try:
        with pytest.raises(expected) as raised:
            client.harvest(**params)
    finally:
        client.close()
    assert raised.value.error_code == expected.code
    assert raised.value.peer == "TST"


def test_every_error_code_of_the_protocol_has_its_class() -> None:
    codes = {
        "badArgument",
        "badResumptionToken",
        "badVerb",
        "cannotDisseminateFormat",
        "idDoesNotExist",
        "noRecordsMatch",
        "noMetadataFormats",
        "noSetHierarchy",
    }
    assert set(ERROR_CLASSES) == codes
    for code, cls in ERROR_CLASSES.items():
        assert cls.code == code and issubclass(cls, OaiPmhError) and issubclass(cls, ConnectorError)


def test_a_dead_port_fails_quickly_with_a_connector_error() -> None:
    dead = OaiHarvester(f"http://127.0.0.1:{free_port()}/oai", mapping=MAPPING, library="TST")
    started = time.monotonic()

    with pytest.raises(CatalogUnavailable) as raised:
        list(dead.harvest(None))

    assert time.monotonic() - started < 2
    assert raised.value.peer == "TST"


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/oai"
        mute = OaiHarvester(
            url, mapping=MAPPING, library="TST", timeout=0.3, retries=1, retry_wait=0.0
        )
        started = time.monotonic()

        with pytest.raises(CatalogUnavailable, match=r"no answer within 0\.3 s"):
            list(mute.harvest(None))

    assert time.monotonic() - started < 3


def test_a_response_larger_than_the_limit_is_refused(oai_server: OaiTestServer) -> None:
    with pytest.raises(BadResponse, match="larger than"):
        list(harvester(oai_server, max_bytes=4096).harvest(None))


def test_since_must_say_its_time_zone(oai_server: OaiTestServer) -> None:
    with pytest.raises(ValueError, match="aware"):
        harvester(oai_server).harvest(datetime(2024, 1, 1))


# ---------------------------------------------------------------- off the event loop


async def test_harvest_async_leaves_the_event_loop_free(oai_server: OaiTestServer) -> None:
    oai_server.delay = 0.1
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        items = [item async for item in harvester(oai_server).harvest_async(None, batch=10)]
    finally:
        ticking.cancel()

    assert numbers(items, Upsert) == GOOD
    # Five pages at 0.1 s each: a loop blocked by the harvest could not have ticked.
    assert ticks >= 20


async def test_harvest_async_hands_out_the_first_page_before_the_interruption(
    oai_server: OaiTestServer,
) -> None:
    oai_server.faults.kind = Fault.HTML
    received: list[HarvestItem] = []

    with pytest.raises(HarvestInterrupted) as raised:
        async for item in harvester(oai_server).harvest_async(None, batch=100):
            received.append(item)

    assert len(received) == raised.value.yielded == 7
    assert raised.value.last_datestamp == stamp(7)


async def test_stopping_an_async_harvest_stops_asking_the_repository(
    oai_server: OaiTestServer,
) -> None:
    run = harvester(oai_server).harvest(None)
    async with aclosing(run.items_async(batch=2)) as items:
        async for _item in items:
            break

    assert len(oai_server.list_requests()) == 1
    assert list(run) == []  # closed: nothing more comes
    assert not run.complete


async def test_an_async_run_keeps_its_counts(oai_server: OaiTestServer) -> None:
    run = harvester(oai_server).harvest(None)
    items = [item async for item in run.items_async(batch=4)]

    assert len(items) == run.yielded == 31
    assert run.counts["upserts"] == 25 and run.complete


# ---------------------------------------------------------------- the test repository itself


def test_every_response_the_repository_writes_is_well_formed_oai_pmh(
    oai_server: OaiTestServer, assert_valid: Callable[[str, bytes], None]
) -> None:
    list(harvester(oai_server).harvest(None))
    list(harvester(oai_server).harvest(stamp(12)))
    client = OaiClient(oai_server.url)
    try:
        client.harvest(verb="ListMetadataFormats")
        client.harvest(verb="GetRecord", metadataPrefix="marc21", identifier=identifier(3))
    finally:
        client.close()

    assert {e.params["verb"] for e in oai_server.log} == {
        "Identify",
        "ListRecords",
        "ListMetadataFormats",
        "GetRecord",
    }
    for exchange in oai_server.log:
        assert exchange.status == 200 and not exchange.altered
        _assert_oai_pmh(exchange.body, exchange.params, assert_valid)


def _assert_oai_pmh(
    body: bytes, params: dict[str, str], assert_valid: Callable[[str, bytes], None]
) -> None:
    """OAI-PMH 2.0 §3.2: responseDate, request, then the verb's element (or errors);
    records as §2.5 has them, with MARCXML valid against MARC21slim.xsd."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(body, parser)
    assert root.tag == f"{OAI}OAI-PMH"
    children = list(root)
    assert [c.tag for c in children[:2]] == [f"{OAI}responseDate", f"{OAI}request"]
    assert (children[0].text or "").endswith("Z")
    parse_datestamp(children[0].text or "")
    assert children[1].get("verb") == params["verb"]
    (content,) = children[2:]
    if content.tag == f"{OAI}error":
        return
    assert content.tag == f"{OAI}{params['verb']}"
    for record in content.iter(f"{OAI}record"):
        header, *rest = list(record)
        assert header.tag == f"{OAI}header"
        assert [c.tag for c in header][:2] == [f"{OAI}identifier", f"{OAI}datestamp"]
        parse_datestamp(header.findtext(f"{OAI}datestamp") or "")
        if header.get("status") == "deleted":
            assert rest == []
            continue
        assert header.get("status") is None
        (metadata,) = rest
        (marc,) = list(metadata)
        assert marc.tag == f"{{{MARC_NS}}}record"
        assert_valid("MARC21slim.xsd", etree.tostring(marc))
    token = content.find(f"{OAI}resumptionToken")
    if token is not None:
        assert content[-1] is token


# ---------------------------------------------------------------- datestamps and the DOCTYPE guard


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-03-01T10:20:30Z", datetime(2024, 3, 1, 10, 20, 30, tzinfo=UTC)),
        ("2024-03-01T10:20:30.123Z", datetime(2024, 3, 1, 10, 20, 30, tzinfo=UTC)),
    ],
)
def test_datestamps_are_read_as_utc(text: str, moment: datetime) -> None:
    assert parse_datestamp(text) == moment


@pytest.mark.parametrize(
    "text", ["", "2024-03-01T10:20:30", "2024-13-01", "yesterday", "2024-03-01T10:20Z"]
)
def test_what_is_not_a_datestamp_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datestamp(text)


def test_from_is_written_in_utc_at_the_granularity() -> None:
    # 02:30 in Ljubljana is 01:30 UTC.
    east = datetime(2024, 3, 1, 2, 30, tzinfo=ZoneInfo("Europe/Ljubljana"))
    assert format_datestamp(east, Granularity.SECOND) == "2024-03-01T01:30:00Z"
    assert format_datestamp(east, Granularity.DAY) == "2024-03-01"


def test_a_doctype_without_entities_is_left_alone() -> None:
    body = b'<?xml version="1.0"?>\n<!DOCTYPE OAI-PMH [<!ELEMENT x ANY>]>\n<OAI-PMH/>'
    assert defuse_doctype(body) == (body, False)
