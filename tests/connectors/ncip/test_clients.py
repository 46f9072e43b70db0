"""What every NCIP client (``NcipRegister``, ``NcipCirculation``) does alike, through
the shared transport (``connectors.ncip.transport``): whatever a responder does wrong,
the client raises its own retryable error, within its timeout; a "Temporary
Processing Failure" is that retryable error too, and a wrong agency id is an
``UnknownAgency`` Problem, whichever service was asked."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import pytest

from connectors.errors import ConnectorError, RegisterUnavailable
from connectors.ncip.circulation import NcipCirculation
from connectors.ncip.client import NcipRegister
from connectors.ncip.errors import CirculationUnavailable, TemporaryProcessingFailure, UnknownAgency
from connectors.ncip.transport import NcipPeer

from ncip_responder import AGENCY, Fault, NcipResponder, check_exchanges

FAULT_TIMEOUT = 0.5
# How much longer than its timeout a faulty exchange may take: the timeout covers
# the whole exchange, so a hang must end at the deadline, not later.
GRACE = 1.5


async def _lookup(peer: NcipPeer) -> object:
    assert isinstance(peer, NcipRegister)
    return await peer.lookup("1001")


async def _check_in(peer: NcipPeer) -> object:
    assert isinstance(peer, NcipCirculation)
    return await peer.check_in("ILL-R-2025-0042")


@dataclass(frozen=True, slots=True)
class Client:
    name: str
    cls: type[NcipPeer]
    unavailable: type[ConnectorError]
    call: Callable[[NcipPeer], Awaitable[object]]


CLIENTS = [
    Client("register", NcipRegister, RegisterUnavailable, _lookup),
    Client("circulation", NcipCirculation, CirculationUnavailable, _check_in),
]
FAULTS = [
    Fault.HANG, Fault.DRIP, Fault.RESET, Fault.HTTP_500, Fault.GARBAGE, Fault.HTML,
    Fault.XHTML, Fault.HUGE, Fault.XXE, Fault.ENTITY_BOMB,
]  # fmt: skip


@pytest.mark.timeout(20)
@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("client", CLIENTS, ids=[c.name for c in CLIENTS])
async def test_fault_is_unavailable_within_the_timeout(
    ncip_responder: NcipResponder, http: aiohttp.ClientSession, client: Client, fault: Fault
) -> None:
    ncip_responder.fault = fault
    peer = client.cls(
        ncip_responder.url, http, library="SI-LJMK", agency_id=AGENCY, timeout=FAULT_TIMEOUT
    )
    started = time.monotonic()
    with pytest.raises(client.unavailable) as raised:
        await client.call(peer)
    assert time.monotonic() - started < FAULT_TIMEOUT + GRACE
    assert raised.value.peer == "SI-LJMK"
    if fault in (Fault.HANG, Fault.DRIP):
        assert "no answer within" in str(raised.value)
    if fault is Fault.HTTP_500:
        assert "HTTP 500" in str(raised.value)
    # The requests were fine; what came back was broken on purpose.
    check_exchanges(ncip_responder, responses=False)


@pytest.mark.parametrize("client", CLIENTS, ids=[c.name for c in CLIENTS])
async def test_temporary_failure_is_unavailable(
    ncip_responder: NcipResponder, http: aiohttp.ClientSession, client: Client
) -> None:
    ncip_responder.fault = Fault.TEMPORARY_FAILURE
    peer = client.cls(ncip_responder.url, http, library="SI-LJMK", agency_id=AGENCY)
    with pytest.raises(TemporaryProcessingFailure) as raised:
        await client.call(peer)
    assert isinstance(raised.value, client.unavailable)
    assert raised.value.problem.detail == "the circulation database is being backed up"
    check_exchanges(ncip_responder)


@pytest.mark.parametrize("client", CLIENTS, ids=[c.name for c in CLIENTS])
async def test_wrong_agency_is_an_ncip_problem(
    ncip_responder: NcipResponder, http: aiohttp.ClientSession, client: Client
) -> None:
    peer = client.cls(ncip_responder.url, http, library="SI-LJMK", agency_id="SI-NONE")
    with pytest.raises(UnknownAgency) as raised:
        await client.call(peer)
    assert raised.value.peer == "SI-LJMK"
    assert raised.value.problem.element == "ToAgencyId"
    assert not isinstance(raised.value, client.unavailable)
    check_exchanges(ncip_responder)


@pytest.mark.parametrize("client", CLIENTS, ids=[c.name for c in CLIENTS])
def test_each_client_says_what_it_is(http: aiohttp.ClientSession, client: Client) -> None:
    peer = client.cls("http://127.0.0.1:1/ncip", http, library="SI-LJMK", agency_id=AGENCY)
    assert repr(peer) == (
        f"{client.cls.__name__}('http://127.0.0.1:1/ncip', library='SI-LJMK', agency='SI-LJMK')"
    )
    assert client.cls.unavailable is client.unavailable
    with pytest.raises(ValueError):
        client.cls("http://127.0.0.1:1/ncip", http, library="SI-LJMK", agency_id=AGENCY,
                   timeout=0)
