"""The patrons' account pages, driven as a browser would: form posts with the CSRF
cookie and field, against a real Redis; then one walk through them in Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis import Redis as SyncRedis
from rq import Queue

from broker.domain.accounts import Role
from broker.jobs.dispatcher import Dispatcher
from broker.services.mail import Mail, OutboxMailer
from broker.settings import Settings
from broker.store.keys import SHARDS, Keys
from broker.web import appkeys

from builders import a_request, write_consortium
from pages_harness import PROJECT, app_for, chromium_site, forget_namespace, screenshot

CATEGORIES = ('\n[[categories]]\ncode = "adult"\nname = "Adult"\n'
              '\n[[categories]]\ncode = "student"\nname = "Student"\n')

# The registration form as a person fills it in (field names of register.html).
ANA = {
    "email": "Ana.Cuk@Example.org", "given_name": "Ana", "surname": "Čuk",
    "birth_date": "1990-04-01", "category": "adult", "home_library": "A",
    "street": "Trubarjeva 1", "postcode": "1000", "city": "Ljubljana", "country": "SI",
    "card_number": "0123456", "password": "lipa-lipa-7", "consent": "yes",
}


def settings_for(tmp_path: Path, redis_url: str, namespace: str, **more: Any) -> Settings:
    text = write_consortium(tmp_path).read_text().replace("[[regions]]", CATEGORIES +
                                                          "[[regions]]", 1)
    return Settings(consortium_path=write_consortium(tmp_path, text), data_dir=tmp_path,
                    redis_url=redis_url, namespace=namespace,
                    **{"show_outbox": True, **more})


@pytest.fixture
async def make_client(tmp_path: Path, redis_url: str, namespace: str
                      ) -> AsyncIterator[Callable[..., Any]]:
    clients: list[TestClient] = []

    async def make(**more: Any) -> TestClient:
        client = TestClient(TestServer(app_for(settings_for(tmp_path, redis_url, namespace,
                                                            **more))))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
    forget_namespace(redis_url, namespace)


@pytest.fixture
async def client(make_client: Callable[..., Any]) -> TestClient:
    return await make_client()


# -- helpers -------------------------------------------------------------------


def html_of(text: str) -> Any:
    return lxml.html.fromstring(text)


def csrf_cookie(client: TestClient) -> str | None:
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/")).get("ill_csrf")
    return cookie.value if cookie else None


async def open_form(client: TestClient, path: str) -> tuple[Any, str]:
    """GET a form page; its hidden CSRF field must equal the cookie it set."""
    response = await client.get(path)
    assert response.status == 200, await response.text()
    doc = html_of(await response.text())
    [field] = doc.xpath("//form//input[@name='csrf']")[:1]
    assert field.get("value") == csrf_cookie(client)
    return doc, str(field.get("value"))


async def post_form(client: TestClient, path: str, data: dict[str, str], *,
                    form_page: str | None = None) -> Any:
    """Open the page the form is on (for its CSRF token), then post the form."""
    _doc, token = await open_form(client, form_page or path)
    return await client.post(path, data={**data, "csrf": token}, allow_redirects=False)


async def queued_mails(client: TestClient) -> list[dict[str, Any]]:
    """The mail jobs the broker queued, as a worker would send them."""
    app = client.server.app
    redis, keys = app[appkeys.REDIS], app[appkeys.KEYS]
    found = []
    for shard in range(SHARDS):
        for raw in await redis.lrange(keys.outbox(shard), 0, -1):
            entry = json.loads(raw)
            if entry["name"] == "send_mail":
                found.append(entry["args"])
    return found


def link_token(mail: dict[str, Any], path: str) -> str:
    word = next(word for word in mail["body"].split() if f"/{path}?token=" in word)
    return word.split("token=", 1)[1]


async def register(client: TestClient, data: dict[str, str] = ANA) -> Any:
    return await post_form(client, "/register", data)


async def register_and_activate(client: TestClient, data: dict[str, str] = ANA) -> None:
    assert (await register(client, data)).status == 200
    [mail] = [m for m in await queued_mails(client)
              if m["to"].casefold() == data["email"].casefold()]
    token = link_token(mail, "activate")
    response = await post_form(client, "/activate", {"token": token},
                               form_page=f"/activate?token={token}")
    assert response.status == 200, await response.text()


async def log_in(client: TestClient, email: str = ANA["email"],
                 password: str = ANA["password"]) -> Any:
    return await post_form(client, "/login", {"email": email, "password": password})


def error_next_to(doc: Any, field: str) -> str:
    """The error shown for ``field``: inside the field's own block, and tied to its
    control with aria-describedby."""
    control = doc.get_element_by_id(field)
    error = doc.get_element_by_id(f"{field}-error")
    assert f"{field}-error" in control.get("aria-describedby", "").split()
    if control.tag != "fieldset":
        assert control.get("aria-invalid") == "true"
        block = next(a for a in control.iterancestors() if "field" in a.classes)
        assert error in block.iterdescendants()
    return str(error.text_content())


# -- the whole way through ---------------------------------------------------------


async def test_register_activate_log_in_see_the_account_and_log_out(
        client: TestClient) -> None:
    doc, _token = await open_form(client, "/register")
    assert doc.get("lang") == "en"
    # Every control has its label; the library is chosen from the members, by region.
    for name in ("email", "given_name", "surname", "birth_date", "category", "street",
                 "postcode", "city", "country", "home_library", "card_number", "password",
                 "consent"):
        assert doc.xpath(f"//label[@for='{name}']"), name
    assert doc.get_element_by_id("birth_date").get("type") == "date"
    assert doc.get_element_by_id("consent").get("type") == "checkbox"
    assert doc.xpath("//select[@id='home_library']/optgroup[@label='Region one']"
                     "/option[@value='A']/text()") == ["Library A"]
    assert doc.xpath("//select[@id='category']/option[@value='student']")
    assert doc.xpath("//fieldset/legend")

    response = await register(client)
    assert response.status == 200
    assert "Check your e-mail" in await response.text()
    [mail] = await queued_mails(client)
    token = link_token(mail, "activate")

    # Opening the link only shows the form: a link preview must not use the token up.
    response = await client.get(f"/activate?token={token}")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    text = await response.text()
    assert "registered you at the library desk" in text
    assert (await log_in(client)).status == 401  # not active yet
    response = await post_form(client, "/activate", {"token": token},
                               form_page=f"/activate?token={token}")
    assert response.status == 200
    doc = html_of(await response.text())
    assert doc.xpath("//a[@href='/login']")

    old_csrf = csrf_cookie(client)
    response = await log_in(client, "ANA.CUK@example.org")
    assert response.status == 303 and response.headers["Location"] == "/account"
    session = response.cookies["ill_session"]
    assert session["httponly"] and session["samesite"] == "Lax"
    assert csrf_cookie(client) != old_csrf  # a new form token with the new session

    response = await client.get("/account", allow_redirects=False)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = html_of(await response.text()).text_content()
    for shown in ("Ana Čuk", "Ana.Cuk@example.org", "1990-04-01", "Trubarjeva 1",
                  "1000 Ljubljana", "Library A", "0123456", "Adult"):
        assert shown in page, shown
    doc = html_of(await response.text())
    assert doc.xpath("//a[@href='/api/me/export']")
    assert doc.xpath("//form[@action='/account/delete']//input[@type='checkbox']")
    export = await client.get("/api/me/export")
    assert (await export.json())["account"]["surname"] == "Čuk"

    response = await post_form(client, "/logout", {}, form_page="/account")
    assert response.status == 303 and response.headers["Location"] == "/"
    response = await client.get("/account", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"
    assert (await client.get("/api/me")).status == 401


async def test_the_navigation_knows_who_is_logged_in(client: TestClient) -> None:
    doc = html_of(await (await client.get("/")).text())
    assert doc.xpath("//nav//a[@href='/login']") and not doc.xpath("//form[@action='/logout']")
    assert "Library A" in doc.text_content()  # the library list, in the layout
    await register_and_activate(client)
    await log_in(client)
    doc = html_of(await (await client.get("/")).text())
    [logout] = doc.xpath("//nav//form[@action='/logout']")
    assert logout.xpath(".//input[@name='csrf']/@value") == [csrf_cookie(client)]
    assert doc.xpath("//nav//a[@href='/account']/text()") == ["My account (Ana)"]
    # A logged-in person opening /login goes to the account.
    response = await client.get("/login", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/account"


async def test_the_form_token_cookie(client: TestClient) -> None:
    response = await client.get("/login")
    cookie = response.cookies["ill_csrf"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert len(cookie.value) >= 43
    # The same token for the next form: two tabs both work.
    response = await client.get("/register")
    assert "ill_csrf" not in response.cookies
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy


# -- registration errors ---------------------------------------------------------


@pytest.mark.parametrize(("change", "field"), [
    ({"email": "not-an-address"}, "email"),
    ({"given_name": ""}, "given_name"),
    ({"surname": "x" * 101}, "surname"),
    ({"surname": "Čuk\x07"}, "surname"),
    ({"birth_date": ""}, "birth_date"),
    ({"birth_date": "2999-01-01"}, "birth_date"),
    ({"birth_date": "01.04.1990"}, "birth_date"),
    ({"category": "vip"}, "category"),
    ({"home_library": ""}, "home_library"),
    ({"street": ""}, "street"),
    ({"country": " "}, "country"),
    ({"consent": ""}, "consent"),
    ({"password": "kratko"}, "password"),
    ({"password": "my-ana.cuk-99"}, "password"),
    ({"card_number": ""}, "card_number"),
])
async def test_each_registration_error_is_shown_next_to_its_field(
        client: TestClient, change: dict[str, str], field: str) -> None:
    data = {**ANA, **change}
    response = await register(client, data)
    assert response.status == 422
    text = await response.text()
    doc = html_of(text)
    assert error_next_to(doc, field).startswith("Error: ")
    # The summary links to the field.
    assert doc.xpath(f"//div[@role='alert']//a[@href='#{field}']")
    # What was typed is kept, except the password.
    for name in ("given_name", "surname", "street", "card_number"):
        if name != field:
            assert doc.get_element_by_id(name).get("value") == data[name]
    assert doc.xpath("//select[@id='home_library']//option[@selected]/@value") == \
        [data["home_library"]]
    assert (doc.get_element_by_id("consent").get("checked") is not None) == \
        (data["consent"] == "yes")
    assert doc.get_element_by_id("password").get("value") is None
    assert data["password"] not in text
    assert await queued_mails(client) == []
    assert await client.server.app[appkeys.ACCOUNTS].store.find(ANA["email"]) is None


async def test_an_empty_registration_names_every_field(client: TestClient) -> None:
    response = await post_form(client, "/register", {}, form_page="/register")
    assert response.status == 422
    doc = html_of(await response.text())
    for field in ("email", "given_name", "surname", "birth_date", "category", "street",
                  "postcode", "city", "country", "home_library", "password", "consent",
                  "card_number"):
        error_next_to(doc, field)


async def test_a_taken_email_is_shown_at_the_email_field(client: TestClient) -> None:
    assert (await register(client)).status == 200
    response = await register(client, {**ANA, "email": "ANA.CUK@EXAMPLE.ORG",
                                       "home_library": "B"})
    assert response.status == 409
    assert "already" in error_next_to(html_of(await response.text()), "email")


# -- CSRF --------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["no cookie, no field", "field only", "cookie only",
                                  "mismatch", "not a token"])
async def test_a_form_without_its_token_pair_is_refused(client: TestClient, case: str) -> None:
    await open_form(client, "/register")
    good = csrf_cookie(client)
    assert good is not None
    other = "x" * 43
    cookie, field = {"no cookie, no field": (None, None), "field only": (None, good),
                     "cookie only": (good, None), "mismatch": (good, other),
                     "not a token": ("é" * 43, "é" * 43)}[case]
    client.session.cookie_jar.clear()
    if cookie is not None:
        client.session.cookie_jar.update_cookies({"ill_csrf": cookie})
    data = dict(ANA) if field is None else {**ANA, "csrf": field}
    response = await client.post("/register", data=data)
    assert response.status == 403
    assert "The form has expired" in await response.text()
    assert await queued_mails(client) == []
    assert await client.server.app[appkeys.ACCOUNTS].store.find(ANA["email"]) is None


@pytest.mark.parametrize("path", ["/register", "/activate", "/login", "/logout",
                                  "/account/delete", "/reset", "/reset/confirm"])
async def test_every_form_checks_the_token(client: TestClient, path: str) -> None:
    await open_form(client, "/login")
    response = await client.post(path, data={"csrf": "y" * 43, "email": ANA["email"]},
                                 allow_redirects=False)
    assert response.status == 403


async def test_a_forged_logout_or_delete_changes_nothing(client: TestClient) -> None:
    await register_and_activate(client)
    await log_in(client)
    for path in ("/logout", "/account/delete"):
        response = await client.post(path, data={"confirm": "yes"}, allow_redirects=False)
        assert response.status == 403
    assert (await client.get("/api/me")).status == 200


# -- activation, login, reset ------------------------------------------------------


async def test_bad_activation_links(client: TestClient) -> None:
    response = await client.get("/activate")
    assert response.status == 400 and "no activation token" in await response.text()
    response = await post_form(client, "/activate", {"token": "00" + "a" * 40},
                               form_page="/activate?token=00aaaa")
    assert response.status == 400
    assert "This link does not work" in await response.text()
    await register_and_activate(client)
    [mail] = await queued_mails(client)
    token = link_token(mail, "activate")
    response = await post_form(client, "/activate", {"token": token},
                               form_page=f"/activate?token={token}")
    assert response.status == 400 and "used already" in await response.text()


async def test_a_patron_registered_at_the_desk_chooses_the_password(
        client: TestClient) -> None:
    accounts = client.server.app[appkeys.ACCOUNTS]
    staff = await accounts.add_staff("desk@a.example.org", "Desk", "A", Role.STAFF, "A",
                                     "stamp-lipa-41")
    raw: dict[str, Any] = {k: v for k, v in ANA.items()
                           if k not in ("password", "street", "postcode", "city", "country")}
    raw |= {"consent": True, "address": {"street": "Trubarjeva 1", "postcode": "1000",
                                         "city": "Ljubljana", "country": "SI"}}
    await accounts.register_at_desk(raw, staff)
    [mail] = await queued_mails(client)
    token = link_token(mail, "activate")
    response = await post_form(client, "/activate", {"token": token, "password": ""},
                               form_page=f"/activate?token={token}")
    assert response.status == 422
    assert error_next_to(html_of(await response.text()), "password") == "Error: required"
    response = await post_form(client, "/activate", {"token": token, "password": "kratko"},
                               form_page=f"/activate?token={token}")
    assert response.status == 422
    assert "at least 8" in error_next_to(html_of(await response.text()), "password")
    response = await post_form(client, "/activate", {"token": token,
                                                     "password": "moje-geslo-1"},
                               form_page=f"/activate?token={token}")
    assert response.status == 200
    assert (await log_in(client, ANA["email"], "moje-geslo-1")).status == 303


async def test_login_errors_are_shown_in_the_form(client: TestClient) -> None:
    await register_and_activate(client)
    response = await log_in(client, "not-an-address", "x")
    assert response.status == 422
    assert error_next_to(html_of(await response.text()), "email")
    response = await log_in(client, ANA["email"], "")
    assert response.status == 422
    for _ in range(5):
        response = await log_in(client, ANA["email"], "wrong-password")
        assert response.status == 401
        doc = html_of(await response.text())
        assert "wrong e-mail address or password" in doc.xpath("//div[@role='alert']")[0] \
            .text_content()
        assert doc.get_element_by_id("email").get("value") == ANA["email"]
    response = await log_in(client)
    assert response.status == 429
    assert "too many failed logins" in await response.text()
    assert "ill_session" not in response.cookies


async def test_password_reset_by_mailed_link(client: TestClient) -> None:
    await register_and_activate(client)
    answers = []
    for email in (ANA["email"], "nobody@example.org"):
        response = await post_form(client, "/reset", {"email": email})
        answers.append((response.status, await response.text()))
    assert answers[0] == answers[1] and answers[0][0] == 200
    response = await post_form(client, "/reset", {"email": "nope"})
    assert response.status == 422
    assert error_next_to(html_of(await response.text()), "email")

    [mail] = [m for m in await queued_mails(client) if "/reset?token=" in m["body"]]
    token = link_token(mail, "reset")
    doc, _csrf = await open_form(client, f"/reset?token={token}")
    assert doc.xpath("//form[@action='/reset/confirm']//input[@name='token']/@value") == [token]
    response = await post_form(client, "/reset/confirm", {"token": token, "password": "x"},
                               form_page=f"/reset?token={token}")
    assert response.status == 422
    assert error_next_to(html_of(await response.text()), "password")
    response = await post_form(client, "/reset/confirm",
                               {"token": token, "password": "nova-lipa-8"},
                               form_page=f"/reset?token={token}")
    assert response.status == 200 and "password is changed" in await response.text()
    response = await post_form(client, "/reset/confirm",
                               {"token": token, "password": "nova-lipa-9"},
                               form_page=f"/reset?token={token}")
    assert response.status == 400
    assert (await log_in(client, ANA["email"], "nova-lipa-8")).status == 303


# -- deleting the account ----------------------------------------------------------


async def test_deleting_the_account_needs_the_box_ticked(client: TestClient) -> None:
    await register_and_activate(client)
    await log_in(client)
    response = await post_form(client, "/account/delete", {}, form_page="/account")
    assert response.status == 422
    doc = html_of(await response.text())
    assert "Tick the box" in error_next_to(doc, "confirm")
    response = await post_form(client, "/account/delete", {"confirm": "yes"},
                               form_page="/account")
    assert response.status == 200
    doc = html_of(await response.text())
    assert "Your account is deleted" in doc.text_content()
    assert not doc.xpath("//form[@action='/logout']")  # nobody is greeted any more
    assert (await client.get("/account", allow_redirects=False)).status == 303
    assert (await log_in(client)).status == 401


async def test_requests_in_progress_block_deletion_and_the_page_says_so(
        client: TestClient) -> None:
    await register_and_activate(client)
    await log_in(client)
    app = client.server.app
    account = await app[appkeys.ACCOUNTS].store.find(ANA["email"])
    assert account is not None
    await app[appkeys.STORE].create(a_request(patron=account.id), actor="test")
    response = await post_form(client, "/account/delete", {"confirm": "yes"},
                               form_page="/account")
    assert response.status == 409
    error = html_of(await response.text()).get_element_by_id("confirm-error")
    assert "requests in progress must end" in error.text_content()
    assert (await client.get("/api/me")).status == 200


# -- the demo's outbox -------------------------------------------------------------


async def test_the_outbox_shows_mails_newest_first_with_links(client: TestClient) -> None:
    app = client.server.app
    mailer = OutboxMailer(app[appkeys.REDIS], app[appkeys.KEYS])
    await mailer.send(Mail("old@example.org", "First", "no link here"))
    await mailer.send(Mail("ana@example.org", "Activate <now>",
                           "Hello <b>Ana</b>,\n\nhttp://127.0.0.1:8080/activate?token=01abc"
                           "\n\njavascript:alert(1)\n"))
    response = await client.get("/outbox")
    assert response.status == 200
    doc = html_of(await response.text())
    assert [h.text_content() for h in doc.xpath("//article/h2")] == ["Activate <now>", "First"]
    assert doc.xpath("//article//pre//a/@href") == \
        ["http://127.0.0.1:8080/activate?token=01abc"]
    assert not doc.xpath("//article//b")  # mail text is text, never markup
    assert doc.xpath("//nav//a[@href='/outbox']")


@pytest.mark.parametrize("settings", [{"smtp_url": "smtp://127.0.0.1:2525"},
                                      {"show_outbox": False}])
async def test_the_outbox_is_hidden_outside_the_demo(make_client: Callable[..., Any],
                                                     settings: dict[str, Any]) -> None:
    client = await make_client(**settings)
    response = await client.get("/outbox")
    assert response.status == 404
    assert not html_of(await (await client.get("/")).text()).xpath("//a[@href='/outbox']")


# -- one walk in a real browser ----------------------------------------------------


def send_queued_mail(redis_url: str, namespace: str) -> None:
    """What the scheduler and a worker do: the outbox into rq, then a real
    ``illbroker worker --burst`` process runs the send_mail job (kept in the demo's
    outbox, as no SMTP server is configured)."""
    connection = SyncRedis.from_url(redis_url)
    keys = Keys(namespace)
    queue = Queue(keys.queue("default"), connection=connection)
    try:
        assert Dispatcher(connection, keys, queue).dispatch_once() >= 1
    finally:
        connection.close()
    env = {k: v for k, v in os.environ.items() if k != "ILLBROKER_SMTP_URL"}
    env |= {"REDIS_URL": redis_url, "ILLBROKER_NAMESPACE": namespace}
    result = subprocess.run([sys.executable, "-m", "broker.cli", "worker", "--burst"],
                            env=env, capture_output=True, text=True, timeout=60,
                            cwd=PROJECT)
    assert result.returncode == 0, result.stderr


def test_a_new_patron_walks_through_the_pages_in_chromium(
        tmp_path: Path, redis_url: str, namespace: str) -> None:
    def settings(port: int) -> Settings:
        return settings_for(tmp_path, redis_url, namespace, port=port)

    with chromium_site(settings, redis_url, namespace) as site:
        from playwright.sync_api import expect

        base = site.base
        browser = site.launch()
        page = browser.new_page(viewport={"width": 1000, "height": 800})

        def shot(name: str) -> None:
            screenshot(page, name)

        page.goto(base + "/")
        shot("01-libraries")
        page.get_by_role("link", name="Register").click()
        page.get_by_label("Given name").fill("Ana")
        page.get_by_label("Surname").fill("Čuk")
        page.get_by_label("Date of birth").fill("1990-04-01")
        page.get_by_label("E-mail address").fill("ana.cuk@example.org")
        page.get_by_label("Street and number").fill("Trubarjeva 1")
        page.get_by_label("Postcode").fill("1000")
        page.get_by_label("City").fill("Ljubljana")
        page.get_by_label("Country").fill("Slovenia")
        page.get_by_label("Home library").select_option("A")
        page.get_by_label("Membership category").select_option("adult")
        page.get_by_label("Library card number").fill("0123456")
        page.get_by_label("Password").fill("short")
        shot("02-register")
        page.get_by_role("button", name="Register").click()
        # Refused: the error is at the field, the typed values are still there.
        expect(page.locator("#password-error")).to_contain_text("at least 8")
        expect(page.locator("#consent-error")).to_be_visible()
        expect(page.get_by_label("Surname")).to_have_value("Čuk")
        shot("03-register-errors")
        page.get_by_label("Password").fill("lipa-lipa-7")
        page.get_by_label("I accept the terms").check()
        page.get_by_role("button", name="Register").click()
        expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
        shot("04-check-your-email")

        send_queued_mail(redis_url, namespace)
        page.get_by_role("link", name="Read the mail in the demo's outbox").click()
        expect(page.get_by_role("heading", name="Mail outbox (demo)")).to_be_visible()
        shot("05-outbox")
        page.locator("pre.mail a[href*='/activate?token=']").first.click()
        expect(page.get_by_role("heading", name="Activate your account")).to_be_visible()
        shot("06-activate")
        page.get_by_role("button", name="Activate my account").click()
        expect(page.get_by_role("heading", name="Your account is active")).to_be_visible()
        shot("07-active")
        page.get_by_role("link", name="Log in").first.click()
        page.get_by_label("E-mail address").fill("ANA.CUK@example.org")
        page.get_by_label("Password").fill("lipa-lipa-7")
        shot("08-login")
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(base + "/account")
        expect(page.get_by_role("heading", name="My account", exact=True)).to_be_visible()
        expect(page.locator("dl.data")).to_contain_text("Ana Čuk")
        expect(page.locator("dl.data")).to_contain_text("Library A")
        shot("09-account")
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("link", name="Log in")).to_be_visible()
        browser.close()
