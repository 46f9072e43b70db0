"""CQL building and searchRetrieve response parsing, without a server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from broker.domain.consortium import HoldingsMapping
from broker.domain.holdings import ItemStatus, MaterialType
from connectors.errors import BadResponse, CatalogUnavailable, ConnectorError
from connectors.marc.records import Problem
from connectors.sru import cql
from connectors.sru.diagnostics import (
    DIAGNOSTICS,
    Diagnostic,
    FirstRecordOutOfRange,
    GeneralSystemError,
    QueryError,
    QuerySyntaxError,
    SruError,
    SystemTemporarilyUnavailable,
    UnknownSchema,
    UnsupportedContextSet,
    UnsupportedIndex,
    UnsupportedOperation,
    UnsupportedVersion,
    error_for,
)
from connectors.sru.response import SruPage, parse_search_response

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sru"
KOHA = HoldingsMapping(
    tag="952", branch="b", call_number="o", barcode="p", status="7", due_date="q", lost="1"
)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(body: bytes, start: int = 1) -> SruPage:
    return parse_search_response(body, KOHA, "SI-KR", start=start, peer="SI-KR")


# ---------------------------------------------------------------- CQL


@pytest.mark.parametrize(
    ("term", "quoted"),
    [
        ("ocean currents", '"ocean currents"'),
        ('say "hello"', '"say \\"hello\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("wild* card? ^anchor", '"wild\\* card\\? \\^anchor"'),
        ("  line\nbreaks\tand   runs  ", '"line breaks and runs"'),
        ("a) or dc.title=(b", '"a) or dc.title=(b"'),
        ("Sneguljčica", '"Sneguljčica"'),
    ],
)
def test_quote_makes_user_text_one_literal_term(term: str, quoted: str) -> None:
    assert cql.quote(term) == quoted


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            cql.isbn("0-306-40615-2"),
            '(bath.isbn="9780306406157" or bath.isbn="978-0-306-40615-7"'
            ' or bath.isbn="0306406152" or bath.isbn="0-306-40615-2")',
        ),
        (
            cql.isbn("979-10-554-2001-1"),
            '(bath.isbn="9791055420011" or bath.isbn="979-10-554-2001-1")',
        ),
        (cql.issn("1392012x"), '(bath.issn="1392-012X" or bath.issn="1392012X")'),
        (cql.title("Ocean currents"), 'dc.title all "Ocean currents"'),
        (cql.author("Marsh"), 'dc.creator all "Marsh"'),
        (cql.keyword("lighthouses"), 'cql.serverChoice all "lighthouses"'),
        (
            cql.title("x", cql.CqlIndexes(title="alma.title")),
            'alma.title all "x"',
        ),
        (
            cql.all_of(cql.title("a"), cql.author("b")),
            '(dc.title all "a") and (dc.creator all "b")',
        ),
        (cql.all_of(cql.title("a")), 'dc.title all "a"'),
    ],
)
def test_cql_queries(query: str, expected: str) -> None:
    assert query == expected


@pytest.mark.parametrize(
    "build",
    [
        lambda: cql.isbn("0306406153"),
        lambda: cql.isbn("not a number"),
        lambda: cql.issn("1392-0120"),
        lambda: cql.title("   "),
        lambda: cql.keyword(""),
        lambda: cql.all_of(),
    ],
)
def test_cql_refuses_what_cannot_be_searched(build: Callable[[], str]) -> None:
    with pytest.raises(ValueError):
        build()


# ---------------------------------------------------------------- diagnostics


@pytest.mark.parametrize(
    ("number", "cls"),
    [
        (1, GeneralSystemError),
        (2, SystemTemporarilyUnavailable),
        (4, UnsupportedOperation),
        (5, UnsupportedVersion),
        (10, QuerySyntaxError),
        (13, QuerySyntaxError),
        (15, UnsupportedContextSet),
        (16, UnsupportedIndex),
        (61, FirstRecordOutOfRange),
        (66, UnknownSchema),
        (999, SruError),
    ],
)
def test_diagnostic_numbers_map_to_classes(number: int, cls: type[SruError]) -> None:
    error = error_for(Diagnostic(f"info:srw/diagnostic/1/{number}", "message"), peer="P")
    assert type(error) is cls
    assert isinstance(error, ConnectorError)
    assert error.peer == "P"
    assert error.uri.endswith(f"/{number}")


def test_every_query_diagnostic_is_a_query_error() -> None:
    for number, cls in DIAGNOSTICS.items():
        assert issubclass(cls, QueryError) == (10 <= number <= 48), number


def test_temporarily_unavailable_is_also_catalog_unavailable() -> None:
    body = fixture("diagnostic-1.2-2.xml")
    with pytest.raises(CatalogUnavailable) as caught:
        parse(body)
    assert isinstance(caught.value, SystemTemporarilyUnavailable)
    assert "nightly reindex" in str(caught.value)
    assert str(caught.value).startswith("SI-KR: ")


def test_unknown_diagnostic_set_is_the_base_class() -> None:
    with pytest.raises(SruError) as caught:
        parse(fixture("diagnostic-2.0-unknown.xml"))
    assert type(caught.value) is SruError
    assert caught.value.uri == "info:example/diagnostic/licence-expired"
    assert "Licence expired" in caught.value.message


# ---------------------------------------------------------------- responses


def test_sru_2_0_response(assert_valid: Callable[[str, bytes], None]) -> None:
    body = fixture("searchRetrieve-2.0.xml")
    # The fixture is checked against the official schema so that the parser is
    # tested on what SRU 2.0 servers may really send.
    assert_valid("sruResponse.xsd", body)
    page = parse(body, start=3)
    assert (page.version, page.total, page.next_position) == ("2.0", 5, 5)
    (record,) = page.records
    assert record.record_id == "KR-77"
    assert record.isbns == ("9789616241014",)
    assert [h.status for h in record.holdings] == [ItemStatus.AVAILABLE, ItemStatus.ON_LOAN]
    assert record.holdings[1].due_date == date(2031, 2, 3)
    (error,) = page.errors
    assert (error.position, error.code) == (4, Problem.SURROGATE_DIAGNOSTIC)
    assert "info:srw/diagnostic/1/64" in error.message
    assert page.raw == body


def test_sru_1_2_string_packing() -> None:
    page = parse(fixture("searchRetrieve-1.2-string.xml"))
    assert (page.version, page.total, page.next_position) == ("1.2", 1, None)
    (record,) = page.records
    assert (record.record_id, record.material, record.issns) == (
        "J-1",
        MaterialType.JOURNAL,
        ("1392-012X",),
    )


def _response_1_2(records: str, total: int = 3, extra: str = "") -> bytes:
    return (
        '<zs:searchRetrieveResponse xmlns:zs="http://www.loc.gov/zing/srw/">'
        f"<zs:version>1.2</zs:version><zs:numberOfRecords>{total}</zs:numberOfRecords>"
        f"<zs:records>{records}</zs:records>{extra}</zs:searchRetrieveResponse>"
    ).encode()


def _record_1_2(data: str, position: int | None = None) -> str:
    where = f"<zs:recordPosition>{position}</zs:recordPosition>" if position else ""
    return (
        "<zs:record><zs:recordSchema>marcxml</zs:recordSchema>"
        f"<zs:recordPacking>xml</zs:recordPacking><zs:recordData>{data}</zs:recordData>"
        f"{where}</zs:record>"
    )


MARC = (
    '<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500</leader>'
    '<controlfield tag="001">{id}</controlfield><datafield tag="245" ind1="0" ind2="0">'
    '<subfield code="a">{title}</subfield></datafield></record>'
)


def test_next_position_is_computed_when_the_server_leaves_it_out() -> None:
    # Zebra never sends nextRecordPosition; positions say where the page ended.
    records = _record_1_2(MARC.format(id="a", title="A"), 1) + _record_1_2(
        MARC.format(id="b", title="B"), 2
    )
    assert parse(_response_1_2(records, total=3)).next_position == 3
    assert parse(_response_1_2(records, total=2)).next_position is None


def test_positions_default_to_start_record() -> None:
    records = _record_1_2(MARC.format(id="a", title="")) + _record_1_2(
        MARC.format(id="b", title="B")
    )
    page = parse(_response_1_2(records, total=9), start=5)
    assert [e.position for e in page.errors] == [5]
    assert page.errors[0].code == Problem.MISSING_245
    assert page.next_position == 7


def test_non_fatal_diagnostics_beside_records_are_kept() -> None:
    diagnostics = (
        '<zs:diagnostics><diagnostic xmlns="http://www.loc.gov/zing/srw/diagnostic/">'
        "<uri>info:srw/diagnostic/1/67</uri><message>Record not available</message>"
        "</diagnostic></zs:diagnostics>"
    )
    page = parse(_response_1_2(_record_1_2(MARC.format(id="a", title="A"), 1), 1, diagnostics))
    assert len(page.records) == 1
    assert page.diagnostics == (Diagnostic("info:srw/diagnostic/1/67", "Record not available"),)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"<html><body>Gateway timeout</body></html>", "not an SRU"),
        (b"not xml at all", "not well-formed"),
        (b"", "not well-formed"),
        (
            b'<zs:searchRetrieveResponse xmlns:zs="http://www.loc.gov/zing/srw/">'
            b"<zs:version>1.2</zs:version></zs:searchRetrieveResponse>",
            "numberOfRecords",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<zs:searchRetrieveResponse xmlns:zs="http://www.loc.gov/zing/srw/">'
            b"<zs:numberOfRecords>&x;</zs:numberOfRecords></zs:searchRetrieveResponse>",
            "entities",
        ),
    ],
)
def test_what_is_not_an_sru_response(body: bytes, fragment: str) -> None:
    with pytest.raises(BadResponse) as caught:
        parse(body)
    assert fragment in str(caught.value)
    assert caught.value.peer == "SI-KR"


def test_records_in_the_response_are_not_expanded_entities() -> None:
    # An SRU server is a peer too: its records get the MARC reader's treatment.
    body = _response_1_2(_record_1_2("<foo>not marc</foo>", 1), total=1)
    page = parse(body)
    assert page.records == ()
    assert page.errors[0].code == Problem.NOT_MARCXML


def test_hardened_parser_has_no_network_and_no_entities() -> None:
    from connectors.sru.response import hardened_parser

    parser = hardened_parser()
    doc = etree.fromstring(b'<!DOCTYPE a [<!ENTITY e "boom">]><a>&e;</a>', parser)
    assert doc.text is None  # the entity stays a reference, never its text
