"""The requests API: patrons ask, follow and cancel; lenders' staff answer orders."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from broker.domain.accounts import Account, Role
from broker.domain.errors import Forbidden, NotFound, ValidationFailed
from broker.domain.lifecycle import BorrowerStep, answer_from_input
from broker.domain.request import Request
from broker.domain.states import Event, State
from broker.web import appkeys
from broker.web.auth import read_json, require

# While lenders are asked one after another the patron sees one state, not each no.
PATRON_STATES = {State.NEW: "received", State.VALIDATING: "checking your membership",
                 State.ROUTING: "looking for a lender", State.SENT: "looking for a lender",
                 State.CONDITIONAL: "looking for a lender"}
MAX_IDEMPOTENCY_KEY = 200


def _json(value: str | None) -> Any:
    return json.loads(value) if value else None


def request_json(request: Request, *, for_patron: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": request.id, "service": request.service.value, "topic": request.topic,
        "state": PATRON_STATES.get(request.state, request.state.value.replace("_", " "))
        if for_patron else request.state.value,
        "item": {k: v for k, v in {
            "title": request.item.title, "author": request.item.author,
            "year": request.item.year, "isbn": request.item.isbn, "issn": request.item.issn,
            "material": request.item.material.value}.items() if v is not None},
        "citation": {k: v for k, v in vars_of(request.citation).items() if v is not None}
        if request.citation else None,
        "pickup_location": request.pickup_location, "home_library": request.home_library,
        "max_cost": str(request.max_cost) if request.max_cost is not None else None,
        "estimate": _json(request.estimate), "created_at": request.created_at.isoformat(),
        "updated_at": request.updated_at.isoformat(), "reason": request.reason,
    }
    if not for_patron:
        body["lender"] = request.lender
        body["rota"] = _json(request.rota)
    return body


def vars_of(citation: Any) -> dict[str, Any]:
    return {name: getattr(citation, name) for name in citation.__slots__}


async def _visible(request: web.Request, request_id: str) -> tuple[Request, Account]:
    """The request if the logged-in account may see it: its patron, the staff of its
    home library or of the lender it is at, or a coordinator."""
    account = await require(request)
    found = await request.app[appkeys.STORE].get(request_id)
    allowed = (account.role is Role.COORDINATOR
               or (account.role is Role.PATRON and found.patron_id == account.id)
               or (account.role is Role.STAFF
                   and account.library in (found.home_library, found.lender)))
    if not allowed:
        # Not 403: whether someone else's request exists is not for this caller to know.
        raise NotFound(f"no request {request_id}")
    return found, account


async def submit(request: web.Request) -> web.Response:
    account = await require(request, Role.PATRON)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise ValidationFailed({"Idempotency-Key": f"1 to {MAX_IDEMPOTENCY_KEY} characters"})
    stored, new = await request.app[appkeys.INTAKE].submit(account, await read_json(request),
                                                          key)
    return web.json_response(request_json(stored, for_patron=True), status=201 if new else 200,
                             headers={"Location": f"/api/requests/{stored.id}"})


async def mine(request: web.Request) -> web.Response:
    account = await require(request, Role.PATRON)
    store = request.app[appkeys.STORE]
    found = [await store.get(rid) for rid in await store.ids_for_patron(account.id)]
    return web.json_response({"requests": [request_json(r, for_patron=True)
                                           for r in reversed(found)]})


async def one(request: web.Request) -> web.Response:
    found, account = await _visible(request, request.match_info["request_id"])
    body = request_json(found, for_patron=account.role is Role.PATRON)
    history = await request.app[appkeys.STORE].history(found.id)
    body["history"] = [{"event": e.event.value, "state": e.target.value,
                        "at": e.at.isoformat()} for e in history
                       if account.role is not Role.PATRON or e.event not in
                       (Event.SENT_TO_LENDER, Event.LENDER_UNFILLED, Event.ANSWER_OVERDUE)]
    return web.json_response(body)


async def cancel(request: web.Request) -> web.Response:
    found, account = await _visible(request, request.match_info["request_id"])
    if account.role is not Role.PATRON:
        raise Forbidden("only the patron cancels their request")
    cancelled = await request.app[appkeys.LENDING].borrower_steps(
        found.id, BorrowerStep.CANCEL, f"patron:{account.id}", patron=account.id,
        note="cancelled by the patron")
    return web.json_response(request_json(cancelled, for_patron=True))


async def inbox(request: web.Request) -> web.Response:
    staff = await require(request, Role.STAFF)
    store = request.app[appkeys.STORE]
    orders = [await store.get(rid) for rid in await store.ids_for_lender(staff.library or "")]
    return web.json_response({"library": staff.library,
                              "orders": [request_json(o, for_patron=False) for o in orders]})


async def answer(request: web.Request) -> web.Response:
    staff = await require(request, Role.STAFF)
    body = await read_json(request)
    answered = await request.app[appkeys.LENDING].lender_answers(
        request.match_info["request_id"], staff.library or "", answer_from_input(body),
        f"lender:{staff.library}")
    return web.json_response(request_json(answered, for_patron=False))


def setup(app: web.Application) -> None:
    app.router.add_post("/api/requests", submit)
    app.router.add_get("/api/requests", mine)
    app.router.add_get("/api/requests/{request_id}", one)
    app.router.add_post("/api/requests/{request_id}/cancel", cancel)
    app.router.add_get("/api/inbox", inbox)
    app.router.add_post("/api/inbox/{request_id}/answer", answer)
