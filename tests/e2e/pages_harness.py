"""What the page tests share: the app on a three-library consortium with patrons and
desk staff, a real rq worker for the outbox, form posts with the CSRF token, and the
app served on a real port for a walk in Chromium."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from redis import Redis as SyncRedis
from rq import Queue

from broker.domain.accounts import Role
from broker.jobs.dispatcher import Dispatcher
from broker.services.consortium_file import load
from broker.services.harvest import Harvester
from broker.settings import Settings
from broker.store.keys import Keys
from broker.web import appkeys
from broker.web.app import create_app

from builders import PASSWORD, add_patron

PROJECT = Path(__file__).resolve().parents[2]
SCREENSHOTS = PROJECT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ANA, MOJCA = "ana@example.org", "mojca@example.org"
STAFF_PASSWORD = "stamp-lipa-41"


def app_for(settings: Settings) -> web.Application:
    return create_app(settings)


async def populate(app: web.Application, consortium_file: Path) -> None:
    """Harvest every catalog; two patrons of A (Mojca's fee is unpaid) and desk staff
    at the lenders B and C."""
    harvester = Harvester(app[appkeys.REDIS], app[appkeys.KEYS])
    for library in load(consortium_file).libraries.values():
        assert (await harvester.harvest(library)).failed is None
    store = app[appkeys.ACCOUNTS].store
    await add_patron(store, ANA, "111", "Ana", "Čuk", date(1990, 4, 1))
    await add_patron(store, MOJCA, "222", "Mojca", "Novak", date(1980, 2, 2))
    for code in ("B", "C"):
        await app[appkeys.ACCOUNTS].add_staff(f"desk@{code.lower()}.example.org", "Desk",
                                              code, Role.STAFF, code, STAFF_PASSWORD)


def run_outbox(redis_url: str, namespace: str, consortium_file: Path) -> None:
    """What the scheduler and `illbroker worker` do: the outbox into rq, then a real
    worker process, until nothing is left."""
    connection = SyncRedis.from_url(redis_url)
    keys = Keys(namespace)
    dispatcher = Dispatcher(connection, keys, Queue(keys.queue("default"),
                                                    connection=connection))
    env = {k: v for k, v in os.environ.items() if k != "ILLBROKER_SMTP_URL"}
    env |= {"REDIS_URL": redis_url, "ILLBROKER_NAMESPACE": namespace,
            "ILLBROKER_CONSORTIUM": str(consortium_file)}
    try:
        while dispatcher.dispatch_once():
            result = subprocess.run([sys.executable, "-m", "broker.cli", "worker", "--burst"],
                                    env=env, capture_output=True, text=True, timeout=60,
                                    cwd=PROJECT)
            assert result.returncode == 0, result.stderr
    finally:
        connection.close()


def forget_namespace(redis_url: str, namespace: str) -> None:
    client = SyncRedis.from_url(redis_url)
    for key in client.scan_iter(match=f"*{namespace}*", count=1000):
        client.delete(key)
    client.close()


# -- forms as a browser posts them ---------------------------------------------------


def html_of(text: str) -> Any:
    return lxml.html.fromstring(text)


def csrf_cookie(client: TestClient) -> str | None:
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/")).get("ill_csrf")
    return cookie.value if cookie else None


async def open_page(client: TestClient, path: str, status: int = 200) -> Any:
    response = await client.get(path, allow_redirects=False)
    assert response.status == status, await response.text()
    return html_of(await response.text())


async def post_form(client: TestClient, path: str, data: dict[str, str], *,
                    form_page: str) -> Any:
    """Open the page the form is on, then post the form with its CSRF token."""
    doc = await open_page(client, form_page)
    [token] = doc.xpath("//form//input[@name='csrf']/@value")[:1]
    assert token == csrf_cookie(client)
    return await client.post(path, data={**data, "csrf": token}, allow_redirects=False)


async def log_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    response = await post_form(client, "/login", {"email": email, "password": password},
                               form_page="/login")
    assert response.status == 303, await response.text()


async def log_out(client: TestClient) -> None:
    response = await post_form(client, "/logout", {}, form_page="/account")
    assert response.status == 303


async def ask(client: TestClient, action: str = "send", **fields: str) -> Any:
    """Fill in the request form as shown (its idempotency key included) and press a
    button: "send" or "fee"."""
    doc = await open_page(client, "/requests/new")
    data = {name: str(value) for name, value in form_of(doc).form_values()}
    data |= {"service": "loan", **fields, "action": action}
    return await client.post("/requests/new", data=data, allow_redirects=False)


def form_of(doc: Any) -> Any:
    """The request form of a page (the layout has a logout form too)."""
    [form] = doc.xpath("//form[@action='/requests/new#fee']")
    return form


def said(text: str) -> str:
    """What a page says in its alerts and errors, for a failing assertion's message."""
    doc = html_of(text)
    return " | ".join(e.text_content().strip() for e in
                      doc.xpath("//*[@role='alert' or @role='status' or @class='error']"))


async def receipt_of(client: TestClient, response: Any) -> tuple[str, Any]:
    """The request number and page a successful send leads to."""
    assert response.status == 303, said(await response.text())
    location = response.headers["Location"]
    assert location.startswith("/requests/ILL-") and "/receipt" in location
    doc = await open_page(client, location)
    return str(doc.get_element_by_id("request-number").text_content()), doc


# -- the app on a real port, for Chromium --------------------------------------------


def require_browser() -> None:
    """Skip the calling test where playwright or Chromium is missing; in CI, fail it."""
    missing = None
    if importlib.util.find_spec("playwright") is None:
        missing = "playwright is not installed (pip install playwright)"
    elif not os.access(CHROMIUM, os.X_OK):
        missing = f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test must run in CI: {missing}")
        pytest.skip(missing)


@contextmanager
def serving(app: web.Application, sock: socket.socket) -> Iterator[Callable[[Any], Any]]:
    """``app`` on ``sock`` in its own thread and event loop, without an access log (it
    would log the tokens in the links); yields a function that runs a coroutine in that
    loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = web.AppRunner(app, access_log=None)

    def run(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(60)

    try:
        run(runner.setup())
        run(web.SockSite(runner, sock).start())
        yield run
    finally:
        run(runner.cleanup())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@dataclass(frozen=True, slots=True)
class Site:
    """The app served at ``base``, with playwright started for it."""

    app: web.Application
    base: str
    run: Callable[[Any], Any]  # runs a coroutine in the app's event loop
    playwright: Any

    def launch(self) -> Any:
        """Headless Chromium; the test closes it."""
        return self.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextmanager
def chromium_site(settings_for_port: Callable[[int], Settings], redis_url: str,
                  namespace: str) -> Iterator[Site]:
    """The app from ``settings_for_port(port)`` on a free port of 127.0.0.1, and
    playwright; afterwards the namespace's keys are deleted. Skips (or in CI fails) the
    test where there is no browser."""
    require_browser()
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    app = app_for(settings_for_port(port))
    try:
        with serving(app, sock) as run, sync_playwright() as playwright:
            yield Site(app, f"http://127.0.0.1:{port}", run, playwright)
    finally:
        sock.close()
        forget_namespace(redis_url, namespace)


@contextmanager
def populated_site(consortium_file: Path, redis_url: str, namespace: str) -> Iterator[Site]:
    """``chromium_site`` of the app on ``consortium_file``, after ``populate``."""
    def settings(port: int) -> Settings:
        return Settings(consortium_path=consortium_file, data_dir=consortium_file.parent,
                        redis_url=redis_url, namespace=namespace, port=port)

    with chromium_site(settings, redis_url, namespace) as site:
        site.run(populate(site.app, consortium_file))
        yield site


def screenshot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in_as(page: Any, base: str, email: str, password: str) -> None:
    """Log in through the login page, which leads to the account page."""
    from playwright.sync_api import expect

    page.goto(base + "/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(base + "/account")
