"""The pages of the loan once a lender has it: the home library's list of what it
borrowed with its steps, the patron's loans, the steps themselves, copies uploaded by
lenders, and the answer page an e-mailed order links to (no login).

Like the request pages they call the services the JSON API calls and show refusals on
the page; every POST carries the CSRF token, an upload too (read from the stream
before the file, so a file is never stored for a forged form).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy

from broker.domain.accounts import Account, Role
from broker.domain.errors import BrokerError, NotFound
from broker.domain.lifecycle import (
    LENT,
    LIBRARY_STEPS,
    WITH_LENDER,
    BorrowerStep,
    answer_from_input,
    steps_in,
)
from broker.domain.request import Request
from broker.domain.states import STATE_NAMES, Service
from broker.services.copies import deliver_copy
from broker.services.translations import N_
from broker.store.order_links import OrderLinks
from broker.web import appkeys
from broker.web.auth import current_account
from broker.web.languages import _
from broker.web.pages import (
    csrf_checked,
    csrf_checked_upload,
    form_text,
    message,
    redirect,
    render,
)
from broker.web.request_pages import (
    ANSWER_NOTICES,
    ANSWER_REFUSALS,
    STAFF_STATES,
    answer_error,
    order_view,
    request_view,
    step_notice,
)
from broker.web.requests import borrowed, copies_of, state_filter

STEP_LABELS = {
    "received": N_("Received"), "checked_out": N_("Checked out"),
    "return_shipped": N_("Return shipped"), "lost": N_("Lost"), "renew": N_("Renew"),
    "accept_condition": N_("Accept the condition"), "decline_condition": N_("Decline"),
    "copy_received": N_("I have my copy"), "cancel": N_("Cancel"),
}
_ONLY_FOR = {Role.PATRON: N_("Only for patrons"), Role.STAFF: N_("Only for staff")}


async def copy_file(request: web.Request) -> web.StreamResponse:
    """An uploaded copy, for the patron of its request and the home library's staff;
    everyone else gets 404, as for a token that does not exist."""
    account = await current_account(request)
    if account is None:
        return redirect("/login")
    app = request.app
    found = await copies_of(app).find(request.match_info["token"])
    if found is not None:
        owner = await app[appkeys.STORE].get(found.request_id)
        if (account.role is Role.PATRON and owner.patron_id == account.id) or (
                account.role is Role.STAFF and account.library == owner.home_library):
            return web.FileResponse(found.path, headers={
                "Content-Type": found.content_type,
                "Content-Disposition": f'inline; filename="{found.name}"',
                "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox; default-src 'none'"})
    raise web.HTTPNotFound(text="no such copy")


# -- the home library: what it borrowed ----------------------------------------------


async def _role(request: web.Request, role: Role, what: str) -> Account | web.Response:
    account = await current_account(request)
    if account is None:
        return redirect("/login")
    if account.role is not role:
        return message(request, _(_ONLY_FOR[role]), [what], status=403,
                       links=[("/", _("Start page"))])
    return account


async def borrowing(request: web.Request) -> web.Response:
    staff = await _role(request, Role.STAFF, _("This page lists what a library borrowed "
                                              "from others for its patrons; it is for that "
                                              "library's staff."))
    if isinstance(staff, web.Response):
        return staff
    consortium = request.app[appkeys.CONSORTIUM]
    state = request.query.get("state", "")
    try:
        chosen = state_filter(state)
    except BrokerError:
        chosen, state = None, ""
    found = await borrowed(request.app[appkeys.STORE], staff.library or "",
                           [chosen] if chosen else WITH_LENDER)
    rows = [request_view(consortium, r, for_patron=False) | {
        "staff_state": _(STATE_NAMES[r.state]),
        "steps": [s.value for s in steps_in(r.state, r.service, LIBRARY_STEPS)]}
        for r in found]
    return render(request, "borrowing.html", {
        "rows": rows, "library": consortium.place_name(staff.library), "state": state,
        "states": [(s.value, _(STATE_NAMES[s])) for s in WITH_LENDER],
        "notice": step_notice(request)}, private=True)


# -- the patron's loans -------------------------------------------------------------


async def loans(request: web.Request) -> web.Response:
    patron = await _role(request, Role.PATRON, _("This page lists a patron's own loans."))
    if isinstance(patron, web.Response):
        return patron
    store, consortium = request.app[appkeys.STORE], request.app[appkeys.CONSORTIUM]
    found = [r for r in await store.get_many(await store.ids_for_patron(patron.id))
             if r.service is Service.LOAN and r.state in LENT]
    found.sort(key=lambda r: r.due_date or "9999")
    rows = [request_view(consortium, r, for_patron=True) | {
        "steps": [s.value for s in steps_in(r.state, r.service, (BorrowerStep.RENEW,))]}
        for r in found]
    return render(request, "loans.html", {"rows": rows, "notice": step_notice(request)},
                  private=True)


# -- an e-mailed order's answer page ------------------------------------------------


async def _order_of(request: web.Request) -> tuple[Request, str] | None:
    """The request and lender of the link's token, while the request is with that
    lender; else None."""
    app = request.app
    found = await OrderLinks(app[appkeys.REDIS], app[appkeys.KEYS]).find(
        request.match_info["token"])
    if found is None:
        return None
    request_id, lender = found
    try:
        order = await app[appkeys.STORE].get(request_id)
    except NotFound:
        return None
    return (order, lender) if order.lender == lender else None


def _dead_link(request: web.Request) -> web.Response:
    return message(request, _("This link no longer works"), [
        _("The order was answered and has moved on, or the link is not complete. The "
          "borrowing library has not asked you anything more through it.")], status=404,
        links=[("/", _("Start page"))])


async def _order_page(request: web.Request, order: Request, lender: str, *,
                      notice: str | None = None, error: str | None = None,
                      status: int = 200) -> web.Response:
    consortium = request.app[appkeys.CONSORTIUM]
    return render(request, "order.html", {
        "o": order_view(consortium, order, datetime.now(UTC)),
        "lender": consortium.place_name(lender),
        "base": f"/orders/{request.match_info['token']}", "notice": notice, "error": error,
        "staff_state": _(STAFF_STATES.get(order.state, STATE_NAMES[order.state])),
    }, status, private=True)


async def order_page(request: web.Request) -> web.Response:
    found = await _order_of(request)
    if found is None:
        return _dead_link(request)
    given = request.query.get("as", "")
    notice = _(ANSWER_NOTICES[given]).format(id=found[0].id) \
        if given in ANSWER_NOTICES else None
    return await _order_page(request, *found, notice=notice)


@csrf_checked
async def order_answer(request: web.Request, form: MultiDictProxy[Any]) -> web.StreamResponse:
    found = await _order_of(request)
    if found is None:
        return _dead_link(request)
    order, lender = found
    lending = request.app[appkeys.LENDING]
    try:
        await lending.lender_answers(order.id, lender, answer_from_input(form),
                                     f"email:{lender}")
    except ANSWER_REFUSALS as exc:
        return await _order_page(request, await request.app[appkeys.STORE].get(order.id),
                                 lender, error=answer_error(order.id, exc),
                                 status=exc.status)
    return redirect(f"/orders/{request.match_info['token']}?as={form_text(form, 'answer')}")


@csrf_checked_upload
async def order_copy(request: web.Request, filename: str,
                     chunks: AsyncIterator[bytes]) -> web.StreamResponse:
    found = await _order_of(request)
    if found is None:
        return _dead_link(request)
    order, lender = found
    app = request.app
    try:
        await deliver_copy(copies_of(app), app[appkeys.LENDING], order.id, lender, filename,
                           chunks, app[appkeys.SETTINGS].base_url, f"email:{lender}")
    except ANSWER_REFUSALS as exc:
        return await _order_page(request, await app[appkeys.STORE].get(order.id), lender,
                                 error=answer_error(order.id, exc), status=exc.status)
    return redirect(f"/orders/{request.match_info['token']}?as=copy_delivered")


async def _order_back(request: web.Request) -> web.Response:
    # The CSRF refusal page links back to the address it refused.
    return redirect(request.path.rsplit("/", 1)[0])


def setup(app: web.Application) -> None:
    """Routes of the lifecycle's pages and the labels of their step buttons."""
    aiohttp_jinja2.get_env(app).globals["STEP_LABELS"] = STEP_LABELS
    app.router.add_get("/copies/{token}", copy_file)
    app.router.add_get("/borrowing", borrowing)
    app.router.add_get("/loans", loans)
    app.router.add_get("/orders/{token}", order_page)
    app.router.add_post("/orders/{token}/answer", order_answer)
    app.router.add_get("/orders/{token}/answer", _order_back)
    app.router.add_post("/orders/{token}/copy", order_copy)
    app.router.add_get("/orders/{token}/copy", _order_back)
