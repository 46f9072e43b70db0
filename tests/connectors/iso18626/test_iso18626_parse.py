"""Reading what partners send: hand-written messages as other ILL systems write them
(fixtures/*.xml, named after the message), the liberties some take, and hostile or
broken input (fixtures/bad_*.xml and bodies made here), each refused with the error
whose ISO 18626 errorType the web layer answers with, without resolving anything.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from broker.domain.states import IsoStatus
from connectors.iso18626.errors import (
    BadlyFormedMessage,
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
from connectors.iso18626.messages import (
    MAX_MESSAGE_BYTES,
    SCHEMA_FILES,
    V1_2,
    V2021_2,
    Action,
    ErrorData,
    MessageStatus,
    ReasonForMessage,
    Request,
    RequestConfirmation,
    RequestingAgencyMessage,
    RequestingAgencyMessageConfirmation,
    RequestSubType,
    RequestType,
    SchemeValue,
    ServiceType,
    Status2021,
    SupplyingAgencyMessage,
    SupplyingAgencyMessageConfirmation,
    build,
    error_confirmation,
    parse,
)

from conformance import assert_valid

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = sorted(p.name for p in FIXTURES.glob("*.xml") if not p.name.startswith("bad_"))
# Fixtures that show what partners get wrong and the parse still takes.
LENIENT = {"request_unqualified_attributes.xml"}
CLASSES = {
    "request": Request,
    "request_confirmation": RequestConfirmation,
    "supplying_agency_message": SupplyingAgencyMessage,
    "supplying_agency_message_confirmation": SupplyingAgencyMessageConfirmation,
    "requesting_agency_message": RequestingAgencyMessage,
    "requesting_agency_message_confirmation": RequestingAgencyMessageConfirmation,
}
CET = timezone(timedelta(hours=1))


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _class_of(name: str) -> type:
    # The longest message name the file name starts with.
    stem = name.removesuffix(".xml")
    prefix = max((k for k in CLASSES if stem == k or stem.startswith(f"{k}_")), key=len)
    return CLASSES[prefix]


# --- what partners send ------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOOD)
def test_fixture_parses_as_its_message(name: str) -> None:
    xml = fixture(name)
    version = V2021_2 if "v2021_2" in name else V1_2
    message = parse(xml)
    assert type(message) is _class_of(name)
    assert message.raw == xml
    assert message.version == version
    assert parse(xml, version) == message


@pytest.mark.parametrize("name", sorted(set(GOOD) - LENIENT))
def test_fixture_is_valid(name: str) -> None:
    """The hand-written fixtures are what the schemas allow (the lenient one aside),
    so a test reading them tests the schema's messages."""
    assert_valid(SCHEMA_FILES[V2021_2 if "v2021_2" in name else V1_2], fixture(name))


@pytest.mark.parametrize("name", sorted(set(GOOD) - LENIENT))
def test_fixture_survives_a_rebuild(name: str) -> None:
    message = parse(fixture(name))
    assert message.version is not None
    rebuilt = build(message, message.version)
    assert_valid(SCHEMA_FILES[message.version], rebuilt)
    assert parse(rebuilt) == message


def test_request() -> None:
    request = parse(fixture("request.xml"))
    assert isinstance(request, Request)
    header = request.header
    assert header.supplying_agency_id is not None
    assert header.supplying_agency_id.agency_id_value == "SE-KB"
    assert header.requesting_agency_id.agency_id_type == SchemeValue("ISIL")
    assert header.multiple_item_request_id is None  # written empty
    assert header.timestamp == datetime(2025, 2, 11, 14, 3, 27, 418000, tzinfo=UTC)
    bib = request.bibliographic_info
    assert (bib.title, bib.author, bib.volumes) == ("Röda rummet", "Strindberg, August", ())
    (isbn,) = bib.bibliographic_item_ids
    assert isbn.bibliographic_item_identifier == "9789100123457"
    assert isbn.bibliographic_item_identifier_code.value == "ISBN"
    assert isbn.bibliographic_item_identifier_code.scheme is not None
    assert request.service_info is not None
    assert request.service_info.service_type is ServiceType.LOAN
    assert request.service_info.request_type is RequestType.NEW
    assert request.service_info.request_sub_types == (RequestSubType.PATRON_REQUEST,)
    assert request.service_info.any_edition is True
    assert request.service_info.need_before_date == datetime(2025, 3, 15, tzinfo=CET)
    assert request.publication_info is not None
    assert request.publication_info.publication_date == "1879"
    (delivery,) = request.requested_delivery_info
    assert delivery.sort_order == 1
    assert delivery.address is not None and delivery.address.physical_address is not None
    assert delivery.address.physical_address.postal_code == "2595 BE"
    assert request.patron_info is not None
    assert (request.patron_info.surname, request.patron_info.given_name) == ("de Vries", "Anouk")
    assert request.billing_info is not None and request.billing_info.maximum_costs is not None
    assert request.billing_info.maximum_costs.monetary_value == Decimal("15.00")
    assert request.billing_info.maximum_costs.currency_code.value == "EUR"


def test_request_in_the_default_namespace_without_supplier() -> None:
    request = parse(fixture("request_copy_v2021_2.xml"))
    assert isinstance(request, Request)
    assert request.header.supplying_agency_id is None
    assert request.header.consortial_id is not None
    assert request.bibliographic_info.volumes == ("71", "72")
    assert request.bibliographic_info.title_of_component == "Baltic loanwords in Slovene dialects"
    assert request.service_info is not None
    assert request.service_info.service_type is ServiceType.COPY
    assert request.service_info.item_format == SchemeValue("PDF")
    address = request.requested_delivery_info[0].address
    assert address is not None and address.electronic_address is not None
    assert address.electronic_address.electronic_address_data == "ill@lnb.example.lv"


def test_lenient_reading() -> None:
    """Bare ``version`` and ``scheme`` attributes, children out of order, a comment in
    a value, blanks around a code and no multipleItemRequestId are taken."""
    request = parse(fixture("request_unqualified_attributes.xml"))
    assert isinstance(request, Request)
    assert request.version == V1_2
    assert request.header.requesting_agency_id.agency_id_type.scheme is not None
    assert request.header.requesting_agency_request_id == "MKL-2025-3"
    assert request.header.multiple_item_request_id is None
    assert request.header.timestamp == datetime(2025, 2, 12, 9, 0)  # as written: no offset
    assert request.service_info is not None
    assert request.service_info.service_type is ServiceType.LOAN
    # What was read without an offset cannot be written again: the broker says it.
    with pytest.raises(ValueError, match="has no UTC offset"):
        build(request, V1_2)


def test_supplying_agency_messages() -> None:
    loaned = parse(fixture("supplying_agency_message_loaned.xml"))
    assert isinstance(loaned, SupplyingAgencyMessage)
    assert loaned.status_info.status is IsoStatus.LOANED
    assert loaned.status_info.due_date == datetime(2025, 3, 13, 23, 59, 59, tzinfo=CET)
    assert loaned.message_info.reason_for_message is ReasonForMessage.STATUS_CHANGE
    assert loaned.delivery_info is not None
    assert loaned.delivery_info.item_ids == ("10002838475",)
    assert loaned.delivery_info.delivery_method is not None
    assert loaned.delivery_info.delivery_method.value == "Mail"  # v1.2's sentVia
    assert loaned.delivery_info.sent_to_patron is False
    assert loaned.return_info is not None and loaned.return_info.physical_address is not None
    unfilled = parse(fixture("supplying_agency_message_unfilled.xml"))
    assert isinstance(unfilled, SupplyingAgencyMessage)
    assert unfilled.status_info.status is IsoStatus.UNFILLED
    assert unfilled.message_info.answer_yes_no is False
    assert unfilled.message_info.reason_unfilled is not None
    assert unfilled.message_info.reason_unfilled.value == "PolicyProblem"
    retry = parse(fixture("supplying_agency_message_retry_v2021_2.xml"))
    assert isinstance(retry, SupplyingAgencyMessage)
    assert retry.status_info.status is IsoStatus.RETRY_POSSIBLE
    assert [c.monetary_value for c in retry.offered_costs] == [Decimal("12.40")]
    assert retry.retry_before == datetime(2025, 2, 26, tzinfo=CET)
    assert retry.retry_after is None
    hold = parse(fixture("supplying_agency_message_hold_return_v2021_2.xml"))
    assert isinstance(hold, SupplyingAgencyMessage)
    assert hold.status_info.status is Status2021.HOLD_RETURN
    assert hold.shipping_info is not None and hold.shipping_info.insurance is False
    assert hold.shipping_info.tracking_ids == ("RR123456789SI",)


def test_requesting_agency_messages() -> None:
    received = parse(fixture("requesting_agency_message_received.xml"))
    assert isinstance(received, RequestingAgencyMessage)
    assert received.action is Action.RECEIVED
    assert received.header.supplying_agency_request_id == "KB-ILL-4411"
    lost = parse(fixture("requesting_agency_message_lost_v2021_2.xml"))
    assert isinstance(lost, RequestingAgencyMessage)
    assert lost.action is Action.LOST
    assert lost.note is not None and "replacement" in lost.note


def test_confirmations() -> None:
    ok = parse(fixture("request_confirmation.xml"))
    assert isinstance(ok, RequestConfirmation)
    assert ok.confirmation_header.message_status is MessageStatus.OK
    assert ok.error_data == ()
    refused = parse(fixture("request_confirmation_error.xml"))
    assert isinstance(refused, RequestConfirmation)
    assert refused.confirmation_header.message_status is MessageStatus.ERROR
    assert refused.error_data == (ErrorData(
        ErrorType.UNRECOGNISED_DATA_VALUE,
        "requestingAgencyId: NL-0100030000 is not a partner of SE-KB"),)
    echo = parse(fixture("supplying_agency_message_confirmation_v2021_2.xml"))
    assert isinstance(echo, SupplyingAgencyMessageConfirmation)
    assert echo.reason_for_message is ReasonForMessage.REQUEST_RESPONSE
    several = parse(fixture("requesting_agency_message_confirmation_error_v2021_2.xml"))
    assert isinstance(several, RequestingAgencyMessageConfirmation)
    assert several.action is Action.LOST
    assert [e.error_type for e in several.error_data] == [
        ErrorType.UNSUPPORTED_ACTION_TYPE, ErrorType.UNRECOGNISED_DATA_VALUE]
    assert several.error_data[1].error_value is None


# --- what is refused -------------------------------------------------------------------------

BAD: dict[str, type[MessageError]] = {
    "bad_doctype_external_entity.xml": DoctypeRefused,
    "bad_billion_laughs.xml": DoctypeRefused,
    "bad_not_xml.xml": NotWellFormed,
    "bad_wrong_namespace.xml": WrongNamespace,
    "bad_unknown_root.xml": UnknownRoot,
    "bad_unknown_message.xml": UnknownRoot,
    "bad_missing_header.xml": MissingElement,
    "bad_missing_version.xml": MissingElement,
    "bad_status_value.xml": UnrecognisedDataValue,
    "bad_status_hold_return_v1_2.xml": UnrecognisedDataValue,
    "bad_timestamp.xml": BadTimestamp,
    "bad_reason_for_message.xml": UnsupportedReasonForMessageType,
    "bad_action_lost_v1_2.xml": UnsupportedActionType,
    "bad_unrecognised_element.xml": UnrecognisedDataElement,
    "bad_version.xml": UnsupportedVersion,
}
ERROR_TYPES: dict[type[MessageError], ErrorType] = {
    DoctypeRefused: ErrorType.BADLY_FORMED_MESSAGE,
    NotWellFormed: ErrorType.BADLY_FORMED_MESSAGE,
    WrongNamespace: ErrorType.BADLY_FORMED_MESSAGE,
    MissingElement: ErrorType.BADLY_FORMED_MESSAGE,
    UnknownRoot: ErrorType.UNRECOGNISED_DATA_ELEMENT,
    UnrecognisedDataElement: ErrorType.UNRECOGNISED_DATA_ELEMENT,
    UnrecognisedDataValue: ErrorType.UNRECOGNISED_DATA_VALUE,
    BadTimestamp: ErrorType.UNRECOGNISED_DATA_VALUE,
    UnsupportedVersion: ErrorType.UNRECOGNISED_DATA_VALUE,
    UnsupportedReasonForMessageType: ErrorType.UNSUPPORTED_REASON_FOR_MESSAGE_TYPE,
    UnsupportedActionType: ErrorType.UNSUPPORTED_ACTION_TYPE,
}


def test_every_bad_fixture_is_listed() -> None:
    assert sorted(BAD) == sorted(p.name for p in FIXTURES.glob("bad_*.xml"))


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_fixture(name: str) -> None:
    with pytest.raises(MessageError) as caught:
        parse(fixture(name), peer="SE-KB")
    error = caught.value
    assert type(error) is BAD[name]
    assert error.error_type is ERROR_TYPES[BAD[name]]
    assert error.peer == "SE-KB"
    assert str(error).startswith("SE-KB: ")
    assert error.error_value and len(error.error_value) <= 200
    # Whatever was refused, the web layer can answer it with a valid confirmation.
    for version, schema in SCHEMA_FILES.items():
        assert_valid(schema, build(error_confirmation(error, received=datetime.now(UTC)),
                                   version))


def test_errors_name_the_element_and_the_message() -> None:
    with pytest.raises(UnrecognisedDataValue) as status:
        parse(fixture("bad_status_value.xml"))
    assert status.value.element == "supplyingAgencyMessage/statusInfo/status"
    assert status.value.value == "Shipped"
    assert status.value.kind == "supplyingAgencyMessage"
    with pytest.raises(MissingElement) as header:
        parse(fixture("bad_missing_header.xml"))
    assert header.value.element == "supplyingAgencyMessage/header"
    with pytest.raises(UnrecognisedDataElement) as retry:
        parse(fixture("bad_unrecognised_element.xml"))
    assert retry.value.element == "supplyingAgencyMessage/retryInfo"
    with pytest.raises(BadTimestamp) as timestamp:
        parse(fixture("bad_timestamp.xml"))
    assert timestamp.value.value == "13.02.2025 10:12"


def test_the_partners_version_decides() -> None:
    """A 2021-2 message read as 1.2 (what that partner was said to speak) is refused
    where it uses 2021-2's own elements and values; the attribute does not decide."""
    with pytest.raises(UnsupportedActionType):
        parse(fixture("requesting_agency_message_lost_v2021_2.xml"), V1_2)
    with pytest.raises(UnrecognisedDataElement):
        parse(fixture("supplying_agency_message_retry_v2021_2.xml"), V1_2)
    assert parse(fixture("bad_version.xml"), V1_2).version == V1_2
    hold = fixture("bad_status_hold_return_v1_2.xml").replace(b"<ill:multipleItemRequestId/>", b"")
    assert parse(hold, V2021_2).version == V2021_2
    with pytest.raises(ValueError, match="not one of"):
        parse(fixture("request.xml"), "1.1")


def test_xxe_is_not_resolved(secret_file: Path, secret: str) -> None:
    xml = fixture("bad_doctype_external_entity.xml").replace(
        b"file:///etc/passwd", secret_file.as_uri().encode())
    with pytest.raises(DoctypeRefused) as caught:
        parse(xml)
    assert secret not in str(caught.value)
    assert secret_file.as_uri() not in str(caught.value)


def test_xxe_in_utf16_is_caught_after_the_parse(secret_file: Path, secret: str) -> None:
    """UTF-16 hides the DOCTYPE from the byte check; the parser, which loads and
    expands nothing, still shows it."""
    text = fixture("bad_doctype_external_entity.xml").decode().replace(
        "file:///etc/passwd", secret_file.as_uri()).replace('encoding="UTF-8"', 'encoding="UTF-16"')
    with pytest.raises(DoctypeRefused) as caught:
        parse(text.encode("utf-16"))
    assert secret not in str(caught.value)


def test_billion_laughs_is_refused_at_once() -> None:
    start = time.monotonic()
    with pytest.raises(DoctypeRefused):
        parse(fixture("bad_billion_laughs.xml"))
    assert time.monotonic() - start < 0.5


def test_a_doctype_after_comments_is_still_seen() -> None:
    xml = b"\xef\xbb\xbf<?xml version='1.0'?>\n<!-- hi -->\n<?pi x?>\n<!DOCTYPE x>" + fixture(
        "request.xml").split(b"?>", 1)[1]
    with pytest.raises(DoctypeRefused):
        parse(xml)


def test_an_undeclared_entity_is_not_xml() -> None:
    xml = fixture("requesting_agency_message_received.xml").replace(
        b"<ill:action>Received", b"<ill:action>&xxe;Received")
    with pytest.raises(NotWellFormed):
        parse(xml)


def test_a_doctype_in_a_note_is_text() -> None:
    xml = fixture("requesting_agency_message_received.xml").replace(
        b"<ill:action>Received</ill:action>",
        b"<ill:action>Notification</ill:action><ill:note><![CDATA[<!DOCTYPE html>]]></ill:note>")
    message = parse(xml)
    assert isinstance(message, RequestingAgencyMessage)
    assert message.note == "<!DOCTYPE html>"


def test_oversized_body_is_not_parsed() -> None:
    xml = fixture("request.xml")
    huge = xml.replace(b"<ill:note>", b"<ill:note>" + b"x" * MAX_MESSAGE_BYTES)
    with pytest.raises(MessageTooLarge):
        parse(huge)
    with pytest.raises(MessageTooLarge):
        parse(xml, max_bytes=len(xml) - 1)
    assert isinstance(parse(xml, max_bytes=len(xml)), Request)


@pytest.mark.parametrize(("body", "error"), [
    (b"", NotWellFormed),
    (b"<ill:ISO18626Message xmlns:ill='http://illtransactions.org/2013/iso18626'", NotWellFormed),
    (b"<ISO18626Message version='1.2'><request/></ISO18626Message>", WrongNamespace),
    (b"<ill:ISO18626Message xmlns:ill='http://illtransactions.org/2013/iso18626' "
     b"ill:version='1.2'/>", MissingElement),
    (b"<ill:ISO18626Message xmlns:ill='http://illtransactions.org/2013/iso18626' "
     b"xmlns:x='urn:x' ill:version='1.2'><x:request/></ill:ISO18626Message>", UnknownRoot),
])
def test_broken_envelopes(body: bytes, error: type[MessageError]) -> None:
    with pytest.raises(error):
        parse(body)


def _replace(name: str, old: bytes, new: bytes) -> bytes:
    xml = fixture(name)
    assert old in xml
    return xml.replace(old, new, 1)


@pytest.mark.parametrize(("xml", "error"), [
    # two messages in one
    (_replace("requesting_agency_message_received.xml", b"</ill:requestingAgencyMessage>",
              b"</ill:requestingAgencyMessage><ill:requestingAgencyMessage/>"), TooManyElements),
    # a second action
    (_replace("requesting_agency_message_received.xml", b"<ill:action>Received</ill:action>",
              b"<ill:action>Received</ill:action><ill:action>Cancel</ill:action>"),
     TooManyElements),
    # an element from another namespace
    (_replace("requesting_agency_message_received.xml", b"<ill:action>",
              b"<x:extension xmlns:x='urn:x'/><ill:action>"), UnrecognisedDataElement),
    # an element inside a value
    (_replace("requesting_agency_message_received.xml", b"Received</ill:action>",
              b"Received<ill:note/></ill:action>"), UnrecognisedDataElement),
    # an address with both choices
    (_replace("request.xml", b"</ill:physicalAddress>", b"</ill:physicalAddress>"
              b"<ill:electronicAddress><ill:electronicAddressType>Email</ill:electronicAddressType>"
              b"<ill:electronicAddressData>a@b</ill:electronicAddressData></ill:electronicAddress>"),
     TooManyElements),
    # an amount that is not an xs:decimal
    (_replace("request.xml", b"15.00", b"15,00"), UnrecognisedDataValue),
    # a sort order that is not an xs:integer
    (_replace("request.xml", b"<ill:sortOrder>1<", b"<ill:sortOrder>first<"),
     UnrecognisedDataValue),
    # a Y/N that is neither
    (_replace("request.xml", b"<ill:anyEdition>Y<", b"<ill:anyEdition>yes<"),
     UnrecognisedDataValue),
    # an xs:boolean that is not one
    (_replace("supplying_agency_message_loaned.xml", b">false<", b">no<"),
     UnrecognisedDataValue),
    # a negative sortOrder in 2021-2
    (_replace("request_copy_v2021_2.xml", b"<sortOrder>0<", b"<sortOrder>-1<"),
     UnrecognisedDataValue),
    # a missing lastChange
    (_replace("supplying_agency_message_unfilled.xml",
              b"<ill:lastChange>2025-02-11T15:40:00Z</ill:lastChange>", b""), MissingElement),
    # two volumes in 1.2
    (_replace("request.xml", b"<ill:edition>", b"<ill:volume>1</ill:volume><ill:volume>2"
              b"</ill:volume><ill:edition>"), TooManyElements),
    # a bad messageStatus
    (_replace("request_confirmation.xml", b">OK<", b">Ok<"), UnrecognisedDataValue),
    # a bad errorType
    (_replace("request_confirmation_error.xml", b"UnrecognisedDataValue<", b"Refused<"),
     UnrecognisedDataValue),
])
def test_broken_messages(xml: bytes, error: type[MessageError]) -> None:
    with pytest.raises(error) as caught:
        parse(xml)
    assert type(caught.value) is error


def test_message_errors_are_connector_errors() -> None:
    from connectors.errors import ConnectorError

    with pytest.raises(ConnectorError):
        parse(b"nonsense")
    assert issubclass(DoctypeRefused, BadlyFormedMessage)


def test_the_parser_is_hardened() -> None:
    from connectors.iso18626.messages import hardened_parser

    parser = hardened_parser()
    # lxml does not expose the options it was made with; what it does with an
    # internal entity shows them: not expanded.
    root = etree.fromstring(b"<!DOCTYPE a [<!ENTITY e 'expanded'>]><a>&e;</a>", parser)
    assert "expanded" not in "".join(root.itertext())
