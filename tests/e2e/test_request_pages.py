"""The pages for asking for a loan or a copy and the library's inbox, driven as a
browser would (form posts with the CSRF cookie and field) against a real Redis,
harvested MARC files and a real rq worker; then one walk through them in Chromium.
The app, its fixtures (tests/e2e/conftest.py) and the form helpers are shared with the
other page tests through pages_harness."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from builders import BOTH, FAR, HOME, PASSWORD, READING
from pages_harness import (
    ANA,
    MOJCA,
    STAFF_PASSWORD,
    ask,
    form_of,
    html_of,
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

UNKNOWN = "9780141439518"  # a valid ISBN no member holds


# -- helpers -------------------------------------------------------------------


def error_next_to(doc: Any, field: str) -> str:
    """The error shown for ``field``: inside the field's block, tied to its control."""
    control = doc.get_element_by_id(field)
    error = doc.get_element_by_id(f"{field}-error")
    assert f"{field}-error" in control.get("aria-describedby", "").split()
    if control.tag != "fieldset":
        assert control.get("aria-invalid") == "true"
        block = next(a for a in control.iterancestors() if "field" in a.classes)
        assert error in block.iterdescendants()
    return str(error.text_content())


async def my_request_ids(client: TestClient) -> list[str]:
    return [r["id"] for r in (await (await client.get("/api/requests")).json())["requests"]]


def data_of(doc: Any) -> dict[str, str]:
    """A page's first <dl class=data> as {term: definition}."""
    [dl] = doc.xpath("//dl[contains(@class, 'data')]")[:1]
    return {dt.text_content().strip(): dt.getnext().text_content().strip()
            for dt in dl.xpath("./dt")}


# -- the form ------------------------------------------------------------------


async def test_the_form_offers_the_patrons_pickup_places_and_every_field(
        client: TestClient) -> None:
    await log_in(client, ANA)
    doc = await open_page(client, "/requests/new")
    assert doc.xpath("//select[@id='pickup_location']/option/@value") == ["A", "A-1"]
    assert doc.xpath("//select[@id='pickup_location']/option[@selected]/text()") == \
        ["Library A"]
    assert doc.xpath("//option[@value='A-1']/text()") == ["Branch, Library A"]
    for name in ("title", "author", "year", "isbn", "issn", "material", "part_title",
                 "volume", "issue", "pages", "pickup_location", "max_cost", "note",
                 "service-loan", "service-copy", "copy_format-pdf", "copy_format-paper"):
        assert doc.xpath(f"//label[@for='{name}']"), name
    assert doc.xpath("//input[@id='service-loan']/@checked")
    [key] = doc.xpath("//input[@name='idempotency_key']/@value")
    assert len(key) >= 16
    buttons = form_of(doc).xpath(".//button[@type='submit']")
    # The first button is what Enter presses: it shows the fee, it never sends.
    assert [(b.get("value"), b.text_content()) for b in buttons] == \
        [("fee", "Show the fee"), ("send", "Send the request")]
    assert doc.xpath("//nav//a[@href='/requests/new']") and doc.xpath("//nav//a[@href='/requests']")
    assert not doc.xpath("//nav//a[@href='/inbox']")


async def test_the_address_fills_in_the_form(client: TestClient) -> None:
    await log_in(client, ANA)
    doc = await open_page(client, f"/requests/new?service=copy&title=Acta&isbn={BOTH}"
                                  "&part_title=On+lime+trees&pages=3-9&pickup_location=A-1")
    assert doc.get_element_by_id("title").get("value") == "Acta"
    assert doc.get_element_by_id("isbn").get("value") == BOTH
    assert doc.get_element_by_id("pages").get("value") == "3-9"
    assert doc.xpath("//input[@id='service-copy']/@checked")
    assert doc.xpath("//select[@id='pickup_location']/option[@selected]/@value") == ["A-1"]
    # An OpenURL from a database: an article becomes a copy with its citation.
    doc = await open_page(client, "/requests/new?url_ver=Z39.88-2004&rft.genre=article"
                                  "&rft.jtitle=Knjiznica&rft.atitle=Lipe&rft.volume=5"
                                  "&rft.spage=10&rft.epage=12&rft.issn=1318-2447")
    assert doc.xpath("//input[@id='service-copy']/@checked")
    assert doc.get_element_by_id("title").get("value") == "Knjiznica"
    assert doc.get_element_by_id("part_title").get("value") == "Lipe"
    assert doc.get_element_by_id("pages").get("value") == "10-12"


async def test_only_patrons_get_the_form(client: TestClient) -> None:
    response = await client.get("/requests/new", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"
    await log_in(client, "desk@c.example.org", STAFF_PASSWORD)
    response = await client.get("/requests/new", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"
    assert (await client.get("/requests", allow_redirects=False)).status == 303


# -- the fee before sending ------------------------------------------------------


async def test_the_fee_button_shows_the_fee_and_sends_nothing(client: TestClient) -> None:
    await log_in(client, ANA)
    response = await ask(client, "fee", isbn=FAR)
    assert response.status == 200
    doc = html_of(await response.text())
    fee = doc.get_element_by_id("fee")
    # B is in another region and country: the scheduled ILL fee.
    assert "Estimated fee: 7.00 EUR" in fee.text_content()
    assert "Far away" in fee.text_content()
    assert doc.xpath("//table[@class='fee']//tfoot//td")[0].text_content().strip() == "7.00"
    # What was typed is still there, and the form sends with the same key.
    assert doc.get_element_by_id("isbn").get("value") == FAR
    assert await my_request_ids(client) == []

    response = await ask(client, "fee", isbn=BOTH, pickup_location="A-1")
    doc = html_of(await response.text())
    # C, in A's region with free transfers, is asked first.
    assert "Estimated fee: free" in doc.get_element_by_id("fee").text_content()
    assert doc.xpath("//select[@id='pickup_location']/option[@selected]/@value") == ["A-1"]


async def test_a_copy_is_priced_by_its_pages(client: TestClient) -> None:
    await log_in(client, ANA)
    response = await ask(client, "fee", service="copy", title="Far away", isbn=FAR,
                         part_title="Chapter two", pages="11-30", copy_format="pdf")
    assert response.status == 200, said(await response.text())
    fee = html_of(await response.text()).get_element_by_id("fee").text_content()
    assert "20 pages" in fee


# -- sending -------------------------------------------------------------------


async def test_send_shows_the_receipt(client: TestClient) -> None:
    await log_in(client, ANA)
    response = await ask(client, isbn=BOTH, pickup_location="A-1", note="Second edition")
    number, doc = await receipt_of(client, response)
    assert number.startswith("ILL-")
    shown = data_of(doc)
    assert shown["Request number"] == number
    assert shown["Loan"].startswith("Čefurji raus!")
    assert shown["Pickup"] == "Branch, Library A"
    assert shown["Estimated fee"] == "free"
    assert shown["State"] == "received"
    assert shown["Note"] == "Second edition"
    assert ANA in doc.text_content()
    assert await my_request_ids(client) == [number]


async def test_a_double_submit_makes_one_request(client: TestClient) -> None:
    await log_in(client, ANA)
    doc = await open_page(client, "/requests/new")
    data = {name: str(value) for name, value in form_of(doc).form_values()}
    data |= {"service": "loan", "isbn": BOTH, "action": "send"}
    first = await client.post("/requests/new", data=data, allow_redirects=False)
    again = await client.post("/requests/new", data=data, allow_redirects=False)
    number, _doc = await receipt_of(client, first)
    assert again.headers["Location"] == f"/requests/{number}/receipt?again=1"
    doc = await open_page(client, again.headers["Location"])
    assert "sent this form already" in doc.text_content()
    assert await my_request_ids(client) == [number]


async def test_a_double_click_at_the_same_moment_makes_one_request(
        client: TestClient) -> None:
    await log_in(client, ANA)
    doc = await open_page(client, "/requests/new")
    data = {name: str(value) for name, value in form_of(doc).form_values()}
    data |= {"service": "loan", "isbn": FAR, "action": "send"}
    answers = await asyncio.gather(*(client.post("/requests/new", data=data,
                                                 allow_redirects=False) for _ in range(3)))
    locations = {a.headers["Location"].split("?")[0] for a in answers}
    assert [a.status for a in answers] == [303, 303, 303] and len(locations) == 1
    assert len(await my_request_ids(client)) == 1


# -- refusals --------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "status", "title", "field"), [
    ({"isbn": HOME}, 409, "Your own library has this title: reserve it there", None),
    ({"isbn": READING}, 409, "Every copy is for the reading room only", None),
    ({"isbn": FAR, "max_cost": "1,00"}, 409, "The cost is above the most you will pay",
     "max_cost"),
    ({"isbn": UNKNOWN}, 409, "No member library can lend this title", None),
    ({"title": "No such book anywhere"}, 409, "No member library can lend this title", None),
    ({"title": ""}, 422, None, "title"),
    ({"isbn": "12345"}, 422, None, "isbn"),
    ({"isbn": BOTH, "year": "nineteen-ninety"}, 422, None, "year"),
    ({"isbn": BOTH, "max_cost": "lots"}, 422, None, "max_cost"),
    ({"isbn": BOTH, "pickup_location": "B"}, 422, None, "pickup_location"),
    ({"service": "copy", "title": "Far away", "part_title": "Two", "pages": "many"}, 422,
     None, "pages"),
    ({"service": "copy", "title": "Far away"}, 422, None, "part_title"),
    ({"service": "copy", "isbn": FAR, "part_title": "Two", "pages": "3"}, 422, None, "title"),
])
@pytest.mark.parametrize("action", ["fee", "send"])
async def test_each_refusal_is_shown_on_the_form(
        client: TestClient, fields: dict[str, str], status: int, title: str | None,
        field: str | None, action: str) -> None:
    await log_in(client, ANA)
    response = await ask(client, action, **fields)
    assert response.status == status, said(await response.text())
    doc = html_of(await response.text())
    [alert] = doc.xpath("//div[@role='alert']")
    if title:
        assert alert.xpath(".//h2")[0].text_content() == title
    if field:
        assert error_next_to(doc, field).startswith("Error: ")
    if status == 422:
        assert alert.xpath(f".//a[@href='#{field}']")
    # What was typed stays, and nothing was stored.
    for name, value in fields.items():
        if name not in ("service", "pickup_location"):
            assert doc.get_element_by_id(name).get("value") == value
    assert await my_request_ids(client) == []


async def test_held_locally_says_where_to_reserve(client: TestClient) -> None:
    await log_in(client, ANA)
    response = await ask(client, isbn=HOME)
    alert = html_of(await response.text()).xpath("//div[@role='alert']")[0].text_content()
    assert "It is at Library A. Reserve it in the library's catalog" in alert


async def test_a_restricted_member_is_told_why(client: TestClient) -> None:
    await log_in(client, MOJCA)
    response = await ask(client, isbn=BOTH)
    assert response.status == 403
    alert = html_of(await response.text()).xpath("//div[@role='alert']")[0].text_content()
    assert "membership" in alert.lower() and "fee" in alert


async def test_a_duplicate_links_to_the_open_request(client: TestClient) -> None:
    await log_in(client, ANA)
    number, _doc = await receipt_of(client, await ask(client, isbn=BOTH))
    response = await ask(client, isbn=BOTH)
    assert response.status == 409
    doc = html_of(await response.text())
    assert doc.xpath("//div[@role='alert']//h2")[0].text_content() == \
        "You have an open request for this title already"
    assert doc.xpath(f"//div[@role='alert']//a[@href='/requests/{number}']")


# -- following and cancelling ------------------------------------------------------


async def test_my_requests_newest_first_with_history_and_cancel(client: TestClient,
                                                                work: Any) -> None:
    await log_in(client, ANA)
    older, _ = await receipt_of(client, await ask(client, isbn=BOTH))
    newer, _ = await receipt_of(client, await ask(client, isbn=FAR))
    await work()
    doc = await open_page(client, "/requests")
    rows = doc.xpath("//table/tbody/tr")
    assert [r.xpath("./td[1]/a/text()")[0] for r in rows] == [newer, older]
    assert rows[0].xpath("./td[last()]")[0].text_content() == "looking for a lender"

    doc = await open_page(client, f"/requests/{older}")
    history = [r.xpath("./td[2]")[0].text_content() for r in doc.xpath("//table/tbody/tr")]
    assert history[0] == "Request received"
    assert "Membership confirmed; looking for a lender" in history
    assert "Sent to a lender" not in history  # the lenders are the broker's business
    assert "Library C" not in doc.text_content()

    response = await post_form(client, f"/requests/{older}/cancel", {},
                               form_page=f"/requests/{older}")
    assert response.status == 303 and response.headers["Location"] == f"/requests/{older}"
    doc = await open_page(client, f"/requests/{older}")
    assert doc.xpath("//h2[@id='what-title']")[0].text_content() == "Loan: cancelled"
    assert not doc.xpath("//form[contains(@action, '/cancel')]")
    # Cancelling twice is refused on the page, with the API's status.
    response = await post_form(client, f"/requests/{older}/cancel", {},
                               form_page=f"/requests/{newer}")
    assert response.status == 409
    assert "cannot be cancelled" in await response.text()


async def test_someone_elses_request_is_not_found(client: TestClient) -> None:
    await log_in(client, ANA)
    number, _ = await receipt_of(client, await ask(client, isbn=BOTH))
    await log_out(client)
    await log_in(client, MOJCA)
    for path in (f"/requests/{number}", f"/requests/{number}/receipt", "/requests/ILL-0000-0000",
                 "/requests/not-a-number"):
        assert (await client.get(path)).status == 404, path
    response = await post_form(client, f"/requests/{number}/cancel", {}, form_page="/requests")
    assert response.status == 404
    await log_out(client)
    await log_in(client, ANA)
    assert (await client.get(f"/requests/{number}")).status == 200


# -- the inbox -------------------------------------------------------------------


async def test_the_lender_answers_unfilled_and_the_next_lender_gets_it(
        client: TestClient, work: Any) -> None:
    await log_in(client, ANA)
    number, _ = await receipt_of(client, await ask(client, isbn=BOTH, pickup_location="A-1"))
    await work()
    await log_out(client)

    await log_in(client, "desk@c.example.org", STAFF_PASSWORD)
    doc = await open_page(client, "/inbox")
    assert doc.xpath("//nav//a[@href='/inbox']")
    [row] = doc.xpath("//table[contains(@class, 'inbox')]/tbody/tr")
    cells = [td.text_content().strip() for td in row.xpath("./td")]
    assert cells[0].startswith(number)
    assert "Čefurji raus!" in cells[1]
    assert cells[2:5] == ["Library A", "Branch, Library A", "1 of 2"]
    assert cells[5].endswith("min")
    assert row.xpath(".//button[text()='Will supply']")
    assert row.xpath(f".//label[@for='reason-{number}']")
    response = await post_form(client, f"/inbox/{number}/answer",
                               {"answer": "unfilled", "reason": "damaged"}, form_page="/inbox")
    assert response.status == 303
    doc = await open_page(client, response.headers["Location"])
    assert f"{number}: unfilled" in doc.xpath("//p[@role='status']")[0].text_content()
    await work()
    doc = await open_page(client, "/inbox")
    assert not doc.xpath("//table[contains(@class, 'inbox')]")
    assert "No orders are waiting" in doc.text_content()
    await log_out(client)

    await log_in(client, "desk@b.example.org", STAFF_PASSWORD)
    doc = await open_page(client, "/inbox")
    [row] = doc.xpath("//table[contains(@class, 'inbox')]/tbody/tr")
    assert row.xpath("./td[1]/a/text()") == [number]
    assert row.xpath("./td[5]")[0].text_content() == "2 of 2"
    # The order's page shows the staff the rota with its reasons and the lenders' answers.
    doc = await open_page(client, f"/requests/{number}")
    text = doc.text_content()
    assert "Rota" in text and "A lender could not supply it: Library C (damaged)" in text
    response = await post_form(client, f"/inbox/{number}/answer", {"answer": "will_supply"},
                               form_page="/inbox")
    assert response.status == 303
    doc = await open_page(client, "/inbox")
    [row] = doc.xpath("//table[contains(@class, 'inbox')]/tbody/tr")
    assert "Loan: you will supply it" in row.xpath("./td[1]")[0].text_content()
    assert not row.xpath(".//button[text()='Will supply']")
    await log_out(client)

    # The patron never saw C's no: only that a library will supply it.
    await log_in(client, ANA)
    doc = await open_page(client, f"/requests/{number}")
    assert doc.xpath("//h2[@id='what-title']")[0].text_content() == \
        "Loan: a library will supply it"
    assert "damaged" not in doc.text_content()


async def test_the_inbox_refuses_what_is_not_its_own(client: TestClient, work: Any) -> None:
    await log_in(client, ANA)
    number, _ = await receipt_of(client, await ask(client, isbn=BOTH))
    await work()
    doc = await open_page(client, "/inbox", 403)
    assert "Only for library staff" in doc.text_content()
    await log_out(client)
    assert (await client.get("/inbox", allow_redirects=False)).headers["Location"] == "/login"
    # B is second in the rota: the order is not in its inbox yet.
    await log_in(client, "desk@b.example.org", STAFF_PASSWORD)
    response = await post_form(client, f"/inbox/{number}/answer", {"answer": "unfilled"},
                               form_page="/inbox")
    assert response.status == 403
    assert "not in your library's inbox" in html_of(await response.text()).text_content()
    await log_out(client)
    await log_in(client, "desk@c.example.org", STAFF_PASSWORD)
    response = await post_form(client, f"/inbox/{number}/answer", {"answer": "maybe"},
                               form_page="/inbox")
    assert response.status == 422


# -- CSRF --------------------------------------------------------------------------


async def test_posts_without_the_form_token_are_refused(client: TestClient,
                                                        work: Any) -> None:
    await log_in(client, ANA)
    number, _ = await receipt_of(client, await ask(client, isbn=BOTH))
    await work()
    form = {"service": "loan", "isbn": FAR, "action": "send"}
    for path, data in (("/requests/new", form), (f"/requests/{number}/cancel", {})):
        for token in (None, "x" * 43):
            sent = data if token is None else {**data, "csrf": token}
            response = await client.post(path, data=sent, allow_redirects=False)
            assert response.status == 403, path
            assert "The form has expired" in await response.text()
    assert await my_request_ids(client) == [number]
    doc = await open_page(client, f"/requests/{number}")
    assert doc.xpath("//h2[@id='what-title']")[0].text_content() == "Loan: looking for a lender"
    # The refusal page links back to the address it refused: it leads somewhere.
    response = await client.get(f"/requests/{number}/cancel", allow_redirects=False)
    assert response.headers["Location"] == f"/requests/{number}"
    await log_out(client)

    await log_in(client, "desk@c.example.org", STAFF_PASSWORD)
    response = await client.post(f"/inbox/{number}/answer", data={"answer": "unfilled"},
                                 allow_redirects=False)
    assert response.status == 403
    doc = await open_page(client, "/inbox")
    assert len(doc.xpath("//table[contains(@class, 'inbox')]/tbody/tr")) == 1
    response = await client.get(f"/inbox/{number}/answer", allow_redirects=False)
    assert response.headers["Location"] == "/inbox"


# -- one walk in a real browser ----------------------------------------------------


def test_a_patron_asks_and_the_lender_answers_in_chromium(
        consortium_file: Path, redis_url: str, namespace: str) -> None:
    with populated_site(consortium_file, redis_url, namespace) as site:
        from playwright.sync_api import expect

        base = site.base
        browser = site.launch()
        page = browser.new_page(viewport={"width": 1100, "height": 800})

        def shot(name: str) -> None:
            screenshot(page, name)

        log_in_as(page, base, ANA, PASSWORD)
        page.get_by_role("link", name="Ask for a loan or copy").click()
        expect(page.get_by_role("heading", name="Ask for a loan or a copy")).to_be_visible()
        # A loan hides the copy's fields (CSS only); a copy shows them.
        expect(page.get_by_label("Title of the article or chapter")).to_be_hidden()
        page.get_by_label("A copy of an article").check()
        expect(page.get_by_label("Title of the article or chapter")).to_be_visible()
        shot("20-request-form-copy")
        page.get_by_label("A loan").check()
        page.get_by_label("ISBN").fill(BOTH)
        page.get_by_label("Pickup place", exact=True).select_option("A-1")
        page.get_by_label("Note for the library").fill("Any edition will do.")
        shot("21-request-form")
        page.get_by_role("button", name="Show the fee").click()
        expect(page.get_by_role("heading", name="Estimated fee: free")).to_be_visible()
        expect(page.get_by_label("ISBN")).to_have_value(BOTH)
        shot("22-request-fee")
        page.get_by_role("button", name="Send the request").click()
        expect(page.get_by_role("heading", name="Your request is sent")).to_be_visible()
        number = page.locator("#request-number").inner_text()
        expect(page.locator("dl.data")).to_contain_text("Branch, Library A")
        shot("23-request-receipt")
        page.get_by_role("link", name="My requests").first.click()
        expect(page.get_by_role("link", name=number)).to_be_visible()
        shot("24-my-requests")

        # A title the home library holds: the refusal says where to reserve it.
        page.get_by_role("link", name="Ask for a loan or copy").click()
        page.get_by_label("ISBN").fill(HOME)
        page.get_by_role("button", name="Send the request").click()
        expect(page.get_by_role("alert")).to_contain_text("It is at Library A")
        shot("25-request-held-locally")
        page.get_by_label("ISBN").fill(FAR)
        page.get_by_label("The most you will pay").fill("1,00")
        page.get_by_role("button", name="Show the fee").click()
        expect(page.locator("#max_cost-error")).to_contain_text("7.00 EUR")
        shot("25b-request-over-cost")

        run_outbox(redis_url, namespace, consortium_file)
        page.get_by_role("link", name="My requests").click()
        page.get_by_role("link", name=number).click()
        expect(page.get_by_role("heading", name="Loan: looking for a lender")).to_be_visible()
        shot("26-request-detail")
        page.get_by_role("button", name="Log out").click()

        log_in_as(page, base, "desk@c.example.org", STAFF_PASSWORD)
        page.get_by_role("link", name="Inbox").click()
        expect(page.get_by_role("heading", name="Inbox of Library C")).to_be_visible()
        row = page.locator("table.inbox tbody tr", has_text=number)
        expect(row).to_contain_text("1 of 2")
        shot("27-inbox")
        row.get_by_label("Reason").fill("damaged")
        row.get_by_role("button", name="Unfilled").click()
        expect(page.get_by_role("status")).to_contain_text(f"{number}: unfilled")
        shot("28-inbox-answered")
        run_outbox(redis_url, namespace, consortium_file)
        page.reload()
        expect(page.get_by_text("No orders are waiting")).to_be_visible()
        page.get_by_role("button", name="Log out").click()

        log_in_as(page, base, "desk@b.example.org", STAFF_PASSWORD)
        page.get_by_role("link", name="Inbox").click()
        expect(page.locator("table.inbox tbody tr", has_text=number)).to_contain_text(
            "2 of 2")
        shot("29-inbox-next-lender")
        page.get_by_role("link", name=number).click()
        expect(page.get_by_role("heading", name="Rota")).to_be_visible()
        shot("30-order-detail")
        browser.close()
