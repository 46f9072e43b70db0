"""``Iso18626Client`` against a real partner endpoint on 127.0.0.1 (the ``partner``
fixture), which validates every message it receives against the official schema of
the version it speaks: confirmations OK and ERROR, and a partner that is down,
overloaded, hanging, lying or talking nonsense.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp
import pytest

from connectors.errors import BadResponse, ConnectorError, PartnerUnavailable
from connectors.iso18626.client import Iso18626Client
from connectors.iso18626.errors import (
    ErrorType,
    Iso18626BadResponse,
    PartnerHttpError,
    PartnerRefused,
)
from connectors.iso18626.messages import (
    CONFIRMATIONS,
    SCHEMA_FILES,
    V1_2,
    V2021_2,
    VERSIONS,
    Message,
    MessageStatus,
    Request,
    RequestingAgencyMessage,
    RequestingAgencyMessageConfirmation,
    SupplyingAgencyMessage,
    SupplyingAgencyMessageConfirmation,
)

from conformance import assert_valid
from iso18626_partner import Behaviour, Partner

Sample = Callable[[str, str], Message]
INITIATING = ("request", "supplyingAgencyMessage", "requestingAgencyMessage")
TIMEOUT = 0.4
# How much longer than its timeouts a send to a hanging partner may take: the
# timeout covers each whole exchange, so it must end at the deadline, not later.
GRACE = 1.0


class Sleeps:
    """A ``sleep`` that records the back-off instead of waiting it out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def client(url: str, session: aiohttp.ClientSession, sleeps: Sleeps, *,
           credential: str | None = None) -> Iso18626Client:
    """A client for the tests: short timeout, three attempts, 0.25 s first back-off."""
    return Iso18626Client(url, session, partner="SE-KB", version=V1_2, credential=credential,
                          timeout=TIMEOUT, attempts=3, backoff=0.25, max_backoff=1.0,
                          sleep=sleeps)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def sender(partner: Partner, http: aiohttp.ClientSession, sleeps: Sleeps) -> Iso18626Client:
    """A client of ``partner`` with its credential (set ``version`` on both to change)."""
    return client(partner.url, http, sleeps, credential=partner.token)


def check_received(partner: Partner, version: str) -> None:
    """Everything the partner received validates against its version's schema, and
    everything it answered against the same."""
    received = partner.received
    assert received, "the partner was never asked"
    for exchange in received:
        assert exchange.content_type == "application/xml; charset=utf-8"
        assert exchange.schema_errors == ()
        assert_valid(SCHEMA_FILES[version], exchange.body)
        assert exchange.response_errors == ()


def _request(sample: Sample) -> Request:
    message = sample("request", V1_2)
    assert isinstance(message, Request)
    return message


def _requesting(sample: Sample) -> RequestingAgencyMessage:
    message = sample("requestingAgencyMessage", V1_2)
    assert isinstance(message, RequestingAgencyMessage)
    return message


# --- OK and ERROR -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", INITIATING)
async def test_ok_confirmation(kind: str, version: str, partner: Partner, sample: Sample,
                               sender: Iso18626Client) -> None:
    partner.version = sender.version = version
    message = sample(kind, version)
    assert isinstance(message, Request | SupplyingAgencyMessage | RequestingAgencyMessage)
    confirmation = await sender.send(message)
    assert type(confirmation) is CONFIRMATIONS[type(message)]
    header = confirmation.confirmation_header
    assert header.message_status is MessageStatus.OK
    assert header.requesting_agency_request_id == message.header.requesting_agency_request_id
    assert confirmation.raw and confirmation.version == version
    if isinstance(message, SupplyingAgencyMessage):
        assert isinstance(confirmation, SupplyingAgencyMessageConfirmation)
        assert confirmation.reason_for_message is message.message_info.reason_for_message
    check_received(partner, version)
    (exchange,) = partner.received
    assert exchange.authorization == f"Bearer {partner.token}"
    assert exchange.kind == kind


async def test_error_confirmation_raises_partner_refused(
        partner: Partner, sample: Sample, sender: Iso18626Client, sleeps: Sleeps) -> None:
    partner.behaviour = Behaviour.REFUSE
    with pytest.raises(PartnerRefused) as caught:
        await sender.send(_requesting(sample))
    refused = caught.value
    assert refused.error_type is ErrorType.UNRECOGNISED_DATA_VALUE
    assert refused.error_value == "unknown requestingAgencyId"
    assert refused.peer == "SE-KB"
    assert isinstance(refused.confirmation, RequestingAgencyMessageConfirmation)
    assert refused.confirmation.confirmation_header.message_status is MessageStatus.ERROR
    assert "UnrecognisedDataValue" in str(refused)
    assert not isinstance(refused, PartnerUnavailable)
    # The partner read the message; sending it again would be refused again.
    assert len(partner.received) == 1 and sleeps.delays == []
    check_received(partner, V1_2)


async def test_invalid_message_would_be_refused(partner: Partner, sample: Sample,
                                                sender: Iso18626Client) -> None:
    """The partner is strict: a 1.2 message sent to a 2021-2 partner is answered
    BadlyFormedMessage. (The broker sends in the partner's version; this checks the
    partner, so that the OK tests above mean something.)"""
    partner.version = V2021_2
    with pytest.raises(PartnerRefused) as caught:
        await sender.send(_requesting(sample))
    assert caught.value.error_type is ErrorType.BADLY_FORMED_MESSAGE


# --- a partner that cannot answer now ------------------------------------------------------------


async def test_503_then_ok_is_retried(partner: Partner, sample: Sample, sender: Iso18626Client,
                                      sleeps: Sleeps) -> None:
    partner.unavailable = 2
    confirmation = await sender.send(_request(sample))
    assert confirmation.confirmation_header.message_status is MessageStatus.OK
    assert sleeps.delays == [0.25, 0.5]
    bodies = [exchange.body for exchange in partner.received]
    assert len(bodies) == 3 and len(set(bodies)) == 1  # the same message each time
    check_received(partner, V1_2)


async def test_503_to_the_end(partner: Partner, sample: Sample, sender: Iso18626Client,
                              sleeps: Sleeps) -> None:
    partner.unavailable = 5
    sender.attempts = 4
    with pytest.raises(PartnerUnavailable, match="HTTP 503"):
        await sender.send(_request(sample))
    assert sleeps.delays == [0.25, 0.5, 1.0]
    assert len(partner.received) == 4


async def test_connection_refused(dead_url: str, sample: Sample, http: aiohttp.ClientSession,
                                  sleeps: Sleeps) -> None:
    with pytest.raises(PartnerUnavailable) as caught:
        await client(dead_url, http, sleeps, credential="t").send(_request(sample))
    assert "cannot reach" in str(caught.value)
    assert caught.value.peer == "SE-KB"
    assert sleeps.delays == [0.25, 0.5]


async def test_hanging_partner_times_out(partner: Partner, sample: Sample,
                                         sender: Iso18626Client, sleeps: Sleeps) -> None:
    partner.behaviour = Behaviour.HANG
    sender.attempts = 2
    start = time.monotonic()
    with pytest.raises(PartnerUnavailable, match=f"no answer within {TIMEOUT:g} s"):
        await sender.send(_request(sample))
    assert time.monotonic() - start < 2 * TIMEOUT + GRACE
    assert sleeps.delays == [0.25]
    assert len(partner.received) == 2


# --- a partner that answers nonsense -----------------------------------------------------------


async def test_garbage_body(partner: Partner, sample: Sample, sender: Iso18626Client,
                            sleeps: Sleeps) -> None:
    partner.behaviour = Behaviour.GARBAGE
    with pytest.raises(Iso18626BadResponse, match="not an ISO 18626 confirmation") as caught:
        await sender.send(_request(sample))
    assert isinstance(caught.value, PartnerUnavailable)
    assert isinstance(caught.value, BadResponse)
    assert sleeps.delays == [0.25, 0.5]


async def test_huge_body(partner: Partner, sample: Sample, sender: Iso18626Client) -> None:
    partner.behaviour = Behaviour.HUGE
    sender.attempts = 1
    with pytest.raises(Iso18626BadResponse, match="over"):
        await sender.send(_request(sample))


async def test_confirmation_of_another_message(partner: Partner, sample: Sample,
                                               sender: Iso18626Client) -> None:
    partner.behaviour = Behaviour.WRONG_KIND
    sender.attempts = 1
    with pytest.raises(Iso18626BadResponse,
                       match="requestingAgencyMessageConfirmation, not a requestConfirmation"):
        await sender.send(_request(sample))


@pytest.mark.parametrize("credential", ["stale", None])
async def test_refused_credential_is_not_retried(
        credential: str | None, partner: Partner, sample: Sample, http: aiohttp.ClientSession,
        sleeps: Sleeps) -> None:
    with pytest.raises(PartnerHttpError, match="HTTP 401") as caught:
        await client(partner.url, http, sleeps, credential=credential).send(_request(sample))
    assert caught.value.status == 401
    assert not isinstance(caught.value, PartnerUnavailable)
    assert isinstance(caught.value, ConnectorError)
    assert sleeps.delays == []
    (exchange,) = partner.received
    assert exchange.authorization == (f"Bearer {credential}" if credential else None)


# --- the client itself -----------------------------------------------------------------------


async def test_message_the_version_cannot_carry_is_not_sent(
        partner: Partner, sample: Sample, sender: Iso18626Client) -> None:
    request = sample("request", V2021_2)
    assert isinstance(request, Request)
    with pytest.raises(ValueError, match=r"no element in ISO 18626 1\.2"):
        await sender.send(request)
    assert partner.received == []


async def test_backoff_is_capped(http: aiohttp.ClientSession) -> None:
    sender = Iso18626Client("http://127.0.0.1:9/iso18626", http, partner="p", version=V1_2,
                            backoff=1.0, max_backoff=5.0)
    assert [sender.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


async def test_repr_hides_the_credential(http: aiohttp.ClientSession) -> None:
    sender = Iso18626Client("http://127.0.0.1:9/iso18626", http, partner="SE-KB",
                            version=V2021_2, credential="s3cret")
    assert "s3cret" not in repr(sender)
    assert "SE-KB" in repr(sender)


@pytest.mark.parametrize("bad", [
    {"version": "1.1"}, {"timeout": 0}, {"attempts": 0}, {"backoff": -1},
])
async def test_bad_settings(bad: dict[str, object], http: aiohttp.ClientSession) -> None:
    settings: dict[str, object] = {"partner": "p", "version": V1_2, **bad}
    with pytest.raises(ValueError):
        Iso18626Client("http://127.0.0.1:9/iso18626", http, **settings)  # type: ignore[arg-type]
