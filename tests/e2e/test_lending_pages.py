"""The lifecycle's pages: the lender's inbox answers (ship, a copy uploaded), the home
library's list of what it borrowed with its steps, the patron's loans and renewal,
driven as a browser would (forms with the CSRF token) against a real Redis and a real
rq worker; then one walk in Chromium with screenshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from broker.domain.accounts import Role
from broker.web import appkeys

from builders import BOTH, PASSWORD
from pages_harness import (
    ANA,
    MOJCA,
    STAFF_PASSWORD,
    ask,
    log_in,
    log_in_as,
    log_out,
    open_page,
    populated_site,
    post_form,
    receipt_of,
    run_outbox,
    said,
    screenshot,
)

HOME, LENDER = "desk@a.example.org", "desk@c.example.org"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def days(n: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=n)).isoformat()


async def with_home_desk(app: Any) -> None:
    await app[appkeys.ACCOUNTS].add_staff(HOME, "Desk", "A", Role.STAFF, "A", STAFF_PASSWORD)


async def asked(client: TestClient, work: Any, **fields: str) -> str:
    """Ana asks for BOTH (or what ``fields`` say); the order reaches C's inbox."""
    await with_home_desk(client.server.app)
    await log_in(client, ANA)
    number, _ = await receipt_of(client, await ask(client, isbn=BOTH, **fields))
    await work()
    await log_out(client)
    return number


def row_of(doc: Any, table: str, number: str) -> Any:
    [row] = doc.xpath(f"//table[contains(@class, '{table}')]/tbody/tr[.//a[text()='{number}']]")
    return row


def buttons(row: Any) -> list[str]:
    return [b.text_content().strip() for b in row.xpath(".//button")]


async def test_a_loan_through_the_pages(client: TestClient, work: Any) -> None:
    number = await asked(client, work)
    await log_in(client, LENDER, STAFF_PASSWORD)
    row = row_of(await open_page(client, "/inbox"), "inbox", number)
    assert buttons(row) == ["Will supply", "Shipped", "Ask the patron", "Unfilled"]
    # The due date starts at the lender's loan period.
    assert row.xpath(f".//input[@id='due-{number}']/@value") == [days(28)]
    response = await post_form(client, f"/inbox/{number}/answer", {
        "answer": "shipped", "due_date": days(30), "reason": "no photocopies"},
        form_page="/inbox")
    assert response.status == 303, said(await response.text())
    doc = await open_page(client, response.headers["Location"])
    assert f"{number}: shipped" in doc.xpath("//p[@role='status']")[0].text_content()
    assert buttons(row_of(doc, "inbox", number)) == ["Report it lost"]
    # A date the form cannot take is said on the page.
    response = await post_form(client, f"/inbox/{number}/answer", {
        "answer": "shipped", "due_date": "soon"}, form_page="/inbox")
    assert response.status == 422
    await log_out(client)

    await log_in(client, HOME, STAFF_PASSWORD)
    doc = await open_page(client, "/borrowing")
    assert doc.xpath("//nav//a[@href='/borrowing']")
    row = row_of(doc, "borrowed", number)
    assert buttons(row) == ["Received", "Lost"]
    response = await post_form(client, f"/requests/{number}/steps", {
        "step": "received", "back": "/borrowing"}, form_page="/borrowing")
    assert response.headers["Location"] == f"/borrowing?stepped={number}&as=received"
    await work()
    row = row_of(await open_page(client, "/borrowing"), "borrowed", number)
    assert buttons(row) == ["Checked out", "Lost"]
    assert row.xpath(f".//input[@id='out-{number}']/@value") == [days(30)]
    # The request page offers the same steps to the home library.
    doc = await open_page(client, f"/requests/{number}")
    assert [b.text_content() for b in doc.xpath("//section//button")] == [
        "Checked out", "Lost"]
    response = await post_form(client, f"/requests/{number}/steps", {
        "step": "checked_out", "due_date": days(30), "back": "https://evil.example/"},
        form_page="/borrowing")
    assert response.headers["Location"].startswith(f"/requests/{number}?")
    await log_out(client)

    await log_in(client, ANA)
    doc = await open_page(client, "/loans")
    row = row_of(doc, "loans", number)
    assert days(30) in row.text_content() and buttons(row) == ["Renew"]
    response = await post_form(client, f"/requests/{number}/steps", {
        "step": "renew", "back": "/loans"}, form_page="/loans")
    doc = await open_page(client, response.headers["Location"])
    assert "renewal asked" in row_of(doc, "loans", number).text_content()
    assert buttons(row_of(doc, "loans", number)) == []
    # The patron cannot take the library's steps, and someone else sees nothing.
    response = await post_form(client, f"/requests/{number}/steps", {"step": "received"},
                               form_page="/loans")
    assert response.status == 403
    await log_out(client)
    await log_in(client, MOJCA)
    response = await post_form(client, f"/requests/{number}/steps", {"step": "renew"},
                               form_page="/requests")
    assert response.status == 404
    await log_out(client)

    await log_in(client, LENDER, STAFF_PASSWORD)
    assert buttons(row_of(await open_page(client, "/inbox?state=renewal_pending"), "inbox",
                          number)) == ["Renew", "Refuse the renewal", "Overdue", "Recall",
                                       "Report it lost"]
    assert "No orders" in (await open_page(client, "/inbox?state=sent")).text_content()
    await post_form(client, f"/inbox/{number}/answer", {
        "answer": "renewal", "granted": "yes", "due_date": days(58)}, form_page="/inbox")
    await log_out(client)
    await log_in(client, ANA)
    doc = await open_page(client, f"/requests/{number}")
    assert doc.get_element_by_id("due-date").text_content() == days(58)


async def test_a_copy_uploaded_in_the_inbox(client: TestClient, work: Any) -> None:
    number = await asked(client, work, service="copy", title="Čefurji raus!",
                         part_title="One", pages="1-5", copy_format="pdf")
    await log_in(client, LENDER, STAFF_PASSWORD)
    doc = await open_page(client, "/inbox")
    [token] = doc.xpath("//form[contains(@action, '/copy')]/input[@name='csrf']/@value")
    path = f"/inbox/{number}/copy"

    def form(csrf: str | None, content: bytes) -> aiohttp.FormData:
        data = aiohttp.FormData()
        if csrf is not None:
            data.add_field("csrf", csrf)
        data.add_field("file", content, filename="scan.pdf", content_type="application/pdf")
        return data

    # Without the form's token nothing is stored.
    for csrf in (None, "x" * 43):
        response = await client.post(path, data=form(csrf, PDF), allow_redirects=False)
        assert response.status == 403
    response = await client.post(path, data=form(token, b"GIF89a..."), allow_redirects=False)
    assert response.status == 422 and "PDF, JPEG, PNG or TIFF" in said(await response.text())
    response = await client.post(path, data=form(token, PDF), allow_redirects=False)
    assert response.status == 303, said(await response.text())
    await work()
    await log_out(client)
    await log_in(client, ANA)
    doc = await open_page(client, f"/requests/{number}")
    [link] = doc.xpath("//a[text()='Open the copy']/@href")
    fetched = await client.get("/copies/" + link.rsplit("/copies/", 1)[1])
    assert fetched.status == 200 and await fetched.read() == PDF
    response = await post_form(client, f"/requests/{number}/steps", {"step": "copy_received"},
                               form_page=f"/requests/{number}")
    doc = await open_page(client, response.headers["Location"])
    assert doc.xpath("//h2[@id='what-title']")[0].text_content() == "Copy: completed"


def test_the_inbox_ships_and_the_home_library_receives_in_chromium(
        consortium_file: Path, redis_url: str, namespace: str) -> None:
    with populated_site(consortium_file, redis_url, namespace) as site:
        from playwright.sync_api import expect

        base = site.base
        site.run(with_home_desk(site.app))
        browser = site.launch()
        page = browser.new_page(viewport={"width": 1200, "height": 800})

        def shot(name: str) -> None:
            screenshot(page, name)

        log_in_as(page, base, ANA, PASSWORD)
        page.goto(base + "/requests/new")
        page.get_by_label("ISBN").fill(BOTH)
        page.get_by_role("button", name="Send the request").click()
        number = page.locator("#request-number").inner_text()
        page.get_by_role("button", name="Log out").click()
        run_outbox(redis_url, namespace, consortium_file)

        log_in_as(page, base, LENDER, STAFF_PASSWORD)
        page.get_by_role("link", name="Inbox").click()
        row = page.locator("table.inbox tbody tr", has_text=number)
        shot("50-inbox-answers")
        row.get_by_label("Due date").fill(days(30))
        row.get_by_label("Loan conditions").fill("no photocopies")
        row.get_by_role("button", name="Shipped").click()
        expect(page.get_by_role("status")).to_contain_text(f"{number}: shipped")
        expect(row).to_contain_text("due " + days(30))
        shot("51-inbox-shipped")
        page.get_by_role("button", name="Log out").click()

        log_in_as(page, base, HOME, STAFF_PASSWORD)
        page.get_by_role("link", name="Borrowed").click()
        expect(page.get_by_role("heading", name="Borrowed by Library A")).to_be_visible()
        row = page.locator("table.borrowed tbody tr", has_text=number)
        shot("52-borrowed")
        row.get_by_role("button", name="Received").click()
        expect(page.get_by_role("status")).to_contain_text(f"{number}: received")
        run_outbox(redis_url, namespace, consortium_file)
        page.reload()
        expect(row.get_by_role("button", name="Checked out")).to_be_visible()
        shot("53-borrowed-received")
        row.get_by_role("button", name="Checked out").click()
        page.get_by_role("button", name="Log out").click()

        log_in_as(page, base, ANA, PASSWORD)
        page.get_by_role("link", name="My loans").click()
        row = page.locator("table.loans tbody tr", has_text=number)
        expect(row).to_contain_text(days(30))
        shot("54-my-loans")
        row.get_by_role("button", name="Renew").click()
        expect(row).to_contain_text("renewal asked")
        shot("55-my-loans-renewal-asked")
        browser.close()
