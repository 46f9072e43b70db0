"""The accounts API: registration, activation, login, password reset, the patron's
own data, and staff registering or taking on patrons at the desk."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from broker.domain.accounts import Account, Role
from broker.domain.errors import NotFound, ValidationFailed
from broker.domain.states import Service
from broker.web import appkeys
from broker.web.auth import COOKIE, read_json, require, set_session_cookie


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id, "email": account.email, "role": account.role.value,
        "status": account.status.value, "library": account.library,
        "given_name": account.given_name, "surname": account.surname,
        "birth_date": account.birth_date.isoformat() if account.birth_date else None,
        "category": account.category,
        "address": {"street": account.address.street, "postcode": account.address.postcode,
                    "city": account.address.city, "country": account.address.country}
        if account.address else None,
        "card_number": account.card_number,
        "created_at": account.created_at.isoformat(),
        "activated_at": account.activated_at.isoformat() if account.activated_at else None,
    }


def _token(body: dict[str, Any]) -> str:
    token = body.get("token")
    if not isinstance(token, str) or not token:
        raise ValidationFailed({"token": "required: the token from the link"})
    return token


async def register(request: web.Request) -> web.Response:
    account = await request.app[appkeys.ACCOUNTS].register(await read_json(request))
    return web.json_response(
        {**account_json(account),
         "next": "open the link we e-mailed you within 24 hours to activate the account"},
        status=201)


async def activate(request: web.Request) -> web.Response:
    body = await read_json(request)
    password = body.get("password")
    account = await request.app[appkeys.ACCOUNTS].activate(
        _token(body), password if isinstance(password, str) else None)
    return web.json_response(account_json(account))


async def login(request: web.Request) -> web.Response:
    body = await read_json(request)
    account = await request.app[appkeys.ACCOUNTS].login(body.get("email"),
                                                        body.get("password"),
                                                        request.remote or "unknown")
    token, csrf = await request.app[appkeys.SESSIONS].start(account)
    response = web.json_response({"account": account_json(account), "csrf": csrf})
    set_session_cookie(response, token, request.app[appkeys.SETTINGS].secure_cookies)
    return response


async def logout(request: web.Request) -> web.Response:
    token = request.cookies.get(COOKIE)
    if token:
        await request.app[appkeys.SESSIONS].end(token)
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/")
    return response


async def request_reset(request: web.Request) -> web.Response:
    body = await read_json(request)
    await request.app[appkeys.ACCOUNTS].request_reset(body.get("email"))
    return web.json_response({"detail": "if an account has this address, a link to choose "
                              "a new password is on its way"}, status=202)


async def confirm_reset(request: web.Request) -> web.Response:
    body = await read_json(request)
    await request.app[appkeys.ACCOUNTS].reset(_token(body), body.get("password"))
    return web.json_response({"detail": "password changed; log in with the new one"})


async def me(request: web.Request) -> web.Response:
    return web.json_response(account_json(await require(request)))


async def eligibility(request: web.Request) -> web.Response:
    """May the logged-in patron ask for ILL, and if not, why and what to do."""
    account = await require(request, Role.PATRON)
    found = await request.app[appkeys.BORROWERS].check(account)
    return web.json_response({
        "register": found.check.outcome.value,
        "differing": list(found.check.differing),
        "detail": found.check.detail,
        "restrictions": [{"code": r.value, "advice": r.advice} for r in found.restrictions],
        "digital_only": found.digital_only,
        "may_request": {service.value: found.allows(service) for service in Service},
    })


async def export(request: web.Request) -> web.Response:
    """Everything the broker holds about the logged-in person (GDPR Art. 15 and 20)."""
    account = await require(request)
    body = await request.app[appkeys.ACCOUNTS].export(account)
    body["account"] = account_json(account)
    return web.Response(text=json.dumps(body, ensure_ascii=False, indent=2),
                        content_type="application/json",
                        headers={"Content-Disposition":
                                 'attachment; filename="my-ill-data.json"'})


async def delete_me(request: web.Request) -> web.Response:
    account = await require(request, Role.PATRON)
    await request.app[appkeys.ACCOUNTS].delete(account)
    token = request.cookies.get(COOKIE)
    if token:
        await request.app[appkeys.SESSIONS].end(token)
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/")
    return response


async def desk_register(request: web.Request) -> web.Response:
    staff = await require(request, Role.STAFF)
    account = await request.app[appkeys.ACCOUNTS].register_at_desk(await read_json(request),
                                                                   staff)
    return web.json_response(
        {**account_json(account),
         "next": "the patron confirms the e-mail and chooses a password from the link"},
        status=201)


# An account id as the session store takes it (AccountStore.new_id makes them): the
# store reads the shard from its two digits, so an address with anything else is no
# account (404), not a failed int() (500).
ACCOUNT_ID = re.compile(r"A[0-9]{2}-[0-9A-Za-z_-]{1,64}", re.ASCII)


async def take_on(request: web.Request) -> web.Response:
    staff = await require(request, Role.STAFF)
    body = await read_json(request)
    card = body.get("card_number")
    if not isinstance(card, str):
        raise ValidationFailed({"card_number": "required: the patron's card at your library"})
    account_id = request.match_info["account_id"]
    if not ACCOUNT_ID.fullmatch(account_id):
        raise NotFound("no such account")
    account = await request.app[appkeys.ACCOUNTS].change_home_library(
        account_id, staff.library or "", card, staff)
    return web.json_response(account_json(account))


def setup(app: web.Application) -> None:
    app.router.add_post("/api/patrons", register)
    app.router.add_post("/api/activation", activate)
    app.router.add_post("/api/session", login)
    app.router.add_delete("/api/session", logout)
    app.router.add_post("/api/password-reset", request_reset)
    app.router.add_post("/api/password-reset/confirm", confirm_reset)
    app.router.add_get("/api/me", me)
    app.router.add_get("/api/me/export", export)
    app.router.add_get("/api/me/eligibility", eligibility)
    app.router.add_delete("/api/me", delete_me)
    app.router.add_post("/api/staff/patrons", desk_register)
    app.router.add_post("/api/staff/patrons/{account_id}/home-library", take_on)
