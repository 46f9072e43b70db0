"""Fixtures for the ISO 18626 tests: one message of each kind per version, the
partner endpoint of ``iso18626_partner``, and an HTTP session.

Test modules get what they need from fixtures (or import ``iso18626_partner``
itself): without packages in tests/, ``import conftest`` may find another folder's
conftest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from broker.domain.states import IsoStatus
from connectors.iso18626.messages import (
    SCHEMA_FILES,
    V1_2,
    V2021_2,
    Action,
    Address,
    AgencyId,
    BibliographicInfo,
    BibliographicItemId,
    BibliographicRecordId,
    BillingInfo,
    ConfirmationHeader,
    Costs,
    DeliveryInfo,
    ElectronicAddress,
    ErrorData,
    ErrorType,
    Header,
    Message,
    MessageInfo,
    MessageStatus,
    PatronInfo,
    PhysicalAddress,
    PreferredEdition,
    PublicationInfo,
    ReasonForMessage,
    Request,
    RequestConfirmation,
    RequestedDeliveryInfo,
    RequestingAgencyAuthentication,
    RequestingAgencyInfo,
    RequestingAgencyMessage,
    RequestingAgencyMessageConfirmation,
    RequestSubType,
    RequestType,
    RetryInfo,
    ReturnInfo,
    SchemeValue,
    ServiceInfo,
    ServiceType,
    ShippingInfo,
    Status2021,
    StatusInfo,
    SupplierInfo,
    SupplyingAgencyMessage,
    SupplyingAgencyMessageConfirmation,
)

from conformance import conformance_schema
from iso18626_partner import Partner, serve
from local_server import nothing_listens_at

SECRET = "XXE-CANARY-41d2 the contents of a file the broker must never read"


# --- one message of each kind, with every element its version has -------------------------

T0 = datetime(2025, 3, 3, 9, 15, 30, tzinfo=UTC)
ISIL = SchemeValue("ISIL", "http://illtransactions.org/ISO18626/OpenCodeList/AgencyIdTypeList-V1.1")
EUR = SchemeValue("EUR", "http://www.iso.org/iso/home/standards/currency_codes.htm")


def isil(value: str) -> AgencyId:
    return AgencyId(ISIL, value)


def _physical(version: str) -> PhysicalAddress:
    return PhysicalAddress(
        line1="Kongresni trg 1", line2="Oddelek za medknjižnično izposojo", locality="Ljubljana",
        postal_code="1000",
        region=SchemeValue("SI-061", "urn:iso:std:iso:3166:-2") if version == V1_2
        else SchemeValue("Osrednjeslovenska"),
        country=SchemeValue("SI", "urn:iso:std:iso:3166:-1"),
    )


def _email(address: str) -> Address:
    return Address(electronic_address=ElectronicAddress(SchemeValue("Email"), address))


def _header(kind: str, version: str) -> Header:
    v21 = version == V2021_2
    header = Header(
        requesting_agency_id=isil("SI-LJMK"),
        timestamp=T0,
        requesting_agency_request_id="ILL-2025-000042",
        supplying_agency_id=isil("LV-RNB"),
    )
    if kind == "request":
        return replace(
            header,
            consortial_id=isil("EU-ILLC") if v21 else None,
            multiple_item_request_id="MIR-7",
            supplying_agency_request_id=None if v21 else "LV-RNB-991",
            requesting_agency_authentication=RequestingAgencyAuthentication("acct-1", "pin"),
        )
    if kind == "supplyingAgencyMessage":
        return replace(header, supplying_agency_request_id="LV-RNB-991",
                       multiple_item_request_id=None if v21 else "MIR-7")
    return replace(
        header,
        consortial_id=isil("EU-ILLC") if v21 else None,
        multiple_item_request_id=None if v21 else "MIR-7",
        supplying_agency_request_id="LV-RNB-991",
        requesting_agency_authentication=RequestingAgencyAuthentication(security_code="pin"),
    )


def full_request(version: str) -> Request:
    v21 = version == V2021_2
    return Request(
        header=_header("request", version),
        bibliographic_info=BibliographicInfo(
            supplier_unique_record_id="rec-000123",
            title="Zgodovina slovenskega slovstva",
            author="Prijatelj, Ivan",
            author_id="0000000121032683" if v21 else None,
            subtitle="od začetkov do preporoda",
            series_title="Knjižnica <Kondor> & co.",
            edition="2. izd.",
            title_of_component="Trubar in njegov čas",
            author_of_component="Kos, Janko",
            volumes=("1", "2") if v21 else ("1",),
            issue="3",
            pages_requested="15-42",
            estimated_no_pages="28",
            bibliographic_item_ids=(
                BibliographicItemId("9789612310001", SchemeValue("ISBN")),
                BibliographicItemId("0350-4204", SchemeValue("ISSN")),
            ),
            sponsor="ARIS",
            information_source="COBIB",
            bibliographic_record_ids=(
                BibliographicRecordId(SchemeValue("OCLC"), "ocm12345678"),
                BibliographicRecordId(SchemeValue("COBISS.SI-ID"), "12345"),
            ),
        ),
        publication_info=PublicationInfo(
            publisher="Slovenska matica", publisher_id="0000000404410001" if v21 else None,
            publication_type=SchemeValue("Book"), publication_date="1951",
            place_of_publication="Ljubljana",
        ),
        service_info=ServiceInfo(
            service_type=ServiceType.COPY,
            request_type=RequestType.NEW,
            request_sub_types=(RequestSubType.PATRON_REQUEST, RequestSubType.BOOKING_REQUEST),
            requesting_agency_previous_request_id="ILL-2025-000041",
            service_level=SchemeValue("Normal"),
            item_format=SchemeValue("PDF"),
            need_before_date=datetime(2025, 4, 1, 0, 0, tzinfo=UTC),
            copyright_compliance=SchemeValue("SI-ZASP"),
            any_edition=False,
            preferred_edition=PreferredEdition.THIS_EDITION if v21 else None,
            loan_conditions=(SchemeValue("LibraryUseOnly"),) if v21 else (),
            start_date=datetime(2025, 3, 10, 8, 0, tzinfo=UTC),
            end_date=datetime(2025, 3, 20, 16, 0, tzinfo=UTC),
            note="Poglavje o Trubarju, prosim v PDF.",
        ),
        supplier_info=(
            SupplierInfo(sort_order=0, supplier_code=isil("LV-RNB"),
                         supplier_description="Latvijas Nacionālā bibliotēka",
                         bibliographic_record_id=BibliographicRecordId(SchemeValue("LNB"), "77"),
                         call_number="II 4567", summary_holdings="1951-1952",
                         availability_note="on shelf"),
            SupplierInfo(sort_order=1, supplier_code=isil("SE-KB")),
        ),
        requested_delivery_info=(
            RequestedDeliveryInfo(
                sort_order=0, address=_email("ill@nuk.example.si"),
                delivery_method=SchemeValue("URL") if v21 else None,
                courier_name=SchemeValue("Pošta Slovenije") if v21 else None,
            ),
            RequestedDeliveryInfo(sort_order=1,
                                  address=Address(physical_address=_physical(version))),
        ),
        requesting_agency_info=RequestingAgencyInfo(
            name="Mestna knjižnica Ljubljana", contact_name="Medknjižnična izposoja",
            addresses=(_email("mi@mklj.example.si"),
                       Address(physical_address=_physical(version))),
        ),
        patron_info=PatronInfo(
            patron_id="1001", surname="Čuk", given_name="Žiga",
            patron_type=SchemeValue("adult"), send_to_patron=False,
            addresses=(_email("ziga.cuk@example.si"),),
        ),
        billing_info=BillingInfo(
            payment_method=SchemeValue("IFM"),
            maximum_costs=Costs(EUR, Decimal("12.50")),
            billing_method=SchemeValue("Account"),
            billing_name="MKL",
            address=Address(physical_address=_physical(version)),
        ),
    )


def full_supplying_agency_message(version: str) -> SupplyingAgencyMessage:
    v21 = version == V2021_2
    costs = Costs(EUR, Decimal("7.00"))
    return SupplyingAgencyMessage(
        header=_header("supplyingAgencyMessage", version),
        message_info=MessageInfo(
            reason_for_message=ReasonForMessage.STATUS_CHANGE,
            answer_yes_no=True,
            note="Pošiljamo.",
            reason_unfilled=SchemeValue("NotOnShelf"),
            reason_retry=SchemeValue("CostExceedsMaxCost"),
            offered_costs=None if v21 else costs,
            retry_after=None if v21 else datetime(2025, 3, 5, tzinfo=UTC),
            retry_before=None if v21 else datetime(2025, 3, 25, tzinfo=UTC),
        ),
        status_info=StatusInfo(
            status=Status2021.HOLD_RETURN if v21 else IsoStatus.LOANED,
            last_change=datetime(2025, 3, 4, 12, 0, 0, 250000, tzinfo=UTC),
            expected_delivery_date=datetime(2025, 3, 7, 12, 0, tzinfo=UTC),
            due_date=datetime(2025, 4, 4, 23, 59, 59, tzinfo=UTC),
        ),
        retry_info=RetryInfo(
            loan_conditions=(SchemeValue("LibraryUseOnly"), SchemeValue("NoReproduction")),
            editions=("1951",), item_formats=(SchemeValue("Paper"),), volumes=("1", "2"),
            service_type=ServiceType.LOAN, service_levels=(SchemeValue("Express"),),
            delivery_methods=(SchemeValue("Mail"),), courier_names=(SchemeValue("DHL"),),
            offered_costs=(costs, Costs(SchemeValue("SEK"), Decimal("80")))
            , payment_methods=(SchemeValue("IFM"),),
            retry_before=datetime(2025, 3, 25, tzinfo=UTC),
            retry_after=datetime(2025, 3, 5, tzinfo=UTC),
        ) if v21 else None,
        delivery_info=DeliveryInfo(
            date_sent=datetime(2025, 3, 4, 11, 0, tzinfo=UTC),
            item_ids=("31000012345", "31000012346") if v21 else ("31000012345",),
            url="https://lnb.example.lv/ill/991.pdf" if v21 else None,
            delivery_method=SchemeValue("Mail"),
            address=Address(physical_address=_physical(version)) if v21 else None,
            sent_to_patron=False,
            loan_conditions=(SchemeValue("LibraryUseOnly"),),
            item_format=SchemeValue("Paper"),
            service_type=ServiceType.LOAN if v21 else None,
            delivery_costs=(costs,),
            payment_method=SchemeValue("IFM") if v21 else None,
        ),
        shipping_info=ShippingInfo(
            courier_name=SchemeValue("DHL"), tracking_ids=("JD0142", "JD0143"),
            insurance=True, insurance_third_party=False, third_party_name="If",
            insurance_costs=(Costs(EUR, Decimal("3.5")),),
        ) if v21 else None,
        return_info=ReturnInfo(return_agency_id=isil("LV-RNB"), name="LNB ILL",
                               physical_address=_physical(version)),
    )


def full_requesting_agency_message(version: str) -> RequestingAgencyMessage:
    return RequestingAgencyMessage(
        header=_header("requestingAgencyMessage", version),
        action=Action.LOST if version == V2021_2 else Action.SHIPPED_RETURN,
        note="Vrnjeno s pošto.",
    )


def _confirmation_header(version: str) -> ConfirmationHeader:
    return ConfirmationHeader(
        timestamp=datetime(2025, 3, 3, 9, 15, 31, tzinfo=UTC),
        timestamp_received=T0,
        message_status=MessageStatus.ERROR,
        supplying_agency_id=isil("LV-RNB"),
        requesting_agency_id=isil("SI-LJMK"),
        requesting_agency_request_id="ILL-2025-000042",
        multiple_item_request_id="MIR-7" if version == V1_2 else None,
    )


def _error_data(version: str) -> tuple[ErrorData, ...]:
    first = ErrorData(ErrorType.UNRECOGNISED_DATA_VALUE, "requestingAgencyId: SI-XXXX")
    if version == V1_2:
        return (first,)
    return first, ErrorData(ErrorType.UNRECOGNISED_DATA_ELEMENT)


def full_message(kind: str, version: str) -> Message:
    """A message of ``kind`` (its element name) with every element ``version`` has
    set at least once: what round trips and the schema check cover."""
    if kind == "request":
        return full_request(version)
    if kind == "supplyingAgencyMessage":
        return full_supplying_agency_message(version)
    if kind == "requestingAgencyMessage":
        return full_requesting_agency_message(version)
    header = _confirmation_header(version)
    errors = _error_data(version)
    if kind == "requestConfirmation":
        return RequestConfirmation(header, errors)
    if kind == "supplyingAgencyMessageConfirmation":
        return SupplyingAgencyMessageConfirmation(header, ReasonForMessage.RENEW_RESPONSE, errors)
    assert kind == "requestingAgencyMessageConfirmation"
    return RequestingAgencyMessageConfirmation(header, Action.RENEW, errors)


def minimal_message(kind: str, version: str) -> Message:
    """A message of ``kind`` with only what ``version`` requires."""
    header = Header(isil("SI-LJMK"), T0, "ILL-1", supplying_agency_id=isil("LV-RNB"))
    confirmation = ConfirmationHeader(T0, T0, MessageStatus.OK)
    if kind == "request":
        service = ServiceInfo(ServiceType.LOAN) if version == V2021_2 else None
        return Request(header, BibliographicInfo(), service_info=service)
    if kind == "supplyingAgencyMessage":
        return SupplyingAgencyMessage(header, MessageInfo(ReasonForMessage.REQUEST_RESPONSE),
                                      StatusInfo(IsoStatus.WILL_SUPPLY, T0))
    if kind == "requestingAgencyMessage":
        return RequestingAgencyMessage(header, Action.RECEIVED)
    if kind == "requestConfirmation":
        return RequestConfirmation(confirmation)
    if kind == "supplyingAgencyMessageConfirmation":
        return SupplyingAgencyMessageConfirmation(confirmation)
    assert kind == "requestingAgencyMessageConfirmation"
    return RequestingAgencyMessageConfirmation(confirmation)


@pytest.fixture(scope="session")
def sample() -> Callable[[str, str], Message]:
    """``full_message``: ``sample(kind, version)``."""
    return full_message


@pytest.fixture(scope="session")
def minimal() -> Callable[[str, str], Message]:
    """``minimal_message``: ``minimal(kind, version)``."""
    return minimal_message


@pytest.fixture
def iso18626_schemas() -> dict[str, etree.XMLSchema]:
    """Both official schemas from ../shared (skips without them, fails under CI)."""
    return {version: conformance_schema(name) for version, name in SCHEMA_FILES.items()}


@pytest.fixture
async def partner(iso18626_schemas: dict[str, etree.XMLSchema]) -> AsyncIterator[Partner]:
    """A partner speaking ISO 18626 1.2 at ``partner.url`` (set ``partner.version``
    for 2021-2), expecting ``Bearer`` ``partner.token``."""
    async with serve(Partner(schemas=iso18626_schemas)) as partner:
        yield partner


@pytest.fixture
def dead_url() -> str:
    """An ISO 18626 URL on a local port where nothing listens."""
    return nothing_listens_at("/iso18626")


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """A local file that an external entity in a message would point at."""
    path = tmp_path / "secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def secret() -> str:
    return SECRET


def walk(value: Any) -> Any:
    """Every dataclass instance inside ``value`` (``value`` too), depth first."""
    if isinstance(value, tuple):
        for item in value:
            yield from walk(item)
    elif hasattr(value, "__dataclass_fields__"):
        yield value
        for name in value.__dataclass_fields__:
            yield from walk(getattr(value, name))


@pytest.fixture(scope="session")
def dataclasses_in() -> Callable[[Any], Any]:
    """``walk``: every dataclass instance inside a message."""
    return walk
