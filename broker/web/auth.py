"""Who is asking: the session cookie, roles, and reading JSON bodies safely.

State-changing API calls take JSON only: a browser cannot send a cross-site JSON
body without a CORS preflight (which the broker does not grant), and the session
cookie is SameSite=Lax, so the JSON API needs no CSRF token; the pages' forms carry
one (``broker.web.pages``).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from broker.domain.accounts import Account, Role
from broker.domain.errors import Forbidden, MalformedInput, Unauthenticated
from broker.store.accounts import LoggedIn
from broker.web import appkeys

COOKIE = "ill_session"
_LOGGED_IN: web.RequestKey[LoggedIn | None] = web.RequestKey("logged_in")


async def _logged_in(request: web.Request) -> LoggedIn | None:
    if _LOGGED_IN not in request:
        token = request.cookies.get(COOKIE, "")
        request[_LOGGED_IN] = await request.app[appkeys.SESSIONS].get(token) if token else None
    return request[_LOGGED_IN]


async def current_account(request: web.Request) -> Account | None:
    """The session's account; None without a session or when the account was deleted
    while the session lived."""
    found = await _logged_in(request)
    return found.account if found is not None else None


async def require(request: web.Request, *roles: Role) -> Account:
    """The logged-in account, if it has one of ``roles`` (any role when none given)."""
    account = await current_account(request)
    if account is None:
        raise Unauthenticated("log in first")
    if roles and account.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(r.value for r in roles)}")
    return account


def set_session_cookie(response: web.StreamResponse, token: str, secure: bool) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="Lax", secure=secure,
                        path="/", max_age=12 * 3600)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 4xx problem saying what is wrong with it."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send application/json")
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedInput(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise MalformedInput("the body must be a JSON object")
    return body
