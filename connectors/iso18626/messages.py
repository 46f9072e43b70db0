"""ISO 18626 messages: frozen dataclasses, and their XML for two schema versions. Pure.

Implements the six messages of ISO 18626 (Information and documentation --
Interlibrary loan transactions): ``request``, ``supplyingAgencyMessage`` and
``requestingAgencyMessage``, each answered by its confirmation
(``requestConfirmation``, ``supplyingAgencyMessageConfirmation``,
``requestingAgencyMessageConfirmation``), as the maintenance agency's schemas define
them:

- ``"1.2"``: ISO 18626:2017, schema ISO-18626-v1_2.xsd;
- ``"2021-2"``: ISO 18626:2021, schema ISO-18626-2021-2.xsd.

Both schemas have the target namespace http://illtransactions.org/2013/iso18626 with
``elementFormDefault`` *and* ``attributeFormDefault`` "qualified": the root's
required ``version`` and every ``scheme`` attribute are written ``ill:version`` /
``ill:scheme``. Nothing in a message says which schema it follows (``version`` is
free text), so the version is known per partner and given to ``build`` and
``parse``.

What differs between the versions (all of it is in ``_SPECS`` below, one table):

- headers: v1.2 has one ``header`` for the three messages, with
  ``multipleItemRequestId`` required (the broker writes it empty when it has none,
  as other systems do; the 2021 revision calls it "erroneously mandatory").
  2021-2 has a header per message: ``consortialId`` is new; the Request's
  ``supplyingAgencyId`` is optional and it has no ``supplyingAgencyRequestId``;
  the SupplyingAgencyMessage's has neither ``multipleItemRequestId`` nor
  ``requestingAgencyAuthentication``; ``confirmationHeader`` lost
  ``multipleItemRequestId``;
- code lists: 2021-2 adds the Status values ``HoldReturn`` and
  ``ReleaseHoldReturn`` and the Action values ``HoldReturn`` and ``Lost``;
- Request: ``serviceInfo`` is required in 2021-2 (optional in v1.2); new
  ``authorId``, ``publisherId``, ``preferredEdition``, ``serviceInfo/loanCondition``,
  ``requestedDeliveryInfo/deliveryMethod`` and ``courierName``; ``volume`` and
  ``requestSubType`` repeat without bound (v1.2: one volume, three sub-types);
  ``serviceInfo/preferredFormat`` became ``itemFormat``; ``bibliographicItemId``
  writes the code before the identifier (v1.2: the identifier first);
  ``physicalAddress/region`` is plain text (v1.2: a scheme/value pair);
- SupplyingAgencyMessage: 2021-2 moved ``offeredCosts``, ``retryAfter`` and
  ``retryBefore`` from ``messageInfo`` into a new ``retryInfo`` and added
  ``shippingInfo``; ``deliveryInfo/sentVia`` became ``deliveryMethod`` and
  ``deliveredFormat`` became ``itemFormat``; ``deliveryInfo`` gained ``URL``,
  ``address``, ``serviceType``, ``paymentMethod`` and repeats ``itemId``,
  ``loanCondition`` and ``deliveryCosts``;
- confirmations: 2021-2 allows several ``errorData``.

One dataclass serves both versions. A field is named after its element in
snake_case (a repeated element's field is a tuple, with a plural name where the
element's name has one); where 2021 renamed an element, the field has the new name
(``item_format`` is v1.2's ``deliveredFormat`` and ``preferredFormat``,
``delivery_method`` its ``sentVia``). ``build`` refuses (``ValueError``) a message
that the version cannot carry: a field set that has no element in that version, a
required one missing, more occurrences than the version allows, a code not in its
code list, a naive datetime. Nothing is dropped silently.

``parse`` reads a partner's message leniently in element *order* (any order of
children is taken) and strictly in *vocabulary*: an element the version does not
have where it stands, a missing required element, a value that is not of its type
or code list raise the ``MessageError`` of ``connectors.iso18626.errors`` that
names the ISO 18626 ``errorType`` to answer with. The body is parsed with entities,
DTDs and the network off, under a size limit, and a DOCTYPE is refused outright.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol, TypeAlias

from lxml import etree

from broker.domain.states import IsoStatus
from connectors.iso18626.errors import (
    BadTimestamp,
    DoctypeRefused,
    ErrorType,
    MessageError,
    MessageTooLarge,
    MissingElement,
    NotWellFormed,
    TooManyElements,
    UnknownRoot,
    UnrecognisedDataElement,
    UnrecognisedDataValue,
    UnsupportedActionType,
    UnsupportedReasonForMessageType,
    UnsupportedVersion,
    WrongNamespace,
)

ILL_NS = "http://illtransactions.org/2013/iso18626"
ILL_PREFIX = "ill"
ROOT = "ISO18626Message"

V1_2 = "1.2"
V2021_2 = "2021-2"
VERSIONS: tuple[str, ...] = (V1_2, V2021_2)
# The official schema file of each version (in ../shared/conformance for the tests).
SCHEMA_FILES: dict[str, str] = {V1_2: "ISO-18626-v1_2.xsd", V2021_2: "ISO-18626-2021-2.xsd"}
# What partners write in ISO18626Message/@version, read by ``parse`` when it is not
# told the version. 2021-1 is the 2021 revision's first schema ("aka version 1.3"),
# which 2021-2 only corrected.
VERSION_NAMES: dict[str, str] = {"1.2": V1_2, "2021-2": V2021_2, "2021-1": V2021_2, "1.3": V2021_2}

# A Request with a long note and all its bibliographic detail is a few kilobytes; a
# megabyte is a partner gone wrong or an attack.
MAX_MESSAGE_BYTES = 1024 * 1024

_BOTH = frozenset(VERSIONS)
_V12 = frozenset({V1_2})
_V21 = frozenset({V2021_2})
_NONE: frozenset[str] = frozenset()


# --- code lists ------------------------------------------------------------------------


class Status2021(StrEnum):
    """The ``type_status`` values that ISO 18626:2021 (schema 2021-2) added to those
    of ``broker.domain.states.IsoStatus`` (the v1.2 list)."""

    HOLD_RETURN = "HoldReturn"
    RELEASE_HOLD_RETURN = "ReleaseHoldReturn"


# statusInfo/status: the v1.2 values are the domain's IsoStatus, 2021-2 adds two.
Status: TypeAlias = IsoStatus | Status2021


class ReasonForMessage(StrEnum):
    """``type_reasonForMessage`` (the same in both versions)."""

    REQUEST_RESPONSE = "RequestResponse"
    STATUS_REQUEST_RESPONSE = "StatusRequestResponse"
    RENEW_RESPONSE = "RenewResponse"
    CANCEL_RESPONSE = "CancelResponse"
    STATUS_CHANGE = "StatusChange"
    NOTIFICATION = "Notification"


class Action(StrEnum):
    """``type_action``; ``HoldReturn`` and ``Lost`` exist in 2021-2 only (``ACTIONS``)."""

    STATUS_REQUEST = "StatusRequest"
    RECEIVED = "Received"
    CANCEL = "Cancel"
    RENEW = "Renew"
    HOLD_RETURN = "HoldReturn"
    SHIPPED_RETURN = "ShippedReturn"
    SHIPPED_FORWARD = "ShippedForward"
    NOTIFICATION = "Notification"
    LOST = "Lost"


class MessageStatus(StrEnum):
    """``type_messageStatus`` of a confirmation."""

    OK = "OK"
    ERROR = "ERROR"


class ServiceType(StrEnum):
    """``type_serviceType``."""

    COPY = "Copy"
    LOAN = "Loan"
    COPY_OR_LOAN = "CopyOrLoan"


class RequestType(StrEnum):
    """``type_requestType``."""

    NEW = "New"
    RETRY = "Retry"
    REMINDER = "Reminder"


class RequestSubType(StrEnum):
    """``type_requestSubType``."""

    BOOKING_REQUEST = "BookingRequest"
    MULTIPLE_ITEM_REQUEST = "MultipleItemRequest"
    PATRON_REQUEST = "PatronRequest"
    TRANSFER_REQUEST = "TransferRequest"
    SUPPLYING_LIBRARYS_CHOICE = "SupplyingLibrarysChoice"


class PreferredEdition(StrEnum):
    """``type_preferredEdition`` (2021-2 only; it replaces ``anyEdition``)."""

    MOST_RECENT_EDITION = "MostRecentEdition"
    THIS_EDITION = "ThisEdition"
    ANY_EDITION = "AnyEdition"


def _values(*enums: type[StrEnum]) -> frozenset[str]:
    return frozenset(str(member) for enum in enums for member in enum)


def _same(values: frozenset[str]) -> dict[str, frozenset[str]]:
    return dict.fromkeys(VERSIONS, values)


STATUSES: dict[str, frozenset[str]] = {
    V1_2: _values(IsoStatus),
    V2021_2: _values(IsoStatus, Status2021),
}
ACTIONS: dict[str, frozenset[str]] = {
    V1_2: _values(Action) - {Action.HOLD_RETURN, Action.LOST},
    V2021_2: _values(Action),
}


def status(value: str) -> Status:
    """The Status member spelled ``value`` (``ValueError`` if it is in no version)."""
    try:
        return IsoStatus(value)
    except ValueError:
        return Status2021(value)


# --- the data ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SchemeValue:
    """``type_schemeValuePair``: an open-code value and the URI of its code list."""

    value: str
    scheme: str | None = None


@dataclass(frozen=True, slots=True)
class AgencyId:
    """``type_agencyId``, e.g. ``AgencyId(SchemeValue("ISIL"), "SI-LJMK")``."""

    agency_id_type: SchemeValue
    agency_id_value: str


@dataclass(frozen=True, slots=True)
class Costs:
    """``type_costs``: an amount in the major unit of ``currency_code`` (ISO 4217)."""

    currency_code: SchemeValue
    monetary_value: Decimal


@dataclass(frozen=True, slots=True)
class ElectronicAddress:
    electronic_address_type: SchemeValue
    electronic_address_data: str


@dataclass(frozen=True, slots=True)
class PhysicalAddress:
    """``physicalAddress``. ``region`` is a scheme/value pair in v1.2 and plain text in
    2021-2 (a region with a scheme cannot be written in 2021-2)."""

    line1: str | None = None
    line2: str | None = None
    locality: str | None = None
    postal_code: str | None = None
    region: SchemeValue | None = None
    country: SchemeValue | None = None


@dataclass(frozen=True, slots=True)
class Address:
    """``address``: the schema's choice of exactly one of the two."""

    electronic_address: ElectronicAddress | None = None
    physical_address: PhysicalAddress | None = None


@dataclass(frozen=True, slots=True)
class RequestingAgencyAuthentication:
    account_id: str | None = None
    security_code: str | None = None


@dataclass(frozen=True, slots=True)
class Header:
    """The message header; which elements a message's header has depends on the
    message and the version (see the module docstring)."""

    requesting_agency_id: AgencyId
    timestamp: datetime
    requesting_agency_request_id: str
    supplying_agency_id: AgencyId | None = None
    consortial_id: AgencyId | None = None
    multiple_item_request_id: str | None = None
    supplying_agency_request_id: str | None = None
    requesting_agency_authentication: RequestingAgencyAuthentication | None = None


@dataclass(frozen=True, slots=True)
class BibliographicItemId:
    """An identifier of the item, e.g. ISBN or ISSN in ``bibliographic_item_identifier_code``."""

    bibliographic_item_identifier: str
    bibliographic_item_identifier_code: SchemeValue


@dataclass(frozen=True, slots=True)
class BibliographicRecordId:
    bibliographic_record_identifier_code: SchemeValue
    bibliographic_record_identifier: str


@dataclass(frozen=True, slots=True)
class BibliographicInfo:
    supplier_unique_record_id: str | None = None
    title: str | None = None
    author: str | None = None
    author_id: str | None = None
    subtitle: str | None = None
    series_title: str | None = None
    edition: str | None = None
    title_of_component: str | None = None
    author_of_component: str | None = None
    volumes: tuple[str, ...] = ()
    issue: str | None = None
    pages_requested: str | None = None
    estimated_no_pages: str | None = None
    bibliographic_item_ids: tuple[BibliographicItemId, ...] = ()
    sponsor: str | None = None
    information_source: str | None = None
    bibliographic_record_ids: tuple[BibliographicRecordId, ...] = ()


@dataclass(frozen=True, slots=True)
class PublicationInfo:
    publisher: str | None = None
    publisher_id: str | None = None
    publication_type: SchemeValue | None = None
    publication_date: str | None = None
    place_of_publication: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    service_type: ServiceType
    request_type: RequestType | None = None
    request_sub_types: tuple[RequestSubType, ...] = ()
    requesting_agency_previous_request_id: str | None = None
    service_level: SchemeValue | None = None
    item_format: SchemeValue | None = None
    need_before_date: datetime | None = None
    copyright_compliance: SchemeValue | None = None
    any_edition: bool | None = None
    preferred_edition: PreferredEdition | None = None
    loan_conditions: tuple[SchemeValue, ...] = ()
    start_date: datetime | None = None
    end_date: datetime | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class SupplierInfo:
    sort_order: int | None = None
    supplier_code: AgencyId | None = None
    supplier_description: str | None = None
    bibliographic_record_id: BibliographicRecordId | None = None
    call_number: str | None = None
    summary_holdings: str | None = None
    availability_note: str | None = None


@dataclass(frozen=True, slots=True)
class RequestedDeliveryInfo:
    sort_order: int | None = None
    address: Address | None = None
    delivery_method: SchemeValue | None = None
    courier_name: SchemeValue | None = None


@dataclass(frozen=True, slots=True)
class RequestingAgencyInfo:
    name: str | None = None
    contact_name: str | None = None
    addresses: tuple[Address, ...] = ()


@dataclass(frozen=True, slots=True)
class PatronInfo:
    """``patronInfo``; all optional, and the broker sends no more of the patron than
    the lender needs."""

    patron_id: str | None = None
    surname: str | None = None
    given_name: str | None = None
    patron_type: SchemeValue | None = None
    send_to_patron: bool | None = None
    addresses: tuple[Address, ...] = ()


@dataclass(frozen=True, slots=True)
class BillingInfo:
    payment_method: SchemeValue | None = None
    maximum_costs: Costs | None = None
    billing_method: SchemeValue | None = None
    billing_name: str | None = None
    address: Address | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """The Request message: the requesting agency asks a supplier for an item.

    ``raw`` is the XML as received (set by ``parse``, for the audit log) and
    ``version`` the schema version it was read by; neither takes part in ``==``.
    """

    header: Header
    bibliographic_info: BibliographicInfo
    service_info: ServiceInfo | None = None
    publication_info: PublicationInfo | None = None
    supplier_info: tuple[SupplierInfo, ...] = ()
    requested_delivery_info: tuple[RequestedDeliveryInfo, ...] = ()
    requesting_agency_info: RequestingAgencyInfo | None = None
    patron_info: PatronInfo | None = None
    billing_info: BillingInfo | None = None
    raw: bytes | None = field(default=None, compare=False, repr=False)
    version: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """``messageInfo``. ``offered_costs``, ``retry_after`` and ``retry_before`` are
    v1.2's; 2021-2 has them in ``RetryInfo``."""

    reason_for_message: ReasonForMessage
    answer_yes_no: bool | None = None
    note: str | None = None
    reason_unfilled: SchemeValue | None = None
    reason_retry: SchemeValue | None = None
    offered_costs: Costs | None = None
    retry_after: datetime | None = None
    retry_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class StatusInfo:
    status: Status
    last_change: datetime
    expected_delivery_date: datetime | None = None
    due_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class RetryInfo:
    """``retryInfo`` (2021-2 only): the conditions on which the supplier would fill
    a retried request."""

    loan_conditions: tuple[SchemeValue, ...] = ()
    editions: tuple[str, ...] = ()
    item_formats: tuple[SchemeValue, ...] = ()
    volumes: tuple[str, ...] = ()
    service_type: ServiceType | None = None
    service_levels: tuple[SchemeValue, ...] = ()
    delivery_methods: tuple[SchemeValue, ...] = ()
    courier_names: tuple[SchemeValue, ...] = ()
    offered_costs: tuple[Costs, ...] = ()
    payment_methods: tuple[SchemeValue, ...] = ()
    retry_before: datetime | None = None
    retry_after: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    """``deliveryInfo``. v1.2 writes ``delivery_method`` as ``sentVia`` and
    ``item_format`` as ``deliveredFormat``, and allows one item id, loan condition
    and delivery cost each; ``url``, ``address``, ``service_type`` and
    ``payment_method`` are 2021-2's."""

    date_sent: datetime
    item_ids: tuple[str, ...] = ()
    url: str | None = None
    delivery_method: SchemeValue | None = None
    address: Address | None = None
    sent_to_patron: bool | None = None
    loan_conditions: tuple[SchemeValue, ...] = ()
    item_format: SchemeValue | None = None
    service_type: ServiceType | None = None
    delivery_costs: tuple[Costs, ...] = ()
    payment_method: SchemeValue | None = None


@dataclass(frozen=True, slots=True)
class ShippingInfo:
    """``shippingInfo`` (2021-2 only)."""

    courier_name: SchemeValue | None = None
    tracking_ids: tuple[str, ...] = ()
    insurance: bool | None = None
    insurance_third_party: bool | None = None
    third_party_name: str | None = None
    insurance_costs: tuple[Costs, ...] = ()


@dataclass(frozen=True, slots=True)
class ReturnInfo:
    return_agency_id: AgencyId | None = None
    name: str | None = None
    physical_address: PhysicalAddress | None = None


@dataclass(frozen=True, slots=True)
class SupplyingAgencyMessage:
    """The SupplyingAgencyMessage: the supplier answers a request or says what
    became of it. ``raw`` and ``version`` as for ``Request``."""

    header: Header
    message_info: MessageInfo
    status_info: StatusInfo
    retry_info: RetryInfo | None = None
    delivery_info: DeliveryInfo | None = None
    shipping_info: ShippingInfo | None = None
    return_info: ReturnInfo | None = None
    raw: bytes | None = field(default=None, compare=False, repr=False)
    version: str | None = field(default=None, compare=False)

    @property
    def offered_costs(self) -> tuple[Costs, ...]:
        """What the supplier asks for (v1.2 ``messageInfo``, 2021-2 ``retryInfo``)."""
        if self.retry_info is not None and self.retry_info.offered_costs:
            return self.retry_info.offered_costs
        offered = self.message_info.offered_costs
        return (offered,) if offered is not None else ()

    @property
    def retry_after(self) -> datetime | None:
        """When a retry may come (v1.2 ``messageInfo``, 2021-2 ``retryInfo``)."""
        if self.retry_info is not None and self.retry_info.retry_after is not None:
            return self.retry_info.retry_after
        return self.message_info.retry_after

    @property
    def retry_before(self) -> datetime | None:
        """Until when a retry may come (v1.2 ``messageInfo``, 2021-2 ``retryInfo``)."""
        if self.retry_info is not None and self.retry_info.retry_before is not None:
            return self.retry_info.retry_before
        return self.message_info.retry_before


@dataclass(frozen=True, slots=True)
class RequestingAgencyMessage:
    """The RequestingAgencyMessage: the requester tells the supplier what it did or
    asks (``action``). ``raw`` and ``version`` as for ``Request``."""

    header: Header
    action: Action
    note: str | None = None
    raw: bytes | None = field(default=None, compare=False, repr=False)
    version: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ConfirmationHeader:
    """``confirmationHeader``; ``multiple_item_request_id`` is v1.2's only."""

    timestamp: datetime
    timestamp_received: datetime
    message_status: MessageStatus
    supplying_agency_id: AgencyId | None = None
    requesting_agency_id: AgencyId | None = None
    requesting_agency_request_id: str | None = None
    multiple_item_request_id: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorData:
    error_type: ErrorType
    error_value: str | None = None


@dataclass(frozen=True, slots=True)
class RequestConfirmation:
    """The answer to a Request. v1.2 allows one ``error_data``, 2021-2 several."""

    confirmation_header: ConfirmationHeader
    error_data: tuple[ErrorData, ...] = ()
    raw: bytes | None = field(default=None, compare=False, repr=False)
    version: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class SupplyingAgencyMessageConfirmation:
    """The answer to a SupplyingAgencyMessage, echoing its ``reason_for_message``."""

    confirmation_header: ConfirmationHeader
    reason_for_message: ReasonForMessage | None = None
    error_data: tuple[ErrorData, ...] = ()
    raw: bytes | None = field(default=None, compare=False, repr=False)
    version: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class RequestingAgencyMessageConfirmation:
    """The answer to a RequestingAgencyMessage, echoing its ``action``."""

    confirmation_header: ConfirmationHeader
    action: Action | None = None
    error_data: tuple[ErrorData, ...] = ()
    raw: bytes | None = field(default=None, compare=False, repr=False)
    version: str | None = field(default=None, compare=False)


Confirmation: TypeAlias = (
    RequestConfirmation | SupplyingAgencyMessageConfirmation | RequestingAgencyMessageConfirmation
)
Initiating: TypeAlias = Request | SupplyingAgencyMessage | RequestingAgencyMessage
Message: TypeAlias = Initiating | Confirmation

# The message element of each message class, and the confirmation answering each.
MESSAGE_ELEMENTS: dict[type[Message], str] = {
    Request: "request",
    RequestConfirmation: "requestConfirmation",
    SupplyingAgencyMessage: "supplyingAgencyMessage",
    SupplyingAgencyMessageConfirmation: "supplyingAgencyMessageConfirmation",
    RequestingAgencyMessage: "requestingAgencyMessage",
    RequestingAgencyMessageConfirmation: "requestingAgencyMessageConfirmation",
}
CONFIRMATIONS: dict[type[Initiating], type[Confirmation]] = {
    Request: RequestConfirmation,
    SupplyingAgencyMessage: SupplyingAgencyMessageConfirmation,
    RequestingAgencyMessage: RequestingAgencyMessageConfirmation,
}


# --- how each value is written and read ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    """What an error raised while reading needs to say where it happened."""

    version: str
    kind: str | None
    peer: str | None

    def fail(self, error: type[MessageError], text: str, path: str,
             value: str | None = None) -> MessageError:
        return error(f"{text} ({path})", element=path, value=value, kind=self.kind,
                     peer=self.peer)


class _Codec(Protocol):
    def write(self, element: etree._Element, value: Any, version: str, path: str) -> None: ...

    def read(self, element: etree._Element, context: _Context, path: str) -> Any: ...


def _leaf_text(element: etree._Element, context: _Context, path: str) -> str:
    # A simple-typed element holds text only: comments and PIs are skipped, but an
    # element inside one is nothing the schema has there.
    for child in element:
        if isinstance(child.tag, str):
            raise context.fail(UnrecognisedDataElement,
                               f"element {etree.QName(child).localname} inside a value", path)
    return "".join(element.itertext())


def _scheme_attribute(element: etree._Element) -> str | None:
    # attributeFormDefault is "qualified"; partners that write a bare ``scheme``
    # mean the same thing, so both are read.
    value = element.get(_q("scheme"))
    return value if value is not None else element.get("scheme")


class _Text:
    def write(self, element: etree._Element, value: Any, version: str, path: str) -> None:
        element.text = str(value)

    def read(self, element: etree._Element, context: _Context, path: str) -> Any:
        return _leaf_text(element, context, path)


_XS_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?"
)


def format_datetime(value: datetime) -> str:
    """An xs:dateTime for an aware ``value``, UTC written with "Z"."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value.isoformat()} has no UTC offset; ISO 18626 times must say it")
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_datetime(text: str) -> datetime:
    """The datetime of an xs:dateTime (naive when it has no offset, as the partner
    wrote it). ``ValueError`` for anything else, among them a bare date."""
    match = _XS_DATETIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an xs:dateTime")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    # Python keeps microseconds; xs:dateTime allows any number of fraction digits.
    micro = f".{(fraction + '00000')[:6]}" if fraction else ""
    zone = "+00:00" if offset == "Z" else (offset or "")
    return datetime.fromisoformat(f"{year}-{month}-{day}T{hour}:{minute}:{second}{micro}{zone}")


class _DateTime:
    def write(self, element: etree._Element, value: Any, version: str, path: str) -> None:
        try:
            element.text = format_datetime(value)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def read(self, element: etree._Element, context: _Context, path: str) -> Any:
        text = _leaf_text(element, context, path)
        try:
            return parse_datetime(text)
        except ValueError:
            raise context.fail(BadTimestamp, f"{text[:40]!r} is not an xs:dateTime", path,
                               text) from None


_XS_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


class _Decimal:
    def write(self, element: etree._Element, value: Any, version: str, path: str) -> None:
        amount = Decimal(value)
        if not amount.is_finite():
            raise ValueError(f"{path}: {value} is not an amount")
        element.text = format(amount, "f")

    def read(self, element: etree._Element, context: _Context, path: str) -> Any:
        text = _leaf_text(element, context, path).strip()
        if not _XS_DECIMAL.fullmatch(text):
            raise context.fail(UnrecognisedDataValue, f"{text[:40]!r} is not an xs:decimal",
                               path, text)
        return Decimal(text)  # the pattern admits nothing Decimal refuses


@dataclass(frozen=True, slots=True)
class _Integer:
    minimum: int | None = None

    def write(self, element: etree._Element, value: Any, version: str, path: str) -> None:
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{path}: {value} is below {self.minimum} in ISO 18626 {version}")
        element.text = str(int(value))

    def read(self, element: etree._Element, context: _Context, path: str) -> Any:
        text = _leaf_text(element, context, path).strip()
        if not re.fullmatch(r"[+-]?\d{1,18}", text):
            raise context.fail(UnrecognisedDataValue, f"{text[:40]!r} is not an xs:integer",
                               path, text)
        number = int(text)
        if self.minimum is not None and number < self.minimum:
            raise context.fail(UnrecognisedDataValue, f"{number} is below {self.minimum}",
                               path, text)
        return number


@dataclass(frozen=True, slots=True)
class _Boolean:
    """xs:boolean ("true"/"false"/"1"/"0") or, with ``yes_no``, ``type_yesNo`` (Y/N)."""

    yes_no: bool = False

    def write(self, element: etree._Element, value: Any, version: str, path: str) -> None:
        if self.yes_no:
            element.text = "Y" if value else "N"
        else:
            element.text = "true" if value else "false"

    def read(self, element: etree._Element, context: _Context, path: str) -> Any:
        text = _leaf_text(element, context, path).strip()
        table = {"Y": True, "N": False} if self.yes_no else {
            "true": True, "1": True, "false": False, "0": False}
        if text not in table:
            raise context.fail(UnrecognisedDataValue, f"{text[:40]!r} is not one of "
                               f"{', '.join(table)}", path, text)
        return table[text]


@dataclass(frozen=True, slots=True)
class _Code:
    """A value of a closed code list: ``allowed`` per version, ``make`` the enum
    member, ``error`` what a value outside the list raises."""

    allowed: Mapping[str, frozenset[str]]
    make: Callable[[str], StrEnum]
    error: type[MessageError] = UnrecognisedDataValue

    def write(self, element: etree._Element, value: Any, version: str, path: str) -> None:
        if str(value) not in self.allowed[version]:
            raise ValueError(f"{path}: {str(value)!r} is not a value of ISO 18626 {version}")
        element.text = str(value)

    def read(self, element: etree._Element, context: _Context, path: str) -> Any:
        # The code lists restrict xs:string, whose white space counts; a partner's
        # stray blank is still read as the value it surrounds.
        text = _leaf_text(element, context, path).strip()
        if text not in self.allowed[context.version]:
            raise context.fail(self.error, f"{text[:40]!r} is not a value of ISO 18626 "
                               f"{context.version}", path, text)
        return self.make(text)


@dataclass(frozen=True, slots=True)
class _Scheme:
    """``type_schemeValuePair``; with ``plain``, a SchemeValue written as plain text
    (2021-2's ``region``), which has no room for a scheme."""

    plain: bool = False

    def write(self, element: etree._Element, value: Any, version: str, path: str) -> None:
        if value.scheme is not None:
            if self.plain:
                raise ValueError(f"{path} has no scheme in ISO 18626 {version}")
            element.set(_q("scheme"), value.scheme)
        element.text = value.value

    def read(self, element: etree._Element, context: _Context, path: str) -> Any:
        text = _leaf_text(element, context, path)
        return SchemeValue(text, None if self.plain else _scheme_attribute(element))


@dataclass(frozen=True, slots=True)
class _Struct:
    """A complex element: the dataclass ``cls`` laid out by ``_SPECS[spec]``."""

    cls: type[Any]
    spec: str

    def write(self, element: etree._Element, value: Any, version: str, path: str) -> None:
        _write(element, value, self.spec, version, path)

    def read(self, element: etree._Element, context: _Context, path: str) -> Any:
        return _read(element, self.cls, self.spec, context, path)


# --- the layout of each element, per version ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _Child:
    """One child element in its parent's sequence.

    ``versions``: where it exists; ``required``: where it must stand; ``repeated``:
    the field is a tuple; ``most``: how many the version allows (None: unbounded);
    ``empty``: required but meaningless without a value, written empty and read as
    None (v1.2's ``multipleItemRequestId``).
    """

    tag: str
    attr: str
    codec: _Codec
    versions: frozenset[str]
    required: frozenset[str]
    repeated: bool
    most: int | None
    empty: bool


def _snake(tag: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", tag).lower()


def _el(tag: str, codec: _Codec, *, attr: str | None = None, only: frozenset[str] = _BOTH,
        required: frozenset[str] = _NONE, repeated: bool = False, most: int | None = None,
        empty: bool = False) -> _Child:
    if not repeated:
        most = 1
    return _Child(tag, attr or _snake(tag), codec, only, required, repeated, most, empty)


_TEXT = _Text()
_DATETIME = _DateTime()
_DECIMAL = _Decimal()
_BOOLEAN = _Boolean()
_YES_NO = _Boolean(yes_no=True)
_SCHEME = _Scheme()
_AGENCY = _Struct(AgencyId, "agencyId")
_COSTS = _Struct(Costs, "costs")
_ADDRESS = _Struct(Address, "address")
_PHYSICAL = _Struct(PhysicalAddress, "physicalAddress")
_RECORD_ID = _Struct(BibliographicRecordId, "bibliographicRecordId")
_SERVICE_TYPE = _Code(_same(_values(ServiceType)), ServiceType)
_REASON = _Code(_same(_values(ReasonForMessage)), ReasonForMessage,
                UnsupportedReasonForMessageType)
_ACTION = _Code(ACTIONS, Action, UnsupportedActionType)
_ERRORS = _Code(_same(_values(ErrorType)), ErrorType)


def _sort_order() -> tuple[_Child, ...]:
    # 2021-2 made sortOrder a global element with minInclusive 0.
    return (_el("sortOrder", _Integer(), only=_V12),
            _el("sortOrder", _Integer(minimum=0), only=_V21))


def _header(message: str) -> tuple[_Child, ...]:
    """The header of ``message``: v1.2's shared ``header``, or 2021-2's
    type_requestHeader, type_supplyingAgencyMessageHeader or
    type_requestingAgencyMessageHeader."""
    request = message == "request"
    supplying = message == "supplyingAgencyMessage"
    v21 = _NONE if supplying else _V21  # 2021-2 elements of the message's header
    return (
        _el("supplyingAgencyId", _AGENCY, required=_V12 if request else _BOTH),
        _el("requestingAgencyId", _AGENCY, required=_BOTH),
        _el("consortialId", _AGENCY, only=v21),
        _el("multipleItemRequestId", _TEXT, only=_V12 | (_V21 if request else _NONE),
            required=_V12, empty=True),
        _el("timestamp", _DATETIME, required=_BOTH),
        _el("requestingAgencyRequestId", _TEXT, required=_BOTH),
        _el("supplyingAgencyRequestId", _TEXT, only=_V12 if request else _BOTH),
        _el("requestingAgencyAuthentication",
            _Struct(RequestingAgencyAuthentication, "requestingAgencyAuthentication"),
            only=_V12 | v21),
    )


def _confirmation(echo: tuple[_Child, ...]) -> tuple[_Child, ...]:
    return (
        _el("confirmationHeader", _Struct(ConfirmationHeader, "confirmationHeader"),
            required=_BOTH),
        *echo,
        _el("errorData", _Struct(ErrorData, "errorData"), attr="error_data", repeated=True,
            only=_V12, most=1),
        _el("errorData", _Struct(ErrorData, "errorData"), attr="error_data", repeated=True,
            only=_V21),
    )


_SPECS: dict[str, tuple[_Child, ...]] = {
    # --- shared types
    "agencyId": (
        _el("agencyIdType", _SCHEME, required=_BOTH),
        _el("agencyIdValue", _TEXT, required=_BOTH),
    ),
    "costs": (
        _el("currencyCode", _SCHEME, required=_BOTH),
        _el("monetaryValue", _DECIMAL, required=_BOTH),
    ),
    "address": (
        _el("electronicAddress", _Struct(ElectronicAddress, "electronicAddress")),
        _el("physicalAddress", _PHYSICAL),
    ),
    "electronicAddress": (
        _el("electronicAddressType", _SCHEME, required=_BOTH),
        _el("electronicAddressData", _TEXT, required=_BOTH),
    ),
    "physicalAddress": (
        _el("line1", _TEXT),
        _el("line2", _TEXT),
        _el("locality", _TEXT),
        _el("postalCode", _TEXT),
        _el("region", _SCHEME, only=_V12),
        _el("region", _Scheme(plain=True), only=_V21),
        _el("country", _SCHEME),
    ),
    "requestingAgencyAuthentication": (
        _el("accountId", _TEXT),
        _el("securityCode", _TEXT),
    ),
    "bibliographicRecordId": (
        _el("bibliographicRecordIdentifierCode", _SCHEME, required=_BOTH),
        _el("bibliographicRecordIdentifier", _TEXT, required=_BOTH),
    ),
    # --- request
    "request": (
        _el("header", _Struct(Header, "requestHeader"), required=_BOTH),
        _el("bibliographicInfo", _Struct(BibliographicInfo, "bibliographicInfo"),
            required=_BOTH),
        _el("publicationInfo", _Struct(PublicationInfo, "publicationInfo")),
        _el("serviceInfo", _Struct(ServiceInfo, "serviceInfo"), required=_V21),
        _el("supplierInfo", _Struct(SupplierInfo, "supplierInfo"), repeated=True),
        _el("requestedDeliveryInfo", _Struct(RequestedDeliveryInfo, "requestedDeliveryInfo"),
            repeated=True),
        _el("requestingAgencyInfo", _Struct(RequestingAgencyInfo, "requestingAgencyInfo")),
        _el("patronInfo", _Struct(PatronInfo, "patronInfo")),
        _el("billingInfo", _Struct(BillingInfo, "billingInfo")),
    ),
    "requestHeader": _header("request"),
    "bibliographicInfo": (
        _el("supplierUniqueRecordId", _TEXT),
        _el("title", _TEXT),
        _el("author", _TEXT),
        _el("authorId", _TEXT, only=_V21),
        _el("subtitle", _TEXT),
        _el("seriesTitle", _TEXT),
        _el("edition", _TEXT),
        _el("titleOfComponent", _TEXT),
        _el("authorOfComponent", _TEXT),
        _el("volume", _TEXT, attr="volumes", repeated=True, only=_V12, most=1),
        _el("volume", _TEXT, attr="volumes", repeated=True, only=_V21),
        _el("issue", _TEXT),
        _el("pagesRequested", _TEXT),
        _el("estimatedNoPages", _TEXT),
        _el("bibliographicItemId", _Struct(BibliographicItemId, "bibliographicItemId"),
            attr="bibliographic_item_ids", repeated=True),
        _el("sponsor", _TEXT),
        _el("informationSource", _TEXT),
        _el("bibliographicRecordId", _RECORD_ID, attr="bibliographic_record_ids",
            repeated=True),
    ),
    "bibliographicItemId": (
        # 2021 "changed field sequence ... to match the order of elements in the document"
        _el("bibliographicItemIdentifier", _TEXT, only=_V12, required=_V12),
        _el("bibliographicItemIdentifierCode", _SCHEME, required=_BOTH),
        _el("bibliographicItemIdentifier", _TEXT, only=_V21, required=_V21),
    ),
    "publicationInfo": (
        _el("publisher", _TEXT),
        _el("publisherId", _TEXT, only=_V21),
        _el("publicationType", _SCHEME),
        _el("publicationDate", _TEXT),
        _el("placeOfPublication", _TEXT),
    ),
    "serviceInfo": (
        _el("requestType", _Code(_same(_values(RequestType)), RequestType)),
        _el("requestSubType", _Code(_same(_values(RequestSubType)), RequestSubType),
            attr="request_sub_types", repeated=True, only=_V12, most=3),
        _el("requestSubType", _Code(_same(_values(RequestSubType)), RequestSubType),
            attr="request_sub_types", repeated=True, only=_V21),
        _el("requestingAgencyPreviousRequestId", _TEXT),
        _el("serviceType", _SERVICE_TYPE, required=_BOTH),
        _el("serviceLevel", _SCHEME),
        _el("preferredFormat", _SCHEME, attr="item_format", only=_V12),
        _el("itemFormat", _SCHEME, only=_V21),
        _el("needBeforeDate", _DATETIME),
        _el("copyrightCompliance", _SCHEME),
        _el("anyEdition", _YES_NO),
        _el("preferredEdition", _Code(_same(_values(PreferredEdition)), PreferredEdition),
            only=_V21),
        _el("loanCondition", _SCHEME, attr="loan_conditions", repeated=True, only=_V21),
        _el("startDate", _DATETIME),
        _el("endDate", _DATETIME),
        _el("note", _TEXT),
    ),
    "supplierInfo": (
        *_sort_order(),
        _el("supplierCode", _AGENCY),
        _el("supplierDescription", _TEXT),
        _el("bibliographicRecordId", _RECORD_ID),
        _el("callNumber", _TEXT),
        _el("summaryHoldings", _TEXT),
        _el("availabilityNote", _TEXT),
    ),
    "requestedDeliveryInfo": (
        *_sort_order(),
        _el("address", _ADDRESS),
        _el("deliveryMethod", _SCHEME, only=_V21),
        _el("courierName", _SCHEME, only=_V21),
    ),
    "requestingAgencyInfo": (
        _el("name", _TEXT),
        _el("contactName", _TEXT),
        _el("address", _ADDRESS, attr="addresses", repeated=True),
    ),
    "patronInfo": (
        _el("patronId", _TEXT),
        _el("surname", _TEXT),
        _el("givenName", _TEXT),
        _el("patronType", _SCHEME),
        _el("sendToPatron", _YES_NO),
        _el("address", _ADDRESS, attr="addresses", repeated=True),
    ),
    "billingInfo": (
        _el("paymentMethod", _SCHEME),
        _el("maximumCosts", _COSTS),
        _el("billingMethod", _SCHEME),
        _el("billingName", _TEXT),
        _el("address", _ADDRESS),
    ),
    # --- supplying agency message
    "supplyingAgencyMessage": (
        _el("header", _Struct(Header, "supplyingAgencyMessageHeader"), required=_BOTH),
        _el("messageInfo", _Struct(MessageInfo, "messageInfo"), required=_BOTH),
        _el("statusInfo", _Struct(StatusInfo, "statusInfo"), required=_BOTH),
        _el("retryInfo", _Struct(RetryInfo, "retryInfo"), only=_V21),
        _el("deliveryInfo", _Struct(DeliveryInfo, "deliveryInfo")),
        _el("shippingInfo", _Struct(ShippingInfo, "shippingInfo"), only=_V21),
        _el("returnInfo", _Struct(ReturnInfo, "returnInfo")),
    ),
    "supplyingAgencyMessageHeader": _header("supplyingAgencyMessage"),
    "messageInfo": (
        _el("reasonForMessage", _REASON, required=_BOTH),
        _el("answerYesNo", _YES_NO),
        _el("note", _TEXT),
        _el("reasonUnfilled", _SCHEME),
        _el("reasonRetry", _SCHEME),
        _el("offeredCosts", _COSTS, only=_V12),
        _el("retryAfter", _DATETIME, only=_V12),
        _el("retryBefore", _DATETIME, only=_V12),
    ),
    "statusInfo": (
        _el("status", _Code(STATUSES, status), required=_BOTH),
        _el("expectedDeliveryDate", _DATETIME),
        _el("dueDate", _DATETIME),
        _el("lastChange", _DATETIME, required=_BOTH),
    ),
    "retryInfo": (
        _el("loanCondition", _SCHEME, attr="loan_conditions", repeated=True),
        _el("edition", _TEXT, attr="editions", repeated=True),
        _el("itemFormat", _SCHEME, attr="item_formats", repeated=True),
        _el("volume", _TEXT, attr="volumes", repeated=True),
        _el("serviceType", _SERVICE_TYPE),
        _el("serviceLevel", _SCHEME, attr="service_levels", repeated=True),
        _el("deliveryMethod", _SCHEME, attr="delivery_methods", repeated=True),
        _el("courierName", _SCHEME, attr="courier_names", repeated=True),
        _el("offeredCosts", _COSTS, repeated=True),
        _el("paymentMethod", _SCHEME, attr="payment_methods", repeated=True),
        _el("retryBefore", _DATETIME),
        _el("retryAfter", _DATETIME),
    ),
    "deliveryInfo": (
        _el("dateSent", _DATETIME, required=_BOTH),
        _el("itemId", _TEXT, attr="item_ids", repeated=True, only=_V12, most=1),
        _el("itemId", _TEXT, attr="item_ids", repeated=True, only=_V21),
        _el("URL", _TEXT, attr="url", only=_V21),
        _el("sentVia", _SCHEME, attr="delivery_method", only=_V12),
        _el("deliveryMethod", _SCHEME, only=_V21),
        _el("address", _ADDRESS, only=_V21),
        _el("sentToPatron", _BOOLEAN),
        _el("loanCondition", _SCHEME, attr="loan_conditions", repeated=True, only=_V12,
            most=1),
        _el("loanCondition", _SCHEME, attr="loan_conditions", repeated=True, only=_V21),
        _el("deliveredFormat", _SCHEME, attr="item_format", only=_V12),
        _el("itemFormat", _SCHEME, only=_V21),
        _el("serviceType", _SERVICE_TYPE, only=_V21),
        _el("deliveryCosts", _COSTS, repeated=True, only=_V12, most=1),
        _el("deliveryCosts", _COSTS, repeated=True, only=_V21),
        _el("paymentMethod", _SCHEME, only=_V21),
    ),
    "shippingInfo": (
        _el("courierName", _SCHEME),
        _el("trackingId", _TEXT, attr="tracking_ids", repeated=True),
        _el("insurance", _YES_NO),
        _el("insuranceThirdParty", _YES_NO),
        _el("thirdPartyName", _TEXT),
        _el("insuranceCosts", _COSTS, repeated=True),
    ),
    "returnInfo": (
        _el("returnAgencyId", _AGENCY),
        _el("name", _TEXT),
        _el("physicalAddress", _PHYSICAL),
    ),
    # --- requesting agency message
    "requestingAgencyMessage": (
        _el("header", _Struct(Header, "requestingAgencyMessageHeader"), required=_BOTH),
        _el("action", _ACTION, required=_BOTH),
        _el("note", _TEXT),
    ),
    "requestingAgencyMessageHeader": _header("requestingAgencyMessage"),
    # --- confirmations
    "requestConfirmation": _confirmation(()),
    "supplyingAgencyMessageConfirmation": _confirmation((_el("reasonForMessage", _REASON),)),
    "requestingAgencyMessageConfirmation": _confirmation((_el("action", _ACTION),)),
    "confirmationHeader": (
        _el("supplyingAgencyId", _AGENCY),
        _el("requestingAgencyId", _AGENCY),
        _el("timestamp", _DATETIME, required=_BOTH),
        _el("requestingAgencyRequestId", _TEXT),
        _el("multipleItemRequestId", _TEXT, only=_V12),
        _el("timestampReceived", _DATETIME, required=_BOTH),
        _el("messageStatus", _Code(_same(_values(MessageStatus)), MessageStatus),
            required=_BOTH),
    ),
    "errorData": (
        _el("errorType", _ERRORS, required=_BOTH),
        _el("errorValue", _TEXT),
    ),
}

# Elements that are the schema's xs:choice of exactly one of their children.
_CHOICES = frozenset({"address"})
# Fields of the message classes that are no element.
_ENVELOPE = frozenset({"raw", "version"})


def _q(name: str) -> str:
    return f"{{{ILL_NS}}}{name}"


def _write(parent: etree._Element, obj: Any, spec: str, version: str, path: str) -> None:
    """Append to ``parent`` the children of dataclass ``obj`` in the order and number
    ``_SPECS[spec]`` gives for ``version``; ``ValueError`` (naming ``path``) for what
    that version cannot carry."""
    written: set[str] = set()
    for child in _SPECS[spec]:
        if version not in child.versions:
            continue
        written.add(child.attr)
        value = getattr(obj, child.attr)
        values: tuple[Any, ...]
        if child.repeated:
            values = tuple(value)
        else:
            # An optional empty string says nothing; it is left out like None.
            empty = value is None or (value == "" and (child.empty or
                                                       version not in child.required))
            values = () if empty else (value,)
        where = f"{path}/{child.tag}"
        if child.most is not None and len(values) > child.most:
            raise ValueError(f"{where}: ISO 18626 {version} allows {child.most}, not "
                             f"{len(values)}")
        if not values and version in child.required:
            if not child.empty:
                raise ValueError(f"{where} is required in ISO 18626 {version}")
            etree.SubElement(parent, _q(child.tag))
        for item in values:
            child.codec.write(etree.SubElement(parent, _q(child.tag)), item, version, where)
    for f in fields(obj):
        if f.name not in written and f.name not in _ENVELOPE and getattr(obj, f.name) not in (
            None, ()
        ):
            raise ValueError(f"{path}: {f.name} has no element in ISO 18626 {version}")
    if spec in _CHOICES and len(parent) != 1:
        raise ValueError(f"{path} holds exactly one of its choices, not {len(parent)}")


def _read(element: etree._Element, cls: type[Any], spec: str, context: _Context,
          path: str, **envelope: Any) -> Any:
    """The ``cls`` instance the children of ``element`` make by ``_SPECS[spec]`` for
    the context's version (``envelope``: the message fields that are no element), or
    the ``MessageError`` of the first thing that does not fit."""
    children = {c.tag: c for c in _SPECS[spec] if context.version in c.versions}
    found: dict[str, list[etree._Element]] = {}
    for sub in element:
        if not isinstance(sub.tag, str):
            continue  # comments and processing instructions say nothing
        qname = etree.QName(sub)
        if qname.namespace != ILL_NS or qname.localname not in children:
            name = qname.localname if qname.namespace == ILL_NS else qname.text
            raise context.fail(UnrecognisedDataElement,
                               f"no element {name} here in ISO 18626 {context.version}",
                               f"{path}/{qname.localname}")
        found.setdefault(qname.localname, []).append(sub)
    if spec in _CHOICES and len(found) != 1:
        error = MissingElement if not found else TooManyElements
        raise context.fail(error, "exactly one of electronicAddress and physicalAddress", path)
    values: dict[str, Any] = {}
    for tag, child in children.items():
        elements = found.get(tag, [])
        where = f"{path}/{tag}"
        if child.most is not None and len(elements) > child.most:
            raise context.fail(TooManyElements, f"{len(elements)} of {tag}, ISO 18626 "
                               f"{context.version} allows {child.most}", where)
        # v1.2's multipleItemRequestId (``empty``) is read as optional: the 2021
        # revision owns that it was required by mistake, and partners leave it out.
        if not elements and context.version in child.required and not child.empty:
            raise context.fail(MissingElement, f"{tag} is required", where)
        read = [child.codec.read(e, context, where) for e in elements]
        if child.repeated:
            values[child.attr] = tuple(read)
        elif not read or (read[0] == "" and (child.empty or
                                             context.version not in child.required)):
            values[child.attr] = None
        else:
            values[child.attr] = read[0]
    return cls(**values, **envelope)


# --- building ---------------------------------------------------------------------------


def to_element(message: Message, version: str) -> etree._Element:
    """The ``ISO18626Message`` element holding ``message`` as ``version``'s schema
    lays it out (``ValueError`` for what that version cannot carry)."""
    if version not in VERSIONS:
        raise ValueError(f"ISO 18626 version {version!r} is not one of {', '.join(VERSIONS)}")
    tag = MESSAGE_ELEMENTS[type(message)]
    root = etree.Element(_q(ROOT), nsmap={ILL_PREFIX: ILL_NS})
    root.set(_q("version"), version)
    _write(etree.SubElement(root, _q(tag)), message, tag, version, tag)
    return root


def build(message: Message, version: str) -> bytes:
    """``message`` as an ISO 18626 document of schema ``version`` ("1.2" or
    "2021-2"), UTF-8 with an XML declaration; it validates against that version's
    official schema. ``message.raw`` and ``message.version`` are not looked at.
    ``ValueError`` for what the version cannot carry (see the module docstring)."""
    return bytes(etree.tostring(to_element(message, version), xml_declaration=True,
                                encoding="UTF-8"))


def confirmation_for(
    message: Initiating,
    version: str,
    *,
    received: datetime,
    timestamp: datetime | None = None,
    errors: Sequence[ErrorData] = (),
) -> Confirmation:
    """The confirmation answering ``message``: its header's agency ids and request
    ids echoed, ``received`` as ``timestampReceived``, ``messageStatus`` ERROR with
    ``errors`` if there are any and OK otherwise, and the SupplyingAgencyMessage's
    ``reasonForMessage`` or the RequestingAgencyMessage's ``action`` echoed."""
    header = message.header
    confirmation_header = ConfirmationHeader(
        timestamp=timestamp or received,
        timestamp_received=received,
        message_status=MessageStatus.ERROR if errors else MessageStatus.OK,
        supplying_agency_id=header.supplying_agency_id,
        requesting_agency_id=header.requesting_agency_id,
        requesting_agency_request_id=header.requesting_agency_request_id,
        multiple_item_request_id=header.multiple_item_request_id if version == V1_2 else None,
    )
    if isinstance(message, SupplyingAgencyMessage):
        return SupplyingAgencyMessageConfirmation(
            confirmation_header, message.message_info.reason_for_message, tuple(errors))
    if isinstance(message, RequestingAgencyMessage):
        return RequestingAgencyMessageConfirmation(confirmation_header, message.action,
                                                   tuple(errors))
    return RequestConfirmation(confirmation_header, tuple(errors))


def error_confirmation(
    error: MessageError, *, received: datetime, timestamp: datetime | None = None
) -> Confirmation:
    """The ERROR confirmation for a message ``parse`` refused: the confirmation of
    the message kind the error names (a ``requestConfirmation`` when the parse did
    not get that far), with ``errorType`` ``error.error_type`` and the error's text
    as ``errorValue``. Nothing of the refused message is echoed: it could not be
    read."""
    header = ConfirmationHeader(
        timestamp=timestamp or received,
        timestamp_received=received,
        message_status=MessageStatus.ERROR,
    )
    errors = (ErrorData(error.error_type, error.error_value),)
    if error.kind == "supplyingAgencyMessage":
        return SupplyingAgencyMessageConfirmation(header, error_data=errors)
    if error.kind == "requestingAgencyMessage":
        return RequestingAgencyMessageConfirmation(header, error_data=errors)
    return RequestConfirmation(header, error_data=errors)


# --- parsing ----------------------------------------------------------------------------

_MESSAGE_CLASSES: dict[str, type[Message]] = {tag: cls for cls, tag in MESSAGE_ELEMENTS.items()}
# A DOCTYPE after the XML declaration, white space, comments and PIs, in any
# ASCII-compatible encoding; what this cannot see, the parse's docinfo still does.
_PROLOG_DOCTYPE = re.compile(
    rb"\A(?:\xef\xbb\xbf)?(?:\s|<\?.*?\?>|<!--.*?-->)*<!DOCTYPE", re.DOTALL
)


def hardened_parser() -> etree.XMLParser:
    """The parser for what partners send: no entity expansion, no DTD loading, no
    network, libxml2's limits on depth and text size kept."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False)


def parse(
    xml: bytes,
    version: str | None = None,
    *,
    peer: str | None = None,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> Message:
    """The message in ``xml``, as the dataclass of its message element, read by the
    rules of schema ``version`` (default: the version the root's ``version``
    attribute names, see ``VERSION_NAMES``); ``raw`` is ``xml``, ``version`` the
    version it was read by.

    Raises a ``MessageError`` whose ``error_type`` is the ISO 18626 errorType to
    answer with: ``MessageTooLarge``, ``DoctypeRefused``, ``NotWellFormed``,
    ``WrongNamespace``, ``MissingElement``, ``TooManyElements`` (BadlyFormedMessage);
    ``UnknownRoot`` and other ``UnrecognisedDataElement``; ``BadTimestamp``,
    ``UnsupportedVersion`` and other ``UnrecognisedDataValue``;
    ``UnsupportedActionType``; ``UnsupportedReasonForMessageType``.
    """
    if version is not None and version not in VERSIONS:
        raise ValueError(f"ISO 18626 version {version!r} is not one of {', '.join(VERSIONS)}")
    root = _parse_xml(xml, peer=peer, max_bytes=max_bytes)
    qname = etree.QName(root)
    if qname.namespace != ILL_NS:
        where = f"{{{qname.namespace}}}" if qname.namespace else "no namespace "
        raise WrongNamespace(f"the root {where}{qname.localname} is not in {ILL_NS}",
                             element=qname.localname, peer=peer)
    if qname.localname != ROOT:
        raise UnknownRoot(f"the root is {qname.localname}, not {ROOT}",
                          element=qname.localname, peer=peer)
    messages = [child for child in root if isinstance(child.tag, str)]
    if not messages:
        raise MissingElement(f"{ROOT} holds no message", element=ROOT, peer=peer)
    first = etree.QName(messages[0])
    cls = _MESSAGE_CLASSES.get(first.localname) if first.namespace == ILL_NS else None
    if cls is None:
        raise UnknownRoot(f"{ROOT} holds {first.localname}, which is none of the six messages",
                          element=f"{ROOT}/{first.localname}", peer=peer)
    kind = first.localname
    if len(messages) > 1:
        raise TooManyElements(f"{ROOT} holds more than one message", element=ROOT,
                              kind=kind, peer=peer)
    # The attribute is required either way; its value decides only when the
    # partner's version is not known (partners write "1.0" in 1.2 messages).
    written = _version_of(root, kind=kind, peer=peer, known=version is not None)
    used = version or written
    context = _Context(used, kind, peer)
    message: Message = _read(messages[0], cls, kind, context, kind, raw=xml, version=used)
    return message


def _version_of(root: etree._Element, *, kind: str, peer: str | None, known: bool) -> str:
    # Qualified as the schema says; a bare ``version`` is what some partners write.
    written = root.get(_q("version"))
    if written is None:
        written = root.get("version")
    if written is None:
        raise MissingElement(f"{ROOT} has no version attribute", element=f"{ROOT}/@version",
                             kind=kind, peer=peer)
    version = VERSION_NAMES.get(written.strip())
    if known:
        return version or written
    if version is None:
        raise UnsupportedVersion(
            f"ISO 18626 version {written[:40]!r} is not one of {', '.join(VERSIONS)}",
            element=f"{ROOT}/@version", value=written, kind=kind, peer=peer)
    return version


def _parse_xml(xml: bytes, *, peer: str | None, max_bytes: int) -> etree._Element:
    if len(xml) > max_bytes:
        raise MessageTooLarge(f"message of {len(xml)} bytes is over {max_bytes}", peer=peer)
    # Refused before the parser sees it: an ISO 18626 message has no DTD, and a
    # DOCTYPE is how external entities (XXE) and entity bombs come in.
    if _PROLOG_DOCTYPE.match(xml):
        raise DoctypeRefused("the message has a DOCTYPE; refused", peer=peer)
    try:
        root = etree.fromstring(xml, hardened_parser())
    except etree.XMLSyntaxError as exc:
        # libxml2's message names the line and the error, never an entity's target.
        raise NotWellFormed(f"not well-formed XML: {str(exc)[:200]}", peer=peer) from exc
    docinfo = root.getroottree().docinfo
    # The byte pattern cannot see a DOCTYPE in UTF-16; the parsed document can (the
    # parser did not resolve or load anything of it).
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.system_url:
        raise DoctypeRefused("the message has a DOCTYPE; refused", peer=peer)
    return root

