"""The pages in each of the five languages in Chromium: the browser's language picks
the start page's, the login page's and the request form's words, and the switcher
changes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from builders import PASSWORD
from pages_harness import ANA, populated_site, screenshot

# The browser's locale, and what the start page, the login page and the request form
# say in its language.
LANGUAGES = {
    "en": ("en-GB", "Member libraries", "Log in", "Ask for a loan or a copy"),
    "sl": ("sl-SI", "Knjižnice članice", "Prijava", "Zaprosite za izposojo ali kopijo"),
    "lv": ("lv-LV", "Dalībbibliotēkas", "Pieteikties", "Pieprasīt aizņēmumu vai kopiju"),
    "nl": ("nl-NL", "Aangesloten bibliotheken", "Inloggen", "Een lening of kopie aanvragen"),
    "sv": ("sv-SE", "Medlemsbibliotek", "Logga in", "Beställ ett lån eller en kopia"),
}


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_the_start_login_and_request_pages_in_each_language_in_chromium(
        consortium_file: Path, redis_url: str, namespace: str, language: str) -> None:
    locale, libraries, log_in, ask = LANGUAGES[language]
    with populated_site(consortium_file, redis_url, namespace) as site:
        from playwright.sync_api import expect

        browser = site.launch()
        try:
            context = browser.new_context(locale=locale,
                                          viewport={"width": 1100, "height": 800})
            page = context.new_page()
            page.goto(site.base + "/")
            expect(page.locator("html")).to_have_attribute("lang", language)
            expect(page.get_by_role("table")).to_contain_text(libraries)
            screenshot(page, f"60-{language}-start")

            page.goto(site.base + "/login")
            expect(page.get_by_role("heading", name=log_in)).to_be_visible()
            screenshot(page, f"61-{language}-login")
            page.locator("#email").fill(ANA)
            page.locator("#password").fill(PASSWORD)
            page.locator("main form button[type=submit]").click()
            expect(page).to_have_url(site.base + "/account")

            page.goto(site.base + "/requests/new")
            expect(page.get_by_role("heading", name=ask)).to_be_visible()
            screenshot(page, f"62-{language}-request-form")
        finally:
            browser.close()


def test_the_switcher_changes_the_language_and_comes_back_in_chromium(
        consortium_file: Path, redis_url: str, namespace: str) -> None:
    with populated_site(consortium_file, redis_url, namespace) as site:
        from playwright.sync_api import expect

        browser = site.launch()
        try:
            page = browser.new_page(locale="en-US")
            page.goto(site.base + "/login")
            expect(page.get_by_role("heading", name="Log in")).to_be_visible()
            page.get_by_role("button", name="Svenska").click()
            expect(page).to_have_url(site.base + "/login")
            expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
            expect(page.locator("html")).to_have_attribute("lang", "sv")
            screenshot(page, "63-switched-to-swedish")
            page.get_by_role("button", name="English").click()
            expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        finally:
            browser.close()
