"""NCIP 2.02 messages: the requests the broker writes and the responses it reads. Pure.

Implements, of NCIP 2.02 (ANSI/NISO Z39.83-1-2012, Part 1; Part 2, the XML schema
ncip_v2_02.xsd), the LookupUser service for the borrower check and the circulation
services by which the home library's system learns of an interlibrary loan: Accept
Item, Check Out Item, Check In Item and Renew Item. The schema's target namespace
is http://www.niso.org/2008/ncip with ``elementFormDefault`` *and*
``attributeFormDefault`` "qualified": every element and every attribute of the
message is in that namespace, so ``NCIPMessage``'s required ``version`` and each
SchemeValuePair's ``Scheme`` are written ``ns1:version`` / ``ns1:Scheme``. An
unqualified ``Scheme`` or ``version`` does not validate.

The request asks for the user by ``UserId`` (the home library's ``AgencyId`` and the
card number as ``UserIdentifierValue``), for the ``UserElementType`` values of
``ELEMENT_TYPES`` (scheme userelementtype.scm) and, with ``UserFiscalAccountDesired``,
for the balance of the user's fiscal account.

How a LookupUserResponse becomes a ``RegisterEntry``:

- name: ``UserOptionalFields/NameInformation/PersonalNameInformation``:
  ``StructuredPersonalUserName`` (``Surname``, ``GivenName``), or else
  ``UnstructuredPersonalUserName`` read as "Surname, Given names" or, without a
  comma, as "Given names Surname";
- birth date: ``DateOfBirth`` (an xs:dateTime; its date as written, see ``_date``);
- e-mail: the first ``UserAddressInformation/ElectronicAddress`` whose
  ``ElectronicAddressType`` is "mailto" (the IANA URI scheme, as NCIP's examples
  use it), a leading "mailto:" removed from ``ElectronicAddressData``;
- membership: each ``UserPrivilege`` is read by its ``AgencyUserPrivilegeType``
  (case and spacing ignored; the Scheme is the agency's own and is not checked):

  * "Membership Fee" (``FEE_PRIVILEGE``): ``fee_paid``. ``UserPrivilegeStatusType``
    "Paid" is paid, "Unpaid" or "Not Paid" is not; a ``ValidToDate`` in the past
    (a yearly fee not renewed) is unpaid too.
  * "Membership Statement" (``STATEMENT_PRIVILEGE``): ``statement_signed``.
    Status "Signed" is signed, "Unsigned" or "Not Signed" is not.
  * any other type, the first one: the membership itself. Its type is the
    ``category`` (as the register writes it, e.g. "adult") and its ``ValidToDate``
    is ``expires``.

  A fee or statement privilege with a missing or unknown status is refused
  (``NcipBadResponse``) rather than read as "the register does not say": a gate
  that cannot read the answer stays closed.
- blocks: ``blocked`` when any ``BlockOrTrap`` in force today (between its
  ``ValidFromDate`` and ``ValidToDate``) is not a trap. The NCIP values
  "Block Check Out", "Block Hold", "Block Request Item"... are blocks; "Trap For
  Lost Card", "Trap For Message", "Trap For Pickup" are notes to the desk and do not
  restrict; agency-specific values (e.g. "Debarred") count as blocks.
- fines: the sum of ``UserFiscalAccount/AccountBalance`` (``MonetaryValue`` is an
  xs:integer in the minor unit of ``CurrencyCode``, ISO 4217: 250 EUR is 2.50).
  A positive balance is owed by the user; a credit is nothing due. Balances in
  more than one currency are refused.

A ``Problem`` in the response (in ``LookupUserResponse``, or directly in
``NCIPMessage`` for messaging errors) maps through ``connectors.ncip.errors.PROBLEMS``:
"Unknown User" is ``None`` (no such patron), anything else raises its
``NcipProblem``.

The circulation messages (see ``accept_item_request`` and the functions after it)
name the patron by ``UserId`` as LookupUser does and the loaned item by ``ItemId``
(the home library's ``AgencyId`` and the temporary barcode as
``ItemIdentifierValue``); Accept Item names the broker's request by ``RequestId``
(the broker's ``AgencyId`` and its request id). Their responses are read by one
function, ``parse_circulation_response``: they differ only in which of ``ItemId``,
``UserId`` and ``DateDue`` they carry, and every Problem in them raises its
``NcipProblem``, "Unknown User" (``UnknownUser``) too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from lxml import etree

from broker.domain.register import RegisterEntry
from connectors.ncip.errors import NcipBadResponse, Problem, error_for, is_unknown_user

NCIP_NS = "http://www.niso.org/2008/ncip"
NCIP_PREFIX = "ns1"
# The value NCIP 2.02 implementations put in NCIPMessage/@version: the schema's URL.
NCIP_VERSION = "http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd"
USER_ELEMENT_TYPE_SCHEME = (
    "http://www.niso.org/ncip/v1_0/schemes/userelementtype/userelementtype.scm"
)

NAME_INFORMATION = "Name Information"
USER_ADDRESS_INFORMATION = "User Address Information"
DATE_OF_BIRTH = "Date Of Birth"
USER_PRIVILEGE = "User Privilege"
BLOCK_OR_TRAP = "Block Or Trap"
# The values of userelementtype.scm (NCIP 2.02 Part 1, "User Element Type").
USER_ELEMENT_TYPES = frozenset(
    {
        "Authentication Input",
        BLOCK_OR_TRAP,
        DATE_OF_BIRTH,
        NAME_INFORMATION,
        "Previous User Id",
        USER_ADDRESS_INFORMATION,
        "User Id",
        "User Language",
        USER_PRIVILEGE,
    }
)
# What the borrower check needs of the register.
ELEMENT_TYPES: tuple[str, ...] = (
    NAME_INFORMATION,
    USER_ADDRESS_INFORMATION,
    DATE_OF_BIRTH,
    USER_PRIVILEGE,
    BLOCK_OR_TRAP,
)

FEE_PRIVILEGE = "Membership Fee"
STATEMENT_PRIVILEGE = "Membership Statement"
FEE_STATUS: dict[str, bool] = {"paid": True, "unpaid": False, "not paid": False}
STATEMENT_STATUS: dict[str, bool] = {"signed": True, "unsigned": False, "not signed": False}
MAILTO = "mailto"

# ISO 4217 minor units where they are not 2 (the currencies a consortium in Europe
# might meet; all others, EUR and SEK among them, have 2).
MINOR_UNITS: dict[str, int] = {
    "BHD": 3, "CLP": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3,
    "LYD": 3, "OMR": 3, "TND": 3, "UYI": 0, "VND": 0,
}  # fmt: skip
DEFAULT_MINOR_UNIT = 2

# The values of requestedactiontype.scm (NCIP 2.02 Part 1, "Requested Action Type"):
# what the home library does with an item that Accept Item announces.
HOLD_FOR_PICKUP = "Hold For Pickup"
REQUESTED_ACTION_TYPES = frozenset(
    {"Circulate", "Circulate And Notify", HOLD_FOR_PICKUP, "Hold For Pickup And Notify"}
)
ACCEPT_ITEM = "AcceptItem"
CHECK_OUT_ITEM = "CheckOutItem"
CHECK_IN_ITEM = "CheckInItem"
RENEW_ITEM = "RenewItem"
CIRCULATION_SERVICES = frozenset({ACCEPT_ITEM, CHECK_OUT_ITEM, CHECK_IN_ITEM, RENEW_ITEM})

# A LookupUserResponse without loaned and requested items is a few kilobytes; a
# megabyte is a responder gone wrong.
MAX_MESSAGE_BYTES = 1024 * 1024

_DATE = re.compile(r"\s*(-?\d{4,})-(\d{2})-(\d{2})")


def _q(name: str) -> str:
    return f"{{{NCIP_NS}}}{name}"


# --- the requests ----------------------------------------------------------------------


def lookup_user_request(
    card_number: str,
    *,
    from_agency: str,
    to_agency: str,
    element_types: Sequence[str] = ELEMENT_TYPES,
    fiscal_account: bool = True,
) -> bytes:
    """A LookupUser message (NCIP 2.02 Part 1, "Lookup User") asking ``to_agency``
    for the user with ``card_number``, UTF-8 with an XML declaration.

    ``InitiationHeader`` names ``from_agency`` (the broker) and ``to_agency`` (the
    home library's NCIP agency id); ``UserId`` carries ``to_agency`` as its
    ``AgencyId``, since a card number is unique only within its library. Each of
    ``element_types`` becomes a ``UserElementType``; ``fiscal_account`` adds
    ``UserFiscalAccountDesired`` for the fines. Raises ``ValueError`` for an empty
    card number or agency, or an element type that userelementtype.scm lacks.
    """
    unknown = [t for t in element_types if t not in USER_ELEMENT_TYPES]
    if unknown:
        raise ValueError(f"not values of userelementtype.scm: {', '.join(unknown)}")
    root, lookup = _request("LookupUser", from_agency, to_agency)
    _identifier(lookup, "UserId", to_agency, "UserIdentifierValue", card_number, "card number")
    for element_type in dict.fromkeys(element_types):
        element = etree.SubElement(lookup, _q("UserElementType"))
        element.set(_q("Scheme"), USER_ELEMENT_TYPE_SCHEME)
        element.text = element_type
    if fiscal_account:
        etree.SubElement(lookup, _q("UserFiscalAccountDesired"))
    return _serialise(root)


def accept_item_request(
    request_id: str,
    card_number: str,
    item_id: str,
    *,
    title: str,
    author: str | None = None,
    due: date | None = None,
    from_agency: str,
    to_agency: str,
    action: str = HOLD_FOR_PICKUP,
) -> bytes:
    """An AcceptItem message (NCIP 2.02 Part 1, "Accept Item"): the interlibrary
    loan of the broker's request ``request_id`` has arrived at the home library as
    item ``item_id`` (a temporary barcode) for the patron with ``card_number``.

    In the schema's order: ``RequestId`` (``from_agency``, the broker, issued the
    request id), ``RequestedActionType`` ``action`` (a value of
    requestedactiontype.scm, written without a Scheme as NCIP 2.02 allows),
    ``UserId`` and ``ItemId`` (both ``to_agency``'s), and ``ItemOptionalFields`` with
    the ``BibliographicDescription`` (``Author``, then ``Title``) and, given ``due``,
    the ``DateDue``. Raises ``ValueError`` for an empty id, title or agency, or an
    ``action`` that requestedactiontype.scm lacks.
    """
    if action not in REQUESTED_ACTION_TYPES:
        raise ValueError(f"not a value of requestedactiontype.scm: {action!r}")
    title = _required(title, "title")
    root, accept = _request(ACCEPT_ITEM, from_agency, to_agency)
    _identifier(accept, "RequestId", from_agency, "RequestIdentifierValue", request_id,
                "request id")
    etree.SubElement(accept, _q("RequestedActionType")).text = action
    _identifier(accept, "UserId", to_agency, "UserIdentifierValue", card_number, "card number")
    _identifier(accept, "ItemId", to_agency, "ItemIdentifierValue", item_id, "item id")
    fields = etree.SubElement(accept, _q("ItemOptionalFields"))
    description = etree.SubElement(fields, _q("BibliographicDescription"))
    if author and author.strip():
        etree.SubElement(description, _q("Author")).text = author.strip()
    etree.SubElement(description, _q("Title")).text = title
    if due is not None:
        etree.SubElement(fields, _q("DateDue")).text = _end_of(due)
    return _serialise(root)


def check_out_item_request(
    card_number: str, item_id: str, *, from_agency: str, to_agency: str
) -> bytes:
    """A CheckOutItem message (NCIP 2.02 Part 1, "Check Out Item"): lend item
    ``item_id`` to the patron with ``card_number`` (``UserId``, then ``ItemId``).
    Raises ``ValueError`` for an empty id or agency."""
    return _user_item_request(CHECK_OUT_ITEM, card_number, item_id, from_agency, to_agency)


def check_in_item_request(item_id: str, *, from_agency: str, to_agency: str) -> bytes:
    """A CheckInItem message (NCIP 2.02 Part 1, "Check In Item"): item ``item_id``
    is back. Raises ``ValueError`` for an empty id or agency."""
    root, check_in = _request(CHECK_IN_ITEM, from_agency, to_agency)
    _identifier(check_in, "ItemId", to_agency, "ItemIdentifierValue", item_id, "item id")
    return _serialise(root)


def renew_item_request(
    card_number: str, item_id: str, *, from_agency: str, to_agency: str
) -> bytes:
    """A RenewItem message (NCIP 2.02 Part 1, "Renew Item"): extend the loan of item
    ``item_id`` to the patron with ``card_number`` (``UserId``, then ``ItemId``).
    Raises ``ValueError`` for an empty id or agency."""
    return _user_item_request(RENEW_ITEM, card_number, item_id, from_agency, to_agency)


def _user_item_request(
    service: str, card_number: str, item_id: str, from_agency: str, to_agency: str
) -> bytes:
    # Check Out Item and Renew Item begin alike: UserId, then ItemId.
    root, element = _request(service, from_agency, to_agency)
    _identifier(element, "UserId", to_agency, "UserIdentifierValue", card_number, "card number")
    _identifier(element, "ItemId", to_agency, "ItemIdentifierValue", item_id, "item id")
    return _serialise(root)


def _request(
    service: str, from_agency: str, to_agency: str
) -> tuple[etree._Element, etree._Element]:
    """A new ``NCIPMessage`` (NCIP 2.02 Part 2) and its ``service`` element, which
    holds so far the ``InitiationHeader`` from ``from_agency`` to ``to_agency``."""
    from_agency = _required(from_agency, "FromAgencyId")
    to_agency = _required(to_agency, "ToAgencyId")
    root = etree.Element(_q("NCIPMessage"), nsmap={NCIP_PREFIX: NCIP_NS})
    root.set(_q("version"), NCIP_VERSION)
    element = etree.SubElement(root, _q(service))
    header = etree.SubElement(element, _q("InitiationHeader"))
    etree.SubElement(etree.SubElement(header, _q("FromAgencyId")), _q("AgencyId")).text = (
        from_agency
    )
    etree.SubElement(etree.SubElement(header, _q("ToAgencyId")), _q("AgencyId")).text = (
        to_agency
    )
    return root, element


def _identifier(
    parent: etree._Element, name: str, agency: str, value_name: str, value: str, what: str
) -> None:
    """``UserId``, ``ItemId`` or ``RequestId``: the ``AgencyId`` whose identifier it
    is, then the identifier itself as ``value_name``."""
    value = _required(value, what)
    identifier = etree.SubElement(parent, _q(name))
    etree.SubElement(identifier, _q("AgencyId")).text = agency.strip()
    etree.SubElement(identifier, _q(value_name)).text = value


def _required(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise ValueError(f"the {what} is empty")
    return text


def _end_of(day: date) -> str:
    # A due date is a day at the home library; without a time zone an xs:dateTime is
    # the library's own local time, which is all the broker knows of it.
    return f"{day.isoformat()}T23:59:59"


def _serialise(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


# --- reading what comes back -----------------------------------------------------------


def hardened_parser() -> etree.XMLParser:
    """The parser for what a register sends: no entity expansion, no network, no
    DTD loading, and libxml2's default limits on depth and text size."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )


def parse_message(
    body: bytes, *, peer: str | None = None, max_bytes: int = MAX_MESSAGE_BYTES
) -> etree._Element:
    """The ``NCIPMessage`` element of ``body`` (NCIP 2.02 Part 2: root element
    ``NCIPMessage`` in http://www.niso.org/2008/ncip).

    Refuses, as ``NcipBadResponse``: more than ``max_bytes``, XML that is not
    well-formed, a DOCTYPE that declares entities or points at an external DTD
    (an NCIP 2 message has no DTD; this is where XXE and entity bombs live), and a
    root element that is not NCIP 2's ``NCIPMessage``.
    """
    if len(body) > max_bytes:
        raise NcipBadResponse(f"message of {len(body)} bytes is over {max_bytes}", peer=peer)
    try:
        root = etree.fromstring(body, hardened_parser())
    except etree.XMLSyntaxError as exc:
        # libxml2's message names the line and the error, never the entity's target.
        raise NcipBadResponse(f"not well-formed XML: {str(exc)[:200]}", peer=peer) from exc
    docinfo = root.getroottree().docinfo
    dtd = docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise NcipBadResponse("the message's DOCTYPE declares entities; refused", peer=peer)
    if docinfo.system_url or docinfo.public_id:
        raise NcipBadResponse("the message's DOCTYPE names an external DTD; refused", peer=peer)
    qname = etree.QName(root)
    if qname.localname != "NCIPMessage" or qname.namespace != NCIP_NS:
        where = f"{{{qname.namespace}}}" if qname.namespace else "no namespace "
        raise NcipBadResponse(
            f"not an NCIP 2 message: root {where}{qname.localname}", peer=peer
        )
    return root


def parse_problems(parent: etree._Element) -> list[Problem]:
    """The ``Problem`` children of ``parent`` (NCIP 2.02 Part 1, "Problem")."""
    problems = []
    for element in parent.iterfind(_q("Problem")):
        type_element = element.find(_q("ProblemType"))
        problems.append(
            Problem(
                type=_clean(type_element.text) if type_element is not None else "",
                scheme=_attribute(type_element, "Scheme") if type_element is not None else None,
                detail=_text(element, "ProblemDetail"),
                element=_text(element, "ProblemElement"),
                value=_text(element, "ProblemValue"),
            )
        )
    return problems


def parse_lookup_user_response(
    body: bytes,
    card_number: str,
    *,
    peer: str | None = None,
    today: date | None = None,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> RegisterEntry | None:
    """What a LookupUserResponse (NCIP 2.02 Part 1, "Lookup User Response") says of
    ``card_number``: a ``RegisterEntry``, or ``None`` for the "Unknown User" Problem.

    Raises ``NcipBadResponse`` (a ``RegisterUnavailable``) for anything that is not a
    readable LookupUserResponse, and the ``NcipProblem`` of any other Problem.
    ``today`` decides which blocks and privileges are in force (default: today).
    """
    response, problems = _service_response(
        body, "LookupUserResponse", peer=peer, max_bytes=max_bytes
    )
    if problems or response is None:
        errors = [p for p in problems if not is_unknown_user(p)]
        if errors:
            raise error_for(errors[0], peer=peer)
        return None
    return _entry(response, card_number.strip(), today or date.today(), peer)


@dataclass(frozen=True, slots=True)
class CirculationResponse:
    """What an Accept Item, Check Out Item, Check In Item or Renew Item response
    said, with the message as it came, for the audit log.

    ``item_id`` and ``card_number`` are the ``ItemIdentifierValue`` and
    ``UserIdentifierValue`` the responder wrote (``None`` where the response has
    none); ``due`` is the ``DateDue`` (``None``: no due date, as with an
    ``IndeterminateLoanPeriodFlag`` or a ``Pending`` renewal).
    """

    service: str
    item_id: str | None
    card_number: str | None
    due: date | None
    raw: bytes


def parse_circulation_response(
    body: bytes,
    service: str,
    *,
    peer: str | None = None,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> CirculationResponse:
    """The response to the circulation ``service`` (``ACCEPT_ITEM``,
    ``CHECK_OUT_ITEM``, ``CHECK_IN_ITEM`` or ``RENEW_ITEM``): NCIP 2.02 Part 1,
    "Accept Item Response", "Check Out Item Response", "Check In Item Response",
    "Renew Item Response".

    Raises ``NcipBadResponse`` for anything that is not that response, and the
    ``NcipProblem`` of its first Problem (``UnknownUser`` included: only LookupUser
    takes "Unknown User" for an answer).
    """
    if service not in CIRCULATION_SERVICES:
        raise ValueError(f"not a circulation service: {service!r}")
    response, problems = _service_response(
        body, f"{service}Response", peer=peer, max_bytes=max_bytes
    )
    if problems or response is None:
        raise error_for(problems[0], peer=peer)
    due = _text(response, "DateDue")
    return CirculationResponse(
        service=service,
        item_id=_text(response, "ItemId", "ItemIdentifierValue"),
        card_number=_text(response, "UserId", "UserIdentifierValue"),
        due=_date(due, "DateDue", peer) if due else None,
        raw=body,
    )


def _service_response(
    body: bytes, name: str, *, peer: str | None, max_bytes: int
) -> tuple[etree._Element | None, list[Problem]]:
    """The response element ``name`` of the message ``body`` and every Problem the
    message holds, in it or (for a message the responder could not read) directly
    in ``NCIPMessage``. Raises ``NcipBadResponse`` when there is neither."""
    root = parse_message(body, peer=peer, max_bytes=max_bytes)
    problems = parse_problems(root)
    response = root.find(_q(name))
    if response is None and not problems:
        first = next(iter(root), None)
        found = etree.QName(first).localname if first is not None else "nothing"
        raise NcipBadResponse(f"not a {name}: the message holds {found}", peer=peer)
    if response is not None:
        problems.extend(parse_problems(response))
    return response, problems


def _entry(
    response: etree._Element, card_number: str, today: date, peer: str | None
) -> RegisterEntry:
    fields = response.find(_q("UserOptionalFields"))
    if fields is None:
        raise NcipBadResponse(
            "LookupUserResponse without UserOptionalFields: the register sent no name",
            peer=peer,
        )
    surname, given_name = _name(fields, peer)
    birth = _text(fields, "DateOfBirth")

    category: str | None = None
    expires: date | None = None
    fee_paid: bool | None = None
    statement_signed: bool | None = None
    for privilege in fields.iterfind(_q("UserPrivilege")):
        kind = _text(privilege, "AgencyUserPrivilegeType") or ""
        key = _key(kind)
        if key == _key(FEE_PRIVILEGE):
            fee_paid = _status(privilege, FEE_STATUS, kind, peer) and _in_force(
                privilege, today, peer
            )
        elif key == _key(STATEMENT_PRIVILEGE):
            statement_signed = _status(privilege, STATEMENT_STATUS, kind, peer) and _in_force(
                privilege, today, peer
            )
        elif category is None and kind:
            category = kind
            valid_to = _text(privilege, "ValidToDate")
            expires = _date(valid_to, "ValidToDate", peer) if valid_to else None

    blocked = any(
        not _key(_text(block, "BlockOrTrapType") or "").startswith("trap")
        and _in_force(block, today, peer)
        for block in fields.iterfind(_q("BlockOrTrap"))
    )
    return RegisterEntry(
        card_number=card_number,
        surname=surname,
        given_name=given_name,
        birth_date=_date(birth, "DateOfBirth", peer) if birth else None,
        email=_email(fields),
        category=category,
        fee_paid=fee_paid,
        statement_signed=statement_signed,
        blocked=blocked,
        expires=expires,
        fines_due=_fines(response, peer),
    )


def _name(fields: etree._Element, peer: str | None) -> tuple[str, str]:
    personal = fields.find(f"{_q('NameInformation')}/{_q('PersonalNameInformation')}")
    if personal is not None:
        structured = personal.find(_q("StructuredPersonalUserName"))
        if structured is not None:
            surname = _text(structured, "Surname")
            if surname:
                return surname, _text(structured, "GivenName") or ""
        unstructured = _text(personal, "UnstructuredPersonalUserName")
        if unstructured:
            if "," in unstructured:
                surname, _, given = unstructured.partition(",")
                return _clean(surname), _clean(given)
            given, _, surname = unstructured.rpartition(" ")
            return _clean(surname), _clean(given)
    raise NcipBadResponse(
        "the response has no personal name (NameInformation/PersonalNameInformation)",
        peer=peer,
    )


def _email(fields: etree._Element) -> str | None:
    for address in fields.iterfind(f"{_q('UserAddressInformation')}/{_q('ElectronicAddress')}"):
        kind = _key(_text(address, "ElectronicAddressType") or "")
        data = _text(address, "ElectronicAddressData")
        if not data:
            continue
        if data[: len(MAILTO) + 1].casefold() == f"{MAILTO}:":
            return data[len(MAILTO) + 1 :].strip() or None
        if kind == MAILTO:
            return data
    return None


def _status(
    privilege: etree._Element, table: dict[str, bool], kind: str, peer: str | None
) -> bool:
    status = _text(privilege, "UserPrivilegeStatus", "UserPrivilegeStatusType")
    if status is None or _key(status) not in table:
        expected = " or ".join(repr(s) for s in table)
        raise NcipBadResponse(
            f"UserPrivilege {kind!r} has status {status!r}; expected {expected}", peer=peer
        )
    return table[_key(status)]


def _in_force(element: etree._Element, today: date, peer: str | None) -> bool:
    """Whether today is within the element's ValidFromDate..ValidToDate (either open)."""
    valid_from = _text(element, "ValidFromDate")
    valid_to = _text(element, "ValidToDate")
    if valid_from and _date(valid_from, "ValidFromDate", peer) > today:
        return False
    return not (valid_to and _date(valid_to, "ValidToDate", peer) < today)


def _fines(response: etree._Element, peer: str | None) -> Decimal | None:
    balances = response.findall(f"{_q('UserFiscalAccount')}/{_q('AccountBalance')}")
    if not balances:
        return None
    currencies = set()
    total = Decimal(0)
    for balance in balances:
        currency = (_text(balance, "CurrencyCode") or "").upper()
        value = _text(balance, "MonetaryValue") or ""
        try:
            minor = int(value)
        except ValueError as exc:
            raise NcipBadResponse(f"MonetaryValue {value!r} is not an integer", peer=peer) from exc
        currencies.add(currency)
        total += Decimal(minor).scaleb(-MINOR_UNITS.get(currency, DEFAULT_MINOR_UNIT))
    if len(currencies) > 1:
        raise NcipBadResponse(
            f"account balances in several currencies: {', '.join(sorted(currencies))}", peer=peer
        )
    return max(total, Decimal(0)).quantize(Decimal(1).scaleb(-_minor_unit(currencies)))


def _minor_unit(currencies: set[str]) -> int:
    return MINOR_UNITS.get(next(iter(currencies)), DEFAULT_MINOR_UNIT)


def _date(text: str, element: str, peer: str | None) -> date:
    """The calendar date of an xs:dateTime (or xs:date) as written.

    Not converted to UTC: a birth date or an expiry is a day in the register's own
    calendar, and "1990-03-14T00:00:00+01:00" shifted to UTC would be the 13th.
    """
    match = _DATE.match(text)
    if match is None:
        raise NcipBadResponse(f"{element} {text!r} is not a date", peer=peer)
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise NcipBadResponse(f"{element} {text!r} is not a date", peer=peer) from exc


def _text(parent: etree._Element, *path: str) -> str | None:
    element = parent.find("/".join(_q(name) for name in path))
    if element is None or element.text is None:
        return None
    return _clean(element.text) or None


def _attribute(element: etree._Element, name: str) -> str | None:
    # The schema qualifies attributes; some responders still write them bare.
    value = element.get(_q(name))
    if value is None:
        value = element.get(name)
    return value


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _key(text: str) -> str:
    return _clean(text).casefold()
