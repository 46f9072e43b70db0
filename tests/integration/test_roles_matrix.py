"""The roles matrix: every route of the app, called by every role against a real
request (Ana's loan, routed by a real rq worker to library C's inbox), answers as
``MATRIX`` says, never with a 500, and never with another patron's or another
library's data.

A role is *allowed* when the route lets it past its door: a 2xx or 3xx (not to the
login page), or, for a call that changes something, a refusal about the request's
state or the body (409, 422, ...). It is *refused* with 401, 403 or 404 (the API) or
with the login page or a 403/404 page (the pages). State-changing calls are sent with
bodies that are well-formed but do not fit the request's state (a renewal of a loan
that has not shipped), so they change nothing; the patron's cancel and the session
and account calls go last. ``/iso18626`` has its own tests of its peers' tokens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient

from broker.domain.accounts import Role
from broker.domain.states import State
from broker.web import appkeys
from broker.web.docs import OPENAPI
from broker.web.pages import CSRF_COOKIE, CSRF_FIELD

from builders import BOTH, PASSWORD

DESK = "stamp-lipa-41"
ANA = "ana@example.org"
# Who each role is; "patron" is Ana, whose request every call is about.
ACCOUNTS = {
    "other_patron": "mojca@example.org",     # a patron of the same library, A
    "lender_staff": "desk@c.example.org",    # the library the order is at
    "other_staff": "desk@b.example.org",     # a library the request never reached
    "home_staff": "desk@a.example.org",      # the patron's home library
    "coordinator": "cora@example.org",
    "patron": ANA,
}
# The patron goes last on each route: her cancel is the one call that changes the request.
ROLES = ("anonymous", *ACCOUNTS)

EVERYONE = frozenset(ROLES)
LOGGED_IN = EVERYONE - {"anonymous"}
PATRONS = frozenset({"patron", "other_patron"})
STAFF = frozenset({"lender_staff", "other_staff", "home_staff"})
# Who may see a request: its patron, the staff of its home library and of its lender,
# and coordinators.
SEES_REQUEST = frozenset({"patron", "home_staff", "lender_staff", "coordinator"})
COORDINATOR = frozenset({"coordinator"})
# Token routes, called with a token nobody was given: the token is the key (the lender
# an order was e-mailed to; a copy's patron and home library), and an unknown one opens
# nothing for anyone. Their holders are tested in test_lifecycle_api and the e2e pages.
NOBODY: frozenset[str] = frozenset()

# The roles matrix: route -> the roles allowed. README's "Roles" section is this table.
MATRIX: dict[tuple[str, str], frozenset[str]] = {
    # public: the consortium, the catalogs, the API's description, health
    ("GET", "/"): EVERYONE,
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/metrics"): EVERYONE,
    ("GET", "/api/openapi.yaml"): EVERYONE,
    ("GET", "/api/docs"): EVERYONE,
    ("GET", "/api/libraries"): EVERYONE,
    ("GET", "/api/libraries/{code}"): EVERYONE,
    ("GET", "/api/search"): EVERYONE,
    ("GET", "/api/holdings"): EVERYONE,
    # accounts: registering, activating, logging in and out, passwords
    ("POST", "/api/patrons"): EVERYONE,
    ("POST", "/api/activation"): EVERYONE,
    ("POST", "/api/session"): EVERYONE,
    ("DELETE", "/api/session"): EVERYONE,
    ("POST", "/api/password-reset"): EVERYONE,
    ("POST", "/api/password-reset/confirm"): EVERYONE,
    ("GET", "/register"): EVERYONE,
    ("POST", "/register"): EVERYONE,
    ("GET", "/activate"): EVERYONE,
    ("POST", "/activate"): EVERYONE,
    ("GET", "/login"): EVERYONE,
    ("POST", "/login"): EVERYONE,
    ("POST", "/logout"): EVERYONE,
    ("GET", "/reset"): EVERYONE,
    ("POST", "/reset"): EVERYONE,
    ("POST", "/reset/confirm"): EVERYONE,
    ("POST", "/language"): EVERYONE,
    # the demo's mail outbox: only with show_outbox and no SMTP server, not here
    ("GET", "/outbox"): NOBODY,
    # one's own account
    ("GET", "/api/me"): LOGGED_IN,
    ("GET", "/api/me/export"): LOGGED_IN,
    ("GET", "/account"): LOGGED_IN,
    ("GET", "/api/me/eligibility"): PATRONS,
    ("DELETE", "/api/me"): PATRONS,
    ("POST", "/account/delete"): PATRONS,
    # the desk registers patrons of its own library
    ("POST", "/api/staff/patrons"): STAFF,
    ("POST", "/api/staff/patrons/{account_id}/home-library"): STAFF,
    # asking and following one's requests
    ("POST", "/api/requests"): PATRONS,
    ("GET", "/api/requests"): PATRONS,
    ("GET", "/api/requests/new"): PATRONS,
    ("GET", "/requests/new"): PATRONS,
    ("POST", "/requests/new"): PATRONS,
    ("GET", "/requests"): PATRONS,
    ("GET", "/loans"): PATRONS,
    ("GET", "/api/requests/{request_id}"): SEES_REQUEST,
    ("GET", "/requests/{request_id}"): SEES_REQUEST,
    ("GET", "/requests/{request_id}/receipt"): frozenset({"patron"}),
    ("POST", "/api/requests/{request_id}/cancel"): frozenset({"patron"}),
    ("POST", "/requests/{request_id}/cancel"): frozenset({"patron"}),
    ("POST", "/api/requests/{request_id}/steps"): frozenset({"patron", "home_staff"}),
    ("POST", "/requests/{request_id}/steps"): frozenset({"patron", "home_staff"}),
    # the lender's inbox
    ("GET", "/api/inbox"): STAFF,
    ("GET", "/inbox"): STAFF,
    ("GET", "/inbox/pull-slips.pdf"): STAFF,
    ("POST", "/api/inbox/{request_id}/answer"): frozenset({"lender_staff"}),
    ("POST", "/inbox/{request_id}/answer"): frozenset({"lender_staff"}),
    ("POST", "/api/inbox/{request_id}/copy"): frozenset({"lender_staff"}),
    ("POST", "/inbox/{request_id}/copy"): frozenset({"lender_staff"}),
    # the home library's list of what it borrowed
    ("GET", "/api/borrowing"): STAFF,
    ("GET", "/borrowing"): STAFF,
    # coordinators
    ("GET", "/api/ledger"): COORDINATOR,
    ("GET", "/api/coordinator/requests"): COORDINATOR,
    ("GET", "/api/coordinator/figures"): COORDINATOR,
    ("GET", "/coordinator"): COORDINATOR,
    ("GET", "/coordinator/requests.csv"): COORDINATOR,
    ("GET", "/coordinator/figures.csv"): COORDINATOR,
    # tokens
    ("GET", "/copies/{token}"): NOBODY,
    ("GET", "/orders/{token}"): NOBODY,
    ("POST", "/orders/{token}/answer"): NOBODY,
    ("POST", "/orders/{token}/copy"): NOBODY,
    # a form's address opened with GET leads back to its page, and shows nothing
    ("GET", "/requests/{request_id}/cancel"): EVERYONE,
    ("GET", "/requests/{request_id}/steps"): EVERYONE,
    ("GET", "/inbox/{request_id}/answer"): EVERYONE,
    ("GET", "/inbox/{request_id}/copy"): EVERYONE,
    ("GET", "/orders/{token}/answer"): EVERYONE,
    ("GET", "/orders/{token}/copy"): EVERYONE,
}
NOT_HERE = {"/iso18626"}  # the peers' bearer tokens: test_iso18626_peer

# Called last, in this order: the patron's cancel changes the request, and these end
# sessions or delete accounts. /metrics last, after every other address was called.
LAST = [("POST", "/requests/{request_id}/cancel"),
        ("POST", "/api/requests/{request_id}/cancel"),
        ("POST", "/api/session"), ("POST", "/login"), ("POST", "/account/delete"),
        ("POST", "/language"), ("GET", "/metrics"), ("DELETE", "/api/me"),
        ("POST", "/logout"), ("DELETE", "/api/session")]

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@dataclass(frozen=True, slots=True)
class Probe:
    """What a route is called with besides its address."""
    query: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    form: Mapping[str, str] | None = None   # a page's form; the CSRF field is added
    upload: bool = False                    # a page's multipart form with a file
    body: bytes | None = None
    # The patron's steps are not the library's: each side is called with one of its own.
    patron_says: Mapping[str, str] | None = None


PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/api/search"): Probe(query={"q": "Čefurji", "live": "0"}),
    ("GET", "/api/holdings"): Probe(query={"isbn": BOTH, "live": "0"}),
    # Does not fit a loan that was sent and not answered: nothing changes.
    ("POST", "/api/inbox/{request_id}/answer"): Probe(json={"answer": "received_back"}),
    ("POST", "/inbox/{request_id}/answer"): Probe(form={"answer": "received_back"}),
    ("POST", "/api/inbox/{request_id}/copy"): Probe(body=PDF, query={"name": "a.pdf"}),
    ("POST", "/inbox/{request_id}/copy"): Probe(upload=True),
    ("POST", "/orders/{token}/answer"): Probe(form={"answer": "will_supply"}),
    ("POST", "/orders/{token}/copy"): Probe(upload=True),
    ("POST", "/api/requests/{request_id}/steps"): Probe(json={"step": "received"},
                                                        patron_says={"step": "renew"}),
    ("POST", "/requests/{request_id}/steps"): Probe(form={"step": "received"},
                                                    patron_says={"step": "renew"}),
}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    location: str
    body: str


def refused(method: str, path: str, answer: Answer) -> bool:
    """Whether ``answer`` turns the caller away (401/403/404, or to the login page)."""
    if answer.status in (401, 403, 404):
        return True
    return 300 <= answer.status < 400 and answer.location.split("?")[0] == "/login"


@pytest.fixture
async def sessions(client: TestClient) -> AsyncIterator[dict[str, aiohttp.ClientSession]]:
    """A logged-in session per role (its own cookies), the anonymous one without."""
    app = client.server.app
    await app[appkeys.ACCOUNTS].add_staff("desk@a.example.org", "Desk", "A", Role.STAFF,
                                          "A", DESK)
    await app[appkeys.ACCOUNTS].add_staff("cora@example.org", "Cora", "Coordinator",
                                          Role.COORDINATOR, None, DESK)
    found: dict[str, aiohttp.ClientSession] = {}
    try:
        for role in ROLES:
            found[role] = session = aiohttp.ClientSession(
                cookie_jar=aiohttp.CookieJar(unsafe=True))
            if role != "anonymous":
                email = ACCOUNTS[role]
                response = await session.post(client.make_url("/api/session"), json={
                    "email": email, "password": PASSWORD if role in PATRONS else DESK})
                assert response.status == 200, (role, await response.text())
            # A page, for the CSRF cookie the pages' forms need.
            assert (await session.get(client.make_url("/"))).status == 200
        yield found
    finally:
        for session in found.values():
            await session.close()


def _csrf(session: aiohttp.ClientSession, client: TestClient) -> str:
    return session.cookie_jar.filter_cookies(client.make_url("/"))[CSRF_COOKIE].value


async def call(client: TestClient, session: aiohttp.ClientSession, method: str,
               address: str, probe: Probe) -> Answer:
    """``address`` called with ``probe``, by whoever ``session`` is logged in as."""
    kwargs: dict[str, Any] = {"params": dict(probe.query), "allow_redirects": False}
    if method == "POST":
        if address.startswith("/api/"):
            if probe.body is not None:
                kwargs |= {"data": probe.body, "headers": {"Content-Type": "application/pdf"}}
            else:
                kwargs["json"] = probe.json if probe.json is not None else {}
        elif probe.upload:
            form = aiohttp.FormData()
            form.add_field(CSRF_FIELD, _csrf(session, client))
            form.add_field("file", PDF, filename="a.pdf", content_type="application/pdf")
            kwargs["data"] = form
        else:
            kwargs["data"] = {CSRF_FIELD: _csrf(session, client), **(probe.form or {})}
    async with session.request(method, client.make_url(address), **kwargs) as response:
        body = (await response.read()).decode("utf-8", "replace")
        return Answer(response.status, response.headers.get("Location", ""), body)


def routes(app: web.Application) -> list[tuple[str, str]]:
    """The app's routes, as (method, canonical path), without HEAD and /iso18626."""
    return [(route.method, route.resource.canonical) for route in app.router.routes()
            if route.resource is not None and route.method != "HEAD"
            and route.resource.canonical not in NOT_HERE]


def test_the_matrix_is_the_readmes_table() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    for (method, path), allowed in MATRIX.items():
        row = f"| `{method} {path}` | {roles_text(allowed)} |"
        assert row in readme, row


def test_the_api_document_names_the_same_roles() -> None:
    spec = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    for (method, path), allowed in MATRIX.items():
        if path in spec["paths"]:
            assert spec["paths"][path][method.lower()]["x-roles"] == roles_text(allowed), path


def roles_text(allowed: frozenset[str]) -> str:
    """How README's table names a set of roles."""
    if allowed == EVERYONE:
        return "everyone"
    if allowed == LOGGED_IN:
        return "anyone logged in"
    if not allowed:
        return "nobody without its token"
    return ", ".join(role.replace("_", " ") for role in ROLES if role in allowed)


async def test_every_route_answers_every_role_as_the_matrix_says(
        client: TestClient, sessions: dict[str, aiohttp.ClientSession], work: Any) -> None:
    app = client.server.app
    found = routes(app)
    assert sorted(set(found) - set(MATRIX)) == [], "routes missing from MATRIX"

    response = await sessions["patron"].post(client.make_url("/api/requests"), json={
        "service": "loan", "item": {"isbn": BOTH}})
    assert response.status == 201, await response.text()
    request_id = (await response.json())["id"]
    await work()
    request = await app[appkeys.STORE].get(request_id)
    assert (request.state, request.lender) == (State.SENT, "C")
    ana = await app[appkeys.ACCOUNTS].store.find(ANA)
    assert ana is not None
    values = {"request_id": request_id, "token": "no-such-token-0123456789abcdef",
              "code": "A", "account_id": ana.id}

    order = [r for r in found if r not in LAST] + [r for r in LAST if r in found]
    wrong: list[str] = []
    for method, path in order:
        address = path.format(**values)
        allowed = MATRIX[method, path]
        for role in ROLES:
            probe = PROBES.get((method, path), Probe())
            if role in PATRONS and probe.patron_says is not None:
                probe = replace(probe, json=probe.patron_says if probe.json else None,
                                form=probe.patron_says if probe.form else None)
            answer = await call(client, sessions[role], method, address, probe)
            said = f"{method} {address} as {role}: {answer.status} {answer.location}"
            if answer.status >= 500:
                wrong.append(f"{said} (a server error)")
                continue
            if refused(method, path, answer) == (role in allowed):
                wrong.append(f"{said} (expected {'allowed' if role in allowed else 'refused'})")
            # Never someone else's data: a refusal shows nothing of the request, and
            # those who may not see it do not find it anywhere (but in the address
            # they called).
            outsider = role in ("anonymous", "other_patron", "other_staff")
            # (The title is the catalog's, public; refused, only those who may see the
            # request see it: a page refusing a step shows them the request again.)
            shut = refused(method, path, answer)
            hidden = shut and role not in SEES_REQUEST
            for secret in (ANA, *(["efurji raus"] if hidden else [])):
                if (shut or outsider) and secret in answer.body:
                    wrong.append(f"{said} shows {secret!r}")
            if outsider and request_id not in address and request_id in answer.body:
                wrong.append(f"{said} shows the request's number")
    assert not wrong, "\n".join(wrong)
