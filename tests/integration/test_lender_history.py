"""The rota weighs each lender's history as the coordinator's figures count it: the
web app counts it in the background and the intake reads the last count."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient

from broker.domain.request import ItemDescription, Request
from broker.domain.states import Event, Service, State
from broker.store.keys import request_id_for
from broker.web import appkeys

from builders import BOTH, PASSWORD

EARLIER = datetime.now(UTC) - timedelta(days=10)


async def supplied_by(client: TestClient, lender: str, hours: int) -> None:
    """A past request of A that ``lender`` shipped ``hours`` after it was sent."""
    store = client.server.app[appkeys.STORE]
    request = await store.create(Request(
        id=request_id_for("p-past"), service=Service.LOAN, state=State.NEW, version=0,
        patron_id="p-past", home_library="A", pickup_location="A",
        item=ItemDescription(title="Earlier"), created_at=EARLIER, updated_at=EARLIER),
        "patron:p-past")
    request = await store.apply(request, Event.SUBMITTED, "broker", at=EARLIER)
    request = await store.apply(request, Event.BORROWER_CONFIRMED, "register:A", at=EARLIER)
    request = await store.apply(request, Event.SENT_TO_LENDER, "broker", at=EARLIER,
                                changes={"lender": lender, "rota_position": "0"},
                                data={"lender": lender, "position": 0})
    for event in (Event.LENDER_WILL_SUPPLY, Event.SHIPPED):
        request = await store.apply(request, event, f"lender:{lender}",
                                    data={"lender": lender},
                                    at=EARLIER + timedelta(hours=hours))


async def rota_reasons(client: TestClient) -> dict[str, str]:
    await client.post("/api/session", json={"email": "ana@example.org",
                                            "password": PASSWORD})
    response = await client.post("/api/requests", json={"service": "loan",
                                                        "item": {"isbn": BOTH}})
    assert response.status == 201, await response.text()
    stored = await client.server.app[appkeys.STORE].get((await response.json())["id"])
    return {e["library"]: e["reason"] for e in json.loads(stored.rota or "{}")["lenders"]}


async def test_the_rota_says_what_each_lender_did_before(client: TestClient) -> None:
    app = client.server.app
    await supplied_by(client, "C", hours=30)
    await supplied_by(client, "C", hours=50)
    await app[appkeys.HISTORY].refresh()
    stats = app[appkeys.HISTORY]()
    assert (stats["C"].lent, stats["C"].asked, stats["C"].median_turnaround_hours) == (2, 2, 40)
    assert (stats["A"].borrowed, stats["B"].asked) == (2, 0)
    reasons = await rota_reasons(client)
    assert "lends 2 more than it borrows" in reasons["C"]
    assert "filled 2 of 2 requests" in reasons["C"]
    assert "median turnaround 40 h" in reasons["C"]
    assert "no turnaround history" in reasons["B"]


async def test_before_the_first_count_every_lender_is_neutral(client: TestClient) -> None:
    client.server.app[appkeys.HISTORY].stats = {}
    reasons = await rota_reasons(client)
    assert all("no turnaround history" in reason for reason in reasons.values())
