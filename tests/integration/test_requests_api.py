"""A patron's request from submission to the lenders' inboxes: the API, the outbox and
a real rq worker, against a real Redis and harvested MARC files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from broker.domain.accounts import Role
from broker.web import appkeys

from builders import BOTH, FAR, HOME, PASSWORD, READING, three_library_consortium


async def login(client: TestClient, email: str, password: str = PASSWORD) -> None:
    response = await client.post("/api/session", json={"email": email, "password": password})
    assert response.status == 200, await response.text()


def loan(isbn: str, **more: Any) -> dict[str, Any]:
    return {"service": "loan", "item": {"isbn": isbn}, **more}


async def test_a_request_goes_to_the_first_lender_then_the_next(client: TestClient,
                                                                 work: Any) -> None:
    await login(client, "ana@example.org")
    response = await client.post("/api/requests", json=loan(BOTH))
    assert response.status == 201, await response.text()
    receipt = await response.json()
    assert receipt["id"].startswith("ILL-") and receipt["state"] == "received"
    assert receipt["estimate"]["total"] == "0.00"  # C is in A's free-transfer region
    assert "lender" not in receipt and "rota" not in receipt
    await work()
    mine = await (await client.get(f"/api/requests/{receipt['id']}")).json()
    assert mine["state"] == "looking for a lender"

    await client.delete("/api/session")
    await login(client, "desk@c.example.org", "stamp-lipa-41")
    orders = (await (await client.get("/api/inbox")).json())["orders"]
    assert [o["id"] for o in orders] == [receipt["id"]]
    assert [e["library"] for e in orders[0]["rota"]["lenders"]] == ["C", "B"]
    response = await client.post(f"/api/inbox/{receipt['id']}/answer",
                                 json={"answer": "unfilled", "reason": "damaged"})
    assert response.status == 200
    await work()
    assert (await (await client.get("/api/inbox")).json())["orders"] == []

    await client.delete("/api/session")
    await login(client, "desk@b.example.org", "stamp-lipa-41")
    orders = (await (await client.get("/api/inbox")).json())["orders"]
    assert [o["id"] for o in orders] == [receipt["id"]]
    assert orders[0]["state"] == "sent" and orders[0]["lender"] == "B"


async def test_the_receipt_is_mailed(client: TestClient, work: Any) -> None:
    await login(client, "ana@example.org")
    receipt = await (await client.post("/api/requests", json=loan(BOTH))).json()
    await work()
    from broker.services.mail import OutboxMailer

    app = client.server.app
    mails = await OutboxMailer(app[appkeys.REDIS], app[appkeys.KEYS]).latest()
    assert any(receipt["id"] in m["subject"] and m["to"] == "ana@example.org" for m in mails)


async def test_a_retried_submit_returns_the_same_request(client: TestClient) -> None:
    await login(client, "ana@example.org")
    headers = {"Idempotency-Key": "form-7f3a"}
    first = await client.post("/api/requests", json=loan(BOTH), headers=headers)
    again = await client.post("/api/requests", json=loan(BOTH), headers=headers)
    assert (first.status, again.status) == (201, 200)
    assert (await first.json())["id"] == (await again.json())["id"]
    assert len((await (await client.get("/api/requests")).json())["requests"]) == 1


@pytest.mark.parametrize(("body", "problem"), [
    (loan(HOME), "held-locally"),
    (loan(READING), "reading-room-only"),
    (loan(FAR, max_cost="1.00"), "over-cost-limit"),
    (loan("9780141439518"), "no-lender"),
    ({"service": "loan", "item": {"title": "No such book anywhere"}}, "no-lender"),
    ({"service": "loan"}, "validation"),
])
async def test_refusals_say_why(client: TestClient, body: dict[str, Any],
                                problem: str) -> None:
    await login(client, "ana@example.org")
    response = await client.post("/api/requests", json=body)
    assert response.status in (409, 422)
    refused = await response.json()
    assert refused["type"].endswith("/" + problem), refused
    assert (await (await client.get("/api/requests")).json())["requests"] == []


async def test_held_locally_says_where_to_reserve(client: TestClient) -> None:
    await login(client, "ana@example.org")
    body = await (await client.post("/api/requests", json=loan(HOME))).json()
    assert "reserve it there" in body["detail"] and body["where"] == ["A"]


async def test_a_restricted_member_is_refused_with_the_reason(client: TestClient) -> None:
    await login(client, "mojca@example.org")
    response = await client.post("/api/requests", json=loan(BOTH))
    assert response.status == 403
    body = await response.json()
    assert body["type"].endswith("/membership-restricted") and "fee" in body["detail"]


async def test_a_duplicate_is_refused(client: TestClient) -> None:
    await login(client, "ana@example.org")
    assert (await client.post("/api/requests", json=loan(BOTH))).status == 201
    response = await client.post("/api/requests", json=loan(BOTH))
    assert (await response.json())["type"].endswith("/duplicate-request")


async def test_others_cannot_see_or_cancel_a_request(client: TestClient) -> None:
    await login(client, "ana@example.org")
    created = await (await client.post("/api/requests", json=loan(BOTH))).json()
    await client.delete("/api/session")
    await login(client, "mojca@example.org")
    assert (await client.get(f"/api/requests/{created['id']}")).status == 404
    assert (await client.post(f"/api/requests/{created['id']}/cancel")).status == 404
    await client.delete("/api/session")
    await login(client, "desk@b.example.org", "stamp-lipa-41")
    response = await client.post(f"/api/inbox/{created['id']}/answer",
                                 json={"answer": "unfilled"})
    assert response.status in (403, 404)


async def test_the_patron_cancels(client: TestClient, work: Any) -> None:
    await login(client, "ana@example.org")
    created = await (await client.post("/api/requests", json=loan(BOTH))).json()
    await work()
    response = await client.post(f"/api/requests/{created['id']}/cancel")
    assert response.status == 200 and (await response.json())["state"] == "cancelled"
    response = await client.post(f"/api/requests/{created['id']}/cancel")
    assert response.status == 409


async def test_a_lender_that_supplies_is_owed_its_fee(client: TestClient, work: Any) -> None:
    await login(client, "ana@example.org")
    created = await (await client.post("/api/requests", json=loan(BOTH))).json()
    await work()
    await client.delete("/api/session")
    await login(client, "desk@c.example.org", "stamp-lipa-41")
    await client.post(f"/api/inbox/{created['id']}/answer", json={"answer": "unfilled"})
    await work()
    await client.delete("/api/session")
    await login(client, "desk@b.example.org", "stamp-lipa-41")
    response = await client.post(f"/api/inbox/{created['id']}/answer",
                                 json={"answer": "will_supply"})
    assert (await response.json())["state"] == "will_supply"
    await work()
    await client.delete("/api/session")
    assert (await client.get("/api/ledger")).status == 401
    await client.server.app[appkeys.ACCOUNTS].add_staff(
        "coordinator@example.org", "Co", "Ordinator", Role.COORDINATOR, None, "watch-it-all-1")
    await login(client, "coordinator@example.org", "watch-it-all-1")
    ledger = await (await client.get("/api/ledger")).json()
    # B is in another region: the per-item ILL fee (this schedule has no postage).
    assert ledger["pairs"] == [{"borrower": "A", "lender": "B", "amount": "7.00"}]
    assert ledger["net"] == {"A": "-7.00", "B": "7.00"}


async def test_a_lender_on_a_public_holiday_is_skipped(client: TestClient) -> None:
    app = client.server.app
    # 25 June is Statehood Day in Slovenia (C's country), a working Thursday in Latvia.
    app[appkeys.INTAKE].clock = lambda: datetime(2026, 6, 25, 9, tzinfo=UTC)
    await login(client, "ana@example.org")
    response = await client.post("/api/requests", json=loan(BOTH))
    created = await response.json()
    assert response.status == 201, created
    rota = json.loads((await app[appkeys.STORE].get(created["id"])).rota or "{}")
    assert [e["library"] for e in rota["lenders"]] == ["B"]
    assert [(e["library"], e["code"]) for e in rota["skipped"]
            if e["library"] == "C"] == [("C", "closed-today")]


async def test_the_patron_is_told_when_no_lender_can_supply(client: TestClient,
                                                            work: Any) -> None:
    from broker.services.mail import OutboxMailer

    await login(client, "ana@example.org")
    created = await (await client.post("/api/requests", json=loan(FAR))).json()
    await work()
    await client.delete("/api/session")
    await login(client, "desk@b.example.org", "stamp-lipa-41")
    await client.post(f"/api/inbox/{created['id']}/answer", json={"answer": "unfilled"})
    await work()
    app = client.server.app
    assert (await app[appkeys.STORE].get(created["id"])).state.value == "unfilled"
    mails = await OutboxMailer(app[appkeys.REDIS], app[appkeys.KEYS]).latest()
    assert any("none could supply it" in m["body"] and m["to"] == "ana@example.org"
               for m in mails)


class TestTopicRequests:
    """"Books about X": no catalog holds a topic, so it goes to the lenders of last
    resort (B here), with the topic as the title and the note saying more."""

    @pytest.fixture
    def consortium_file(self, tmp_path: Path) -> Path:
        path = three_library_consortium(tmp_path)
        text = path.read_text(encoding="utf-8")
        marker = 'code = "B"'
        head, tail = text.split(marker, 1)
        path.write_text(head + marker + tail.replace(
            "[libraries.policy]\n", "[libraries.policy]\nlender_of_last_resort = true\n", 1),
            encoding="utf-8")
        return path

    async def test_a_topic_request_goes_to_the_lender_of_last_resort(
            self, client: TestClient, work: Any) -> None:
        await login(client, "ana@example.org")
        response = await client.post("/api/requests", json={
            "service": "loan", "topic": True, "item": {"title": "Beekeeping in Slovenia"},
            "note": "Two or three books for a beginner, in Slovenian or English"})
        assert response.status == 201, await response.text()
        created = await response.json()
        assert created["topic"] is True and created["item"]["title"] == "Beekeeping in Slovenia"
        await work()
        await client.delete("/api/session")
        await login(client, "desk@b.example.org", "stamp-lipa-41")
        inbox = await (await client.get("/api/inbox")).json()
        [order] = [o for o in inbox["orders"] if o["id"] == created["id"]]
        assert order["topic"] is True
        assert "lender of last resort" in order["rota"]["lenders"][0]["reason"]

    async def test_a_topic_request_needs_its_note_and_no_isbn(self, client: TestClient) -> None:
        await login(client, "ana@example.org")
        response = await client.post("/api/requests", json={
            "service": "copy", "topic": True, "item": {"isbn": BOTH}})
        assert response.status == 422
        problems = (await response.json())["errors"]
        assert set(problems) >= {"service", "item.title", "item.isbn", "note"}


async def test_without_a_lender_of_last_resort_a_topic_request_is_refused(
        client: TestClient) -> None:
    await login(client, "ana@example.org")
    response = await client.post("/api/requests", json={
        "service": "loan", "topic": True, "item": {"title": "Beekeeping"},
        "note": "anything for a beginner"})
    body = await response.json()
    assert response.status == 409 and body["type"].endswith("/no-lender"), body
    assert "topic requests" in body["detail"]
