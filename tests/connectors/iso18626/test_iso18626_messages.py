"""The ISO 18626 messages the broker writes: each of the six kinds, for each schema
version, validates against that version's official schema and reads back as the
same dataclass; what one version has and the other lacks is written, or refused,
accordingly; and the code lists are exactly the schemas' enumerations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from broker.domain.states import IsoStatus
from connectors.iso18626 import errors
from connectors.iso18626.errors import ERRORS, ErrorType, MessageError
from connectors.iso18626.messages import (
    ACTIONS,
    ILL_NS,
    MESSAGE_ELEMENTS,
    SCHEMA_FILES,
    STATUSES,
    V1_2,
    V2021_2,
    VERSIONS,
    Action,
    Address,
    BibliographicInfo,
    Costs,
    DeliveryInfo,
    ElectronicAddress,
    ErrorData,
    Message,
    MessageStatus,
    PatronInfo,
    PhysicalAddress,
    PreferredEdition,
    ReasonForMessage,
    Request,
    RequestConfirmation,
    RequestingAgencyMessage,
    RequestingAgencyMessageConfirmation,
    RequestSubType,
    RequestType,
    RetryInfo,
    SchemeValue,
    ServiceType,
    Status2021,
    StatusInfo,
    SupplyingAgencyMessage,
    SupplyingAgencyMessageConfirmation,
    build,
    confirmation_for,
    error_confirmation,
    format_datetime,
    parse,
    parse_datetime,
    status,
)

from conformance import CONFORMANCE, assert_valid, conformance_schema_path

KINDS = tuple(MESSAGE_ELEMENTS.values())
EUR = SchemeValue("EUR")
NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)

Sample = Callable[[str, str], Message]


def _q(name: str) -> str:
    return f"{{{ILL_NS}}}{name}"


def _children(xml: bytes, path: str) -> list[str]:
    element = etree.fromstring(xml).find(f".//{_q(path)}")
    assert element is not None, path
    return [etree.QName(child).localname for child in element]


# --- every kind, every version ---------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_full_message_validates(kind: str, version: str, sample: Sample) -> None:
    xml = build(sample(kind, version), version)
    assert_valid(SCHEMA_FILES[version], xml)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_minimal_message_validates(kind: str, version: str, minimal: Sample) -> None:
    xml = build(minimal(kind, version), version)
    assert_valid(SCHEMA_FILES[version], xml)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("which", ["full", "minimal"])
def test_round_trip(kind: str, version: str, which: str, sample: Sample,
                    minimal: Sample) -> None:
    message = (sample if which == "full" else minimal)(kind, version)
    xml = build(message, version)
    for read in (parse(xml), parse(xml, version)):
        assert read == message
        assert type(read) is type(message)
        assert read.raw == xml
        assert read.version == version
    assert build(parse(xml), version) == xml


def test_full_samples_set_every_field(sample: Sample,
                                      dataclasses_in: Callable[[Any], Any]) -> None:
    """The round trips above cover every element: across both versions, the full
    samples set every field of every dataclass they hold."""
    unset: dict[str, set[str]] = {}
    seen: dict[str, set[str]] = {}
    for version in VERSIONS:
        for kind in KINDS:
            for obj in dataclasses_in(sample(kind, version)):
                name = type(obj).__name__
                names = {f.name for f in fields(obj)} - {"raw", "version"}
                unset.setdefault(name, set()).update(names)
                seen.setdefault(name, set()).update(
                    n for n in names if getattr(obj, n) not in (None, ()))
    missing = {name: sorted(unset[name] - seen[name]) for name in unset if unset[name] - seen[name]}
    assert missing == {}


@pytest.mark.parametrize("version", VERSIONS)
def test_root_carries_the_qualified_version(version: str, minimal: Sample) -> None:
    root = etree.fromstring(build(minimal("request", version), version))
    assert etree.QName(root) == etree.QName(ILL_NS, "ISO18626Message")
    assert root.get(_q("version")) == version
    assert root.get("version") is None
    assert root.nsmap == {"ill": ILL_NS}


def test_output_is_utf8_with_a_declaration(sample: Sample) -> None:
    xml = build(sample("request", V1_2), V1_2)
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert "Čuk".encode() in xml
    assert b"Knji\xc5\xbenica &lt;Kondor&gt; &amp; co." in xml


def test_build_refuses_an_unknown_version(minimal: Sample) -> None:
    with pytest.raises(ValueError, match="not one of"):
        build(minimal("request", V1_2), "1.1")


# --- what differs between the versions ---------------------------------------------------------


def test_bibliographic_item_id_order_differs(sample: Sample) -> None:
    v12 = _children(build(sample("request", V1_2), V1_2), "bibliographicItemId")
    v21 = _children(build(sample("request", V2021_2), V2021_2), "bibliographicItemId")
    assert v12 == ["bibliographicItemIdentifier", "bibliographicItemIdentifierCode"]
    assert v21 == ["bibliographicItemIdentifierCode", "bibliographicItemIdentifier"]


def test_v1_2_header_has_an_empty_multiple_item_request_id(minimal: Sample) -> None:
    for kind in ("request", "supplyingAgencyMessage", "requestingAgencyMessage"):
        xml = build(minimal(kind, V1_2), V1_2)
        assert "multipleItemRequestId" in _children(xml, "header")
        element = etree.fromstring(xml).find(f".//{_q('multipleItemRequestId')}")
        assert element is not None and element.text is None
        assert "multipleItemRequestId" not in _children(build(minimal(kind, V2021_2), V2021_2),
                                                        "header")


def test_headers_per_message_in_2021_2(sample: Sample) -> None:
    request = _children(build(sample("request", V2021_2), V2021_2), "header")
    supplying = _children(build(sample("supplyingAgencyMessage", V2021_2), V2021_2), "header")
    requesting = _children(build(sample("requestingAgencyMessage", V2021_2), V2021_2), "header")
    assert request == ["supplyingAgencyId", "requestingAgencyId", "consortialId",
                       "multipleItemRequestId", "timestamp", "requestingAgencyRequestId",
                       "requestingAgencyAuthentication"]
    assert supplying == ["supplyingAgencyId", "requestingAgencyId", "timestamp",
                         "requestingAgencyRequestId", "supplyingAgencyRequestId"]
    assert requesting == ["supplyingAgencyId", "requestingAgencyId", "consortialId",
                          "timestamp", "requestingAgencyRequestId", "supplyingAgencyRequestId",
                          "requestingAgencyAuthentication"]


def test_request_without_supplier_only_in_2021_2(minimal: Sample) -> None:
    request = minimal("request", V2021_2)
    assert isinstance(request, Request)
    open_request = replace(request, header=replace(request.header, supplying_agency_id=None))
    assert_valid(SCHEMA_FILES[V2021_2], build(open_request, V2021_2))
    with pytest.raises(ValueError, match=r"supplyingAgencyId is required in ISO 18626 1\.2"):
        build(open_request, V1_2)


def test_service_info_required_only_in_2021_2(minimal: Sample) -> None:
    request = minimal("request", V1_2)
    assert isinstance(request, Request) and request.service_info is None
    assert_valid(SCHEMA_FILES[V1_2], build(request, V1_2))
    with pytest.raises(ValueError, match="request/serviceInfo is required in ISO 18626 2021-2"):
        build(request, V2021_2)


def test_renamed_delivery_elements(sample: Sample) -> None:
    v12 = _children(build(sample("supplyingAgencyMessage", V1_2), V1_2), "deliveryInfo")
    v21 = _children(build(sample("supplyingAgencyMessage", V2021_2), V2021_2), "deliveryInfo")
    assert "sentVia" in v12 and "deliveredFormat" in v12
    assert "deliveryMethod" in v21 and "itemFormat" in v21
    assert not {"deliveryMethod", "itemFormat", "URL"} & set(v12)
    assert not {"sentVia", "deliveredFormat"} & set(v21)


def test_preferred_format_became_item_format(sample: Sample) -> None:
    assert "preferredFormat" in _children(build(sample("request", V1_2), V1_2), "serviceInfo")
    assert "itemFormat" in _children(build(sample("request", V2021_2), V2021_2), "serviceInfo")


def test_retry_costs_move_from_message_info_to_retry_info(sample: Sample) -> None:
    v12 = sample("supplyingAgencyMessage", V1_2)
    v21 = sample("supplyingAgencyMessage", V2021_2)
    assert isinstance(v12, SupplyingAgencyMessage) and isinstance(v21, SupplyingAgencyMessage)
    assert [c.monetary_value for c in v12.offered_costs] == [Decimal("7.00")]
    assert v12.retry_after == datetime(2025, 3, 5, tzinfo=UTC)
    assert len(v21.offered_costs) == 2
    assert v21.retry_after == datetime(2025, 3, 5, tzinfo=UTC)
    assert v21.retry_before == datetime(2025, 3, 25, tzinfo=UTC)
    with pytest.raises(ValueError, match=r"retry_info has no element in ISO 18626 1\.2"):
        build(replace(v12, retry_info=RetryInfo(volumes=("2",))), V1_2)
    moved = replace(v21, message_info=replace(v21.message_info,
                                              offered_costs=Costs(EUR, Decimal(1))))
    with pytest.raises(ValueError, match="offered_costs has no element in ISO 18626 2021-2"):
        build(moved, V2021_2)


@pytest.mark.parametrize("action", [Action.LOST, Action.HOLD_RETURN])
def test_2021_2_actions(action: Action, minimal: Sample) -> None:
    message = replace(minimal("requestingAgencyMessage", V2021_2), action=action)
    assert_valid(SCHEMA_FILES[V2021_2], build(message, V2021_2))
    with pytest.raises(ValueError, match=rf"{action}' is not a value of ISO 18626 1\.2"):
        build(message, V1_2)
    assert action not in ACTIONS[V1_2] and action in ACTIONS[V2021_2]


@pytest.mark.parametrize("value", list(Status2021))
def test_2021_2_statuses(value: Status2021, minimal: Sample) -> None:
    message = minimal("supplyingAgencyMessage", V2021_2)
    assert isinstance(message, SupplyingAgencyMessage)
    message = replace(message, status_info=StatusInfo(value, NOW))
    assert_valid(SCHEMA_FILES[V2021_2], build(message, V2021_2))
    assert parse(build(message, V2021_2)) == message
    with pytest.raises(ValueError, match=r"is not a value of ISO 18626 1\.2"):
        build(message, V1_2)


def test_repetition_limits_of_v1_2(sample: Sample) -> None:
    request = sample("request", V2021_2)
    assert isinstance(request, Request)
    two_volumes = replace(request, bibliographic_info=BibliographicInfo(volumes=("1", "2")))
    with pytest.raises(ValueError, match=r"volume: ISO 18626 1\.2 allows 1, not 2"):
        build(replace(two_volumes, header=replace(two_volumes.header, consortial_id=None)),
              V1_2)
    confirmation = RequestConfirmation(
        sample("requestConfirmation", V1_2).confirmation_header,  # type: ignore[union-attr]
        (ErrorData(ErrorType.BADLY_FORMED_MESSAGE), ErrorData(ErrorType.BADLY_FORMED_MESSAGE)),
    )
    with pytest.raises(ValueError, match=r"errorData: ISO 18626 1\.2 allows 1, not 2"):
        build(confirmation, V1_2)


def test_region_is_plain_text_in_2021_2(sample: Sample) -> None:
    region = etree.fromstring(build(sample("request", V1_2), V1_2)).find(f".//{_q('region')}")
    assert region is not None and region.get(_q("scheme")) == "urn:iso:std:iso:3166:-2"
    address = Address(physical_address=PhysicalAddress(region=SchemeValue("SI-061", "urn:x")))
    request = sample("request", V2021_2)
    assert isinstance(request, Request)
    with pytest.raises(ValueError, match="region has no scheme in ISO 18626 2021-2"):
        build(replace(request, billing_info=replace(request.billing_info, address=address)),
              V2021_2)


def test_elements_of_another_message_header_are_refused(sample: Sample) -> None:
    message = sample("supplyingAgencyMessage", V2021_2)
    assert isinstance(message, SupplyingAgencyMessage)
    other = replace(message, header=replace(message.header,
                                            consortial_id=message.header.supplying_agency_id))
    with pytest.raises(ValueError, match="consortial_id has no element in ISO 18626 2021-2"):
        build(other, V2021_2)


def test_address_is_a_choice_of_one(minimal: Sample) -> None:
    both = Address(ElectronicAddress(SchemeValue("Email"), "a@example.org"), PhysicalAddress())
    request = minimal("request", V1_2)
    assert isinstance(request, Request)
    for address in (both, Address()):
        with pytest.raises(ValueError, match="exactly one of its choices"):
            build(replace(request, patron_info=PatronInfo(addresses=(address,))), V1_2)


def test_naive_datetimes_are_refused(minimal: Sample) -> None:
    message = minimal("requestingAgencyMessage", V1_2)
    assert isinstance(message, RequestingAgencyMessage)
    naive = replace(message, header=replace(message.header, timestamp=datetime(2025, 3, 3)))
    with pytest.raises(ValueError, match="header/timestamp: 2025-03-03T00:00:00 has no UTC"):
        build(naive, V1_2)


def test_sort_order_is_not_negative_in_2021_2(sample: Sample) -> None:
    request = sample("request", V2021_2)
    assert isinstance(request, Request)
    negative = replace(request, supplier_info=(replace(request.supplier_info[0], sort_order=-1),))
    with pytest.raises(ValueError, match="sortOrder: -1 is below 0"):
        build(negative, V2021_2)
    v12 = sample("request", V1_2)
    assert isinstance(v12, Request)
    negative = replace(v12, supplier_info=(replace(v12.supplier_info[0], sort_order=-1),))
    assert_valid(SCHEMA_FILES[V1_2], build(negative, V1_2))


def test_amounts_are_written_as_given(minimal: Sample) -> None:
    message = minimal("supplyingAgencyMessage", V1_2)
    assert isinstance(message, SupplyingAgencyMessage)
    costs = replace(message, delivery_info=DeliveryInfo(NOW, delivery_costs=(
        Costs(EUR, Decimal("7.00")),)))
    xml = build(costs, V1_2)
    assert b"<ill:monetaryValue>7.00</ill:monetaryValue>" in xml
    with pytest.raises(ValueError, match="is not an amount"):
        build(replace(costs, delivery_info=DeliveryInfo(NOW, delivery_costs=(
            Costs(EUR, Decimal("NaN")),))), V1_2)


# --- confirmations the web layer writes ------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", ["request", "supplyingAgencyMessage", "requestingAgencyMessage"])
def test_confirmation_for_echoes_the_message(kind: str, version: str, sample: Sample) -> None:
    message = sample(kind, version)
    assert isinstance(message, Request | SupplyingAgencyMessage | RequestingAgencyMessage)
    ok = confirmation_for(message, version, received=NOW)
    assert_valid(SCHEMA_FILES[version], build(ok, version))
    header = ok.confirmation_header
    assert header.message_status is MessageStatus.OK
    assert header.requesting_agency_request_id == message.header.requesting_agency_request_id
    assert header.supplying_agency_id == message.header.supplying_agency_id
    assert header.timestamp == header.timestamp_received == NOW
    if isinstance(message, SupplyingAgencyMessage):
        assert isinstance(ok, SupplyingAgencyMessageConfirmation)
        assert ok.reason_for_message is message.message_info.reason_for_message
    elif isinstance(message, RequestingAgencyMessage):
        assert isinstance(ok, RequestingAgencyMessageConfirmation)
        assert ok.action is message.action
    else:
        assert isinstance(ok, RequestConfirmation)
    refused = confirmation_for(message, version, received=NOW,
                               timestamp=NOW + timedelta(seconds=1),
                               errors=[ErrorData(ErrorType.UNRECOGNISED_DATA_VALUE, "SI-XXXX")])
    assert refused.confirmation_header.message_status is MessageStatus.ERROR
    assert_valid(SCHEMA_FILES[version], build(refused, version))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("error_class", list(ERRORS.values()))
@pytest.mark.parametrize("kind", [None, "request", "supplyingAgencyMessage",
                                  "requestingAgencyMessage"])
def test_error_confirmation(error_class: type[MessageError], kind: str | None,
                            version: str) -> None:
    error = error_class("x" * 500, kind=kind)
    confirmation = error_confirmation(error, received=NOW)
    expected = {"supplyingAgencyMessage": SupplyingAgencyMessageConfirmation,
                "requestingAgencyMessage": RequestingAgencyMessageConfirmation}
    assert type(confirmation) is expected.get(kind or "", RequestConfirmation)
    assert confirmation.error_data == (ErrorData(error_class.error_type, "x" * 200),)
    assert_valid(SCHEMA_FILES[version], build(confirmation, version))


# --- the code lists are the schemas' ---------------------------------------------------------


def _enumeration(version: str, simple_type: str) -> frozenset[str]:
    schema = etree.parse(str(conformance_schema_path(SCHEMA_FILES[version])))
    xs = "http://www.w3.org/2001/XMLSchema"
    found = schema.find(f"{{{xs}}}simpleType[@name='{simple_type}']")
    if found is None:
        return frozenset()
    return frozenset(e.get("value") for e in found.iter(f"{{{xs}}}enumeration"))


def _names(*enums: Any) -> frozenset[str]:
    return frozenset(str(member) for enum in enums for member in enum)


@pytest.mark.parametrize("version", VERSIONS)
def test_code_lists_are_the_schemas(version: str) -> None:
    assert _enumeration(version, "type_status") == STATUSES[version]
    assert _enumeration(version, "type_action") == ACTIONS[version]
    for simple_type, enum in [
        ("type_reasonForMessage", ReasonForMessage),
        ("type_errorType", ErrorType),
        ("type_messageStatus", MessageStatus),
        ("type_serviceType", ServiceType),
        ("type_requestType", RequestType),
        ("type_requestSubType", RequestSubType),
    ]:
        assert _enumeration(version, simple_type) == _names(enum), simple_type
    preferred = _enumeration(version, "type_preferredEdition")
    assert preferred == (_names(PreferredEdition) if version == V2021_2 else frozenset())


def test_statuses_reuse_the_domain_enum() -> None:
    assert STATUSES[V1_2] == _names(IsoStatus)
    assert STATUSES[V2021_2] == _names(IsoStatus, Status2021)
    assert status("Loaned") is IsoStatus.LOANED
    assert status("HoldReturn") is Status2021.HOLD_RETURN
    with pytest.raises(ValueError):
        status("Lost")


def test_conformance_folder_is_beside_the_project() -> None:
    for name in SCHEMA_FILES.values():
        assert conformance_schema_path(name).parent == CONFORMANCE


# --- the error table ---------------------------------------------------------------------------


def test_error_table_is_one_to_one() -> None:
    assert set(ERRORS) == set(ErrorType)
    for error_type, cls in ERRORS.items():
        assert cls.error_type is error_type
    subclasses = [c for c in vars(errors).values()
                  if isinstance(c, type) and issubclass(c, MessageError) and c is not MessageError]
    for cls in subclasses:
        assert ERRORS[cls.error_type] in cls.__mro__, cls


# --- date-times -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("2025-03-03T10:00:00Z", datetime(2025, 3, 3, 10, tzinfo=UTC)),
    ("2024-11-28T10:25:11.136Z", datetime(2024, 11, 28, 10, 25, 11, 136000, tzinfo=UTC)),
    ("2025-03-03T11:00:00+01:00", datetime(2025, 3, 3, 10, tzinfo=UTC)),
    ("2025-03-03T10:00:00.123456789-05:00",
     datetime(2025, 3, 3, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-5)))),
    (" 2025-03-03T10:00:00 ", datetime(2025, 3, 3, 10)),
])
def test_parse_datetime(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize("text", ["2025-03-03", "2025-03-03 10:00:00Z", "2025-13-03T10:00:00Z",
                                  "yesterday", "", "2025-03-03T10:00Z", "20250303T100000Z"])
def test_parse_datetime_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text)


def test_format_datetime() -> None:
    assert format_datetime(datetime(2025, 3, 3, 10, tzinfo=UTC)) == "2025-03-03T10:00:00Z"
    cet = timezone(timedelta(hours=1))
    assert format_datetime(datetime(2025, 3, 3, 11, tzinfo=cet)) == "2025-03-03T11:00:00+01:00"
