"""Two brokers on localhost talking ISO 18626: broker A's patron borrows from library Y,
which is a member of broker B (A knows Y as an ISO 18626 lender; B knows A as a
partner). Each broker is a real app on a real port with its own Redis namespace and
consortium file, its jobs run by real `illbroker worker --burst` processes fed by the
outbox dispatcher. Every message on the wire, both ways, is validated against the
schema of the version the pair speaks, as is every confirmation."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis import Redis as SyncRedis
from rq import Queue

from broker.domain.accounts import Role
from broker.domain.lifecycle import BorrowerStep
from broker.domain.states import State
from broker.jobs.dispatcher import Dispatcher
from broker.services.consortium_file import load
from broker.services.harvest import Harvester
from broker.settings import Settings
from broker.store.keys import Keys
from broker.web import appkeys
from broker.web.app import create_app
from connectors.iso18626 import messages as iso

from builders import (
    REQUEST_CATEGORIES,
    REQUEST_REGISTER,
    add_patron,
    marc_collection,
    marc_record,
)
from conformance import assert_valid

TOKEN_ENV = "ILL_E2E_PAIR_TOKEN"
ISBN = "9780306406157"
STAFF_PASSWORD = "stamp-lipa-41"

HEAD = """
[consortium]
name = "{name}"
""" + REQUEST_CATEGORIES + """
[[regions]]
code = "R1"
name = "Region one"
country = "SI"

[fees]
ill_item = "7.00"
[fees.copy.per_page]
pdf = "0.15"
"""
LIBRARY = """
[[libraries]]
code = "{code}"
name = "Library {code}"
country = "SI"
region = "R1"
timezone = "Europe/Ljubljana"
agency_id = "ISIL:SI-{code}"
[libraries.policy]
password_min_length = 8
accepts_patron_requests = true
lends = ["book", "journal"]
[libraries.catalog]
connector = "marcfile"
path = "{code}.xml"
[libraries.catalog.holdings]
tag = "852"
status = "y"
status_map = {{ a = "available" }}
[libraries.register]
connector = "file"
path = "register.csv"
[libraries.lending]
{lending}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def broker_a(folder: Path, b_url: str, version: str) -> Path:
    """Home library A; Y is a lender reached over ISO 18626 at broker B."""
    folder.mkdir()
    (folder / "register.csv").write_text(REQUEST_REGISTER, encoding="utf-8")
    (folder / "A.xml").write_bytes(marc_collection())
    (folder / "Y.xml").write_bytes(marc_collection(
        marc_record("y1", "Far away", isbn=ISBN, holdings=(("Y", "a"),))))
    lending_y = (f'connector = "iso18626"\nurl = "{b_url}"\nagency_id = "ISIL:SI-Y"\n'
                 f'schema_version = "{version}"\ncredential_env = "{TOKEN_ENV}"')
    path = folder / "consortium.toml"
    path.write_text(HEAD.format(name="Broker A")
                    + LIBRARY.format(code="A", lending='connector = "inbox"')
                    + LIBRARY.format(code="Y", lending=lending_y), encoding="utf-8")
    return path


def broker_b(folder: Path, a_url: str, version: str) -> Path:
    """Library Y lends from its inbox; broker A is a partner ordering from it."""
    folder.mkdir()
    (folder / "register.csv").write_text(REQUEST_REGISTER, encoding="utf-8")
    (folder / "Y.xml").write_bytes(marc_collection())
    path = folder / "consortium.toml"
    path.write_text(HEAD.format(name="Broker B")
                    + LIBRARY.format(code="Y", lending='connector = "inbox"')
                    + f"""
[[partners]]
code = "A"
name = "Broker A"
agency_id = "ISIL:SI-A"
url = "{a_url}"
schema_version = "{version}"
credential_env = "{TOKEN_ENV}"
""", encoding="utf-8")
    return path


@dataclass
class Broker:
    """One broker: its app on its port, its worker environment, its wire log."""

    name: str
    client: TestClient
    env: dict[str, str]
    dispatcher: Dispatcher
    version: str
    wire: list[tuple[bytes, bytes]]

    @property
    def app(self) -> web.Application:
        return self.client.server.app

    async def work(self) -> bool:
        """Run what the outbox holds in real workers until it is empty; True if any."""
        ran = False
        while self.dispatcher.dispatch_once():
            ran = True
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "broker.cli", "worker", "--burst", env=self.env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            assert await asyncio.wait_for(worker.wait(), 60) == 0
        return ran

    async def state(self, request_id: str) -> State:
        return (await self.app[appkeys.STORE].get(request_id)).state


def tap(wire: list[tuple[bytes, bytes]], version: str) -> Any:
    """A middleware validating every ISO 18626 message in and confirmation out."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != "/iso18626":
            return await handler(request)
        body = await request.read()
        response = await handler(request)
        assert isinstance(response, web.Response) and isinstance(response.body, bytes)
        assert response.status == 200, response.body
        assert_valid(iso.SCHEMA_FILES[version], body)
        assert_valid(iso.SCHEMA_FILES[version], response.body)
        confirmation = iso.parse(response.body, version)
        assert isinstance(confirmation, iso.RequestConfirmation
                          | iso.SupplyingAgencyMessageConfirmation
                          | iso.RequestingAgencyMessageConfirmation)
        status = confirmation.confirmation_header.message_status
        assert status is iso.MessageStatus.OK, response.body
        wire.append((body, response.body))
        return response

    return middleware


@pytest.fixture(params=[iso.V2021_2, iso.V1_2])
async def brokers(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str,
                  redis: Any, monkeypatch: pytest.MonkeyPatch
                  ) -> AsyncIterator[tuple[Broker, Broker]]:
    version = str(request.param)
    monkeypatch.setenv(TOKEN_ENV, "pair-token-3f9c-e2e")
    ports = {"A": free_port(), "B": free_port()}
    urls = {name: f"http://127.0.0.1:{port}/iso18626" for name, port in ports.items()}
    paths = {"A": broker_a(tmp_path / "a", urls["B"], version),
             "B": broker_b(tmp_path / "b", urls["A"], version)}
    sync = SyncRedis.from_url(redis_url)
    made = []
    for name in ("A", "B"):
        namespace = f"{request.node.name[-8:]}{os.getpid()}{name}".replace("[", "")
        namespace = f"e2e{abs(hash((namespace, tmp_path))) % 10**10}{name}"
        settings = Settings(consortium_path=paths[name], data_dir=paths[name].parent,
                            redis_url=redis_url, namespace=namespace)
        app = create_app(settings)
        wire: list[tuple[bytes, bytes]] = []
        app.middlewares.append(tap(wire, version))
        client = TestClient(TestServer(app, port=ports[name]))
        await client.start_server()
        keys = Keys(namespace)
        env = {**os.environ, "REDIS_URL": redis_url, "ILLBROKER_NAMESPACE": namespace,
               "ILLBROKER_CONSORTIUM": str(paths[name]),
               "ILLBROKER_DATA": str(paths[name].parent)}
        made.append(Broker(name, client, env, Dispatcher(
            sync, keys, Queue(keys.queue("default"), connection=sync)), version, wire))
        harvester = Harvester(app[appkeys.REDIS], keys)
        for library in load(paths[name]).libraries.values():
            assert (await harvester.harvest(library)).failed is None
    a, b = made
    await add_patron(a.app[appkeys.ACCOUNTS].store, "ana@example.org", "111", "Ana", "Čuk",
                     date(1990, 4, 1))
    await b.app[appkeys.ACCOUNTS].add_staff("desk@y.example.org", "Desk", "Y", Role.STAFF,
                                            "Y", STAFF_PASSWORD)
    yield a, b
    for broker in made:
        await broker.client.close()
        async for key in broker.app[appkeys.REDIS].scan_iter(
                match=f"*{broker.app[appkeys.KEYS].namespace}*"):
            await broker.app[appkeys.REDIS].delete(key)
    sync.close()


async def settle(a: Broker, b: Broker) -> None:
    """Both brokers' jobs until neither has any left (a message from one makes work
    for the other)."""
    for _ in range(10):
        if not (await a.work() | await b.work()):
            return
    raise AssertionError("the brokers did not settle")


async def login(client: TestClient, email: str, password: str) -> None:
    response = await client.post("/api/session", json={"email": email, "password": password})
    assert response.status == 200, await response.text()


async def answer(b: Broker, order: str, **body: Any) -> None:
    response = await b.client.post(f"/api/inbox/{order}/answer", json=body)
    assert response.status == 200, await response.text()


async def order_at_b(b: Broker, request_id: str) -> str:
    """B's order for A's request, found in Y's inbox by the partner's request id."""
    response = await b.client.get("/api/inbox")
    assert response.status == 200
    for order in (await response.json())["orders"]:
        found = await b.app[appkeys.STORE].get(order["id"])
        if found.partner_request_id == request_id:
            return found.id
    raise AssertionError(f"no order for {request_id} in Y's inbox")


async def ask(a: Broker, b: Broker, body: dict[str, Any]) -> tuple[str, str]:
    """A's patron asks; the order travels to B. Returns A's and B's request ids."""
    await login(a.client, "ana@example.org", "lipa-lipa-7")
    response = await a.client.post("/api/requests", json=body)
    assert response.status == 201, await response.text()
    request_id = (await response.json())["id"]
    await settle(a, b)
    assert await a.state(request_id) is State.SENT
    await login(b.client, "desk@y.example.org", STAFF_PASSWORD)
    order = await order_at_b(b, request_id)
    assert await b.state(order) is State.SENT
    return request_id, order


async def test_a_loan_from_the_other_broker_end_to_end(brokers: tuple[Broker, Broker]
                                                        ) -> None:
    a, b = brokers
    request_id, order = await ask(a, b, {"service": "loan", "item": {"isbn": ISBN}})
    lending = a.app[appkeys.LENDING]

    await answer(b, order, answer="will_supply")
    await settle(a, b)
    assert await a.state(request_id) is State.WILL_SUPPLY
    await answer(b, order, answer="shipped", due_date="2026-12-01")
    await settle(a, b)
    shipped = await a.app[appkeys.STORE].get(request_id)
    assert (shipped.state, shipped.due_date) == (State.SHIPPED, "2026-12-01")

    await lending.borrower_steps(request_id, BorrowerStep.RECEIVED, "desk", library="A")
    await settle(a, b)
    assert await b.state(order) is State.ON_LOAN
    assert await a.state(request_id) is State.AWAITING_PICKUP
    await lending.borrower_steps(request_id, BorrowerStep.CHECKED_OUT, "desk", library="A")
    await settle(a, b)
    assert await a.state(request_id) is State.ON_LOAN

    await lending.borrower_steps(request_id, BorrowerStep.RENEW, "ana",
                                 patron=shipped.patron_id)
    await settle(a, b)
    assert await b.state(order) is State.RENEWAL_PENDING
    await answer(b, order, answer="renewal", granted=True, due_date="2027-01-15")
    await settle(a, b)
    renewed = await a.app[appkeys.STORE].get(request_id)
    assert (renewed.state, renewed.due_date) == (State.ON_LOAN, "2027-01-15")

    await lending.borrower_steps(request_id, BorrowerStep.RETURN_SHIPPED, "desk",
                                 library="A")
    await settle(a, b)
    assert await b.state(order) is State.RETURNED
    await answer(b, order, answer="received_back")
    await settle(a, b)
    assert (await b.state(order), await a.state(request_id)) == (State.COMPLETED,
                                                                State.COMPLETED)
    # Both directions were on the wire: A's Request and steps at B, B's answers at A.
    assert len(b.wire) >= 4 and len(a.wire) >= 4


async def test_a_copy_from_the_other_broker(brokers: tuple[Broker, Broker]) -> None:
    a, b = brokers
    request_id, order = await ask(a, b, {
        "service": "copy", "item": {"isbn": ISBN}, "copy_format": "pdf",
        "citation": {"source_title": "Far away", "part_title": "Chapter two",
                     "pages": "10-20"}})
    await answer(b, order, answer="copy_delivered", url="https://y.example/copy/1.pdf")
    await settle(a, b)
    delivered = await a.app[appkeys.STORE].get(request_id)
    assert (delivered.state, delivered.delivery_url) == (
        State.COPY_DELIVERED, "https://y.example/copy/1.pdf")
