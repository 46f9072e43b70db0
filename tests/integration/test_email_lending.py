"""A lender without an account: the order goes out by e-mail over real SMTP (aiosmtpd)
from a real rq worker, and the library answers through the link in it; the borrowing
side's steps reach it by e-mail too."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from aiohttp.test_utils import TestClient
from test_mail import Inbox, smtp

from broker.domain.accounts import Role
from broker.web import appkeys

from builders import BOTH, PASSWORD, three_library_consortium

__all__ = ["smtp"]

ADDRESS = "ill@c.example.org"
DESK_PASSWORD = "stamp-lipa-41"
LINK = re.compile(r"https?://\S+/orders/(\S+)")


@pytest.fixture
def consortium_file(tmp_path: Path) -> Path:
    """C takes its orders by e-mail."""
    path = three_library_consortium(tmp_path)
    text = path.read_text(encoding="utf-8")
    head, tail = text.rsplit('connector = "inbox"', 1)
    path.write_text(f'{head}connector = "email"\naddress = "{ADDRESS}"{tail}', encoding="utf-8")
    return path


@pytest.fixture
def mailed(smtp: tuple[Inbox, int], client: TestClient,
           monkeypatch: pytest.MonkeyPatch) -> Inbox:
    """The SMTP server's inbox; the workers send through it, links point at the app."""
    inbox, port = smtp
    monkeypatch.setenv("ILLBROKER_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("ILLBROKER_PUBLIC_URL", str(client.make_url("")).rstrip("/"))
    return inbox


def to_library(inbox: Inbox) -> list[Message]:
    return [m for m in inbox.messages if m["To"] == ADDRESS]


def body(message: Message) -> str:
    return str(message.get_content())  # type: ignore[attr-defined]


def link_in(message: Message) -> str:
    found = LINK.search(body(message))
    assert found, body(message)
    return f"/orders/{found.group(1)}"


async def as_(client: TestClient, email: str, password: str = DESK_PASSWORD) -> None:
    await client.delete("/api/session")
    response = await client.post("/api/session", json={"email": email, "password": password})
    assert response.status == 200


async def ordered(client: TestClient, work: Any) -> str:
    await as_(client, "ana@example.org", PASSWORD)
    response = await client.post("/api/requests", json={
        "service": "loan", "item": {"isbn": BOTH}, "max_cost": "12.00",
        "note": "Any edition"})
    assert response.status == 201
    await work()
    await client.delete("/api/session")
    return str((await response.json())["id"])


async def answer_by_link(client: TestClient, link: str, status: int = 303,
                         **fields: str) -> Any:
    """Open the answer page (no login) and press an answer with the page's CSRF token."""
    page = await client.get(link)
    assert page.status == 200, await page.text()
    doc = lxml.html.fromstring(await page.text())
    [token] = doc.xpath("//form[contains(@action, '/answer')]/input[@name='csrf']/@value")[:1]
    response = await client.post(link + "/answer", data={"csrf": token, **fields},
                                 allow_redirects=False)
    assert response.status == status, await response.text()
    return doc


async def test_an_order_by_mail_answered_through_its_link(client: TestClient, work: Any,
                                                          mailed: Inbox) -> None:
    app = client.server.app
    await app[appkeys.ACCOUNTS].add_staff("desk@a.example.org", "Desk", "A", Role.STAFF, "A",
                                          DESK_PASSWORD)
    rid = await ordered(client, work)
    [order] = to_library(mailed)
    text = body(order)
    assert order["Subject"] == f"ILL order {rid}: Čefurji raus!"
    for fact in (rid, "Title: Čefurji raus!", "ISBN: " + BOTH, "Borrowing library: A",
                 "Pickup place: A", "Most the patron will pay: 12.00", "Note: Any edition",
                 "Why you are asked:"):
        assert fact in text, fact
    link = link_in(order)

    # The page shows the order and the inbox's answers; a forged form changes nothing.
    doc = await answer_by_link(client, link, answer="will_supply")
    assert doc.xpath("//h1")[0].text_content() == f"Order {rid} for Library C"
    assert [b.text_content() for b in doc.xpath("//div[@class='answers']//button")] == [
        "Will supply", "Shipped", "Ask the patron", "Unfilled"]
    forged = await client.post(link + "/answer", data={"csrf": "x" * 43, "answer": "unfilled"},
                               allow_redirects=False)
    assert forged.status == 403
    due = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    await answer_by_link(client, link, answer="shipped", due_date=due)
    request = await app[appkeys.STORE].get(rid)
    assert (request.state.value, request.due_date) == ("shipped", due)
    assert (await client.get("/orders/00" + "x" * 43)).status == 404

    # The borrowing side's steps reach the library by mail, a renewal with its link.
    await as_(client, "desk@a.example.org")
    await client.post(f"/api/requests/{rid}/steps", json={"step": "received"})
    await work()
    await client.post(f"/api/requests/{rid}/steps", json={"step": "checked_out"})
    await as_(client, "ana@example.org", PASSWORD)
    assert (await client.post(f"/api/requests/{rid}/steps", json={"step": "renew"})).status == 200
    await work()
    told = to_library(mailed)[1:]
    assert [m["Subject"] for m in told] == [
        f"ILL {rid}: the borrowing library has received the item",
        f"ILL {rid}: the item is lent to the patron",
        f"ILL {rid}: the patron asks to renew the loan"]
    assert LINK.search(body(told[-1])) and not LINK.search(body(told[0]))
    later = (datetime.now(UTC).date() + timedelta(days=60)).isoformat()
    await client.delete("/api/session")
    await answer_by_link(client, link_in(told[-1]), answer="renewal", granted="yes",
                         due_date=later)
    request = await app[appkeys.STORE].get(rid)
    assert (request.state.value, request.due_date) == ("on_loan", later)


async def test_the_link_dies_when_the_order_leaves_the_library(
        client: TestClient, work: Any, mailed: Inbox) -> None:
    rid = await ordered(client, work)
    link = link_in(to_library(mailed)[0])
    await answer_by_link(client, link, answer="unfilled", reason="missing")
    await work()
    response = await client.get(link)
    assert response.status == 404 and "no longer works" in await response.text()
    # The next lender of the rota has it in its inbox.
    await as_(client, "desk@b.example.org")
    orders = (await (await client.get("/api/inbox")).json())["orders"]
    assert [(o["id"], o["lender"]) for o in orders] == [(rid, "B")]
