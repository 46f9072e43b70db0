"""Peers that hang, reset the connection mid-answer or answer garbage, each behind a
real TCP line on 127.0.0.1 (``local_server.FaultyLine``): a member catalog (SRU), the
home register (NCIP end to end, SIP2 at the connector) and a lender (ISO 18626).

Search answers in time without the dead catalog and names it; the borrower check is
retried with back-off while the request waits, visibly, in its state; the order to a
dead lender is retried while the request stays with that lender, sent, with its
event. When the peer comes back, each request goes on: nothing lost, nothing hangs.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from checks import (
    ana_logged_in,
    assert_sound,
    events_of,
    many_titles,
    process_env,
    retries_due,
    run_worker,
    with_ncip_register,
)
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from broker.domain.states import Event, State
from broker.jobs.dispatcher import Dispatcher
from broker.services.consortium_file import load
from broker.settings import Settings
from broker.web import appkeys
from broker.web.app import create_app
from connectors.errors import PartnerUnavailable, RegisterUnavailable
from connectors.iso18626.lending import Iso18626Lending
from connectors.ncip.client import NcipRegister
from connectors.registerfile import RegisterFile
from connectors.sip2.client import Sip2Register

from builders import VALID_CONSORTIUM, a_request, marc_collection, write_consortium
from conformance import conformance_schema
from iso18626_partner import TOKEN, V2021_2, Partner
from iso18626_partner import serve as serve_partner
from local_server import GARBAGE, Fault, FaultyLine
from ncip_responder import SCHEMA, NcipResponder, Patron
from ncip_responder import serve as serve_register

FAULTS = [Fault.HANG, Fault.RESET, Fault.GARBAGE]
# Each peer's timeout here: a hang costs this, not the production default.
TIMEOUT = 1.0
ANA = Patron("111", "Čuk", "Ana", "1990-04-01T00:00:00Z", None, "adult", date(2030, 1, 1),
             "Paid", "Signed")
SRU_CATALOG = 'connector = "marcfile"\npath = "b.xml"'
B_LENDER = 'url = "http://127.0.0.1:9997/iso18626"\nagency_id = "B"'
TOKEN_ENV = "ILLBROKER_TEST_B_TOKEN"
PROCESS = "broker.jobs.requests.process_request"
SEND = "broker.jobs.lending.send_order"


def upstream(url: str) -> tuple[str, int]:
    address = url.split("//", 1)[1].split("/", 1)[0]
    host, port = address.split(":")
    return host, int(port)


@pytest.fixture
async def served(tmp_path: Path, redis_url: str, namespace: str,
                 redis: object) -> AsyncIterator[Any]:
    """Start the app on the consortium file a test has written (``many_titles``)."""
    clients: list[TestClient] = []

    async def start(path: Path) -> TestClient:
        settings = Settings(consortium_path=path, data_dir=tmp_path, redis_url=redis_url,
                            namespace=namespace)
        client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        clients.append(client)
        await ana_logged_in(client, path)
        return client

    yield start
    for client in clients:
        await client.close()


def waiting_retries(dispatcher: Dispatcher, function: str) -> list[Job]:
    """The jobs of ``function`` waiting in rq's scheduled registry (for a retry)."""
    registry = ScheduledJobRegistry(queue=dispatcher.queue)
    jobs = [Job.fetch(job_id, connection=dispatcher.redis) for job_id in registry.get_job_ids()]
    return [job for job in jobs if job.func_name == function]


def backoff(dispatcher: Dispatcher, job: Job) -> float:
    """Seconds from now until ``job``'s retry."""
    due = ScheduledJobRegistry(queue=dispatcher.queue).get_scheduled_time(job.id)
    return (due - datetime.now(UTC)).total_seconds()


def retry_now(dispatcher: Dispatcher, function: str) -> int:
    """Time passes for the retries of ``function`` (not for the answer deadlines beside
    them): rq's own API makes them due, and the scheduler queues them."""
    registry = ScheduledJobRegistry(queue=dispatcher.queue)
    for job in waiting_retries(dispatcher, function):
        registry.schedule(job, datetime.now(UTC) - timedelta(seconds=1))
    return retries_due(dispatcher)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("fault", FAULTS)
async def test_search_answers_without_a_dead_catalog(tmp_path: Path, served: Any,
                                                     fault: Fault) -> None:
    path = many_titles(tmp_path, 1)
    async with FaultyLine(fault=fault) as line:
        text = path.read_text()
        assert SRU_CATALOG in text
        path.write_text(text.replace(SRU_CATALOG, (
            f'connector = "sru"\nurl = "{line.url("/b")}"\ntimeout = {TIMEOUT}'), 1))
        client = await served(path)
        started = time.monotonic()
        response = await client.get("/api/search", params={"title": "Title 1"})
        took = time.monotonic() - started
        assert response.status == 200
        body = await response.json()
        assert line.connections >= 1
    assert took < TIMEOUT + 2
    answers = {c["library"]: (c["answer"], c["detail"]) for c in body["catalogs"]}
    answer, detail = answers.pop("B")
    assert answer in ("not answered", "failed") and detail, answers
    assert answers == {"A": ("index", None), "C": ("index", None)}
    # The other members' holdings are there: a partial answer, not an empty one.
    [title] = body["titles"]
    assert "C" in str(title)


@pytest.fixture
async def register(tmp_path: Path) -> AsyncIterator[NcipResponder]:
    responder = NcipResponder(schema=conformance_schema(SCHEMA),
                              secret_path=tmp_path / "none", patrons={"111": ANA})
    async with serve_register(responder) as running:
        yield running


@pytest.mark.timeout(30)
async def test_the_borrower_check_waits_for_a_hanging_register(
        tmp_path: Path, served: Any, register: NcipResponder, dispatcher: Dispatcher,
        redis_url: str, namespace: str) -> None:
    # A hang is the worst of the three faults (it costs the timeout); the connectors
    # meet all three in test_each_connector_gives_up_in_time.
    fault = Fault.HANG
    path = many_titles(tmp_path, 1)
    async with FaultyLine(upstream(register.url), fault=fault) as line:
        with_ncip_register(path, line.url("/ncip"), timeout=TIMEOUT)
        client = await served(path)
        env = process_env(redis_url, namespace, path)
        # An unreachable register does not refuse the patron: the request is taken.
        response = await client.post("/api/requests", json={
            "service": "loan", "item": {"title": "Title 1"}})
        assert response.status == 201, await response.text()
        request_id = (await response.json())["id"]

        assert dispatcher.dispatch_once() == 2
        await run_worker(env)
        [retry] = waiting_retries(dispatcher, PROCESS)
        # rq's Retry: the first of its back-off steps (5 s, then 30 s, 2 min...).
        assert retry.retries_left is not None and retry.retries_left < 5
        assert 0 < backoff(dispatcher, retry) <= 5
        store = client.app[appkeys.STORE]
        [waiting] = await assert_sound(store, [request_id])
        assert waiting.state is State.VALIDATING
        shown = await (await client.get(f"/api/requests/{request_id}")).json()
        assert shown["id"] == request_id and shown["state"]

        line.fault = Fault.PASS  # the register is back
        assert retry_now(dispatcher, PROCESS) == 1
        await run_worker(env)
    [done] = await assert_sound(store, [request_id])
    assert (done.state, done.lender) == (State.SENT, "C")
    assert await events_of(store, request_id, Event.BORROWER_CONFIRMED) == 1


async def _ask_register_over_ncip(port: int, session: aiohttp.ClientSession,
                                  _folder: Path) -> None:
    await NcipRegister(f"http://127.0.0.1:{port}/ncip", session, library="A",
                       agency_id="SI-LJMK", timeout=TIMEOUT).lookup("111")


async def _ask_register_over_sip2(port: int, session: aiohttp.ClientSession,
                                  _folder: Path) -> None:
    await Sip2Register("127.0.0.1", port, library="A", timeout=TIMEOUT).lookup("111")


async def _order_over_iso18626(port: int, session: aiohttp.ClientSession,
                               folder: Path) -> None:
    consortium = load(write_consortium(folder, VALID_CONSORTIUM.replace(
        B_LENDER, f'url = "http://127.0.0.1:{port}/iso18626"\nagency_id = "B"\n'
                  f"timeout = {TIMEOUT}")))
    lender = Iso18626Lending(consortium.library("B"), consortium, session)
    await lender.order(replace(a_request(), home_library="A", pickup_location="A"))


PEERS = {"ncip": (_ask_register_over_ncip, RegisterUnavailable),
         "sip2": (_ask_register_over_sip2, RegisterUnavailable),
         "iso18626": (_order_over_iso18626, PartnerUnavailable)}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("peer", PEERS)
async def test_each_connector_gives_up_in_time(peer: str, fault: Fault,
                                               tmp_path: Path) -> None:
    """The register connectors and the lending one, against each fault: the error the
    jobs retry on, within the timeout (the ISO 18626 client tries twice)."""
    ask, error = PEERS[peer]
    async with FaultyLine(fault=fault) as line, aiohttp.ClientSession() as session:
        started = time.monotonic()
        with pytest.raises(error):
            await ask(line.port, session, tmp_path)
        assert time.monotonic() - started < 2 * TIMEOUT + 2
        assert line.connections >= 1


@pytest.mark.parametrize("export", [GARBAGE, b"", b"card_number,surn"],
                         ids=["garbage", "empty", "half-written"])
async def test_a_register_export_that_is_garbage_is_unavailable(tmp_path: Path,
                                                               export: bytes) -> None:
    """The register without a protocol: an export file of garbage, or one cut off while
    it was written, is "cannot say" (retried), never "no such patron"."""
    path = tmp_path / "register.csv"
    path.write_bytes(export)
    with pytest.raises(RegisterUnavailable):
        await RegisterFile(str(path), library="A").lookup("111")


@pytest.fixture
async def partner() -> AsyncIterator[Partner]:
    schema = conformance_schema("ISO-18626-2021-2.xsd")
    async with serve_partner(Partner(schemas={V2021_2: schema}, version=V2021_2)) as running:
        yield running


@pytest.mark.timeout(30)
async def test_an_order_to_a_hanging_lender_waits_and_goes_out(
        tmp_path: Path, served: Any, partner: Partner, dispatcher: Dispatcher,
        redis_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fault = Fault.HANG
    path = many_titles(tmp_path, 1)
    # Title 1 at B only, which takes orders over ISO 18626.
    (tmp_path / "c.xml").write_bytes(marc_collection())
    async with FaultyLine(upstream(partner.url), fault=fault) as line:
        text = path.read_text()
        assert B_LENDER in text
        path.write_text(text.replace(B_LENDER, (
            f'url = "{line.url("/iso18626")}"\nagency_id = "B"\n'
            f'credential_env = "{TOKEN_ENV}"\ntimeout = {TIMEOUT}'), 1))
        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        env = {**process_env(redis_url, namespace, path), TOKEN_ENV: TOKEN}
        client = await served(path)
        response = await client.post("/api/requests", json={
            "service": "loan", "item": {"title": "Title 1"}})
        assert response.status == 201, await response.text()
        request_id = (await response.json())["id"]

        while dispatcher.dispatch_once():
            await run_worker(env)
        [retry] = waiting_retries(dispatcher, SEND)
        assert line.connections >= 2  # the client's own attempts, then rq's retry waits
        store = client.app[appkeys.STORE]
        [sent] = await assert_sound(store, [request_id])
        # Legal, and visible: sent to B, with the deadline that moves it on if B stays away.
        assert (sent.state, sent.lender) == (State.SENT, "B")
        [order] = [e for e in await store.history(request_id)
                   if e.event is Event.SENT_TO_LENDER]
        assert order.data["lender"] == "B" and order.data["answer_by"]
        assert partner.received == []
        # Should B stay away past every retry, its answer deadline moves the order on.
        [deadline] = waiting_retries(dispatcher, "broker.jobs.deadlines.answer_overdue")
        assert deadline.kwargs == {"version": sent.version}

        line.fault = Fault.PASS  # the lender is back
        assert retry_now(dispatcher, SEND) == 1
        await run_worker(env)
    assert Job.fetch(retry.id, connection=dispatcher.redis).return_value() is True
    assert [r.kind for r in partner.received] == ["request"]
    [after] = await assert_sound(store, [request_id])
    assert (after.state, after.lender) == (State.SENT, "B")
