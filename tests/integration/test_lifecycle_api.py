"""The loan and copy lifecycle through the API: every lender answer and borrower step,
with the jobs they start run by a real rq worker, against a real Redis.

A (the patrons' home library) borrows from C (first in the rota, same region, free)
and B; the desk staff of each library answer in their own role."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from babel.dates import format_date

from broker.domain.accounts import Role
from broker.services.mail import OutboxMailer
from broker.web import appkeys

from builders import BOTH, PASSWORD, three_library_consortium

ANA, MOJCA = "ana@example.org", "mojca@example.org"
DESK_PASSWORD = "stamp-lipa-41"
HOME, LENDER, OTHER = "desk@a.example.org", "desk@c.example.org", "desk@b.example.org"
COORDINATOR = "coordinator@example.org"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture
def consortium_file(tmp_path: Path) -> Path:
    # A lost item costs its replacement and the schedule's processing fee.
    path = three_library_consortium(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[fees.late_per_day]",
                                 '[fees.lost]\nprocessing = "5.00"\n[fees.late_per_day]', 1),
                    encoding="utf-8")
    return path


@pytest.fixture
async def desk(client: TestClient) -> TestClient:
    """The client, with desk staff at the home library A and a coordinator too."""
    accounts = client.server.app[appkeys.ACCOUNTS]
    await accounts.add_staff(HOME, "Desk", "A", Role.STAFF, "A", DESK_PASSWORD)
    await accounts.add_staff(COORDINATOR, "Co", "Ordinator", Role.COORDINATOR, None,
                             "watch-it-all-1")
    return client


async def as_(client: TestClient, email: str) -> None:
    """Log in as ``email`` (whoever was logged in before is logged out)."""
    await client.delete("/api/session")
    password = PASSWORD if email in (ANA, MOJCA) else (
        "watch-it-all-1" if email == COORDINATOR else DESK_PASSWORD)
    response = await client.post("/api/session", json={"email": email, "password": password})
    assert response.status == 200, await response.text()


async def call(client: TestClient, path: str, body: dict[str, Any],
               status: int = 200) -> dict[str, Any]:
    response = await client.post(path, json=body)
    found = await response.json()
    assert response.status == status, found
    return dict(found)


async def answer(client: TestClient, rid: str, status: int = 200,
                 **body: Any) -> dict[str, Any]:
    return await call(client, f"/api/inbox/{rid}/answer", body, status)


async def step(client: TestClient, rid: str, status: int = 200, **body: Any) -> dict[str, Any]:
    return await call(client, f"/api/requests/{rid}/steps", body, status)


async def seen(client: TestClient, rid: str) -> dict[str, Any]:
    response = await client.get(f"/api/requests/{rid}")
    assert response.status == 200
    return dict(await response.json())


async def ask(client: TestClient, work: Any, **body: Any) -> str:
    """Ana asks (a loan of BOTH unless told otherwise); the order reaches C's inbox."""
    await as_(client, ANA)
    response = await client.post("/api/requests", json={
        "service": "loan", "item": {"isbn": BOTH}, **body})
    created = await response.json()
    assert response.status == 201, created
    await work()
    return str(created["id"])


async def mails(client: TestClient) -> list[dict[str, str]]:
    app = client.server.app
    return await OutboxMailer(app[appkeys.REDIS], app[appkeys.KEYS]).latest()


def days(n: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=n)).isoformat()


async def shipped_and_lent(client: TestClient, work: Any) -> str:
    """A loan that C shipped and A lent to Ana."""
    rid = await ask(client, work)
    await as_(client, LENDER)
    await answer(client, rid, answer="will_supply")
    await answer(client, rid, answer="shipped", due_date=days(30))
    await as_(client, HOME)
    await step(client, rid, step="received")
    await work()
    assert (await step(client, rid, step="checked_out"))["state"] == "on_loan"
    return rid


async def test_a_loan_from_order_to_its_return(desk: TestClient, work: Any) -> None:
    client = desk
    rid = await ask(client, work)
    await as_(client, LENDER)
    [order] = (await (await client.get("/api/inbox")).json())["orders"]
    assert order["id"] == rid
    assert order["answers"] == ["will_supply", "unfilled", "conditional", "shipped"]
    assert (await answer(client, rid, answer="will_supply"))["answers"] == [
        "unfilled", "conditional", "shipped"]
    shipped = await answer(client, rid, answer="shipped", due_date=days(30),
                           reason="not for photocopying")
    assert (shipped["state"], shipped["due_date"], shipped["answers"]) == (
        "shipped", days(30), ["lost"])
    # The inbox filters by state and age.
    assert [o["id"] for o in (await (await client.get(
        "/api/inbox?state=shipped")).json())["orders"]] == [rid]
    assert (await (await client.get("/api/inbox?state=sent")).json())["orders"] == []
    assert (await (await client.get("/api/inbox?older_than_days=2")).json())["orders"] == []
    assert (await client.get("/api/inbox?state=nonsense")).status == 422

    await as_(client, HOME)
    borrowed = (await (await client.get("/api/borrowing")).json())["requests"]
    assert [(r["id"], r["state"], r["steps"]) for r in borrowed] == [
        (rid, "shipped", ["received", "lost"])]
    assert (await step(client, rid, step="received"))["state"] == "received"
    await work()
    assert (await seen(client, rid))["state"] == "awaiting_pickup"
    ready = [m for m in await mails(client) if "ready for you to collect" in m["subject"]]
    assert [m["to"] for m in ready] == [ANA]
    # Checked out without a date: the lender's due date holds.
    lent = await step(client, rid, step="checked_out")
    assert (lent["state"], lent["due_date"]) == ("on_loan", days(30))

    await as_(client, ANA)
    mine = await seen(client, rid)
    assert (mine["state"], mine["steps"]) == ("on loan", ["renew"])
    assert (await step(client, rid, step="renew"))["state"] == "renewal pending"
    await step(client, rid, 409, step="renew")
    await work()
    await as_(client, LENDER)
    renewed = await answer(client, rid, answer="renewal", granted=True, due_date=days(60))
    assert (renewed["state"], renewed["due_date"]) == ("on_loan", days(60))
    await work()
    await as_(client, ANA)
    assert (await seen(client, rid))["due_date"] == days(60)
    # Ana's mails are in English, with the date written out.
    written = format_date(date.fromisoformat(days(60)), format="long", locale="en")
    assert any("renewed until " + written in m["subject"] for m in await mails(client))

    await as_(client, HOME)
    assert (await step(client, rid, step="return_shipped"))["state"] == "returned"
    await work()
    await as_(client, LENDER)
    done = await answer(client, rid, answer="received_back")
    assert done["state"] == "completed"
    assert (await (await client.get("/api/inbox")).json())["orders"] == []
    await as_(client, HOME)
    assert (await (await client.get("/api/borrowing")).json())["requests"] == []
    history = [e["event"] for e in (await seen(client, rid))["history"]]
    assert history[-9:] == ["lender_will_supply", "shipped", "received", "ready_for_pickup",
                            "checked_out", "renewal_requested", "renewal_answered",
                            "return_shipped", "return_received"]


async def test_a_refused_renewal_keeps_the_due_date_and_the_lender_can_recall(
        desk: TestClient, work: Any) -> None:
    client = desk
    rid = await shipped_and_lent(client, work)
    await as_(client, ANA)
    await step(client, rid, step="renew")
    await as_(client, LENDER)
    refused = await answer(client, rid, answer="renewal", granted=False, reason="reserved")
    assert (refused["state"], refused["due_date"]) == ("on_loan", days(30))
    recalled = await answer(client, rid, answer="recalled", due_date=days(7))
    assert (recalled["state"], recalled["due_date"]) == ("recalled", days(7))
    await work()
    subjects = [m["subject"] for m in await mails(client)]
    assert any("could not be renewed" in s for s in subjects)
    assert any("recalled" in s for s in subjects)
    await as_(client, ANA)
    # Recalled: no more renewing.
    assert (await seen(client, rid))["steps"] == []
    await step(client, rid, 409, step="renew")


async def test_overdue_said_by_the_lender(desk: TestClient, work: Any) -> None:
    client = desk
    rid = await shipped_and_lent(client, work)
    await as_(client, LENDER)
    assert (await answer(client, rid, answer="overdue"))["state"] == "overdue"
    await as_(client, ANA)
    await step(client, rid, 409, step="renew")
    await as_(client, HOME)
    assert (await step(client, rid, step="return_shipped"))["state"] == "returned"


async def test_a_lost_loan_charges_replacement_and_processing(desk: TestClient,
                                                              work: Any) -> None:
    client = desk
    rid = await shipped_and_lent(client, work)
    await as_(client, LENDER)
    lost = await answer(client, rid, answer="lost", cost="40.00", reason="never came back")
    assert lost["state"] == "completed"
    await work()
    await as_(client, COORDINATOR)
    ledger = await (await client.get("/api/ledger")).json()
    # The service itself was free (same region); the loss is 40.00 + 5.00.
    assert ledger["pairs"] == [{"borrower": "A", "lender": "C", "amount": "45.00"}]


async def test_the_home_library_reports_a_loss(desk: TestClient, work: Any) -> None:
    client = desk
    rid = await shipped_and_lent(client, work)
    await as_(client, HOME)
    assert (await step(client, rid, step="lost"))["state"] == "completed"
    await work()
    await as_(client, COORDINATOR)
    ledger = await (await client.get("/api/ledger")).json()
    assert ledger["pairs"] == [{"borrower": "A", "lender": "C", "amount": "5.00"}]


def a_copy(part: str) -> dict[str, Any]:
    return {"service": "copy", "copy_format": "pdf", "citation": {
        "source_title": "Čefurji raus!", "part_title": part, "pages": "1-10"}}


async def test_a_copy_by_link(desk: TestClient, work: Any) -> None:
    client = desk
    rid = await ask(client, work, **a_copy("Chapter one"))
    await as_(client, LENDER)
    [order] = (await (await client.get("/api/inbox")).json())["orders"]
    assert order["answers"] == ["will_supply", "unfilled", "conditional", "copy_delivered"]
    await answer(client, rid, 422, answer="copy_delivered", url="ftp://x/y.pdf")
    link = "https://files.example.org/c/ch1.pdf"
    delivered = await answer(client, rid, answer="copy_delivered", url=link)
    assert (delivered["state"], delivered["delivery_url"]) == ("copy_delivered", link)
    await work()
    assert any(link in m["body"] and m["to"] == ANA for m in await mails(client))
    await as_(client, ANA)
    mine = await seen(client, rid)
    assert (mine["delivery_url"], mine["steps"]) == (link, ["copy_received"])
    assert (await step(client, rid, step="copy_received"))["state"] == "completed"


async def test_a_copy_by_upload(desk: TestClient, work: Any,
                                consortium_file: Path) -> None:
    client = desk
    rid = await ask(client, work, **a_copy("Chapter two"))
    await as_(client, LENDER)
    path = f"/api/inbox/{rid}/copy"
    refused = await client.post(path + "?name=x.pdf", data=b"<html>not a copy</html>",
                                headers={"Content-Type": "application/pdf"})
    assert refused.status == 422
    too_big = await client.post(path, data=io.BytesIO(b"%PDF-" + b"0" * (20 * 1024 * 1024)),
                                headers={"Content-Type": "application/pdf"})
    assert too_big.status == 422
    response = await client.post(path + "?name=../../etc/passwd.pdf", data=PDF,
                                 headers={"Content-Type": "application/pdf"})
    delivered = await response.json()
    assert response.status == 200, delivered
    assert delivered["state"] == "copy_delivered"
    copies = consortium_file.parent / "copies" / rid
    assert [p.name for p in copies.iterdir()] == ["passwd.pdf"]
    link = "/copies/" + delivered["delivery_url"].rsplit("/copies/", 1)[1]
    # Only the patron and the home library's staff fetch it.
    for who, status in ((LENDER, 404), (OTHER, 404), (MOJCA, 404), (HOME, 200), (ANA, 200)):
        await as_(client, who)
        fetched = await client.get(link, allow_redirects=False)
        assert fetched.status == status, who
    assert fetched.headers["Content-Type"] == "application/pdf"
    assert await fetched.read() == PDF
    assert (await client.get("/copies/00" + "x" * 43)).status == 404
    await client.delete("/api/session")
    assert (await client.get(link, allow_redirects=False)).status == 303
    await as_(client, ANA)
    assert (await step(client, rid, step="copy_received"))["state"] == "completed"


async def test_a_condition_accepted(desk: TestClient, work: Any) -> None:
    client = desk
    rid = await ask(client, work)
    await as_(client, LENDER)
    await answer(client, rid, 422, answer="conditional")
    asked = await answer(client, rid, answer="conditional", condition="reading room only",
                         cost="3.00")
    assert (asked["state"], asked["answers"]) == ("conditional", ["unfilled"])
    await work()
    assert any("reading room only" in m["body"] for m in await mails(client))
    await as_(client, ANA)
    mine = await seen(client, rid)
    assert (mine["state"], mine["condition"], mine["condition_cost"]) == (
        "a library asks a condition", "reading room only", "3.00")
    assert mine["steps"] == ["accept_condition", "decline_condition", "cancel"]
    assert (await step(client, rid, step="accept_condition"))["state"] == "will supply"
    await as_(client, LENDER)
    [order] = (await (await client.get("/api/inbox")).json())["orders"]
    assert order["state"] == "will_supply"


async def test_a_condition_declined_goes_to_the_next_lender(desk: TestClient,
                                                            work: Any) -> None:
    client = desk
    rid = await ask(client, work)
    await as_(client, LENDER)
    await answer(client, rid, answer="conditional", condition="pay 30 EUR first")
    await as_(client, ANA)
    await step(client, rid, step="decline_condition")
    await work()
    await as_(client, LENDER)
    assert (await (await client.get("/api/inbox")).json())["orders"] == []
    await as_(client, OTHER)
    [order] = (await (await client.get("/api/inbox")).json())["orders"]
    assert (order["id"], order["state"], order["lender"]) == (rid, "sent", "B")


async def test_roles_are_refused(desk: TestClient, work: Any) -> None:
    client = desk
    rid = await ask(client, work)
    # Another patron, another library: the request is not theirs to see.
    await as_(client, MOJCA)
    await step(client, rid, 404, step="renew")
    await as_(client, OTHER)
    await step(client, rid, 404, step="received")
    await answer(client, rid, 403, answer="will_supply")
    assert (await client.post(f"/api/inbox/{rid}/copy", data=PDF, headers={
        "Content-Type": "application/pdf"})).status == 403
    # The lender does not take the borrowing side's steps, nor the patron the library's.
    await as_(client, LENDER)
    await answer(client, rid, answer="will_supply")
    await answer(client, rid, answer="shipped", due_date=days(30))
    await step(client, rid, 403, step="received")
    await as_(client, ANA)
    await step(client, rid, 403, step="received")
    await step(client, rid, 422, step="fly")
    assert (await client.get("/api/borrowing")).status == 403
    assert (await client.get("/api/inbox")).status == 403
    # An answer the state does not take is a conflict.
    await as_(client, LENDER)
    await answer(client, rid, 409, answer="received_back")
    await as_(client, HOME)
    await step(client, rid, 409, step="checked_out")
