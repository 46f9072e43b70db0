"""The pages' language: the browser's Accept-Language, overridden by the switcher's
cookie, overridden by a logged-in account's own choice; English for anything else. The
switcher goes back only to a page of the broker. What the core says (refusals, why a
request is stuck, what a library lends) reaches a page in the page's language."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import lxml.html
import pytest
from aiohttp.test_utils import TestClient

from broker.domain.accounts import Role
from broker.domain.request import ItemDescription, Request
from broker.domain.states import Event, Service, State
from broker.store.keys import request_id_for
from broker.web import appkeys
from broker.web.languages import browser_languages, local_path

from builders import PASSWORD


async def page(client: TestClient, path: str = "/", **headers: str) -> Any:
    response = await client.get(path, headers=headers, allow_redirects=False)
    assert response.status == 200, await response.text()
    return lxml.html.fromstring(await response.text())


def heading(doc: Any) -> str:
    return str(doc.xpath("string(//main//h1)")).strip()


def token(doc: Any) -> str:
    return str(doc.xpath("//form//input[@name='csrf']/@value")[0])


async def switch(client: TestClient, to: str, next_page: str = "/") -> Any:
    doc = await page(client, "/")
    return await client.post("/language", data={"csrf": token(doc), "to": to,
                                                "next": next_page}, allow_redirects=False)


async def log_in(client: TestClient, email: str) -> None:
    doc = await page(client, "/login")
    response = await client.post("/login", data={"csrf": token(doc), "email": email,
                                                 "password": PASSWORD},
                                 allow_redirects=False)
    assert response.status == 303


def test_accept_language_is_read_by_quality() -> None:
    assert browser_languages("de;q=0.5, lv-LV, sl;q=0.9, fr;q=0") == ["lv-LV", "sl", "de"]
    assert browser_languages("") == []


async def test_without_accept_language_the_pages_are_english(client: TestClient) -> None:
    doc = await page(client, "/login")
    assert doc.get("lang") == "en"
    assert heading(doc) == "Log in"


@pytest.mark.parametrize(("accept", "lang", "title"), [
    ("sl-SI,sl;q=0.9,en;q=0.8", "sl", "Prijava"),
    ("lv", "lv", "Pieteikties"),
    ("fr-BE, nl;q=0.7", "nl", "Inloggen"),
    ("sv-FI", "sv", "Logga in"),
    ("fr, de;q=0.9", "en", "Log in"),
    ("*", "en", "Log in"),
])
async def test_the_browsers_language_is_chosen_among_the_five(
        client: TestClient, accept: str, lang: str, title: str) -> None:
    doc = await page(client, "/login", **{"Accept-Language": accept})
    assert doc.get("lang") == lang
    assert heading(doc) == title
    assert doc.xpath("string(//nav//a[@href='/register'])") != ""


async def test_the_switchers_cookie_overrides_the_browser(client: TestClient) -> None:
    response = await switch(client, "nl", "/login")
    assert response.status == 303 and response.headers["Location"] == "/login"
    doc = await page(client, "/login", **{"Accept-Language": "sv"})
    assert doc.get("lang") == "nl" and heading(doc) == "Inloggen"
    # A language the broker does not speak changes nothing.
    await switch(client, "de")
    assert (await page(client, "/login")).get("lang") == "nl"


async def test_a_logged_in_accounts_language_wins_and_the_switcher_keeps_it(
        client: TestClient) -> None:
    await log_in(client, "ana@example.org")
    await switch(client, "lv")
    accounts = client.server.app[appkeys.ACCOUNTS].store
    ana = await accounts.find("ana@example.org")
    assert ana is not None and ana.language == "lv"
    # Another browser (no cookie), asking for Swedish, still gets Ana's Latvian.
    client.session.cookie_jar.clear(lambda cookie: cookie.key == "lang")
    doc = await page(client, "/requests/new", **{"Accept-Language": "sv"})
    assert doc.get("lang") == "lv"
    assert heading(doc) == "Pieprasīt aizņēmumu vai kopiju"


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
    "", "login",
])
async def test_the_switcher_goes_back_only_to_the_brokers_own_pages(
        client: TestClient, target: str) -> None:
    response = await switch(client, "sl", target)
    assert response.status == 303
    assert response.headers["Location"] == "/"
    assert local_path("/requests?state=open") == "/requests?state=open"


async def test_the_switcher_needs_the_form_token(client: TestClient) -> None:
    await page(client, "/")
    response = await client.post("/language", data={"to": "sl", "next": "/"},
                                 allow_redirects=False)
    assert response.status == 403


async def test_the_json_api_stays_english(client: TestClient) -> None:
    english = await client.get("/api/libraries/NOPE")
    asked = await client.get("/api/libraries/NOPE", headers={"Accept-Language": "sl"})
    assert english.status == asked.status == 404
    assert await asked.json() == await english.json()


# -- what the core says, in the page's language ----------------------------------------
# The domain and the services refuse in English (the API's words); a page writes the
# same refusal, with its values, in the reader's language.


async def test_a_refused_request_form_says_why_in_slovenian(client: TestClient) -> None:
    await log_in(client, "ana@example.org")
    await switch(client, "sl")
    doc = await page(client, "/requests/new")
    response = await client.post("/requests/new", data={
        "csrf": token(doc), "service": "loan", "isbn": "12345", "year": "lani",
        "action": "fee"}, allow_redirects=False)
    assert response.status == 422
    doc = lxml.html.fromstring(await response.text())
    assert doc.get("lang") == "sl"
    assert doc.get_element_by_id("isbn-error").text_content() == \
        "Napaka: '12345' ni veljaven ISBN"
    assert doc.get_element_by_id("year-error").text_content() == \
        "Napaka: letnica, na primer 1998, ali pustite prazno"
    # The API keeps its English words for the same input.
    api = await client.post("/api/requests", json={"service": "loan",
                                                   "item": {"isbn": "12345"}},
                            headers={"Accept-Language": "sl"})
    assert (await api.json())["errors"]["item.isbn"] == "'12345' is not a valid ISBN"


async def test_registration_and_login_refusals_are_in_swedish(client: TestClient) -> None:
    await switch(client, "sv")
    doc = await page(client, "/register")
    response = await client.post("/register", data={
        "csrf": token(doc), "email": "ana", "given_name": "", "password": "x"})
    doc = lxml.html.fromstring(await response.text())
    assert response.status == 422
    assert doc.get_element_by_id("surname-error").text_content() == \
        "Fel: obligatoriskt"
    assert doc.get_element_by_id("email-error").text_content() == \
        "Fel: inte en giltig e-postadress"
    doc = await page(client, "/login")
    response = await client.post("/login", data={
        "csrf": token(doc), "email": "ana@example.org", "password": "fel-lösenord"})
    assert response.status == 401
    alert = lxml.html.fromstring(await response.text()).xpath("//div[@role='alert']")[0]
    assert "fel e-postadress eller lösenord" in alert.text_content()


async def test_the_dashboard_says_why_a_request_is_stuck_in_slovenian(
        client: TestClient) -> None:
    app = client.server.app
    await app[appkeys.ACCOUNTS].add_staff("cora@example.org", "Cora", "Kos",
                                          Role.COORDINATOR, None, "stamp-lipa-41")
    store = app[appkeys.STORE]
    at = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    request = await store.create(Request(
        id=request_id_for("p-ana"), service=Service.LOAN, state=State.NEW, version=0,
        patron_id="p-ana", home_library="A", pickup_location="A", created_at=at,
        updated_at=at, item=ItemDescription(title="Alamut")), "patron:p-ana")
    request = await store.apply(request, Event.SUBMITTED, "broker", at=at)
    request = await store.apply(request, Event.BORROWER_CONFIRMED, "register:A", at=at)
    await store.apply(request, Event.SENT_TO_LENDER, "broker", at=at,
                      changes={"lender": "C", "rota_position": "0"},
                      data={"lender": "C", "answer_by": "2026-03-03T08:00:00+00:00"})
    doc = await page(client, "/login")
    await client.post("/login", data={"csrf": token(doc), "email": "cora@example.org",
                                      "password": "stamp-lipa-41"})
    await switch(client, "sl")
    doc = await page(client, "/coordinator")
    [row] = doc.xpath("//tr[@class='stuck']")
    assert row.xpath("string(.//span[@class='why'])") == \
        "C ni odgovoril do roka 2026-03-03 08:00 UTC"
    assert "poslano dajalcu" in row.xpath("string(./td[2])")
    options = doc.xpath("//select[@id='state']/option/text()")
    assert options[:3] == ["vse", "nova", "preverjanje"]
    listed = await (await client.get("/api/coordinator/requests")).json()
    assert listed["requests"][0]["attention"]["text"] == \
        "no answer from C since the deadline 2026-03-03 08:00 UTC"


async def test_the_start_page_says_what_each_library_lends_in_words(
        served: TestClient) -> None:
    for accept, lends in [("sl", ["knjige", "knjige, revije in časopisi", "knjige"]),
                          ("sv", ["böcker", "böcker, tidskrifter", "böcker"]),
                          ("en", ["books", "books, journals and magazines", "books"])]:
        doc = await page(served, "/", **{"Accept-Language": accept})
        assert [td.text_content() for td in doc.xpath("//main//tbody/tr/td[4]")] == lends
