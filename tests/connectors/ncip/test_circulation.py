"""The NCIP circulation connector: Accept Item, Check Out Item, Renew Item and Check In
Item messages against ncip_v2_02.xsd, the reading of their responses from fixtures,
and ``NcipCirculation`` against a real NCIP responder over HTTP (``ncip_responder``):
a whole loan, the Problems an ILS answers, and a responder that is down, slow or
hanging.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import aiohttp
import pytest
from lxml import etree

from connectors.errors import ConnectorError, RegisterUnavailable
from connectors.ncip import errors
from connectors.ncip.circulation import NcipCirculation
from connectors.ncip.errors import (
    CirculationUnavailable,
    InvalidMessageSyntax,
    NcipBadResponse,
    NcipProblem,
    Problem,
    TemporaryProcessingFailure,
)
from connectors.ncip.messages import (
    ACCEPT_ITEM,
    CHECK_IN_ITEM,
    CHECK_OUT_ITEM,
    HOLD_FOR_PICKUP,
    NCIP_NS,
    RENEW_ITEM,
    REQUESTED_ACTION_TYPES,
    accept_item_request,
    check_in_item_request,
    check_out_item_request,
    parse_circulation_response,
    renew_item_request,
)

from conformance import assert_valid, conformance_schema
from ncip_responder import (
    AGENCY,
    LOAN_DAYS,
    MAX_RENEWALS,
    RENEWAL_DAYS,
    SCHEMA,
    Loan,
    NcipResponder,
    check_exchanges,
)

FIXTURES = Path(__file__).parent / "fixtures"
CIRCULATION_FIXTURES = FIXTURES / "circulation"
BROKER = "ILLBROKER"
TODAY = date(2025, 6, 16)  # the responder's today, for due dates it computes
DUE = date(2025, 7, 15)
FAULT_TIMEOUT = 0.5
# The timeout covers the whole exchange: a hang must end at the deadline, not later.
GRACE = 1.5


def _q(name: str) -> str:
    return f"{{{NCIP_NS}}}{name}"


def _children(message: bytes, service: str) -> list[str]:
    element = etree.fromstring(message).find(_q(service))
    assert element is not None
    return [etree.QName(child).localname for child in element]


# --- the requests ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "author", "due"),
    [
        ("Zgodovina Ljubljane", "Čuk, Žiga", DUE),
        ("Bērziņa: <&> 'quoted' \"twice\"", None, None),
        ("ア" * 300, "Åström, Björn", None),
        ("  Padded title  ", "   ", DUE),
    ],
    ids=["full", "no-author-no-due", "long-title", "blank-author"],
)
def test_accept_item_request_validates(title: str, author: str | None, due: date | None) -> None:
    message = accept_item_request(
        "R-2025-0042", " 1001 ", "ILL-R-2025-0042", title=title, author=author, due=due,
        from_agency=BROKER, to_agency=AGENCY,
    )
    assert message.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert_valid(SCHEMA, message)
    assert _children(message, ACCEPT_ITEM) == [
        "InitiationHeader", "RequestId", "RequestedActionType", "UserId", "ItemId",
        "ItemOptionalFields",
    ]  # fmt: skip
    accept = etree.fromstring(message).find(_q(ACCEPT_ITEM))
    assert accept is not None
    # The broker issued the request id; the card and the item are the library's.
    assert accept.findtext(f"{_q('RequestId')}/{_q('AgencyId')}") == BROKER
    assert accept.findtext(f"{_q('RequestId')}/{_q('RequestIdentifierValue')}") == "R-2025-0042"
    action = accept.find(_q("RequestedActionType"))
    assert action is not None and action.text == HOLD_FOR_PICKUP
    assert action.attrib == {}, "a scheme-less value, as NCIP 2.02 allows"
    assert accept.findtext(f"{_q('UserId')}/{_q('AgencyId')}") == AGENCY
    assert accept.findtext(f"{_q('UserId')}/{_q('UserIdentifierValue')}") == "1001"
    assert accept.findtext(f"{_q('ItemId')}/{_q('AgencyId')}") == AGENCY
    assert accept.findtext(f"{_q('ItemId')}/{_q('ItemIdentifierValue')}") == "ILL-R-2025-0042"
    fields = accept.find(_q("ItemOptionalFields"))
    assert fields is not None
    description = fields.find(_q("BibliographicDescription"))
    assert description is not None
    has_author = bool(author and author.strip())
    assert [etree.QName(e).localname for e in description] == (
        ["Author", "Title"] if has_author else ["Title"]
    )
    assert description.findtext(_q("Title")) == title.strip()
    assert fields.findtext(_q("DateDue")) == (f"{due.isoformat()}T23:59:59" if due else None)


@pytest.mark.parametrize("action", sorted(REQUESTED_ACTION_TYPES))
def test_every_requested_action_type_validates(action: str) -> None:
    message = accept_item_request(
        "R1", "1001", "ILL-R1", title="T", from_agency=BROKER, to_agency=AGENCY, action=action
    )
    assert_valid(SCHEMA, message)
    assert etree.fromstring(message).findtext(f".//{_q('RequestedActionType')}") == action


@pytest.mark.parametrize(
    ("build", "service", "children"),
    [
        (lambda c, i: check_out_item_request(c, i, from_agency=BROKER, to_agency=AGENCY),
         CHECK_OUT_ITEM, ["InitiationHeader", "UserId", "ItemId"]),
        (lambda c, i: renew_item_request(c, i, from_agency=BROKER, to_agency=AGENCY),
         RENEW_ITEM, ["InitiationHeader", "UserId", "ItemId"]),
        (lambda c, i: check_in_item_request(i, from_agency=BROKER, to_agency=AGENCY),
         CHECK_IN_ITEM, ["InitiationHeader", "ItemId"]),
    ],
    ids=["check-out", "renew", "check-in"],
)  # fmt: skip
@pytest.mark.parametrize(
    ("card_number", "item_id"),
    [("1001", "ILL-R-2025-0042"), (" ČUK-0042 ", " <&> "), ("x" * 200, "ア1234")],
    ids=["plain", "padded-and-markup", "long-and-unicode"],
)
def test_item_requests_validate(
    build: Callable[[str, str], bytes], service: str, children: list[str], card_number: str,
    item_id: str,
) -> None:
    message = build(card_number, item_id)
    assert_valid(SCHEMA, message)
    assert _children(message, service) == children
    element = etree.fromstring(message).find(_q(service))
    assert element is not None
    assert element.findtext(f"{_q('ItemId')}/{_q('ItemIdentifierValue')}") == item_id.strip()
    if "UserId" in children:
        value = element.findtext(f"{_q('UserId')}/{_q('UserIdentifierValue')}")
        assert value == card_number.strip()


@pytest.mark.parametrize(
    "build",
    [
        lambda: accept_item_request(" ", "1001", "ILL-1", title="T", from_agency=BROKER,
                                    to_agency=AGENCY),
        lambda: accept_item_request("R1", "", "ILL-1", title="T", from_agency=BROKER,
                                    to_agency=AGENCY),
        lambda: accept_item_request("R1", "1001", "  ", title="T", from_agency=BROKER,
                                    to_agency=AGENCY),
        lambda: accept_item_request("R1", "1001", "ILL-1", title=" ", from_agency=BROKER,
                                    to_agency=AGENCY),
        lambda: accept_item_request("R1", "1001", "ILL-1", title="T", from_agency=BROKER,
                                    to_agency=AGENCY, action="Hold"),
        lambda: accept_item_request("R1", "1001", "ILL-1", title="T\x00", from_agency=BROKER,
                                    to_agency=AGENCY),
        lambda: check_out_item_request("1001", "", from_agency=BROKER, to_agency=AGENCY),
        lambda: check_out_item_request("1001", "ILL-1", from_agency="", to_agency=AGENCY),
        lambda: renew_item_request(" ", "ILL-1", from_agency=BROKER, to_agency=AGENCY),
        lambda: check_in_item_request("ILL-1", from_agency=BROKER, to_agency=" "),
    ],
    ids=[
        "no-request-id", "no-card", "no-item", "no-title", "bad-action", "control-char",
        "check-out-no-item", "check-out-no-from", "renew-no-card", "check-in-no-to",
    ],
)  # fmt: skip
def test_circulation_requests_refuse(build: Callable[[], bytes]) -> None:
    with pytest.raises(ValueError):
        build()


def test_the_responder_sees_the_element_order_the_schema_demands() -> None:
    """BibliographicDescription is Author before Title: the other way round does not
    validate, so the order the builder writes is not a matter of taste."""
    schema = conformance_schema(SCHEMA)
    root = etree.fromstring(
        accept_item_request("R1", "1001", "ILL-1", title="T", author="A", from_agency=BROKER,
                            to_agency=AGENCY)
    )
    assert schema.validate(root)
    description = root.find(f".//{_q('BibliographicDescription')}")
    assert description is not None
    description.append(description[0])  # Author moves after Title
    assert not schema.validate(root)


# --- reading fixture responses ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    file: str
    service: str
    expected: tuple[str | None, str | None, date | None] | type[ConnectorError]


CASES = [
    Case("accept_item_response.xml", ACCEPT_ITEM, ("LJMK-ILL-000123", None, None)),
    Case("accept_item_response_request_only.xml", ACCEPT_ITEM, (None, None, None)),
    Case("check_out_item_response.xml", CHECK_OUT_ITEM,
         ("ILL-R-2025-0042", "1001", date(2025, 7, 15))),
    Case("check_out_item_response_indeterminate.xml", CHECK_OUT_ITEM,
         ("ILL-R-2025-0042", "1001", None)),
    Case("check_in_item_response.xml", CHECK_IN_ITEM, ("ILL-R-2025-0042", "1001", None)),
    Case("renew_item_response.xml", RENEW_ITEM, ("ILL-R-2025-0042", "1001", date(2025, 7, 29))),
    Case("renew_item_response_pending.xml", RENEW_ITEM, (None, None, None)),
    Case("problem_user_blocked.xml", CHECK_OUT_ITEM, errors.UserBlocked),
    Case("problem_unknown_item.xml", CHECK_IN_ITEM, errors.UnknownItem),
    Case("problem_item_not_checked_out.xml", CHECK_IN_ITEM, errors.ItemNotCheckedOut),
    Case("problem_unknown_user.xml", ACCEPT_ITEM, errors.UnknownUser),
    Case("problem_cannot_accept_item.xml", ACCEPT_ITEM, errors.CannotAcceptItem),
    Case("problem_maximum_renewals_exceeded.xml", RENEW_ITEM, errors.RenewalRefused),
    Case("problem_temporary_processing_failure.xml", CHECK_OUT_ITEM,
         TemporaryProcessingFailure),
    Case("bad_date_due.xml", CHECK_OUT_ITEM, NcipBadResponse),
    # The right message for another service is not an answer.
    Case("check_in_item_response.xml", CHECK_OUT_ITEM, NcipBadResponse),
    Case("accept_item_response.xml", RENEW_ITEM, NcipBadResponse),
]  # fmt: skip


def test_every_circulation_fixture_has_a_case() -> None:
    assert {p.name for p in CIRCULATION_FIXTURES.glob("*.xml")} == {c.file for c in CASES}


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in CIRCULATION_FIXTURES.glob("*.xml") if not p.name.startswith("bad_")),
)
def test_circulation_fixtures_validate(name: str) -> None:
    """The fixtures are real NCIP 2.02; the ``bad_`` ones are not, on purpose."""
    assert_valid(SCHEMA, (CIRCULATION_FIXTURES / name).read_bytes())


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{case.service}-{case.file}" for case in CASES]
)
def test_parse_circulation_response(case: Case) -> None:
    body = (CIRCULATION_FIXTURES / case.file).read_bytes()
    if isinstance(case.expected, type):
        with pytest.raises(case.expected) as raised:
            parse_circulation_response(body, case.service, peer="SI-LJMK")
        assert raised.value.peer == "SI-LJMK"
        return
    answer = parse_circulation_response(body, case.service, peer="SI-LJMK")
    assert (answer.item_id, answer.card_number, answer.due) == case.expected
    assert answer.service == case.service
    assert answer.raw == body, "the message as it came, for the audit log"


def test_a_lookup_user_response_is_no_circulation_answer() -> None:
    body = (FIXTURES / "lookup_user_response.xml").read_bytes()
    with pytest.raises(NcipBadResponse, match="not a CheckOutItemResponse"):
        parse_circulation_response(body, CHECK_OUT_ITEM)


def test_a_messaging_error_outside_the_response_is_raised() -> None:
    """A Problem directly in NCIPMessage: the responder could not read our message."""
    body = (FIXTURES / "problem_invalid_message_syntax_error.xml").read_bytes()
    with pytest.raises(InvalidMessageSyntax):
        parse_circulation_response(body, ACCEPT_ITEM)


def test_parse_circulation_response_knows_only_circulation_services() -> None:
    with pytest.raises(ValueError):
        parse_circulation_response(b"", "LookupUser")


@pytest.mark.parametrize(
    "body", [b"", b"\x00\xff\xfe", b"<html><body>Bad gateway<br></body></html>"],
    ids=["empty", "binary", "html"],
)
def test_garbage_is_circulation_unavailable(body: bytes) -> None:
    with pytest.raises(CirculationUnavailable):
        parse_circulation_response(body, CHECK_IN_ITEM)


@pytest.mark.parametrize(
    ("problem_type", "cls"),
    [
        ("Unknown Item", errors.UnknownItem),
        ("Unknown Request", errors.UnknownRequest),
        ("Unknown User", errors.UnknownUser),
        ("User Blocked", errors.UserBlocked),
        ("User Ineligible To Check Out This Item", errors.UserIneligible),
        ("User Ineligible To Renew This Item", errors.UserIneligible),
        ("Cannot Accept Item", errors.CannotAcceptItem),
        ("Cannot Guarantee Restrictions On Use", errors.CannotAcceptItem),
        ("Item Does Not Circulate", errors.ItemDoesNotCirculate),
        ("Maximum Check Outs Exceeded", errors.MaximumCheckOutsExceeded),
        ("Item Not Checked Out", errors.ItemNotCheckedOut),
        ("Item Not Renewable", errors.RenewalRefused),
        ("Maximum Renewals Exceeded", errors.RenewalRefused),
        ("Renewal Not Allowed - Item Has Outstanding Requests", errors.RenewalRefused),
    ],
)
def test_circulation_problems_map_through_the_table(
    problem_type: str, cls: type[NcipProblem]
) -> None:
    error = errors.error_for(Problem(problem_type.upper()), peer="SI-LJMK")
    assert type(error) is cls
    # The library system said no: trying again will not change that.
    assert not isinstance(error, CirculationUnavailable)


def test_what_is_worth_trying_again() -> None:
    assert issubclass(CirculationUnavailable, ConnectorError)
    assert not issubclass(CirculationUnavailable, RegisterUnavailable)
    for cls in (TemporaryProcessingFailure, NcipBadResponse):
        assert issubclass(cls, CirculationUnavailable)
        assert issubclass(cls, RegisterUnavailable)


# --- against the responder -----------------------------------------------------------------

ITEM = "ILL-R-2025-0042"
TITLE = "Zgodovina Ljubljane"
AUTHOR = "Čuk, Žiga"


@pytest.fixture
def ils(ncip_responder: NcipResponder) -> NcipResponder:
    """The responder with a fixed today, for the due dates it computes."""
    ncip_responder.today = TODAY
    return ncip_responder


def circulation(
    responder: NcipResponder, http: aiohttp.ClientSession, timeout: float = 5.0
) -> NcipCirculation:
    return NcipCirculation(responder.url, http, library="SI-LJMK", agency_id=AGENCY,
                           timeout=timeout)


async def test_a_whole_loan(ils: NcipResponder, http: aiohttp.ClientSession) -> None:
    """Accept → check out (the due date comes back) → renew → check in, each message
    and each answer valid NCIP 2.02, and the ILS's record of the loan as it should."""
    ncip = circulation(ils, http)
    item = await ncip.accept_item("R-2025-0042", "1001", ITEM, TITLE, AUTHOR, DUE)
    assert item == ITEM
    assert ils.loans[ITEM] == Loan(
        request_id="R-2025-0042", request_agency=BROKER, card_number="1001", item_id=ITEM,
        title=TITLE, author=AUTHOR, action=HOLD_FOR_PICKUP, accepted_due=DUE,
    )
    assert await ncip.check_out("1001", ITEM) == DUE
    assert ils.loans[ITEM].borrower == "1001"
    assert await ncip.renew("1001", ITEM) == DUE + timedelta(days=RENEWAL_DAYS)
    assert await ncip.check_in(ITEM) is None
    assert ils.loans[ITEM].checked_in
    assert ils.events == [
        (ACCEPT_ITEM, ITEM), (CHECK_OUT_ITEM, ITEM), (RENEW_ITEM, ITEM), (CHECK_IN_ITEM, ITEM),
    ]
    check_exchanges(ils)


async def test_without_a_due_date_the_library_lends_for_its_own_period(
    ils: NcipResponder, http: aiohttp.ClientSession
) -> None:
    ncip = circulation(ils, http)
    await ncip.accept_item("R2", "1002", "ILL-R2", "Latvju dainas", None, None)
    assert ils.loans["ILL-R2"].author is None and ils.loans["ILL-R2"].accepted_due is None
    assert await ncip.check_out("1002", "ILL-R2") == TODAY + timedelta(days=LOAN_DAYS)
    check_exchanges(ils)


async def test_the_ils_barcode_is_the_one_to_use(
    ils: NcipResponder, http: aiohttp.ClientSession
) -> None:
    ils.assign_item_ids = True
    ncip = circulation(ils, http)
    item = await ncip.accept_item("R3", "1001", "ILL-R3", TITLE)
    assert item == "SI-LJMK-TMP-00001"
    assert await ncip.check_out("1001", item) == TODAY + timedelta(days=LOAN_DAYS)
    with pytest.raises(errors.UnknownItem):
        await ncip.check_out("1001", "ILL-R3")
    check_exchanges(ils)


async def test_accepting_and_checking_out_again_answer_as_the_first_time(
    ils: NcipResponder, http: aiohttp.ClientSession
) -> None:
    """What a retried job meets at a responder that keeps its record: the same answer."""
    ncip = circulation(ils, http)
    for _ in range(2):
        assert await ncip.accept_item("R4", "1001", "ILL-R4", TITLE, due=DUE) == "ILL-R4"
    for _ in range(2):
        assert await ncip.check_out("1001", "ILL-R4") == DUE
    assert ils.events == [(ACCEPT_ITEM, "ILL-R4"), (CHECK_OUT_ITEM, "ILL-R4")]
    check_exchanges(ils)


Step = Callable[[NcipCirculation], Awaitable[object]]


def _accepted(card: str = "1001", item: str = ITEM, request: str = "R-2025-0042") -> Step:
    return lambda ncip: ncip.accept_item(request, card, item, TITLE)


def _checked_out(card: str = "1001", item: str = ITEM) -> Step:
    return lambda ncip: ncip.check_out(card, item)


def _checked_in(item: str = ITEM) -> Step:
    return lambda ncip: ncip.check_in(item)


def _renewed(card: str = "1001", item: str = ITEM) -> Step:
    return lambda ncip: ncip.renew(card, item)


@dataclass(frozen=True, slots=True)
class Refusal:
    name: str
    before: tuple[Step, ...]
    step: Step
    expected: type[NcipProblem]
    problem_element: str


REFUSALS = [
    Refusal("accept-unknown-user", (), _accepted(card="0000"), errors.UnknownUser,
            "UserIdentifierValue"),
    Refusal("accept-barcode-of-another-request", (_accepted(),), _accepted(request="R-OTHER"),
            errors.CannotAcceptItem, "ItemIdentifierValue"),
    Refusal("check-out-unknown-item", (), _checked_out(), errors.UnknownItem,
            "ItemIdentifierValue"),
    Refusal("check-out-unknown-user", (_accepted(),), _checked_out(card="0000"),
            errors.UnknownUser, "UserIdentifierValue"),
    Refusal("check-out-blocked-user", (_accepted(card="1003"),), _checked_out(card="1003"),
            errors.UserBlocked, "UserIdentifierValue"),
    Refusal("check-out-held-for-another", (_accepted(),), _checked_out(card="1002"),
            errors.UserIneligible, "UserIdentifierValue"),
    Refusal("check-out-returned-item", (_accepted(), _checked_in()), _checked_out(),
            errors.UnknownItem, "ItemIdentifierValue"),
    Refusal("check-in-unknown-item", (), _checked_in(), errors.UnknownItem,
            "ItemIdentifierValue"),
    Refusal("check-in-twice", (_accepted(), _checked_out(), _checked_in()), _checked_in(),
            errors.ItemNotCheckedOut, "ItemIdentifierValue"),
    Refusal("renew-not-checked-out", (_accepted(),), _renewed(), errors.ItemNotCheckedOut,
            "ItemIdentifierValue"),
    Refusal("renew-too-often", (_accepted(), _checked_out(), *[_renewed()] * MAX_RENEWALS),
            _renewed(), errors.RenewalRefused, "ItemIdentifierValue"),
]  # fmt: skip


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r.name for r in REFUSALS])
async def test_the_ils_refuses_with_a_problem(
    ils: NcipResponder, http: aiohttp.ClientSession, refusal: Refusal
) -> None:
    ncip = circulation(ils, http)
    for step in refusal.before:
        await step(ncip)
    with pytest.raises(refusal.expected) as raised:
        await refusal.step(ncip)
    assert type(raised.value) is refusal.expected
    assert raised.value.peer == "SI-LJMK"
    assert raised.value.problem.element == refusal.problem_element
    assert not isinstance(raised.value, CirculationUnavailable)
    # The Problem value is often a card number: it stays out of the message.
    assert raised.value.problem.value is not None
    assert raised.value.problem.value not in str(raised.value)
    check_exchanges(ils)


@pytest.mark.parametrize(
    ("problem_type", "expected"),
    [
        ("Maximum Check Outs Exceeded", errors.MaximumCheckOutsExceeded),
        ("User Blocked", errors.UserBlocked),
        ("Library Closed For Inventory", NcipProblem),
    ],
)
async def test_any_problem_the_ils_answers_maps_to_its_class(
    ils: NcipResponder, http: aiohttp.ClientSession, problem_type: str,
    expected: type[NcipProblem],
) -> None:
    ils.refuse[CHECK_OUT_ITEM] = problem_type
    ncip = circulation(ils, http)
    await ncip.accept_item("R5", "1001", "ILL-R5", TITLE)
    with pytest.raises(expected) as raised:
        await ncip.check_out("1001", "ILL-R5")
    assert type(raised.value) is expected
    assert raised.value.problem.type == problem_type
    assert ils.loans["ILL-R5"].borrower is None
    check_exchanges(ils)


async def test_the_responder_refuses_an_invalid_accept_item(
    ils: NcipResponder, http: aiohttp.ClientSession
) -> None:
    """The responder really validates circulation messages: Title before Author is
    refused with a Problem that itself validates, and reads as InvalidMessageSyntax."""
    message = accept_item_request(
        "R7", "1001", "ILL-R7", title="T", author="A", from_agency=BROKER, to_agency=AGENCY
    )
    author = b"<ns1:Author>A</ns1:Author>"
    swapped = message.replace(author, b"").replace(
        b"<ns1:Title>T</ns1:Title>", b"<ns1:Title>T</ns1:Title>" + author
    )
    async with http.post(ils.url, data=swapped) as response:
        body = await response.read()
    assert_valid(SCHEMA, body)
    assert ils.exchanges[-1].request_errors != ()
    with pytest.raises(InvalidMessageSyntax, match="Author"):
        parse_circulation_response(body, ACCEPT_ITEM)
    assert ils.loans == {}


CALLS: dict[str, Step] = {
    "accept": _accepted(),
    "check-out": _checked_out(),
    "renew": _renewed(),
    "check-in": _checked_in(),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
async def test_responder_down_is_circulation_unavailable(
    http: aiohttp.ClientSession, dead_url: str, call: Step
) -> None:
    ncip = NcipCirculation(dead_url, http, library="SI-LJMK", agency_id=AGENCY, timeout=2)
    with pytest.raises(CirculationUnavailable, match="cannot reach") as raised:
        await call(ncip)
    assert raised.value.peer == "SI-LJMK"
    assert not isinstance(raised.value, RegisterUnavailable)


async def test_a_slow_responder_within_the_timeout_is_waited_for(
    ils: NcipResponder, http: aiohttp.ClientSession
) -> None:
    ils.delay = 0.3
    assert await circulation(ils, http, timeout=5).accept_item("R8", "1001", "ILL-R8", TITLE)
    check_exchanges(ils)


@pytest.mark.timeout(20)
async def test_a_responder_slower_than_the_timeout_may_still_have_done_the_work(
    ils: NcipResponder, http: aiohttp.ClientSession
) -> None:
    """A timeout says nothing of what the ILS did: here it checked the item out and
    answered too late. The retry gets the answer the first call did not."""
    ncip = circulation(ils, http, timeout=FAULT_TIMEOUT)
    await ncip.accept_item("R9", "1001", "ILL-R9", TITLE, due=DUE)
    ils.delay = FAULT_TIMEOUT * 3
    started = time.monotonic()
    with pytest.raises(CirculationUnavailable, match="no answer within"):
        await ncip.check_out("1001", "ILL-R9")
    assert time.monotonic() - started < FAULT_TIMEOUT + GRACE
    assert ils.loans["ILL-R9"].borrower == "1001"
    ils.delay = 0
    assert await ncip.check_out("1001", "ILL-R9") == DUE
    # Let the late answer be written before the responder is torn down.
    while len(ils.exchanges) < 3:
        await asyncio.sleep(0.05)
    check_exchanges(ils)

