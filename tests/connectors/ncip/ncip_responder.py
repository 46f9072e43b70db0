"""A real NCIP 2.02 responder over HTTP on 127.0.0.1, for the register and the
circulation tests.

It plays a home library's ILS: an aiohttp server that takes one NCIP message per
POST, parses it with lxml (entities off, network off), validates it against the
official ncip_v2_02.xsd and answers

- an "Invalid Message Syntax Error" Problem for a message that is not well-formed or
  not valid, "Unsupported Service" for a service not in ``SERVICES``, "Unknown
  Agency" when ToAgencyId is not its own;
- for LookupUser, a LookupUserResponse from a small in-memory register (``PATRONS``,
  names with Č, ē, ņ, Å, ö, ü), with the UserOptionalFields the message asked for by
  UserElementType and the UserFiscalAccount when UserFiscalAccountDesired is there,
  or the "Unknown User" Problem;
- for AcceptItem, CheckOutItem, RenewItem and CheckInItem, their responses from a
  record of the loans (``loans``, by item barcode, and ``events``, what was done in
  order), or the Problems an ILS would answer: "Unknown User", "Unknown Item",
  "User Blocked" (a patron with a block in force), "User Ineligible To Check Out
  This Item" (an item held for another patron), "Cannot Accept Item" (a barcode
  already used for another request), "Item Not Checked Out", "Maximum Renewals
  Exceeded". ``refuse`` makes it answer a service with any Problem type.

It is written independently of ``connectors.ncip`` (its own element names, its own
builder), so the connector is checked against the schema and not against itself.
Every response it writes is validated too, and every exchange is logged with the
schema's errors for both directions.

``fault`` makes it misbehave on purpose: hang before answering, answer half a body
and hang, reset the connection, answer HTTP 500, garbage, an HTML page, well-formed
XHTML, an oversized body, a response with an external-entity DOCTYPE (pointing at
``secret_path``) or an entity bomb, or a "Temporary Processing Failure". ``delay``
makes it slow: it does the work, but answers that many seconds late.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path

from aiohttp import web
from lxml import etree

from conformance import assert_valid
from local_server import post_endpoint

NS = "http://www.niso.org/2008/ncip"
VERSION = "http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd"
SCHEMA = "ncip_v2_02.xsd"
AGENCY = "SI-LJMK"
MESSAGING_ERROR = "http://www.niso.org/ncip/v1_0/schemes/messagingerrortype/messagingerrortype.scm"
GENERAL_ERROR = (
    "http://www.niso.org/ncip/v1_0/schemes/processingerrortype/generalprocessingerror.scm"
)
PROCESSING_ERRORS = "http://www.niso.org/ncip/v1_0/schemes/processingerrortype/"
LOOKUP_USER_ERROR = f"{PROCESSING_ERRORS}lookupuserprocessingerror.scm"
# The scheme of each service's own processing errors (NCIP 2.02 Part 1, "Problem Type").
ERROR_SCHEMES = {
    "LookupUser": LOOKUP_USER_ERROR,
    "AcceptItem": f"{PROCESSING_ERRORS}acceptitemprocessingerror.scm",
    "CheckOutItem": f"{PROCESSING_ERRORS}checkoutitemprocessingerror.scm",
    "CheckInItem": f"{PROCESSING_ERRORS}checkinitemprocessingerror.scm",
    "RenewItem": f"{PROCESSING_ERRORS}renewitemprocessingerror.scm",
}
SERVICES = tuple(ERROR_SCHEMES)
ADDRESS_ROLE = (
    "http://www.niso.org/ncip/v1_0/imp1/schemes/useraddressroletype/useraddressroletype.scm"
)
URI_SCHEMES = "http://www.iana.org/assignments/uri-schemes.html"
UNSTRUCTURED_ADDRESS = (
    "http://www.niso.org/ncip/v1_0/imp1/schemes/unstructuredaddresstype/"
    "unstructuredaddresstype.scm"
)
BLOCK_OR_TRAP = "http://www.niso.org/ncip/v1_0/imp1/schemes/blockortraptype/blockortraptype.scm"
CURRENCY = "http://www.bsi-global.com/Technical+Information/Publications/_Publications/tig90x.doc"
# The library's own schemes: NCIP leaves privilege types and statuses to the agency.
PRIVILEGE_TYPE = "http://ncip.ljmk.example.org/schemes/agencyuserprivilegetype.scm"
PRIVILEGE_STATUS = "http://ncip.ljmk.example.org/schemes/userprivilegestatustype.scm"

MAX_REQUEST_BYTES = 64 * 1024
HUGE_BYTES = 3 * 1024 * 1024
# The library's loan rules for interlibrary loans without a due date of their own.
LOAN_DAYS = 28
RENEWAL_DAYS = 14
MAX_RENEWALS = 2


class Fault(StrEnum):
    NONE = "none"
    HANG = "hang"  # accept, read, never answer
    DRIP = "drip"  # answer the status and half a body, then nothing
    RESET = "reset"  # RST the connection instead of answering
    HTTP_500 = "http_500"
    GARBAGE = "garbage"
    HTML = "html"  # an error page that is not XML
    XHTML = "xhtml"  # well-formed XML, but not NCIP
    HUGE = "huge"  # an endless-looking body past any sane limit, chunked
    XXE = "xxe"  # a DOCTYPE with an external entity naming ``secret_path``
    ENTITY_BOMB = "entity_bomb"  # "billion laughs"
    TEMPORARY_FAILURE = "temporary_failure"  # a Temporary Processing Failure Problem


@dataclass(frozen=True, slots=True)
class Block:
    type: str
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True, slots=True)
class Patron:
    """One borrower in the responder's register."""

    card_number: str
    surname: str
    given_name: str
    birth: str | None  # an xs:dateTime as the ILS writes it
    email: str | None
    category: str
    expires: date | None
    fee: str | None  # UserPrivilegeStatusType of "Membership Fee", None: no such privilege
    statement: str | None  # of "Membership Statement"
    blocks: tuple[Block, ...] = ()
    balance: int | None = None  # AccountBalance/MonetaryValue, minor units
    currency: str = "EUR"


PATRONS: tuple[Patron, ...] = (
    Patron(
        "1001", "Čuk", "Žiga", "1990-03-14T00:00:00+01:00", "ziga.cuk@example.si", "adult",
        date(2028, 6, 30), "Paid", "Signed", (Block("Trap For Message"),), 0,
    ),
    Patron(
        "1002", "Bērziņa", "Ilze Anna", "1985-11-02T00:00:00Z", "ilze.berzina@example.lv",
        "student", date(2027, 9, 1), "Paid", "Unsigned", (), 250,
    ),
    Patron(
        "1003", "Åström", "Björn", "1972-07-21T00:00:00", "bjorn.astrom@example.se", "adult",
        date(2029, 1, 31), "Unpaid", "Signed", (Block("Block Request Item"),), 4500, "SEK",
    ),
    Patron(
        "1004", "Müller", "Jürgen", "1964-01-09T00:00:00Z", None, "digital",
        date(2020, 1, 31), None, None,
    ),
    Patron(
        "1005", "Novak", "Ana", "2001-05-30T00:00:00Z", "ana.novak@example.si", "child",
        date(2030, 12, 31), "Paid", "Signed",
        (Block("Block Check Out", valid_to=date(2020, 1, 1)),),
    ),
)  # fmt: skip


@dataclass(slots=True)
class Loan:
    """One temporary item in the responder's ILS, from AcceptItem to CheckInItem."""

    request_id: str
    request_agency: str | None
    card_number: str
    item_id: str
    title: str | None
    author: str | None
    action: str
    accepted_due: date | None  # ItemOptionalFields/DateDue of the AcceptItem
    borrower: str | None = None  # the card number it is checked out to
    due: date | None = None  # DateDue of the loan once checked out
    renewals: int = 0
    checked_in: bool = False


@dataclass(frozen=True, slots=True)
class Exchange:
    """One POST and its answer, with the schema's complaints about each."""

    request: bytes
    content_type: str
    response: bytes
    request_errors: tuple[str, ...]
    response_errors: tuple[str, ...]  # () for a valid response, or one that is no XML


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _sub(parent: etree._Element, name: str, text: str | None = None,
         scheme: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _q(name))
    if scheme is not None:
        element.set(_q("Scheme"), scheme)
    if text is not None:
        element.text = text
    return element


def _agency(parent: etree._Element, name: str, agency: str) -> None:
    _sub(_sub(parent, name), "AgencyId", agency)


def _datetime(day: date) -> str:
    return f"{day.isoformat()}T23:59:59Z"


def _value(parent: etree._Element, *path: str) -> str:
    """The text at ``path`` below ``parent``, stripped; "" where there is none."""
    return (parent.findtext("/".join(_q(name) for name in path)) or "").strip()


@dataclass
class NcipResponder:
    """The responder's state; ``url`` is set once it listens."""

    schema: etree.XMLSchema
    secret_path: Path
    agency: str = AGENCY
    patrons: dict[str, Patron] = field(
        default_factory=lambda: {p.card_number: p for p in PATRONS}
    )
    fault: Fault = Fault.NONE
    delay: float = 0.0  # seconds to wait before answering (a slow ILS)
    refuse: dict[str, str] = field(default_factory=dict)  # service -> ProblemType
    assign_item_ids: bool = False  # AcceptItem answers with a barcode of its own
    today: date = field(default_factory=date.today)
    url: str = ""
    exchanges: list[Exchange] = field(default_factory=list)
    loans: dict[str, Loan] = field(default_factory=dict)  # by item barcode
    events: list[tuple[str, str]] = field(default_factory=list)  # (service, item) done
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    # --- HTTP ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.content.read(MAX_REQUEST_BYTES + 1)
        content_type = request.headers.get("Content-Type", "")
        if self.fault is Fault.HANG:
            self._log(body, content_type, b"")
            await self._release.wait()
            return web.Response(status=204)
        if self.fault is Fault.RESET:
            self._log(body, content_type, b"")
            self._reset(request)
            return web.Response(status=204)
        if self.fault is Fault.DRIP:
            self._log(body, content_type, b"")
            response = web.StreamResponse(headers={"Content-Type": "application/xml"})
            await response.prepare(request)
            await response.write(b"<?xml version='1.0' encoding='UTF-8'?>\n<ns1:NCIPMessage")
            await self._release.wait()
            return response
        if self.fault is Fault.HUGE:
            self._log(body, content_type, b"")
            response = web.StreamResponse(headers={"Content-Type": "application/xml"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(f'<ns1:NCIPMessage xmlns:ns1="{NS}"><ns1:Ext>'.encode())
            chunk = b"<!-- padding -->" * 4096
            with contextlib.suppress(ConnectionError):
                for _ in range(HUGE_BYTES // len(chunk) + 1):
                    await response.write(chunk)
                await response.write(b"</ns1:Ext></ns1:NCIPMessage>")
                await response.write_eof()
            return response
        if self.fault is Fault.HTTP_500:
            answer = b"Internal Server Error"
            self._log(body, content_type, answer)
            return web.Response(status=500, body=answer, content_type="text/plain")
        if self.fault is Fault.GARBAGE:
            answer = bytes(range(256)) * 4
            self._log(body, content_type, answer)
            return web.Response(body=answer, content_type="application/octet-stream")
        if self.fault is Fault.HTML:
            answer = (
                "<!DOCTYPE html><html><head><title>Vzdrževanje</title></head><body>"
                "<h1>Sistem je v vzdrževanju<br></h1><p>Poskusite kasneje.</body></html>"
            ).encode()
            self._log(body, content_type, answer)
            return web.Response(body=answer, content_type="text/html", charset="utf-8")
        if self.fault is Fault.XHTML:
            answer = (
                b'<?xml version="1.0" encoding="UTF-8"?>'
                b'<html xmlns="http://www.w3.org/1999/xhtml"><body><p>Gateway</p></body></html>'
            )
            self._log(body, content_type, answer)
            return web.Response(body=answer, content_type="application/xhtml+xml")

        answer = self.answer(body)
        if self.delay:
            # The ILS has done the work already; only its answer is late.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), self.delay)
        if self.fault is Fault.XXE:
            answer = self._with_external_entity(answer)
        elif self.fault is Fault.ENTITY_BOMB:
            answer = self._with_entity_bomb(answer)
        self._log(body, content_type, answer)
        return web.Response(body=answer, content_type="application/xml", charset="utf-8")

    def _reset(self, request: web.Request) -> None:
        transport = request.transport
        assert transport is not None
        sock = transport.get_extra_info("socket")
        # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    def release(self) -> None:
        """Let hanging handlers finish, so that the server can shut down."""
        self._release.set()

    def _log(self, request: bytes, content_type: str, response: bytes) -> None:
        self.exchanges.append(
            Exchange(
                request=request,
                content_type=content_type,
                response=response,
                request_errors=self._errors(request),
                response_errors=self._errors(response) if response.startswith(b"<?xml") else (),
            )
        )

    def _errors(self, message: bytes) -> tuple[str, ...]:
        try:
            document = etree.fromstring(message, _parser())
        except etree.XMLSyntaxError as exc:
            return (f"not well-formed: {exc}",)
        try:
            if self.schema.validate(document):
                return ()
        except etree.XMLSchemaValidateError as exc:
            # libxml2 gives up on unexpanded entity references (the hostile faults).
            return (f"cannot validate: {exc}",)
        return tuple(str(error) for error in self.schema.error_log)

    # --- NCIP -------------------------------------------------------------------------

    def answer(self, message: bytes) -> bytes:
        """The response to one message: the service's response, or a Problem."""
        if len(message) > MAX_REQUEST_BYTES:
            return self._message_problem("Invalid Message Syntax Error", "message too long")
        try:
            request = etree.fromstring(message, _parser())
        except etree.XMLSyntaxError as exc:
            return self._message_problem("Invalid Message Syntax Error", f"not XML: {exc}")
        if not self.schema.validate(request):
            first = self.schema.error_log[0]
            return self._message_problem(
                "Invalid Message Syntax Error", f"line {first.line}: {first.message}"
            )
        # A valid NCIPMessage holds exactly one service element.
        element = request.find("*")
        assert element is not None
        service = etree.QName(element).localname
        handler = self._services().get(service)
        if handler is None:
            return self._message_problem(
                "Unsupported Service", f"only {', '.join(SERVICES)} are offered, not {service}",
                scheme=GENERAL_ERROR, element=service,
            )
        header = f"{_q('InitiationHeader')}/"
        requester = element.findtext(f"{header}{_q('FromAgencyId')}/{_q('AgencyId')}")
        to_agency = element.findtext(f"{header}{_q('ToAgencyId')}/{_q('AgencyId')}")
        if to_agency is not None and to_agency.strip() != self.agency:
            return self._service_problem(
                service, requester, "Unknown Agency", GENERAL_ERROR, "ToAgencyId", to_agency
            )
        if self.fault is Fault.TEMPORARY_FAILURE:
            return self._service_problem(
                service, requester, "Temporary Processing Failure", GENERAL_ERROR,
                detail="the circulation database is being backed up",
            )
        refused = self.refuse.get(service)
        if refused is not None:
            return self._service_problem(service, requester, refused, detail="refused on purpose")
        return handler(element, requester)

    def _services(self) -> dict[str, Callable[[etree._Element, str | None], bytes]]:
        return {
            "LookupUser": self._lookup_user,
            "AcceptItem": self._accept_item,
            "CheckOutItem": self._check_out_item,
            "CheckInItem": self._check_in_item,
            "RenewItem": self._renew_item,
        }

    def _lookup_user(self, lookup: etree._Element, requester: str | None) -> bytes:
        card = _value(lookup, "UserId", "UserIdentifierValue")
        patron = self.patrons.get(card)
        if patron is None:
            return self._service_problem(
                "LookupUser", requester, "Unknown User", element="UserIdentifierValue",
                value=card,
            )
        wanted = {(e.text or "").strip() for e in lookup.iterfind(_q("UserElementType"))}
        fiscal = lookup.find(_q("UserFiscalAccountDesired")) is not None
        return self._user(requester, patron, wanted, fiscal)

    def _root(self) -> etree._Element:
        root = etree.Element(_q("NCIPMessage"), nsmap={"ns1": NS})
        root.set(_q("version"), VERSION)
        return root

    def _header(self, response: etree._Element, requester: str | None) -> None:
        header = _sub(response, "ResponseHeader")
        _agency(header, "FromAgencyId", self.agency)
        _agency(header, "ToAgencyId", requester or "unknown")

    def _problem(self, parent: etree._Element, problem_type: str, scheme: str,
                 element: str | None, value: str | None, detail: str | None = None) -> None:
        problem = _sub(parent, "Problem")
        _sub(problem, "ProblemType", problem_type, scheme)
        if detail is not None:
            _sub(problem, "ProblemDetail", detail)
        if element is not None:
            _sub(problem, "ProblemElement", element)
        if value is not None:
            _sub(problem, "ProblemValue", value)

    def _message_problem(self, problem_type: str, detail: str, *,
                         scheme: str = MESSAGING_ERROR, element: str | None = None) -> bytes:
        # When the message cannot be read, the Problem stands directly in
        # NCIPMessage: there is no service whose response could hold it.
        root = self._root()
        self._problem(root, problem_type, scheme, element, None, detail=detail[:500])
        return _serialise(root)

    def _service_problem(self, service: str, requester: str | None, problem_type: str,
                         scheme: str | None = None, element: str | None = None,
                         value: str | None = None, detail: str | None = None) -> bytes:
        """The ``service``'s response holding one Problem; ``scheme`` defaults to the
        service's own processing errors."""
        root = self._root()
        response = _sub(root, f"{service}Response")
        self._header(response, requester)
        self._problem(response, problem_type, scheme or ERROR_SCHEMES[service], element, value,
                      detail)
        return _serialise(root)

    def _user(self, requester: str | None, patron: Patron, wanted: set[str],
              fiscal: bool) -> bytes:
        root = self._root()
        response = _sub(root, "LookupUserResponse")
        self._header(response, requester)
        user_id = _sub(response, "UserId")
        _sub(user_id, "AgencyId", self.agency)
        _sub(user_id, "UserIdentifierValue", patron.card_number)
        if fiscal and patron.balance is not None:
            balance = _sub(_sub(response, "UserFiscalAccount"), "AccountBalance")
            _sub(balance, "CurrencyCode", patron.currency, CURRENCY)
            _sub(balance, "MonetaryValue", str(patron.balance))
        fields = _sub(response, "UserOptionalFields")
        # The schema's order: NameInformation, UserAddressInformation*, DateOfBirth,
        # UserLanguage*, UserPrivilege*, BlockOrTrap*.
        if "Name Information" in wanted:
            name = _sub(_sub(_sub(fields, "NameInformation"), "PersonalNameInformation"),
                        "StructuredPersonalUserName")
            _sub(name, "GivenName", patron.given_name)
            _sub(name, "Surname", patron.surname)
        if "User Address Information" in wanted:
            home = _sub(fields, "UserAddressInformation")
            _sub(home, "UserAddressRoleType", "Home", ADDRESS_ROLE)
            physical = _sub(home, "PhysicalAddress")
            unstructured = _sub(physical, "UnstructuredAddress")
            _sub(unstructured, "UnstructuredAddressType", "Newline-Delimited Text",
                 UNSTRUCTURED_ADDRESS)
            _sub(unstructured, "UnstructuredAddressData", "Slovenska cesta 1\n1000 Ljubljana")
            _sub(physical, "PhysicalAddressType", "Postal Address")
            if patron.email is not None:
                notice = _sub(fields, "UserAddressInformation")
                _sub(notice, "UserAddressRoleType", "Notice", ADDRESS_ROLE)
                electronic = _sub(notice, "ElectronicAddress")
                _sub(electronic, "ElectronicAddressType", "mailto", URI_SCHEMES)
                _sub(electronic, "ElectronicAddressData", patron.email)
        if "Date Of Birth" in wanted and patron.birth is not None:
            _sub(fields, "DateOfBirth", patron.birth)
        if "User Privilege" in wanted:
            membership = _sub(fields, "UserPrivilege")
            _sub(membership, "AgencyId", self.agency)
            _sub(membership, "AgencyUserPrivilegeType", patron.category, PRIVILEGE_TYPE)
            if patron.expires is not None:
                _sub(membership, "ValidToDate", _datetime(patron.expires))
            for kind, status in (("Membership Fee", patron.fee),
                                 ("Membership Statement", patron.statement)):
                if status is None:
                    continue
                privilege = _sub(fields, "UserPrivilege")
                _sub(privilege, "AgencyId", self.agency)
                _sub(privilege, "AgencyUserPrivilegeType", kind, PRIVILEGE_TYPE)
                _sub(_sub(privilege, "UserPrivilegeStatus"), "UserPrivilegeStatusType", status,
                     PRIVILEGE_STATUS)
        if "Block Or Trap" in wanted:
            for block in patron.blocks:
                element = _sub(fields, "BlockOrTrap")
                _sub(element, "AgencyId", self.agency)
                _sub(element, "BlockOrTrapType", block.type, BLOCK_OR_TRAP)
                if block.valid_from is not None:
                    _sub(element, "ValidFromDate", _datetime(block.valid_from))
                if block.valid_to is not None:
                    _sub(element, "ValidToDate", _datetime(block.valid_to))
        if len(fields) == 0:
            response.remove(fields)
        return _serialise(root)

    # --- circulation ------------------------------------------------------------------

    def _accept_item(self, accept: etree._Element, requester: str | None) -> bytes:
        service = "AcceptItem"
        request_id = _value(accept, "RequestId", "RequestIdentifierValue")
        card = _value(accept, "UserId", "UserIdentifierValue")
        if card not in self.patrons:
            return self._service_problem(service, requester, "Unknown User",
                                         element="UserIdentifierValue", value=card)
        item_id = _value(accept, "ItemId", "ItemIdentifierValue")
        if self.assign_item_ids or not item_id:
            item_id = f"{self.agency}-TMP-{len(self.loans) + 1:05d}"
        loan = self.loans.get(item_id)
        if loan is not None and loan.request_id != request_id:
            return self._service_problem(
                service, requester, "Cannot Accept Item", element="ItemIdentifierValue",
                value=item_id, detail="the barcode belongs to another request",
            )
        if loan is None:
            fields = f"{_q('ItemOptionalFields')}/"
            description = f"{fields}{_q('BibliographicDescription')}/"
            due = accept.findtext(f"{fields}{_q('DateDue')}")
            self.loans[item_id] = Loan(
                request_id=request_id,
                request_agency=accept.findtext(f"{_q('RequestId')}/{_q('AgencyId')}"),
                card_number=card,
                item_id=item_id,
                title=accept.findtext(f"{description}{_q('Title')}"),
                author=accept.findtext(f"{description}{_q('Author')}"),
                action=_value(accept, "RequestedActionType"),
                accepted_due=date.fromisoformat(due[:10]) if due else None,
            )
            self.events.append((service, item_id))
        # Accepting the same request's item again (a retry) answers as the first time.
        root, response = self._response(service, requester)
        request = _sub(response, "RequestId")
        if requester is not None:
            _sub(request, "AgencyId", requester)
        _sub(request, "RequestIdentifierValue", request_id)
        self._item_id(response, item_id)
        return _serialise(root)

    def _check_out_item(self, check_out: etree._Element, requester: str | None) -> bytes:
        service = "CheckOutItem"
        loan, refusal = self._loan(service, check_out, requester)
        if loan is None:
            return refusal
        card = _value(check_out, "UserId", "UserIdentifierValue")
        patron = self.patrons.get(card)
        if patron is None:
            return self._service_problem(service, requester, "Unknown User",
                                         element="UserIdentifierValue", value=card)
        if self._blocked(patron):
            return self._service_problem(service, requester, "User Blocked",
                                         element="UserIdentifierValue", value=card)
        if card != loan.card_number:
            return self._service_problem(
                service, requester, "User Ineligible To Check Out This Item",
                element="UserIdentifierValue", value=card, detail="held for another patron",
            )
        if loan.borrower is None:
            loan.borrower = card
            loan.due = loan.accepted_due or self.today + timedelta(days=LOAN_DAYS)
            self.events.append((service, loan.item_id))
        # Checking out again to the same patron (a retry) answers as the first time.
        return self._loan_response(service, requester, loan)

    def _renew_item(self, renew: etree._Element, requester: str | None) -> bytes:
        service = "RenewItem"
        loan, refusal = self._loan(service, renew, requester)
        if loan is None:
            return refusal
        if loan.borrower is None or loan.due is None:
            return self._service_problem(service, requester, "Item Not Checked Out",
                                         element="ItemIdentifierValue", value=loan.item_id)
        if loan.renewals >= MAX_RENEWALS:
            return self._service_problem(service, requester, "Maximum Renewals Exceeded",
                                         element="ItemIdentifierValue", value=loan.item_id)
        loan.renewals += 1
        loan.due += timedelta(days=RENEWAL_DAYS)
        self.events.append((service, loan.item_id))
        return self._loan_response(service, requester, loan)

    def _check_in_item(self, check_in: etree._Element, requester: str | None) -> bytes:
        service = "CheckInItem"
        loan, refusal = self._loan(service, check_in, requester)
        if loan is None:
            return refusal
        # The ILS takes back an item still on the hold shelf too: the patron may
        # never have come for it.
        loan.checked_in = True
        self.events.append((service, loan.item_id))
        root, response = self._response(service, requester)
        self._item_id(response, loan.item_id)
        if loan.borrower is not None:
            self._user_id(response, loan.borrower)
        return _serialise(root)

    def _loan(self, service: str, element: etree._Element, requester: str | None
              ) -> tuple[Loan | None, bytes]:
        """The loan of the message's ItemId, or the Problem that answers instead."""
        item_id = _value(element, "ItemId", "ItemIdentifierValue")
        loan = self.loans.get(item_id)
        if loan is None:
            return None, self._service_problem(service, requester, "Unknown Item",
                                               element="ItemIdentifierValue", value=item_id)
        if loan.checked_in:
            problem = "Unknown Item" if service == "CheckOutItem" else "Item Not Checked Out"
            return None, self._service_problem(service, requester, problem,
                                               element="ItemIdentifierValue", value=item_id)
        return loan, b""

    def _blocked(self, patron: Patron) -> bool:
        return any(
            not block.type.startswith("Trap")
            and (block.valid_from is None or block.valid_from <= self.today)
            and (block.valid_to is None or block.valid_to >= self.today)
            for block in patron.blocks
        )

    def _response(self, service: str, requester: str | None
                  ) -> tuple[etree._Element, etree._Element]:
        root = self._root()
        response = _sub(root, f"{service}Response")
        self._header(response, requester)
        return root, response

    def _loan_response(self, service: str, requester: str | None, loan: Loan) -> bytes:
        # CheckOutItemResponse and RenewItemResponse: ItemId, UserId, DateDue,
        # RenewalCount, in the schema's order.
        assert loan.borrower is not None and loan.due is not None
        root, response = self._response(service, requester)
        self._item_id(response, loan.item_id)
        self._user_id(response, loan.borrower)
        _sub(response, "DateDue", _datetime(loan.due))
        if service == "RenewItem":
            _sub(response, "RenewalCount", str(loan.renewals))
        return _serialise(root)

    def _item_id(self, parent: etree._Element, item_id: str) -> None:
        element = _sub(parent, "ItemId")
        _sub(element, "AgencyId", self.agency)
        _sub(element, "ItemIdentifierValue", item_id)

    def _user_id(self, parent: etree._Element, card: str) -> None:
        element = _sub(parent, "UserId")
        _sub(element, "AgencyId", self.agency)
        _sub(element, "UserIdentifierValue", card)

    # --- hostile variants -------------------------------------------------------------

    def _with_external_entity(self, answer: bytes) -> bytes:
        doctype = (
            f'<!DOCTYPE ns1:NCIPMessage [<!ENTITY xxe SYSTEM "{self.secret_path.as_uri()}">]>'
        ).encode()
        return _with_doctype(answer, doctype, b"&xxe;")

    def _with_entity_bomb(self, answer: bytes) -> bytes:
        entities = ['<!ENTITY lol0 "lol">'] + [
            f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
        ]
        doctype = f"<!DOCTYPE ns1:NCIPMessage [{''.join(entities)}]>".encode()
        return _with_doctype(answer, doctype, b"&lol9;")


def check_exchanges(responder: NcipResponder, *, responses: bool = True) -> None:
    """Every request the connector sent, and (unless a fault broke them on purpose)
    every response the responder wrote, validates against the official schema."""
    assert responder.exchanges, "the responder was never asked"
    for exchange in responder.exchanges:
        assert exchange.content_type == "application/xml; charset=utf-8"
        assert exchange.request_errors == ()
        assert_valid(SCHEMA, exchange.request)
        if responses:
            assert exchange.response_errors == ()
            assert_valid(SCHEMA, exchange.response)


def _with_doctype(answer: bytes, doctype: bytes, reference: bytes) -> bytes:
    """``answer`` with ``doctype`` after the XML declaration and ``reference`` as the
    surname (or the first problem's detail)."""
    declaration, _, rest = answer.partition(b"?>")
    for element in (b"ns1:Surname", b"ns1:ProblemType"):
        start = rest.find(b"<" + element)
        if start >= 0:
            close = rest.find(b">", start) + 1
            end = rest.find(b"</" + element, close)
            rest = rest[:close] + reference + rest[end:]
            break
    return declaration + b"?>\n" + doctype + rest


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _serialise(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@contextlib.asynccontextmanager
async def serve(responder: NcipResponder) -> AsyncIterator[NcipResponder]:
    """Run ``responder`` on a free port of 127.0.0.1 for the block's duration."""
    async with post_endpoint("/ncip", responder.handle) as url:
        responder.url = url
        try:
            yield responder
        finally:
            responder.release()
