"""NCIP 2.02 LookupUser: the request the broker writes and the response it reads. Pure.

Implements the LookupUser service of NCIP 2.02 (ANSI/NISO Z39.83-1-2012, Part 1
"Lookup User"; Part 2, the XML schema ncip_v2_02.xsd). The schema's target namespace
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
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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

# A LookupUserResponse without loaned and requested items is a few kilobytes; a
# megabyte is a responder gone wrong.
MAX_MESSAGE_BYTES = 1024 * 1024

_DATE = re.compile(r"\s*(-?\d{4,})-(\d{2})-(\d{2})")


def _q(name: str) -> str:
    return f"{{{NCIP_NS}}}{name}"


# --- the request ---------------------------------------------------------------------


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
    card = card_number.strip()
    if not card:
        raise ValueError("the card number is empty")
    if not from_agency.strip() or not to_agency.strip():
        raise ValueError("FromAgencyId and ToAgencyId must not be empty")
    unknown = [t for t in element_types if t not in USER_ELEMENT_TYPES]
    if unknown:
        raise ValueError(f"not values of userelementtype.scm: {', '.join(unknown)}")

    root = etree.Element(_q("NCIPMessage"), nsmap={NCIP_PREFIX: NCIP_NS})
    root.set(_q("version"), NCIP_VERSION)
    lookup = etree.SubElement(root, _q("LookupUser"))
    header = etree.SubElement(lookup, _q("InitiationHeader"))
    etree.SubElement(etree.SubElement(header, _q("FromAgencyId")), _q("AgencyId")).text = (
        from_agency.strip()
    )
    etree.SubElement(etree.SubElement(header, _q("ToAgencyId")), _q("AgencyId")).text = (
        to_agency.strip()
    )
    user_id = etree.SubElement(lookup, _q("UserId"))
    etree.SubElement(user_id, _q("AgencyId")).text = to_agency.strip()
    etree.SubElement(user_id, _q("UserIdentifierValue")).text = card
    for element_type in dict.fromkeys(element_types):
        element = etree.SubElement(lookup, _q("UserElementType"))
        element.set(_q("Scheme"), USER_ELEMENT_TYPE_SCHEME)
        element.text = element_type
    if fiscal_account:
        etree.SubElement(lookup, _q("UserFiscalAccountDesired"))
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
    root = parse_message(body, peer=peer, max_bytes=max_bytes)
    problems = parse_problems(root)
    response = root.find(_q("LookupUserResponse"))
    if response is None and not problems:
        first = next(iter(root), None)
        name = etree.QName(first).localname if first is not None else "nothing"
        raise NcipBadResponse(f"not a LookupUserResponse: the message holds {name}", peer=peer)
    if response is not None:
        problems.extend(parse_problems(response))
    if problems or response is None:
        errors = [p for p in problems if not is_unknown_user(p)]
        if errors:
            raise error_for(errors[0], peer=peer)
        return None
    return _entry(response, card_number.strip(), today or date.today(), peer)


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
