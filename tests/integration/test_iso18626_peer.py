"""POST /iso18626 with a real Redis and a real rq worker: a lender's answers to our
orders, a partner's orders for our libraries and its steps, and what we tell it back.
Every message the broker writes is validated against the peer's schema version."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from broker.domain.lifecycle import Answer, LenderAnswer
from broker.domain.request import ItemDescription, Request
from broker.domain.states import Event, IsoStatus, Service, State
from broker.store.keys import request_id_for
from broker.web import appkeys
from connectors.iso18626 import messages as iso

from builders import three_library_consortium
from conformance import assert_valid

LENDER_TOKEN = "lender-b-token-5d1"
PARTNER_TOKEN = "partner-p-token-9a7"
PARTNERS = """
[[partners]]
code = "P"
name = "Partner system"
agency_id = "ISIL:XX-P"
url = "{url}"
schema_version = "{version}"
credential_env = "ILL_TEST_PARTNER_P"
"""
T0 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


@dataclass
class Peer:
    """A peer's ISO 18626 endpoint: validates what it is sent, answers OK."""

    version: str
    received: list[iso.Message] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        assert_valid(iso.SCHEMA_FILES[self.version], body)
        assert request.headers.get("Authorization") == f"Bearer {PARTNER_TOKEN}"
        message = iso.parse(body, self.version)
        self.received.append(message)
        assert isinstance(message, iso.SupplyingAgencyMessage | iso.Request
                          | iso.RequestingAgencyMessage)
        answer = iso.build(iso.confirmation_for(message, self.version, received=T0),
                           self.version)
        assert_valid(iso.SCHEMA_FILES[self.version], answer)
        return web.Response(body=answer, content_type="application/xml")


@pytest.fixture(params=[iso.V2021_2, iso.V1_2])
async def peer(request: pytest.FixtureRequest) -> AsyncIterator[Peer]:
    peer = Peer(request.param)
    app = web.Application()
    app.router.add_post("/iso18626", peer.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    peer.url = f"http://{host}:{port}/iso18626"
    yield peer
    await runner.cleanup()


@pytest.fixture
def consortium_file(tmp_path: Path, peer: Peer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ILL_TEST_LENDER_B", LENDER_TOKEN)
    monkeypatch.setenv("ILL_TEST_PARTNER_P", PARTNER_TOKEN)
    path = three_library_consortium(tmp_path)
    text = path.read_text(encoding="utf-8").replace(
        'agency_id = "B"',
        f'agency_id = "ISIL:LV-B"\nschema_version = "{peer.version}"\n'
        'credential_env = "ILL_TEST_LENDER_B"')
    path.write_text(text + PARTNERS.format(url=peer.url, version=peer.version),
                    encoding="utf-8")
    return path


@pytest.fixture
def client(served: TestClient) -> TestClient:
    """The app on this module's consortium, without harvest or accounts: the requests
    here are written through the store."""
    return served


def isil(value: str) -> iso.AgencyId:
    return iso.AgencyId(iso.SchemeValue("ISIL"), value)


async def order_at_b(client: TestClient, state: State = State.SENT) -> Request:
    """One of our patrons' requests (home A) sent to lender B, or left in ``state``."""
    store = client.server.app[appkeys.STORE]
    now = datetime.now(UTC)
    request = await store.create(Request(
        id=request_id_for("p1"), service=Service.LOAN, state=State.NEW, version=0,
        patron_id="p1", home_library="A", pickup_location="A",
        item=ItemDescription(title="Far away", isbn="9780306406157"), created_at=now,
        updated_at=now), "test")
    request = await store.apply(request, Event.SUBMITTED, "test")
    request = await store.apply(request, Event.BORROWER_CONFIRMED, "test")
    if state is State.SENT:
        request = await store.apply(request, Event.SENT_TO_LENDER, "test",
                                    changes={"lender": "B"})
    return request


def from_b(request_id: str, status: IsoStatus, version: str, *,
           reason: iso.ReasonForMessage = iso.ReasonForMessage.REQUEST_RESPONSE,
           due: datetime | None = None, supplier: str = "LV-B") -> bytes:
    message = iso.SupplyingAgencyMessage(
        header=iso.Header(requesting_agency_id=isil("A"), timestamp=T0,
                          requesting_agency_request_id=request_id,
                          supplying_agency_id=isil(supplier),
                          supplying_agency_request_id="B-1"),
        message_info=iso.MessageInfo(reason_for_message=reason),
        status_info=iso.StatusInfo(status=status, last_change=T0, due_date=due))
    return iso.build(message, version)


async def post(client: TestClient, body: bytes, token: str | None = LENDER_TOKEN,
               version: str = iso.V2021_2) -> iso.Confirmation:
    headers = {"Content-Type": "application/xml"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await client.post("/iso18626", data=io.BytesIO(body), headers=headers)
    assert response.status == 200, await response.text()
    raw = await response.read()
    assert_valid(iso.SCHEMA_FILES[version], raw)
    confirmation = iso.parse(raw, version)
    assert isinstance(confirmation, iso.RequestConfirmation
                      | iso.RequestingAgencyMessageConfirmation
                      | iso.SupplyingAgencyMessageConfirmation)
    return confirmation


def status_of(confirmation: iso.Confirmation) -> tuple[str, str | None]:
    errors = confirmation.error_data
    return (confirmation.confirmation_header.message_status.value,
            errors[0].error_type.value if errors else None)


async def test_a_lenders_answer_moves_our_request_once(client: TestClient, peer: Peer
                                                       ) -> None:
    request = await order_at_b(client)
    body = from_b(request.id, IsoStatus.WILL_SUPPLY, peer.version)
    first = await post(client, body, version=peer.version)
    assert status_of(first) == ("OK", None)
    store = client.server.app[appkeys.STORE]
    assert (await store.get(request.id)).state is State.WILL_SUPPLY
    again = await post(client, body, version=peer.version)
    assert again.raw == first.raw
    events = [e.event for e in await store.history(request.id)]
    assert events.count(Event.LENDER_WILL_SUPPLY) == 1

    shipped = from_b(request.id, IsoStatus.LOANED, peer.version,
                     reason=iso.ReasonForMessage.STATUS_CHANGE,
                     due=datetime(2026, 5, 1, tzinfo=UTC))
    assert status_of(await post(client, shipped, version=peer.version)) == ("OK", None)
    after = await store.get(request.id)
    assert (after.state, after.due_date) == (State.SHIPPED, "2026-05-01")


async def test_a_message_that_does_not_fit_is_refused_without_a_change(
        client: TestClient, peer: Peer) -> None:
    store = client.server.app[appkeys.STORE]
    routing = await order_at_b(client, State.ROUTING)
    loaned = from_b(routing.id, IsoStatus.LOANED, peer.version,
                    due=datetime(2026, 5, 1, tzinfo=UTC))
    assert status_of(await post(client, loaned, version=peer.version)) == (
        "ERROR", "UnrecognisedDataValue")
    assert (await store.get(routing.id)).version == routing.version

    sent = await order_at_b(client)
    completed = from_b(sent.id, IsoStatus.LOAN_COMPLETED, peer.version,
                       reason=iso.ReasonForMessage.STATUS_CHANGE)
    confirmation = await post(client, completed, version=peer.version)
    assert status_of(confirmation) == ("ERROR", "UnrecognisedDataValue")
    assert "does not fit" in (confirmation.error_data[0].error_value or "")
    assert (await store.get(sent.id)).version == sent.version

    unknown = from_b("ILL-0000-0000", IsoStatus.WILL_SUPPLY, peer.version)
    assert status_of(await post(client, unknown, version=peer.version)) == (
        "ERROR", "UnrecognisedDataValue")


async def test_only_the_peer_with_its_token_and_agency_is_heard(client: TestClient,
                                                                peer: Peer) -> None:
    request = await order_at_b(client)
    body = from_b(request.id, IsoStatus.WILL_SUPPLY, peer.version)
    for headers in ({}, {"Authorization": "Bearer nope"},
                    {"Authorization": f"Basic {LENDER_TOKEN}"}):
        response = await client.post("/iso18626", data=body, headers=headers)
        assert response.status == 401
        assert response.content_type == "application/problem+json"
    # The partner's token does not speak for lender B.
    assert status_of(await post(client, body, PARTNER_TOKEN, peer.version)) == (
        "ERROR", "UnrecognisedDataValue")
    # Lender B's token with another supplier's agency id.
    other = from_b(request.id, IsoStatus.WILL_SUPPLY, peer.version, supplier="LV-C")
    assert status_of(await post(client, other, version=peer.version)) == (
        "ERROR", "UnrecognisedDataValue")
    assert (await client.server.app[appkeys.STORE].get(request.id)).state is State.SENT


HOSTILE = {
    "xxe": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<r>&x;</r>',
    "billion laughs": b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">'
                      b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>',
    "huge": b"<x>" + b" " * (iso.MAX_MESSAGE_BYTES + 10) + b"</x>",
    "wrong namespace": b'<?xml version="1.0"?><ISO18626Message xmlns="urn:other" '
                       b'version="2021-2"><request/></ISO18626Message>',
    "not xml": b"\x00\xffhello",
}


@pytest.mark.parametrize("kind", list(HOSTILE))
async def test_hostile_or_malformed_bodies_are_badly_formed(client: TestClient, peer: Peer,
                                                            kind: str) -> None:
    confirmation = await post(client, HOSTILE[kind], version=peer.version)
    assert status_of(confirmation) == ("ERROR", "BadlyFormedMessage")
    assert b"root:" not in (confirmation.raw or b"")


def partner_request(version: str, theirs: str = "P-77", supplier: str = "C",
                    service: iso.ServiceType = iso.ServiceType.LOAN) -> bytes:
    return iso.build(iso.Request(
        header=iso.Header(requesting_agency_id=isil("XX-P"), timestamp=T0,
                          requesting_agency_request_id=theirs,
                          supplying_agency_id=isil(supplier)),
        bibliographic_info=iso.BibliographicInfo(
            title="Čefurji raus!", author="Vojnović, Goran",
            bibliographic_item_ids=(iso.BibliographicItemId(
                "9789612415099", iso.SchemeValue("ISBN")),)),
        publication_info=iso.PublicationInfo(publication_date="2008"),
        service_info=iso.ServiceInfo(service_type=service)), version)


def partner_step(version: str, action: iso.Action, theirs: str = "P-77") -> bytes:
    return iso.build(iso.RequestingAgencyMessage(
        header=iso.Header(requesting_agency_id=isil("XX-P"), timestamp=datetime.now(UTC),
                          requesting_agency_request_id=theirs,
                          supplying_agency_id=isil("C")),
        action=action), version)


async def test_a_partners_order_lands_in_our_librarys_inbox_once(
        client: TestClient, peer: Peer, work: Any) -> None:
    app = client.server.app
    body = partner_request(peer.version)
    first = await post(client, body, PARTNER_TOKEN, peer.version)
    assert status_of(first) == ("OK", None)
    # The same Request sent again (a retry after a timeout: new timestamp) makes none.
    retried = partner_request(peer.version).replace(b"2026-03-03T09:00:00Z",
                                                    b"2026-03-03T09:05:00Z")
    assert status_of(await post(client, retried, PARTNER_TOKEN, peer.version))[0] == "OK"
    store = app[appkeys.STORE]
    ids = await store.ids_for_lender("C")
    assert len(ids) == 1
    order = await store.get(ids[0])
    assert (order.state, order.partner, order.partner_request_id, order.home_library,
            order.item.title, order.item.isbn, order.item.year) == (
        State.SENT, "P", "P-77", "P", "Čefurji raus!", "9789612415099", 2008)

    # Not ours to receive yet: an error, and nothing changes.
    received = partner_step(peer.version, iso.Action.RECEIVED)
    assert status_of(await post(client, received, PARTNER_TOKEN, peer.version)) == (
        "ERROR", "UnrecognisedDataValue")
    unknown = partner_step(peer.version, iso.Action.RECEIVED, theirs="P-nope")
    assert status_of(await post(client, unknown, PARTNER_TOKEN, peer.version)) == (
        "ERROR", "UnrecognisedDataValue")

    lending = app[appkeys.LENDING]
    await lending.lender_answers(order.id, "C", Answer(LenderAnswer.WILL_SUPPLY), "desk")
    await lending.lender_answers(order.id, "C", Answer(
        LenderAnswer.SHIPPED, due_date=datetime(2026, 6, 1).date()), "desk")
    await work()
    told = [m for m in peer.received if isinstance(m, iso.SupplyingAgencyMessage)]
    assert [m.status_info.status for m in told] == [IsoStatus.WILL_SUPPLY, IsoStatus.LOANED]
    assert told[0].header.requesting_agency_request_id == "P-77"
    assert told[1].status_info.due_date is not None
    assert told[1].status_info.due_date.date().isoformat() == "2026-06-01"

    assert status_of(await post(client, received, PARTNER_TOKEN, peer.version)) == ("OK", None)
    assert (await store.get(order.id)).state is State.ON_LOAN
    status = partner_step(peer.version, iso.Action.STATUS_REQUEST)
    assert status_of(await post(client, status, PARTNER_TOKEN, peer.version)) == ("OK", None)
    await work()
    last = peer.received[-1]
    assert isinstance(last, iso.SupplyingAgencyMessage)
    assert (last.message_info.reason_for_message, last.status_info.status) == (
        iso.ReasonForMessage.STATUS_REQUEST_RESPONSE, IsoStatus.LOANED)


async def test_a_partner_cancels_and_is_answered(client: TestClient, peer: Peer,
                                                 work: Any) -> None:
    body = partner_request(peer.version, theirs="P-9", service=iso.ServiceType.COPY)
    assert status_of(await post(client, body, PARTNER_TOKEN, peer.version)) == ("OK", None)
    cancel = partner_step(peer.version, iso.Action.CANCEL, theirs="P-9")
    assert status_of(await post(client, cancel, PARTNER_TOKEN, peer.version)) == ("OK", None)
    await work()
    answer = peer.received[-1]
    assert isinstance(answer, iso.SupplyingAgencyMessage)
    assert (answer.message_info.reason_for_message, answer.message_info.answer_yes_no,
            answer.status_info.status) == (iso.ReasonForMessage.CANCEL_RESPONSE, True,
                                           IsoStatus.CANCELLED)


async def test_an_order_for_none_of_our_libraries_is_refused(client: TestClient,
                                                             peer: Peer) -> None:
    body = partner_request(peer.version, supplier="ZZ-NONE")
    assert status_of(await post(client, body, PARTNER_TOKEN, peer.version)) == (
        "ERROR", "UnrecognisedDataValue")
    assert await client.server.app[appkeys.STORE].ids_in_state(State.SENT) == []

