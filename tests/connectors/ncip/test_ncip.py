"""The NCIP register connector: its messages against ncip_v2_02.xsd, its parse of
fixture responses, and ``NcipRegister`` against a real NCIP responder over HTTP
(``ncip_responder``), including one that hangs, resets, lies and attacks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from lxml import etree

from broker.domain.register import RegisterEntry
from connectors.errors import BadResponse, ConnectorError, RegisterUnavailable
from connectors.ncip import errors
from connectors.ncip.client import NcipRegister
from connectors.ncip.errors import (
    PROBLEMS,
    InvalidMessageSyntax,
    NcipBadResponse,
    NcipProblem,
    Problem,
    TemporaryProcessingFailure,
    UnknownAgency,
    UnknownService,
    UserAccessDenied,
)
from connectors.ncip.messages import (
    ELEMENT_TYPES,
    NCIP_NS,
    USER_ELEMENT_TYPES,
    lookup_user_request,
    parse_lookup_user_response,
)

from conformance import assert_valid, conformance_schema
from ncip_responder import AGENCY, SCHEMA, Fault, NcipResponder, check_exchanges
from ncip_responder import NS as RESPONDER_NS

FIXTURES = Path(__file__).parent / "fixtures"
TODAY = date(2025, 6, 1)  # what the fixture files' validity dates are read against


def _q(name: str) -> str:
    return f"{{{NCIP_NS}}}{name}"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# --- the request -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "card_number", ["1001", "  1002 ", "ČUK-0042", "<&>'\"", "ア1234", "x" * 200]
)
@pytest.mark.parametrize(
    "element_types",
    [ELEMENT_TYPES, (), ("Name Information",), tuple(sorted(USER_ELEMENT_TYPES))],
    ids=["borrower-check", "none", "name-only", "all"],
)
@pytest.mark.parametrize("fiscal_account", [True, False], ids=["fines", "no-fines"])
def test_lookup_user_request_validates(
    card_number: str, element_types: tuple[str, ...], fiscal_account: bool
) -> None:
    message = lookup_user_request(
        card_number,
        from_agency="ILLBROKER",
        to_agency="SI-LJMK",
        element_types=element_types,
        fiscal_account=fiscal_account,
    )
    assert message.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert_valid(SCHEMA, message)
    root = etree.fromstring(message)
    lookup = root.find(_q("LookupUser"))
    assert lookup is not None
    assert root.get(_q("version")) == "http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd"
    assert lookup.findtext(f"{_q('UserId')}/{_q('UserIdentifierValue')}") == card_number.strip()
    assert lookup.findtext(f"{_q('UserId')}/{_q('AgencyId')}") == "SI-LJMK"
    header = f"{_q('InitiationHeader')}/"
    assert lookup.findtext(f"{header}{_q('FromAgencyId')}/{_q('AgencyId')}") == "ILLBROKER"
    assert lookup.findtext(f"{header}{_q('ToAgencyId')}/{_q('AgencyId')}") == "SI-LJMK"
    assert [e.text for e in lookup.iterfind(_q("UserElementType"))] == list(element_types)
    assert (lookup.find(_q("UserFiscalAccountDesired")) is not None) is fiscal_account


def test_the_borrower_check_asks_for_what_it_compares() -> None:
    assert set(ELEMENT_TYPES) == {
        "Name Information",
        "User Address Information",
        "Date Of Birth",
        "User Privilege",
        "Block Or Trap",
    }


def test_attributes_are_namespace_qualified_as_the_schema_demands() -> None:
    """attributeFormDefault="qualified": a bare Scheme or version does not validate,
    so the connector's ns1:Scheme and ns1:version are not a matter of taste."""
    schema = conformance_schema(SCHEMA)
    root = etree.fromstring(
        lookup_user_request("1001", from_agency="ILLBROKER", to_agency="SI-LJMK")
    )
    assert schema.validate(root)
    for element in root.iter(_q("UserElementType")):
        element.set("Scheme", element.attrib.pop(_q("Scheme")))
    assert not schema.validate(root)
    root = etree.fromstring(
        lookup_user_request("1001", from_agency="ILLBROKER", to_agency="SI-LJMK")
    )
    root.set("version", root.attrib.pop(_q("version")))
    assert not schema.validate(root)


@pytest.mark.parametrize(
    ("card_number", "from_agency", "to_agency", "element_types"),
    [
        ("", "ILLBROKER", "SI-LJMK", ELEMENT_TYPES),
        ("   ", "ILLBROKER", "SI-LJMK", ELEMENT_TYPES),
        ("1001", "", "SI-LJMK", ELEMENT_TYPES),
        ("1001", "ILLBROKER", " ", ELEMENT_TYPES),
        ("1001", "ILLBROKER", "SI-LJMK", ("Name",)),
        ("10\x0001", "ILLBROKER", "SI-LJMK", ELEMENT_TYPES),
    ],
    ids=["empty-card", "blank-card", "no-from", "no-to", "bad-element-type", "control-char"],
)
def test_lookup_user_request_refuses(
    card_number: str, from_agency: str, to_agency: str, element_types: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        lookup_user_request(
            card_number, from_agency=from_agency, to_agency=to_agency, element_types=element_types
        )


# --- parsing fixture responses --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    file: str
    card_number: str
    expected: RegisterEntry | type[ConnectorError] | None


CASES = [
    Case(
        "lookup_user_response.xml",
        "1001",
        RegisterEntry(
            card_number="1001",
            surname="Čuk",
            given_name="Žiga",
            birth_date=date(1990, 3, 14),
            email="ziga.cuk@example.si",
            category="adult",
            fee_paid=True,
            statement_signed=True,
            blocked=False,
            expires=date(2028, 6, 30),
            fines_due=Decimal("0.00"),
        ),
    ),
    Case(
        "lookup_user_response_restricted.xml",
        "1003",
        RegisterEntry(
            card_number="1003",
            surname="Åström",
            given_name="Björn",
            birth_date=date(1972, 7, 21),
            email=None,
            category="adult",
            fee_paid=False,
            statement_signed=False,
            blocked=True,
            expires=date(2024, 12, 31),
            fines_due=Decimal("45.00"),
        ),
    ),
    Case(
        "lookup_user_response_unstructured_name.xml",
        " 1002 ",
        RegisterEntry(card_number="1002", surname="Bērziņa", given_name="Ilze Anna"),
    ),
    Case(
        "lookup_user_response_lapsed.xml",
        "1004",
        RegisterEntry(
            card_number="1004",
            surname="Müller",
            given_name="Jürgen",
            birth_date=date(1964, 1, 9),
            email="juergen.mueller@example.nl",
            category="digital",
            fee_paid=False,
            statement_signed=None,
            blocked=False,
            expires=date(2027, 3, 31),
            fines_due=Decimal("6.20"),
        ),
    ),
    Case(
        "lookup_user_response_agency_block.xml",
        "1005",
        RegisterEntry(
            card_number="1005", surname="Novak", given_name="", blocked=True,
            fines_due=Decimal("1200"),
        ),
    ),
    Case("lookup_user_response_unknown_fee_status.xml", "1001", NcipBadResponse),
    Case("problem_unknown_user.xml", "9999", None),
    Case("problem_unknown_agency.xml", "1001", UnknownAgency),
    Case("problem_temporary_processing_failure.xml", "1001", TemporaryProcessingFailure),
    Case("problem_user_access_denied.xml", "1001", UserAccessDenied),
    Case("problem_invalid_message_syntax_error.xml", "1001", InvalidMessageSyntax),
    Case("problem_unknown_user_and_unknown_agency.xml", "1001", UnknownAgency),
    Case("problem_unlisted.xml", "1001", NcipProblem),
    Case("lookup_item_response.xml", "1001", NcipBadResponse),
    Case("bad_ncip_v1.xml", "1001", NcipBadResponse),
    Case("bad_unqualified_lookup_user_response.xml", "1001", NcipBadResponse),
    Case("bad_doctype_entities.xml", "1001", NcipBadResponse),
    Case("bad_external_dtd.xml", "1001", NcipBadResponse),
    Case("bad_truncated.xml", "1001", NcipBadResponse),
]


def test_every_fixture_has_a_case() -> None:
    assert {p.name for p in FIXTURES.glob("*.xml")} == {case.file for case in CASES}


@pytest.mark.parametrize(
    "name", sorted(p.name for p in FIXTURES.glob("*.xml") if not p.name.startswith("bad_"))
)
def test_fixture_responses_validate(name: str) -> None:
    """The fixtures are real NCIP 2.02; the ``bad_`` ones are not, on purpose."""
    assert_valid(SCHEMA, fixture(name))


@pytest.mark.parametrize("case", CASES, ids=[case.file for case in CASES])
def test_parse_lookup_user_response(case: Case) -> None:
    body = fixture(case.file)
    if isinstance(case.expected, type):
        with pytest.raises(case.expected) as raised:
            parse_lookup_user_response(body, case.card_number, peer="SI-LJMK", today=TODAY)
        assert raised.value.peer == "SI-LJMK"
        if case.expected is NcipProblem:
            assert type(raised.value) is NcipProblem
            assert raised.value.problem.type == "Library Closed For Inventory"
        return
    assert parse_lookup_user_response(body, case.card_number, today=TODAY) == case.expected


def test_a_problem_keeps_what_the_register_wrote_but_tells_no_card_number() -> None:
    with pytest.raises(TemporaryProcessingFailure) as raised:
        parse_lookup_user_response(
            fixture("problem_temporary_processing_failure.xml"), "1001", peer="SI-LJMK"
        )
    problem = raised.value.problem
    assert problem == Problem(
        type="Temporary Processing Failure",
        scheme="http://www.niso.org/ncip/v1_0/schemes/processingerrortype/"
        "generalprocessingerror.scm",
        detail="database backup in progress",
        element="UserId",
        value="1001",
    )
    # The card number is personal data; the message goes to logs.
    assert "1001" not in str(raised.value)
    assert "database backup in progress" in str(raised.value)
    assert isinstance(raised.value, RegisterUnavailable)


def test_parse_refuses_an_oversized_message() -> None:
    body = fixture("lookup_user_response.xml")
    with pytest.raises(NcipBadResponse, match="over"):
        parse_lookup_user_response(body, "1001", max_bytes=len(body) - 1)


@pytest.mark.parametrize(
    "body",
    [b"", b"\x00\xff\xfe", b"<html><body>Bad gateway<br></body></html>", b"{\"error\": 1}"],
    ids=["empty", "binary", "html", "json"],
)
def test_parse_refuses_garbage(body: bytes) -> None:
    with pytest.raises(NcipBadResponse):
        parse_lookup_user_response(body, "1001")


def test_the_problem_table_is_explicit_and_closed() -> None:
    assert PROBLEMS["unknown user"] is errors.UnknownUser
    for key, cls in PROBLEMS.items():
        assert key == errors.problem_key(key)
        assert issubclass(cls, NcipProblem)
    assert issubclass(NcipBadResponse, BadResponse)
    assert issubclass(NcipBadResponse, RegisterUnavailable)
    assert not issubclass(UnknownAgency, RegisterUnavailable)
    assert isinstance(
        errors.error_for(Problem("  unknown   AGENCY ")), UnknownAgency
    ), "values are matched whatever their case and spacing"
    # Only the reading of a LookupUserResponse takes Unknown User for an answer.
    assert errors.is_unknown_user(Problem("unknown  user"))
    assert isinstance(errors.error_for(Problem("Unknown User")), errors.UnknownUser)


# --- against the responder -----------------------------------------------------------------

EXPECTED = {
    "1001": RegisterEntry(
        card_number="1001", surname="Čuk", given_name="Žiga", birth_date=date(1990, 3, 14),
        email="ziga.cuk@example.si", category="adult", fee_paid=True, statement_signed=True,
        blocked=False, expires=date(2028, 6, 30), fines_due=Decimal("0.00"),
    ),
    "1002": RegisterEntry(
        card_number="1002", surname="Bērziņa", given_name="Ilze Anna",
        birth_date=date(1985, 11, 2), email="ilze.berzina@example.lv", category="student",
        fee_paid=True, statement_signed=False, blocked=False, expires=date(2027, 9, 1),
        fines_due=Decimal("2.50"),
    ),
    "1003": RegisterEntry(
        card_number="1003", surname="Åström", given_name="Björn", birth_date=date(1972, 7, 21),
        email="bjorn.astrom@example.se", category="adult", fee_paid=False,
        statement_signed=True, blocked=True, expires=date(2029, 1, 31),
        fines_due=Decimal("45.00"),
    ),
    "1004": RegisterEntry(
        card_number="1004", surname="Müller", given_name="Jürgen", birth_date=date(1964, 1, 9),
        email=None, category="digital", fee_paid=None, statement_signed=None, blocked=False,
        expires=date(2020, 1, 31), fines_due=None,
    ),
    "1005": RegisterEntry(
        card_number="1005", surname="Novak", given_name="Ana", birth_date=date(2001, 5, 30),
        email="ana.novak@example.si", category="child", fee_paid=True, statement_signed=True,
        blocked=False, expires=date(2030, 12, 31), fines_due=None,
    ),
}  # fmt: skip


def register(
    responder: NcipResponder, http: aiohttp.ClientSession, *, timeout: float = 5.0,
    agency_id: str = AGENCY, url: str | None = None,
) -> NcipRegister:
    return NcipRegister(
        url or responder.url, http, library="SI-LJMK", agency_id=agency_id, timeout=timeout
    )


@pytest.mark.parametrize("card_number", sorted(EXPECTED))
async def test_lookup_known_patron(
    ncip_responder: NcipResponder, http: aiohttp.ClientSession, card_number: str
) -> None:
    entry = await register(ncip_responder, http).lookup(card_number)
    assert entry == EXPECTED[card_number]
    check_exchanges(ncip_responder)


async def test_names_arrive_letter_for_letter(
    ncip_responder: NcipResponder, http: aiohttp.ClientSession
) -> None:
    """UTF-8 on the wire both ways: Č, ē, ņ, Å, ö, ü are the register's own letters."""
    names = [await register(ncip_responder, http).lookup(card) for card in EXPECTED]
    assert [(e.surname, e.given_name) for e in names if e is not None] == [
        ("Čuk", "Žiga"), ("Bērziņa", "Ilze Anna"), ("Åström", "Björn"), ("Müller", "Jürgen"),
        ("Novak", "Ana"),
    ]  # fmt: skip
    check_exchanges(ncip_responder)


async def test_lookups_run_side_by_side(
    ncip_responder: NcipResponder, http: aiohttp.ClientSession
) -> None:
    connector = register(ncip_responder, http)
    cards = sorted(EXPECTED) * 3
    entries = await asyncio.gather(*(connector.lookup(card) for card in cards))
    assert entries == [EXPECTED[card] for card in cards]
    check_exchanges(ncip_responder)


async def test_unknown_card_is_none(
    ncip_responder: NcipResponder, http: aiohttp.ClientSession
) -> None:
    assert await register(ncip_responder, http).lookup("0000") is None
    check_exchanges(ncip_responder)
    answer = etree.fromstring(ncip_responder.exchanges[-1].response)
    assert answer.findtext(f".//{_q('ProblemType')}") == "Unknown User"


async def test_responder_answers_an_invalid_message_with_a_problem(
    ncip_responder: NcipResponder, http: aiohttp.ClientSession
) -> None:
    """The responder really validates: a LookupUser with bare Scheme attributes is
    refused with a Problem that itself validates, and reads as InvalidMessageSyntax."""
    message = lookup_user_request("1001", from_agency="ILLBROKER", to_agency=AGENCY)
    bare = message.replace(b"ns1:Scheme=", b"Scheme=")
    async with http.post(ncip_responder.url, data=bare) as response:
        body = await response.read()
    assert_valid(SCHEMA, body)
    assert ncip_responder.exchanges[-1].request_errors != ()
    with pytest.raises(InvalidMessageSyntax, match="Scheme"):
        parse_lookup_user_response(body, "1001")


async def test_responder_refuses_other_services(
    ncip_responder: NcipResponder, http: aiohttp.ClientSession
) -> None:
    message = (
        f'<ns1:NCIPMessage xmlns:ns1="{RESPONDER_NS}" ns1:version="2.02"><ns1:LookupAgency>'
        "<ns1:InitiationHeader><ns1:FromAgencyId><ns1:AgencyId>ILLBROKER</ns1:AgencyId>"
        "</ns1:FromAgencyId><ns1:ToAgencyId><ns1:AgencyId>SI-LJMK</ns1:AgencyId>"
        "</ns1:ToAgencyId></ns1:InitiationHeader><ns1:AgencyId>SI-LJMK</ns1:AgencyId>"
        "<ns1:AgencyElementType>Organization Name Information</ns1:AgencyElementType>"
        "</ns1:LookupAgency></ns1:NCIPMessage>"
    ).encode()
    assert_valid(SCHEMA, message)
    async with http.post(ncip_responder.url, data=message) as response:
        body = await response.read()
    assert_valid(SCHEMA, body)
    with pytest.raises(UnknownService):
        parse_lookup_user_response(body, "1001")


async def test_refused_connection_is_register_unavailable(
    http: aiohttp.ClientSession, dead_url: str
) -> None:
    connector = NcipRegister(dead_url, http, library="SI-LJMK", agency_id=AGENCY, timeout=2)
    with pytest.raises(RegisterUnavailable, match="cannot reach"):
        await connector.lookup("1001")


def _chain(exc: BaseException | None) -> str:
    text = []
    while exc is not None:
        text.append(f"{exc!s} {exc!r}")
        exc = exc.__cause__ or exc.__context__
    return "\n".join(text)


async def test_xxe_response_is_refused_and_leaks_nothing(
    ncip_responder: NcipResponder, http: aiohttp.ClientSession, secret_file: Path
) -> None:
    secret = secret_file.read_text(encoding="utf-8")
    ncip_responder.fault = Fault.XXE
    with pytest.raises(NcipBadResponse, match="declares entities") as raised:
        await register(ncip_responder, http).lookup("1001")
    assert secret not in _chain(raised.value)
    assert "XXE-CANARY" not in _chain(raised.value)

    body = ncip_responder.exchanges[-1].response
    assert b"<!ENTITY xxe SYSTEM" in body and secret_file.as_uri().encode() in body
    # The attack is real: a trusting parser would have put the file into the surname.
    trusting = etree.XMLParser(resolve_entities=True, no_network=True, load_dtd=True)
    assert "XXE-CANARY" in etree.tostring(etree.fromstring(body, trusting), encoding="unicode")


async def test_huge_response_is_cut_off_at_the_limit(
    ncip_responder: NcipResponder, http: aiohttp.ClientSession
) -> None:
    ncip_responder.fault = Fault.HUGE
    with pytest.raises(NcipBadResponse, match="over"):
        await register(ncip_responder, http).lookup("1001")


async def test_http_500_says_so(
    ncip_responder: NcipResponder, http: aiohttp.ClientSession
) -> None:
    ncip_responder.fault = Fault.HTTP_500
    with pytest.raises(RegisterUnavailable, match="HTTP 500"):
        await register(ncip_responder, http).lookup("1001")


async def test_every_response_the_responder_sends_validates(
    ncip_responder: NcipResponder, http: aiohttp.ClientSession
) -> None:
    """One of each kind of answer: users with every element, unknown user, unknown
    agency, temporary failure; every one validates against the official schema."""
    connector = register(ncip_responder, http)
    for card in [*EXPECTED, "0000"]:
        await connector.lookup(card)
    for element_types in [(), ("Name Information",), ("Block Or Trap", "User Privilege")]:
        message = lookup_user_request(
            "1003", from_agency="ILLBROKER", to_agency=AGENCY, element_types=element_types,
            fiscal_account=False,
        )
        async with http.post(ncip_responder.url, data=message) as response:
            assert response.status == 200
    with pytest.raises(UnknownAgency):
        await register(ncip_responder, http, agency_id="LV-NONE").lookup("1001")
    ncip_responder.fault = Fault.TEMPORARY_FAILURE
    with pytest.raises(TemporaryProcessingFailure):
        await connector.lookup("1001")
    assert len(ncip_responder.exchanges) == len(EXPECTED) + 1 + 3 + 2
    for exchange in ncip_responder.exchanges:
        assert exchange.response_errors == ()
        assert_valid(SCHEMA, exchange.response)
