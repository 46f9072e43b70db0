"""schemathesis against schemas/openapi.yaml: every operation of the JSON API (and
/iso18626) called with generated valid and invalid input, by the roles it is for, on
the real app served on localhost with a real Redis.

Each answer must not be a server error and must match the document: a status code
it lists, its content type, and a body that validates against its schema. The run is
bounded and deterministic: ``EXAMPLES`` cases per operation, role and generation mode,
drawn with ``derandomize``. Mails go to the broker's own outbox and jobs to the
outbox in Redis (no SMTP server, no worker), so no call waits on anything.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import schemathesis
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from broker.domain.accounts import Role
from broker.web import appkeys
from broker.web.docs import OPENAPI
from broker.web.pages import CSRF_COOKIE, CSRF_FIELD

from builders import BOTH, PASSWORD

# Cases per operation, role and run; HOSTILE_API_EXAMPLES asks for a longer search.
EXAMPLES = int(os.environ.get("HOSTILE_API_EXAMPLES", "12"))
DESK = "stamp-lipa-41"
# Who each role is: the same people as in test_roles_matrix.
ACCOUNTS = {
    "patron": ("ana@example.org", PASSWORD),
    "other_patron": ("mojca@example.org", PASSWORD),
    "lender_staff": ("desk@c.example.org", DESK),
    "home_staff": ("desk@a.example.org", DESK),
    "coordinator": ("cora@example.org", DESK),
}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# Run last, in this order: they end the caller's session or delete the account.
LAST = [("DELETE", "/api/me"), ("DELETE", "/api/session")]


def roles_for(x_roles: str) -> tuple[str, ...]:
    """Who calls an operation: the roles its ``x-roles`` names that do the most
    (a patron, a library's staff, a coordinator), or nobody logged in for the public
    ones; an operation for everyone logged in is called by each kind of account."""
    if x_roles == "everyone":
        return ("anonymous",)
    if x_roles == "anyone logged in":
        return ("patron", "home_staff", "coordinator")
    named = [role.strip().replace(" ", "_") for role in x_roles.split(",")]
    chosen = [role for role in ("patron", "home_staff", "lender_staff", "coordinator")
              if role in named]
    return tuple(chosen[:2]) or ("anonymous",)


@dataclass(frozen=True, slots=True)
class Target:
    """The served app and what its paths and roles need."""
    base_url: str
    sessions: dict[str, requests.Session]
    path_values: dict[str, str]
    partner_token: str


def login(base_url: str, email: str, password: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(f"{base_url}/api/session", json={"email": email,
                                                          "password": password}, timeout=10)
    assert answer.status_code == 200, answer.text
    return session


def exercise(operation: Any, role: str, mode: GenerationMode, target: Target,
             real_objects: bool) -> str | None:
    """``EXAMPLES`` cases of ``operation`` in ``mode``, called as ``role``, with the
    path naming real objects (Ana's request, library A) or whatever schemathesis
    makes of it; the first failure, described, or None."""
    session = target.sessions[role]
    path = {name: value for name, value in target.path_values.items()
            if f"{{{name}}}" in operation.path} if real_objects else None
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path)
    headers = {"Authorization": f"Bearer {target.partner_token}"} \
        if operation.path == "/iso18626" else None

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(base_url=target.base_url, session=session, headers=headers,
                             timeout=15)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    # schemathesis reports failures as a FailureGroup (a BaseExceptionGroup); every
    # failure of every operation is reported at once.
    except (Exception, FailureGroup) as exc:
        # The first lines say what failed and how to reproduce it; the rest is the body.
        text = "\n".join(str(exc).splitlines()[:40])
        where = "real objects" if real_objects else "generated path"
        return (f"{operation.method.upper()} {operation.path} as {role} "
                f"({mode.value}, {where}): {text}")
    return None


def runs(operation: Any) -> list[tuple[GenerationMode, bool]]:
    """The runs of an operation, as (mode, real objects in the path): valid input
    about real objects, and about generated ones where the path has parameters;
    invalid input where there is a body or a query to spoil (a path parameter of
    any string, or no input at all, cannot be invalid)."""
    raw = operation.definition.raw
    found = [(GenerationMode.POSITIVE, True)]
    if "{" in operation.path:
        found.append((GenerationMode.POSITIVE, False))
    if "requestBody" in raw or any(p.get("in") == "query" for p in raw.get("parameters", [])):
        found.append((GenerationMode.NEGATIVE, False))
    return found


def exercise_all(target: Target, order: Callable[[Any], int]) -> tuple[list[str], int]:
    schema = schemathesis.openapi.from_path(OPENAPI)
    results = list(schema.get_all_operations())
    # An operation schemathesis cannot read is a failure of the document itself.
    unread = [str(result.err()) for result in results if isinstance(result, Err)]
    assert not unread, unread
    operations = sorted((result.ok() for result in results if isinstance(result, Ok)), key=order)
    failures: list[str] = []
    calls = 0
    for operation in operations:
        roles = roles_for(operation.definition.raw.get("x-roles", "everyone"))
        if (operation.method.upper(), operation.path) == ("DELETE", "/api/me"):
            roles = ("other_patron",)
        for role in roles:
            for mode, real_objects in runs(operation):
                calls += 1
                if (failure := exercise(operation, role, mode, target, real_objects)):
                    failures.append(failure)
    return failures, calls


async def test_every_operation_answers_as_the_document_says(client: TestClient) -> None:
    app = client.app
    assert app is not None
    accounts = app[appkeys.ACCOUNTS]
    await accounts.add_staff("desk@a.example.org", "Desk", "A", Role.STAFF, "A", DESK)
    await accounts.add_staff("cora@example.org", "Cora", "Coordinator", Role.COORDINATOR,
                             None, DESK)
    base_url = str(client.make_url("")).rstrip("/")

    def sessions() -> dict[str, requests.Session]:
        found = {role: login(base_url, *who) for role, who in ACCOUNTS.items()}
        return {"anonymous": requests.Session(), **found}

    logged_in = await asyncio.to_thread(sessions)
    answer = await asyncio.to_thread(
        logged_in["patron"].post, f"{base_url}/api/requests",
        json={"service": "loan", "item": {"isbn": BOTH}}, timeout=10)
    assert answer.status_code == 201, answer.text
    ana = await accounts.store.find("ana@example.org")
    assert ana is not None
    target = Target(base_url, logged_in, {"request_id": answer.json()["id"],
                                          "account_id": ana.id, "code": "A"},
                    os.environ["ILL_HOSTILE_PARTNER_P"])

    def order(operation: Any) -> int:
        key = (operation.method.upper(), operation.path)
        return LAST.index(key) + 1 if key in LAST else 0

    try:
        failures, calls = await asyncio.to_thread(exercise_all, target, order)
    finally:
        for session in logged_in.values():
            session.close()
    assert calls > 0
    assert not failures, "\n\n".join(failures)


def test_roles_for_names_the_callers() -> None:
    assert roles_for("everyone") == ("anonymous",)
    assert roles_for("coordinator") == ("coordinator",)
    assert roles_for("lender staff, other staff, home staff") == ("home_staff", "lender_staff")
    assert roles_for("other patron, patron") == ("patron",)


# Sent on purpose beside schemathesis, which rarely makes them: str.isdigit takes "²"
# (which int() refuses) and "٣", and int() refuses more than 4300 digits. Single-use
# tokens name their shard in their first two digits; lists take numbers in the query.
ODD_TOKENS = ("²³" + "a" * 20, "٣٤" + "a" * 20, "12" + "\u0000" * 20, "9" * 5000)
ODD_NUMBERS = ("²", "٣", "9" * 5000, "-1", "1.5", "0x10", "1e3")
# (role, address, the query parameter that takes a number, other parameters)
NUMBER_PROBES: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    ("anonymous", "/api/search", "limit", {"q": "x", "live": "0"}),
    ("lender_staff", "/api/inbox", "older_than_days", {}),
    ("coordinator", "/api/coordinator/requests", "page", {}),
    ("coordinator", "/api/coordinator/requests", "per_page", {}),
    ("coordinator", "/api/coordinator/requests", "older_than_days", {}),
)


async def test_odd_tokens_are_refused_not_failed(served: TestClient) -> None:
    for token in ODD_TOKENS:
        for path, body in (("/api/activation", {"token": token}),
                           ("/api/password-reset/confirm",
                            {"token": token, "password": "lipa-lipa-lipa-7"})):
            response = await served.post(path, json=body)
            assert 400 <= response.status < 500, (path, token[:4], await response.text())
            assert response.content_type == "application/problem+json"
        for page in ("/activate", "/reset"):
            response = await served.get(page, params={"token": token})
            assert response.status < 500, (page, token[:4], await response.text())


async def test_odd_numbers_are_refused_not_failed(client: TestClient) -> None:
    app = client.app
    assert app is not None
    await app[appkeys.ACCOUNTS].add_staff("cora@example.org", "Cora", "Coordinator",
                                          Role.COORDINATOR, None, DESK)
    base_url = str(client.make_url("")).rstrip("/")

    def sessions() -> dict[str, requests.Session]:
        return {"anonymous": requests.Session(),
                **{role: login(base_url, *ACCOUNTS[role])
                   for role in ("lender_staff", "coordinator", "patron")}}

    found = await asyncio.to_thread(sessions)
    try:
        for role, path, name, others in NUMBER_PROBES:
            for value in ODD_NUMBERS:
                answer = await asyncio.to_thread(found[role].get, base_url + path,
                                                 params={**others, name: value}, timeout=10)
                assert answer.status_code == 422, (path, name, value[:8], answer.text)
                assert answer.headers["Content-Type"].startswith("application/problem+json")
        # The request form's year, as the patron's page sends it.
        patron = found["patron"]
        await asyncio.to_thread(patron.get, base_url + "/", timeout=10)
        for value in ODD_NUMBERS:
            answer = await asyncio.to_thread(
                patron.post, base_url + "/requests/new", timeout=10, allow_redirects=False,
                data={CSRF_FIELD: patron.cookies[CSRF_COOKIE], "service": "loan",
                      "title": "Alamut", "year": value, "pickup_location": "A"})
            assert answer.status_code < 500, (value[:8], answer.text[:500])
    finally:
        for session in found.values():
            session.close()
