"""The pages' language: the browser's Accept-Language, overridden by the switcher's
cookie, overridden by a logged-in account's own choice; English for anything else. The
switcher goes back only to a page of the broker."""

from __future__ import annotations

from typing import Any

import lxml.html
import pytest
from aiohttp.test_utils import TestClient

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
