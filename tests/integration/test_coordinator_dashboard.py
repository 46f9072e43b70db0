"""The coordinator's dashboard (JSON, page, CSV) and the staff's pull slips, against a
real Redis, harvested MARC files and, for requests made through the API, a real rq
worker. Requests that must be old or stuck are written through the store with their
times, as the routing would have written them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import lxml.html
import pytest
from aiohttp.test_utils import TestClient
from pypdf import PdfReader

from broker.domain.accounts import Role
from broker.domain.holdings import BibRecord, Holding, ItemStatus
from broker.domain.request import ItemDescription, Request
from broker.domain.states import Event, Service, State
from broker.store.holdings import Indexable
from broker.store.keys import request_id_for
from broker.store.ledger import Ledger
from broker.store.requests import RequestStore
from broker.web import appkeys

from builders import BOTH, PASSWORD

DESK = "stamp-lipa-41"
CORA = "cora@example.org"
LETTERS = "Ķēniņš Čaks un Åsa: ļoti šķība žāvēšana"
NOW = datetime.now(UTC)


@pytest.fixture
async def client(client: TestClient) -> TestClient:
    """The conftest's app, catalogs, patrons and desk staff, and the coordinator Cora."""
    await client.server.app[appkeys.ACCOUNTS].add_staff(CORA, "Desk", "Person",
                                                        Role.COORDINATOR, None, DESK)
    return client


async def login(client: TestClient, email: str | None) -> None:
    await client.delete("/api/session")
    if email is not None:
        password = PASSWORD if email == "ana@example.org" else DESK
        response = await client.post("/api/session", json={"email": email,
                                                           "password": password})
        assert response.status == 200, await response.text()


def store_of(client: TestClient) -> RequestStore:
    return client.server.app[appkeys.STORE]


async def sent_request(client: TestClient, *, title: str = "Alamut", lender: str = "C",
                       at: datetime = NOW, answer_in: timedelta = timedelta(hours=24),
                       isbn: str | None = None) -> Request:
    """A request of A sent to ``lender`` at ``at``, as the routing does it."""
    store = store_of(client)
    request = await store.create(Request(
        id=request_id_for("p-ana"), service=Service.LOAN, state=State.NEW, version=0,
        patron_id="p-ana", home_library="A", pickup_location="A-1",
        item=ItemDescription(title=title, author="Čuk, Ana", year=2001, isbn=isbn),
        created_at=at, updated_at=at, note="Za bralni krožek"), "patron:p-ana")
    request = await store.apply(request, Event.SUBMITTED, "broker", at=at)
    request = await store.apply(request, Event.BORROWER_CONFIRMED, "register:A", at=at)
    return await store.apply(request, Event.SENT_TO_LENDER, "broker", at=at,
                             changes={"lender": lender, "rota_position": "0"},
                             data={"lender": lender, "position": 0,
                                   "answer_by": (at + answer_in).isoformat()})


async def answered(client: TestClient, request: Request, *events: Event,
                   at: datetime = NOW) -> Request:
    for event in events:
        request = await store_of(client).apply(request, event, f"lender:{request.lender}",
                                               data={"lender": request.lender}, at=at)
    return request


async def get_json(client: TestClient, path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status == status, await response.text()
    return await response.json()


# -- who may look ----------------------------------------------------------------------


DASHBOARD = ("/coordinator", "/coordinator/requests.csv", "/coordinator/figures.csv")
API = ("/api/coordinator/requests", "/api/coordinator/figures")


@pytest.mark.parametrize(("who", "api_status", "page_status"), [
    (None, 401, 303),
    ("ana@example.org", 403, 403),
    ("desk@b.example.org", 403, 403),
    (CORA, 200, 200),
])
async def test_only_coordinators_see_the_dashboard(client: TestClient, who: str | None,
                                                   api_status: int, page_status: int) -> None:
    await login(client, who)
    for path in API:
        response = await client.get(path)
        assert response.status == api_status, path
        if api_status != 200:
            assert response.content_type == "application/problem+json"
    for path in DASHBOARD:
        response = await client.get(path, allow_redirects=False)
        assert response.status == page_status, path
        if page_status == 303:
            assert response.headers["Location"] == "/login"
        if page_status == 403:
            assert "Only for coordinators" in await response.text()


# -- the request list ------------------------------------------------------------------


async def test_a_request_made_through_the_api_moves_on_the_dashboard(
        client: TestClient, work: Any) -> None:
    await login(client, "ana@example.org")
    response = await client.post("/api/requests", json={"service": "loan",
                                                        "item": {"isbn": BOTH}})
    assert response.status == 201
    number = (await response.json())["id"]
    await login(client, CORA)
    [listed] = (await get_json(client, "/api/coordinator/requests"))["requests"]
    assert (listed["id"], listed["state"], listed["lender"]) == (number, "new", None)
    await work()
    [listed] = (await get_json(client, "/api/coordinator/requests"))["requests"]
    assert (listed["state"], listed["lender"], listed["attention"]) == ("sent", "C", None)
    assert listed["title"] == "Čefurji raus!"
    figures = {f["library"]: f for f in
               (await get_json(client, "/api/coordinator/figures"))["libraries"]}
    assert (figures["A"]["sent"], figures["C"]["received"]) == (1, 1)


async def test_stuck_requests_come_first_and_filters_narrow_the_list(
        client: TestClient) -> None:
    late = await sent_request(client, at=NOW - timedelta(days=3))
    fresh = await sent_request(client, lender="B", at=NOW - timedelta(hours=1))
    store = store_of(client)
    quiet = await store.create(Request(
        id=request_id_for("p-2"), service=Service.COPY, state=State.NEW, version=0,
        patron_id="p-2", home_library="C", pickup_location="C",
        item=ItemDescription(title="Lighthouse"), created_at=NOW - timedelta(hours=5),
        updated_at=NOW - timedelta(hours=5)), "patron:p-2")
    await login(client, CORA)

    found = await get_json(client, "/api/coordinator/requests")
    assert [r["id"] for r in found["requests"]] == [late.id, quiet.id, fresh.id]
    assert [r["attention"] and r["attention"]["kind"] for r in found["requests"]] == [
        "answer_overdue", "not_moving", None]
    assert (found["total"], found["stuck"], found["pages"]) == (3, 2, 1)

    async def ids(query: str) -> list[str]:
        body = await get_json(client, "/api/coordinator/requests?" + query)
        return [r["id"] for r in body["requests"]]

    assert await ids("state=sent") == [late.id, fresh.id]
    assert await ids("library=B") == [fresh.id]
    assert await ids("library=C") == [late.id, quiet.id]
    assert await ids("older_than_days=2") == [late.id]
    assert await ids("state=new&library=A") == []
    assert await ids("per_page=2&page=2") == [fresh.id]
    problem = await get_json(client, "/api/coordinator/requests?state=lost&library=Z"
                                     "&older_than_days=-1&per_page=1000", 422)
    assert set(problem["errors"]) == {"state", "library", "older_than_days", "per_page"}


async def test_figures_per_library(client: TestClient) -> None:
    shipped = await sent_request(client, at=NOW - timedelta(hours=30))
    await answered(client, shipped, Event.LENDER_WILL_SUPPLY, Event.SHIPPED,
                   at=NOW - timedelta(hours=10))
    await sent_request(client, lender="B")
    await Ledger(client.server.app[appkeys.REDIS], client.server.app[appkeys.KEYS]).record(
        shipped.id, "A", "C", Decimal("3.50"))
    await login(client, CORA)
    body = await get_json(client, "/api/coordinator/figures")
    assert body["currency"] == "EUR"
    a, b, c = body["libraries"]
    assert a == {"library": "A", "sent": 2, "received": 0, "lent": 0, "borrowed": 1,
                 "fill_rate": None, "median_turnaround_hours": None, "net_balance": -1,
                 "fees_owed_to": "0.00", "fees_owing": "3.50", "fees_net": "-3.50"}
    assert (b["received"], b["lent"], b["fill_rate"]) == (2 - 1, 0, 0.0)
    assert (c["received"], c["lent"], c["fill_rate"], c["median_turnaround_hours"]) == (
        1, 1, 1.0, 20.0)
    assert (c["net_balance"], c["fees_owed_to"], c["fees_net"]) == (1, "3.50", "3.50")


# -- CSV -------------------------------------------------------------------------------


def read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM, for Excel
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


async def test_the_csv_downloads(client: TestClient) -> None:
    evil = await sent_request(client, title='=HYPERLINK("http://evil.example","click")')
    await sent_request(client, title="+SUM(1)", lender="B")
    await sent_request(client, title=LETTERS, lender="B")
    await login(client, CORA)

    response = await client.get("/coordinator/requests.csv?library=C")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="ill-requests-{datetime.now(UTC):%Y-%m-%d}.csv"')
    header, *rows = read_csv(await response.read())
    assert header[:7] == ["request", "service", "state", "home_library", "lender",
                          "pickup", "title"]
    assert [(r[0], r[6]) for r in rows] == [
        (evil.id, '\'=HYPERLINK("http://evil.example","click")')]

    _, *rows = read_csv(await (await client.get("/coordinator/requests.csv")).read())
    assert sorted(r[6] for r in rows) == ["'+SUM(1)", "'=HYPERLINK(\"http://evil.example\","
                                          "\"click\")", LETTERS]

    response = await client.get("/coordinator/figures.csv")
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="ill-figures-')
    header, *rows = read_csv(await response.read())
    assert header[:4] == ["library", "name", "sent", "received"]
    assert [r[:4] for r in rows] == [["A", "Library A", "3", "0"],
                                     ["B", "Library B", "0", "2"],
                                     ["C", "Library C", "0", "1"]]
    # A number the broker computed stays a number, minus and all.
    assert rows[0][header.index("fees_net_EUR")] == "0.00"

    response = await client.get("/coordinator/requests.csv?older_than_days=x")
    assert response.status == 422


# -- the page --------------------------------------------------------------------------


async def test_the_page_lists_stuck_requests_first_with_charts_and_figures(
        client: TestClient) -> None:
    late = await sent_request(client, at=NOW - timedelta(days=2))
    shipped = await sent_request(client, lender="B")
    await answered(client, shipped, Event.SHIPPED)
    await login(client, CORA)
    response = await client.get("/coordinator")
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    doc = lxml.html.fromstring(await response.text())
    rows = doc.xpath("//table[contains(@class, 'requests')]/tbody/tr")
    assert [r.xpath("./td[1]/a/text()")[0] for r in rows] == [late.id, shipped.id]
    assert rows[0].get("class") == "stuck" and "no answer from C" in rows[0].text_content()
    assert "2 requests, 1 needing a look." in doc.xpath("//p[@role='status']")[0].text_content()
    charts = doc.xpath("//svg[@role='img']")
    assert [c.xpath("./title/text()")[0] for c in charts] == [
        "Fill rate per library", "Lending balance per library (lent minus borrowed)"]
    assert charts[0].xpath("./desc/text()")[0] == "Library B: 100%; Library C: 0%."
    figures = doc.xpath("//table[contains(@class, 'figures')]/tbody/tr")
    cells = [td.text_content() for td in figures[1].xpath("./td")]
    assert cells[:7] == ["0", "1", "100%", "0 h", "1", "0", "+1"]
    assert doc.xpath("//a[text()='Download these as CSV']/@href") == [
        "/coordinator/requests.csv"]

    response = await client.get("/coordinator?state=sent&library=C&older_than_days=1")
    doc = lxml.html.fromstring(await response.text())
    rows = doc.xpath("//table[contains(@class, 'requests')]/tbody/tr")
    assert [r.xpath("./td[1]/a/text()")[0] for r in rows] == [late.id]
    assert doc.xpath("//a[text()='Download these as CSV']/@href") == [
        "/coordinator/requests.csv?state=sent&library=C&older_than_days=1"]

    response = await client.get("/coordinator?older_than_days=soon")
    assert response.status == 422
    assert "Older than (days)" in lxml.html.fromstring(await response.text()).xpath(
        "//div[@role='alert']")[0].text_content()


async def test_the_list_has_pages(client: TestClient) -> None:
    for _ in range(3):
        await sent_request(client)
    await login(client, CORA)
    doc = lxml.html.fromstring(await (await client.get("/coordinator?per_page=2")).text())
    assert len(doc.xpath("//table[contains(@class, 'requests')]/tbody/tr")) == 2
    [following] = doc.xpath("//a[@rel='next']/@href")
    doc = lxml.html.fromstring(await (await client.get(following + "&per_page=2")).text())
    assert len(doc.xpath("//table[contains(@class, 'requests')]/tbody/tr")) == 1
    assert doc.xpath("//a[@rel='prev']") and not doc.xpath("//a[@rel='next']")


# -- pull slips ------------------------------------------------------------------------


def pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


async def test_pull_slips_of_todays_orders(client: TestClient, work: Any) -> None:
    await login(client, "ana@example.org")
    made = await client.post("/api/requests", json={"service": "loan",
                                                    "item": {"isbn": BOTH}})
    number = (await made.json())["id"]
    await work()
    # An order with the consortium's letters, and copies with call numbers in C's
    # catalog; and yesterday's order, which today's slips leave out.
    isbn = "9789984001234"
    record = BibRecord(record_id="c9", title=LETTERS, isbns=(isbn,), holdings=(
        Holding("C", ItemStatus.AVAILABLE, call_number="821.163.6 ČUK"),
        Holding("C", ItemStatus.ON_LOAN, call_number="821.163.6 ČUK 2", barcode="C0042")))
    await client.server.app[appkeys.INDEX].upsert(
        "C", Indexable(record, (f"isbn:{isbn}",), ("kenins",)))
    lettered = await sent_request(client, title=LETTERS, isbn=isbn,
                                  at=NOW - timedelta(minutes=5))
    old = await sent_request(client, title="Yesterday's book", at=NOW - timedelta(days=1, hours=1))
    await login(client, "desk@c.example.org")

    response = await client.get("/inbox/pull-slips.pdf")
    assert response.status == 200 and response.content_type == "application/pdf"
    assert response.headers["Content-Disposition"].startswith(
        'inline; filename="pull-slips-C-')
    body = await response.read()
    assert body.startswith(b"%PDF-")
    text = pdf_text(body)
    assert number in text and lettered.id in text and old.id not in text
    assert "Čefurji raus!" in text
    for words in (LETTERS, "Čuk, Ana", "821.163.6 ČUK", "barcode C0042", "on loan",
                  "Branch, Library A", "Library A", "Za bralni krožek", "Answer by"):
        assert words in text, words
    assert text.index(lettered.id) < text.index(number)  # the longest waiting first

    every = pdf_text(await (await client.get("/inbox/pull-slips.pdf?all=1")).read())
    assert old.id in every and number in every


async def test_pull_slips_only_for_the_staff_of_the_library(client: TestClient) -> None:
    order = await sent_request(client)
    await login(client, None)
    response = await client.get("/inbox/pull-slips.pdf", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/login")
    for who in ("ana@example.org", CORA):
        await login(client, who)
        response = await client.get("/inbox/pull-slips.pdf")
        assert response.status == 403 and "Only for library staff" in await response.text()
    # Another library's staff get their own (empty) slips, never C's orders.
    await login(client, "desk@b.example.org")
    response = await client.get("/inbox/pull-slips.pdf")
    assert response.status == 200
    text = pdf_text(await response.read())
    assert order.id not in text and "No orders to pull." in text
