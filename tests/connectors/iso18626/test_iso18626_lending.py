"""Iso18626Lending against a partner endpoint on localhost: the order as a Request and
every borrowing step as the RequestingAgencyMessage the standard has for it, in both
schema versions, each valid against the official schema; and how it fails."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from broker.domain.consortium import Consortium
from broker.domain.lifecycle import BorrowerStep, LenderAnswer
from broker.domain.request import Citation, ItemDescription, Request
from broker.domain.states import IsoStatus, Service, State
from broker.services.consortium_file import load
from broker.services.lenders import lender_for
from broker.settings import Settings
from connectors.errors import PartnerUnavailable
from connectors.iso18626 import messages as iso
from connectors.iso18626.errors import PartnerRefused
from connectors.iso18626.lending import Iso18626Lending
from connectors.iso18626.lifecycle import (
    Told,
    agency,
    agency_text,
    answer_from,
    answer_message,
    ordered,
)

from builders import write_consortium
from conformance import assert_valid
from iso18626_partner import TOKEN, Behaviour, Partner

NOW = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def consortium(tmp_path: Path, url: str, version: str) -> Consortium:
    path = write_consortium(tmp_path)
    text = path.read_text(encoding="utf-8").replace(
        'url = "http://127.0.0.1:9997/iso18626"\nagency_id = "B"',
        f'url = "{url}"\nagency_id = "ISIL:LV-B"\nschema_version = "{version}"\n'
        'credential_env = "ILL_TEST_LENDER_TOKEN"')
    path.write_text(text.replace('code = "A"\nname = "Library A"',
                                 'code = "A"\nname = "Library A"\nagency_id = "SI-A"'),
                    encoding="utf-8")
    return load(path)


def a_request(service: Service = Service.LOAN) -> Request:
    copy = service is Service.COPY
    return Request(
        id="ILL-ABCD-EFGH", service=service, state=State.SENT, version=3, patron_id="p1",
        home_library="A", pickup_location="A-1",
        item=ItemDescription(title="Alamut", author="Bartol, Vladimir", year=1938,
                             isbn="9788611164014", issn="0350-4204" if copy else None),
        citation=Citation("Sodobnost", "O Alamutu", volume="3", issue="2", pages="10-20")
        if copy else None, copy_format="pdf" if copy else None,
        max_cost=Decimal("12.50"), note="Prosim hitro.", lender="B",
        created_at=NOW, updated_at=NOW)


@pytest.fixture(params=[iso.V1_2, iso.V2021_2])
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def lending(tmp_path: Path, partner: Partner, http: aiohttp.ClientSession, version: str,
            monkeypatch: pytest.MonkeyPatch) -> Iso18626Lending:
    monkeypatch.setenv("ILL_TEST_LENDER_TOKEN", TOKEN)
    partner.version = version
    found = consortium(tmp_path, partner.url, version)
    connector = lender_for(found.library("B"), http,
                           Settings(consortium_path=tmp_path, data_dir=tmp_path),
                           consortium=found)
    assert isinstance(connector, Iso18626Lending)
    connector.clock = lambda: NOW
    return connector


@pytest.mark.parametrize("service", list(Service))
async def test_an_order_is_a_valid_request(lending: Iso18626Lending, partner: Partner,
                                           version: str, service: Service) -> None:
    await lending.order(a_request(service))
    [received] = partner.received
    assert received.schema_errors == () and received.response_errors == ()
    assert_valid(iso.SCHEMA_FILES[version], received.body)
    assert received.authorization == f"Bearer {TOKEN}"
    message = iso.parse(received.body, version)
    assert isinstance(message, iso.Request)
    header = message.header
    assert (agency_text(header.requesting_agency_id), agency_text(header.supplying_agency_id),
            header.requesting_agency_request_id) == ("ISIL:SI-A", "ISIL:LV-B", "ILL-ABCD-EFGH")
    assert message.service_info is not None
    assert message.service_info.service_type.value == service.value.capitalize()
    assert message.billing_info is not None and message.billing_info.maximum_costs is not None
    assert message.billing_info.maximum_costs.monetary_value == Decimal("12.50")
    assert message.patron_info is None
    # What a partner broker makes of it is what was asked.
    back = ordered(message)
    assert (back.service, back.item.isbn, back.item.year, back.max_cost) == (
        service, "9788611164014", 1938, Decimal("12.50"))
    if service is Service.COPY:
        assert back.citation == Citation("Sodobnost", "O Alamutu", "3", "2", "10-20")


async def test_every_step_is_told_as_the_standard_has_it(lending: Iso18626Lending,
                                                         partner: Partner,
                                                         version: str) -> None:
    sent = {}
    for step in BorrowerStep:
        before = len(partner.received)
        await lending.tell(a_request(), step, "note")
        if len(partner.received) > before:
            received = partner.received[-1]
            assert received.schema_errors == (), received.schema_errors
            assert_valid(iso.SCHEMA_FILES[version], received.body)
            message = iso.parse(received.body, version)
            assert isinstance(message, iso.RequestingAgencyMessage)
            sent[step] = message.action
    assert sent == {
        BorrowerStep.RECEIVED: iso.Action.RECEIVED,
        BorrowerStep.RENEW: iso.Action.RENEW,
        BorrowerStep.RETURN_SHIPPED: iso.Action.SHIPPED_RETURN,
        BorrowerStep.CANCEL: iso.Action.CANCEL,
        BorrowerStep.DECLINE_CONDITION: iso.Action.CANCEL,
        BorrowerStep.ACCEPT_CONDITION: iso.Action.NOTIFICATION,
        BorrowerStep.LOST: iso.Action.LOST if version == iso.V2021_2
        else iso.Action.NOTIFICATION,
    }


async def test_a_refusal_and_an_absent_lender_raise(lending: Iso18626Lending,
                                                    partner: Partner, dead_url: str,
                                                    version: str) -> None:
    partner.behaviour = Behaviour.REFUSE
    with pytest.raises(PartnerRefused):
        await lending.order(a_request())
    lending.client.url = dead_url
    with pytest.raises(PartnerUnavailable):
        await lending.order(a_request())


@pytest.mark.parametrize("kind", [k.value for k in LenderAnswer])
def test_every_answer_we_send_reads_back_as_that_answer(version: str, kind: str) -> None:
    told = Told(kind, {
        "will_supply": IsoStatus.WILL_SUPPLY, "unfilled": IsoStatus.UNFILLED,
        "conditional": IsoStatus.EXPECT_TO_SUPPLY, "shipped": IsoStatus.LOANED,
        "copy_delivered": IsoStatus.COPY_COMPLETED, "renewal": IsoStatus.LOANED,
        "overdue": IsoStatus.OVERDUE, "recalled": IsoStatus.RECALLED,
        "received_back": IsoStatus.LOAN_COMPLETED,
        "lost": IsoStatus.COMPLETED_WITHOUT_RETURN}[kind],
        due_date=NOW.date(), url="https://b.example/copy.pdf", note="why",
        condition="library use only", cost=Decimal("3.00"), granted=True)
    if kind not in ("shipped", "renewal", "recalled"):
        told = replace(told, due_date=None)
    message = answer_message(told, partner_request_id="P-1", requester="ISIL:XX-P",
                             supplier="ISIL:LV-B", supplier_request_id="ILL-1",
                             currency="EUR", version=version, now=NOW)
    body = iso.build(message, version)
    assert_valid(iso.SCHEMA_FILES[version], body)
    parsed = iso.parse(body, version)
    assert isinstance(parsed, iso.SupplyingAgencyMessage)
    answer = answer_from(parsed)
    assert answer is not None and answer.kind.value == kind
    if kind == "copy_delivered":
        assert answer.url == "https://b.example/copy.pdf"
    if kind == "conditional":
        assert answer.condition and "library use only" in answer.condition


def test_agency_ids_are_type_and_value() -> None:
    assert agency_text(agency("SI-1234")) == "ISIL:SI-1234"
    assert agency_text(agency("oclc:ABC")) == "OCLC:ABC"
