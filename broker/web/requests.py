"""The requests API: patrons ask, follow, renew and cancel; lenders' staff answer
orders; the home library's staff follow what it borrowed and record each step."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from broker.domain.accounts import Account, Role
from broker.domain.errors import Forbidden, NotFound, ValidationFailed
from broker.domain.lifecycle import (
    PATRON_STEPS,
    WITH_LENDER,
    BorrowerStep,
    answer_from_input,
    answers_in,
    step_from_input,
    steps_in,
)
from broker.domain.request import Request, RequestEvent
from broker.domain.states import Event, State
from broker.services.copies import Copies, deliver_copy
from broker.services.translations import N_
from broker.store.requests import RequestStore
from broker.web import appkeys
from broker.web.auth import read_json, require

# While lenders are asked one after another the patron sees one state, not each no.
PATRON_STATES = {State.NEW: N_("received"), State.VALIDATING: N_("checking your membership"),
                 State.ROUTING: N_("looking for a lender"), State.SENT: N_("looking for a lender"),
                 State.CONDITIONAL: N_("a library asks a condition")}
MAX_IDEMPOTENCY_KEY = 200
# An uploaded copy streams to disk in pieces of this size.
CHUNK = 64 * 1024


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
        "due_date": request.due_date, "pickup_by": request.pickup_by,
        "delivery_url": request.delivery_url, "condition": request.condition,
    }
    if for_patron:
        body["steps"] = [s.value for s in steps_in(request.state, request.service,
                                                   PATRON_STEPS)]
    else:
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
    body["condition_cost"] = condition_cost(found, history)
    return web.json_response(body)


def condition_cost(found: Request, history: Iterable[RequestEvent]) -> str | None:
    """What the lender's standing condition costs (kept in the event that set it)."""
    if not found.condition:
        return None
    return next((e.data.get("cost") for e in reversed(list(history))
                 if e.event is Event.LENDER_CONDITIONAL), None)


async def cancel(request: web.Request) -> web.Response:
    found, account = await _visible(request, request.match_info["request_id"])
    if account.role is not Role.PATRON:
        raise Forbidden("only the patron cancels their request")
    cancelled = await request.app[appkeys.LENDING].borrower_steps(
        found.id, BorrowerStep.CANCEL, f"patron:{account.id}", patron=account.id,
        note="cancelled by the patron")
    return web.json_response(request_json(cancelled, for_patron=True))


def state_filter(value: str | None) -> State | None:
    """The ``state`` filter of a list, or ``ValidationFailed``."""
    if not value:
        return None
    if value not in {s.value for s in WITH_LENDER}:
        raise ValidationFailed({"state": "one of " + ", ".join(s.value for s in WITH_LENDER)})
    return State(value)


def age_filter(value: str | None) -> int | None:
    """The ``older_than_days`` filter of a list, or ``ValidationFailed``."""
    if not value:
        return None
    # ASCII digits, and few: isdigit() takes "²", which int() refuses (a 500, not a 422).
    if not (value.isascii() and value.isdigit() and len(value) <= 4) or int(value) > 3650:
        raise ValidationFailed({"older_than_days": "a number of days, 0 to 3650"})
    return int(value)


async def lender_orders(store: RequestStore, library: str, state: State | None = None,
                        older_than_days: int | None = None) -> list[Request]:
    """The orders with ``library`` as lender, the longest waiting first."""
    found = await store.get_many(await store.ids_for_lender(library))
    since = datetime.now(UTC) - timedelta(days=older_than_days or 0)
    return [r for r in found if (state is None or r.state is state)
            and (older_than_days is None or r.created_at <= since)]


async def borrowed(store: RequestStore, library: str,
                   states: Iterable[State] = WITH_LENDER) -> list[Request]:
    """What ``library`` borrowed for its patrons and is still with a lender or its
    patron, oldest change first."""
    # No index by home library: the state indexes are read and filtered here.
    ids = [rid for state in states for rid in await store.ids_in_state(state)]
    found = await store.get_many(ids)
    return sorted((r for r in found if r.home_library == library and not r.from_partner),
                  key=lambda r: r.updated_at)


def order_json(order: Request) -> dict[str, Any]:
    return request_json(order, for_patron=False) | {
        "answers": [a.value for a in answers_in(order.state, order.service)]}


async def inbox(request: web.Request) -> web.Response:
    staff = await require(request, Role.STAFF)
    orders = await lender_orders(request.app[appkeys.STORE], staff.library or "",
                                 state_filter(request.query.get("state")),
                                 age_filter(request.query.get("older_than_days")))
    return web.json_response({"library": staff.library,
                              "orders": [order_json(o) for o in orders]})


async def answer(request: web.Request) -> web.Response:
    staff = await require(request, Role.STAFF)
    body = await read_json(request)
    answered = await request.app[appkeys.LENDING].lender_answers(
        request.match_info["request_id"], staff.library or "", answer_from_input(body),
        f"lender:{staff.library}")
    return web.json_response(order_json(answered))


def copies_of(app: web.Application) -> Copies:
    return Copies(app[appkeys.SETTINGS].data_dir, app[appkeys.REDIS], app[appkeys.KEYS])


async def upload_copy(request: web.Request) -> web.Response:
    """The lender's staff deliver a copy as a file: the body is the file itself (PDF,
    JPEG, PNG or TIFF, at most 20 MB), its name in ``?name=``."""
    staff = await require(request, Role.STAFF)
    app = request.app
    answered = await deliver_copy(
        copies_of(app), app[appkeys.LENDING], request.match_info["request_id"],
        staff.library or "", request.query.get("name", "copy"),
        request.content.iter_chunked(CHUNK), app[appkeys.SETTINGS].base_url,
        f"lender:{staff.library}")
    return web.json_response(order_json(answered))


async def borrowing(request: web.Request) -> web.Response:
    staff = await require(request, Role.STAFF)
    state = state_filter(request.query.get("state"))
    found = await borrowed(request.app[appkeys.STORE], staff.library or "",
                           [state] if state else WITH_LENDER)
    return web.json_response({"library": staff.library, "requests": [
        request_json(r, for_patron=False) | {"steps": [
            s.value for s in steps_in(r.state, r.service, tuple(BorrowerStep))]}
        for r in found]})


async def take_step(request: web.Request) -> web.Response:
    """A step of the borrowing side: the home library's staff (received, checked out,
    return shipped, lost) or the patron (renew, a condition, a copy received, cancel)."""
    found, account = await _visible(request, request.match_info["request_id"])
    step = step_from_input(await read_json(request))
    lending = request.app[appkeys.LENDING]
    if account.role is Role.PATRON:
        done = await lending.borrower_steps(found.id, step.kind, f"patron:{account.id}",
                                            patron=account.id, note=step.note)
    elif account.role is Role.STAFF:
        done = await lending.borrower_steps(found.id, step.kind, f"library:{account.library}",
                                            library=account.library or "",
                                            due_date=step.due_date, note=step.note)
    else:
        raise Forbidden("the patron or the home library's staff take these steps")
    return web.json_response(request_json(done, for_patron=account.role is Role.PATRON))


def setup(app: web.Application) -> None:
    app.router.add_post("/api/requests", submit)
    app.router.add_get("/api/requests", mine)
    app.router.add_get("/api/requests/{request_id}", one)
    app.router.add_post("/api/requests/{request_id}/cancel", cancel)
    app.router.add_get("/api/inbox", inbox)
    app.router.add_post("/api/inbox/{request_id}/answer", answer)
    app.router.add_post("/api/inbox/{request_id}/copy", upload_copy)
    app.router.add_get("/api/borrowing", borrowing)
    app.router.add_post("/api/requests/{request_id}/steps", take_step)
