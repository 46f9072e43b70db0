"""The pages for asking for a loan or a copy, following one's requests, and the
library staff's inbox of orders.

They call the services the JSON API calls (``Intake``, ``RequestStore``, ``Lending``)
and show their refusals on the page, with the API's status codes, instead of as
problem+json. Every POST carries the pages' CSRF token (``broker.web.pages``), and
everything works without JavaScript.

The request form sends with an idempotency key made when the form was shown: a
double click, a reload or a retried post of the same form makes one request.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy

from broker.domain.accounts import Account, Role
from broker.domain.consortium import Consortium, Library
from broker.domain.errors import (
    BorrowerMismatch,
    BrokerError,
    Conflict,
    DuplicateRequest,
    Forbidden,
    HeldLocally,
    IllegalTransition,
    MembershipRestricted,
    NoLender,
    NotAcceptingRequests,
    NotFound,
    OverCostLimit,
    ReadingRoomOnly,
    TooManyOpenRequests,
    Unavailable,
    ValidationFailed,
    VersionConflict,
)
from broker.domain.fees import FeeCode
from broker.domain.holdings import MaterialType
from broker.domain.intake import COPY_FORMATS, MAX_NOTE
from broker.domain.lifecycle import (
    LIBRARY_STEPS,
    PATRON_STEPS,
    WITH_LENDER,
    BorrowerStep,
    answer_from_input,
    answers_in,
    step_from_input,
    steps_in,
)
from broker.domain.messages import from_data
from broker.domain.openurl import Prefill, read_openurl
from broker.domain.register import Restriction
from broker.domain.request import Request
from broker.domain.states import STATE_NAMES, Event, Service, State, allowed_events
from broker.services.copies import deliver_copy
from broker.services.intake import Preview, estimate_json
from broker.services.translations import N_
from broker.web import appkeys, languages
from broker.web.auth import current_account
from broker.web.languages import _, format_currency, ngettext, said, say, translated
from broker.web.pages import (
    account_with_role,
    csrf_checked,
    csrf_checked_upload,
    form_text,
    message,
    redirect,
    render,
)
from broker.web.requests import (
    PATRON_STATES,
    age_filter,
    condition_cost,
    copies_of,
    lender_orders,
    request_json,
    state_filter,
)

# The form's fields, in the order the form shows them (and errors are listed in).
FIELDS = ("service", "topic", "title", "author", "year", "isbn", "issn", "material",
          "part_title", "volume", "issue", "pages", "copy_format", "pickup_location",
          "max_cost", "note")
LABELS = {
    "service": N_("What you need"), "topic": N_("Books about a topic"), "title": N_("Title"),
    "author": N_("Author"), "year": N_("Year"),
    "isbn": N_("ISBN"), "issn": N_("ISSN"), "material": N_("Kind of item"),
    "part_title": N_("Title of the article or chapter"), "volume": N_("Volume"),
    "issue": N_("Issue"), "pages": N_("Pages"), "copy_format": N_("Format of the copy"),
    "pickup_location": N_("Pickup place"),
    "max_cost": N_("The most you will pay"), "note": N_("Note for the library"),
}
MATERIALS = {MaterialType.BOOK: N_("Book"), MaterialType.JOURNAL: N_("Journal or magazine"),
             MaterialType.AV: N_("Film, recording or other audiovisual"),
             MaterialType.SCORE: N_("Music score"), MaterialType.MAP: N_("Map"),
             MaterialType.OTHER: N_("Something else")}
FORMATS = {"pdf": N_("PDF, sent to you by e-mail"),
           "paper": N_("Paper, to collect at the pickup place")}
# Typed values shown again are cut here: a crafted link must not echo megabytes.
MAX_VALUE = MAX_NOTE
# The form's own idempotency keys are secrets.token_urlsafe(18), 24 characters.
_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
_REQUEST_ID = re.compile(r"ILL-[0-9A-Z]{4}-[0-9A-Z]{4}")

# The service names a problem by where it sits in the API's JSON ("item.title",
# "citation.pages"); the form has one flat field for each.
_ERROR_FIELD = {"item": "title", "item.title": "title", "citation": "part_title",
                "citation.source_title": "title"}
# The service's word for an empty field is "required"; the person is told what to give.
_BLANK = {
    "citation.source_title": N_("a copy needs the title of the journal or book"),
    "citation.part_title": N_("a copy needs the title of the article or chapter"),
    "citation.pages": N_("a copy needs its pages, such as 12-30"),
}
# The fee lines by their code, for a page not in English (the stored descriptions
# are English and carry the schedule's arithmetic).
FEE_LINES = {FeeCode.ILL_ITEM.value: N_("Interlibrary loan fee, per item"),
             FeeCode.POSTAGE.value: N_("Postage"),
             FeeCode.COPY_PAGES.value: N_("Copy: {pages} pages"),
             FeeCode.COPY_MINIMUM.value: N_("Copy: the minimum price ({pages} pages cost less)")}
# What a patron can do about each refusal, after the service's own words.
REFUSALS = (HeldLocally, NoLender, ReadingRoomOnly, OverCostLimit, NotAcceptingRequests,
            DuplicateRequest, TooManyOpenRequests, MembershipRestricted, BorrowerMismatch,
            Unavailable, Conflict)

# The patron's words for every state; while lenders are asked one after another the
# patron sees one state, not each no (the API's PATRON_STATES).
PLAIN_STATES = {
    State.WILL_SUPPLY: N_("a library will supply it"),
    State.SHIPPED: N_("on its way to your library"),
    State.RECEIVED: N_("arrived at your library"),
    State.AWAITING_PICKUP: N_("ready for you to collect"),
    State.ON_LOAN: N_("on loan to you"),
    State.RENEWAL_PENDING: N_("renewal asked, waiting for the answer"),
    State.OVERDUE: N_("overdue: please return it"),
    State.RECALLED: N_("recalled: please return it soon"),
    State.RETURNED: N_("returned"),
    State.COMPLETED: N_("completed"),
    State.COPY_DELIVERED: N_("your copy is delivered"),
    State.UNFILLED: N_("no library could supply it"),
    State.CANCELLED: N_("cancelled"),
    State.REJECTED: N_("refused"),
    **PATRON_STATES,
}
# An order's state in the lender's words.
STAFF_STATES = {State.SENT: N_("waiting for your answer"),
                State.WILL_SUPPLY: N_("you will supply it"),
                State.CONDITIONAL: N_("your condition is with the patron"),
                State.SHIPPED: N_("shipped"), State.RECEIVED: N_("at the borrowing library"),
                State.AWAITING_PICKUP: N_("waiting for the patron to collect it"),
                State.ON_LOAN: N_("on loan"), State.RENEWAL_PENDING: N_("renewal asked"),
                State.OVERDUE: N_("overdue"), State.RECALLED: N_("recalled"),
                State.RETURNED: N_("on its way back"), State.COPY_DELIVERED: N_("copy delivered")}
# Lenders' refusals and timeouts are the broker's business, not the patron's (as in
# the API's history).
_HIDDEN_FROM_PATRON = frozenset({Event.SENT_TO_LENDER, Event.LENDER_UNFILLED,
                                 Event.ANSWER_OVERDUE})
EVENTS = {
    Event.CREATED: N_("Request received"),
    Event.SUBMITTED: N_("Checking the membership with the home library"),
    Event.BORROWER_CONFIRMED: N_("Membership confirmed; looking for a lender"),
    Event.BORROWER_MISMATCH: N_("The account does not match the home library's register"),
    Event.REFUSED: N_("Refused"),
    Event.SENT_TO_LENDER: N_("Sent to a lender"),
    Event.LENDER_CONDITIONAL: N_("A library will supply it on a condition"),
    Event.LENDER_WILL_SUPPLY: N_("A library will supply it"),
    Event.LENDER_UNFILLED: N_("A lender could not supply it"),
    Event.ANSWER_OVERDUE: N_("A lender did not answer in time"),
    Event.ROTA_EXHAUSTED: N_("No library could supply it"),
    Event.CANCELLED: N_("Cancelled"),
}
ANSWER_NOTICES = {
    "will_supply": N_("{id}: you will supply it. The patron is told a library will supply it."),
    "unfilled": N_("{id}: unfilled. The broker sends the order to the next library of its "
                "rota, or tells the patron when there is none."),
    "conditional": N_("{id}: your condition is with the patron, who accepts or declines it."),
    "shipped": N_("{id}: shipped. The borrowing library marks it received."),
    "copy_delivered": N_("{id}: the copy is delivered; the patron is sent the link."),
    "renewal": N_("{id}: the renewal is answered; the patron is told."),
    "overdue": N_("{id}: marked overdue; the patron is reminded."),
    "recalled": N_("{id}: recalled; the patron is asked to return it."),
    "received_back": N_("{id}: received back. The loan is completed."),
    "lost": N_("{id}: lost. The replacement cost and the processing fee are in the ledger."),
}


# -- shared pieces -----------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _sentence(text: str) -> str:
    """The service's lower-case clause as a sentence for a page, in its language."""
    text = say(text).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _fee_line(line: Mapping[str, Any], estimate: Mapping[str, Any]) -> dict[str, Any]:
    """A stored fee line with its ``text``: the stored (English) description on an
    English page, else the line's code in the page's words."""
    words = FEE_LINES.get(str(line.get("code")))
    if words is None or languages.current() == "en":
        return {**line, "text": str(line.get("description", "")).capitalize()}
    return {**line, "text": _(words).format(pages=estimate.get("pages") or "")}


def fee_view(estimate: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A stored estimate (``estimate_json``'s shape) with its total in words."""
    if not estimate:
        return None
    total = Decimal(str(estimate.get("total", "0")))
    return {**estimate, "lines": [_fee_line(line, estimate)
                                  for line in estimate.get("lines") or []],
            "total_text": _("free") if total == 0
            else format_currency(total, estimate.get("currency") or "EUR")}


def _age(since: datetime, now: datetime) -> str:
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 3600:
        return _("{minutes} min").format(minutes=seconds // 60)
    if seconds < 2 * 86400:
        return _("{hours} h").format(hours=seconds // 3600)
    days = seconds // 86400
    return ngettext("{days} day", "{days} days", days).format(days=days)


def request_view(consortium: Consortium, found: Request, *, for_patron: bool) -> dict[str, Any]:
    """The API's view of a request, with names and words for a page."""
    view = request_json(found, for_patron=for_patron)
    view |= {
        "service_text": _("Copy") if found.service is Service.COPY else _("Loan"),
        "state_code": found.state.value,
        "state_text": _(PLAIN_STATES.get(found.state, STATE_NAMES[found.state])),
        "pickup_name": consortium.place_name(found.pickup_location),
        "home_name": consortium.place_name(found.home_library),
        "fee": fee_view(view.get("estimate")),
        "note": found.note, "copy_format": found.copy_format,
        "created": found.created_at, "updated": found.updated_at,
        # Why it ended; while it goes on, the last lender's no is not the patron's news.
        "ended_because": found.reason if found.state.terminal else None,
    }
    if not for_patron:
        view["lender_name"] = consortium.place_name(found.lender)
    return view


async def _patron(request: web.Request) -> Account | None:
    account = await current_account(request)
    return account if account is not None and account.role is Role.PATRON else None


async def _visible(request: web.Request, account: Account) -> Request | None:
    """The request in the address if ``account`` may see it (its patron, the staff of
    its home library or of the lender it is at, a coordinator), else None: whether
    someone else's request exists is not for this caller to know."""
    request_id = request.match_info["request_id"]
    if not _REQUEST_ID.fullmatch(request_id):
        return None
    try:
        found = await request.app[appkeys.STORE].get(request_id)
    except NotFound:
        return None
    allowed = (account.role is Role.COORDINATOR
               or (account.role is Role.PATRON and found.patron_id == account.id)
               or (account.role is Role.STAFF
                   and account.library in (found.home_library, found.lender)))
    return found if allowed else None


def _not_found(request: web.Request, account: Account) -> web.Response:
    links = [("/requests", _("My requests"))] if account.role is Role.PATRON else \
        [("/inbox", _("The inbox"))] if account.role is Role.STAFF else \
        [("/", _("Start page"))]
    return message(request, _("No such request"), [
        _("There is no request with this number that you can see. Check the number.")],
        status=404, links=links)


# -- asking ------------------------------------------------------------------------


def _home(request: web.Request, account: Account) -> Library:
    return request.app[appkeys.CONSORTIUM].libraries[account.library or ""]


def _values(source: Mapping[str, Any]) -> dict[str, str]:
    return {name: form_text(source, name).strip()[:MAX_VALUE] for name in FIELDS}


def _from_openurl(prefill: Prefill) -> dict[str, str]:
    """The form's values from an OpenURL link's raw request."""
    raw = prefill.request
    item, citation = raw.get("item", {}), raw.get("citation", {})
    values = {name: str(item.get(name) or "") for name in
              ("title", "author", "year", "isbn", "issn", "material")}
    values |= {name: str(citation.get(name) or "") for name in
               ("part_title", "volume", "issue", "pages")}
    values["title"] = values["title"] or str(citation.get("source_title") or "")
    return values | {"service": str(raw.get("service", "")), "note": str(raw.get("note", ""))}


def _prefilled(request: web.Request, home: Library) -> tuple[dict[str, str], list[str]]:
    """The form's values from the address, so a search result can link to a filled-in
    form, and so can a database or discovery system with an OpenURL (any key the form
    does not have makes the query an OpenURL); with the notes on what a link had that
    was dropped. What is missing gets the usual defaults."""
    query, notes = request.query, []
    if set(query) - {*FIELDS, "source_title"}:
        prefill = read_openurl(request.rel_url.raw_query_string)
        values, notes = {**_values({}), **_from_openurl(prefill)}, list(prefill.notes)
    else:
        values = _values(query)
        values["title"] = values["title"] or form_text(query, "source_title").strip()
    values = {name: value[:MAX_VALUE] for name, value in values.items()}
    if values["service"] not in {s.value for s in Service}:
        values["service"] = Service.LOAN.value
    if values["copy_format"] not in COPY_FORMATS:
        values["copy_format"] = COPY_FORMATS[0]
    if not home.has_branch(values["pickup_location"]):
        values["pickup_location"] = home.code
    return values, notes


def _raw(values: Mapping[str, str]) -> dict[str, Any]:
    """The intake's input from the form: empty fields left out, the year a number
    when it is one (else the service says what a year looks like)."""
    item: dict[str, Any] = {name: values[name] for name in
                            ("title", "author", "isbn", "issn", "material") if values[name]}
    if values["year"]:
        year = values["year"]
        # ASCII digits, and few: isdigit() takes "²", which int() refuses.
        item["year"] = int(year) if year.isascii() and year.isdigit() and len(year) <= 9 \
            else year
    raw: dict[str, Any] = {"service": values["service"], "item": item,
                           "pickup_location": values["pickup_location"]}
    if values["service"] == Service.COPY.value:
        # The journal or book a copy comes from is the title the form asks for first:
        # one field, not the same title typed twice.
        raw["citation"] = {"source_title": values["title"],
                           **{name: values[name] for name in
                              ("part_title", "volume", "issue", "pages") if values[name]}}
        if values["copy_format"]:
            raw["copy_format"] = values["copy_format"]
    if values["max_cost"]:
        # People write 10,50 as often as 10.50.
        raw["max_cost"] = values["max_cost"].replace(",", ".")
    if values["note"]:
        raw["note"] = values["note"]
    if values["topic"]:
        raw["topic"] = True
    return raw


def _field_errors(problems: Mapping[str, str]) -> dict[str, str]:
    """The service's problems keyed by the form's fields, in the form's order."""
    found: dict[str, str] = {}
    for key, text in problems.items():
        name = _ERROR_FIELD.get(key, key.removeprefix("item.").removeprefix("citation."))
        wording = _(_BLANK.get(key, text)) if text == "required" else text
        found.setdefault(name if name in FIELDS else "form", wording)
    return dict(sorted(found.items(), key=lambda item: FIELDS.index(item[0])
                       if item[0] in FIELDS else len(FIELDS)))


def _refusal(consortium: Consortium, exc: BrokerError) -> dict[str, Any]:
    """The refusal's title, the service's reason, and what the patron can do next."""
    lines = [_sentence(exc.detail)]
    links: list[tuple[str, str]] = []
    more = exc.extensions
    if isinstance(exc, MembershipRestricted) and more.get("reasons") and \
            "digital_only" not in more["reasons"]:
        # The service joins its advice into one English clause; the page says each
        # piece of advice in the reader's language.
        advice = "; ".join(say(Restriction(code).advice) for code in more["reasons"]
                           if code in {r.value for r in Restriction})
        lines = [_sentence(_("your membership is not complete: {advice}").format(
            advice=advice))]
    elif isinstance(exc, HeldLocally):
        # The service's sentence names branches by code; the patron knows their names.
        where = ", ".join(consortium.place_name(code) for code in more.get("where", []))
        calls = more.get("call_numbers") or []
        text = (_("It is at {where} under {call_numbers}. Reserve it in the library's "
                  "catalog or at the desk: it is quicker, and costs nothing.") if calls else
                _("It is at {where}. Reserve it in the library's catalog or at the desk: "
                  "it is quicker, and costs nothing."))
        lines = [text.format(where=where, call_numbers=", ".join(calls))]
    elif isinstance(exc, ReadingRoomOnly) and more.get("libraries"):
        lines.append(_("You can read it at: {libraries}.").format(libraries=", ".join(
            consortium.place_name(code) for code in more["libraries"])))
    elif isinstance(exc, DuplicateRequest) and more.get("request"):
        links.append((f"/requests/{more['request']}",
                      _("See request {id}").format(id=more["request"])))
    elif isinstance(exc, TooManyOpenRequests):
        links.append(("/requests", _("My requests")))
    elif isinstance(exc, OverCostLimit):
        # The service's sentence gives the amount without its currency.
        lines = [_("The cheapest library that has it would cost {amount}, more than the "
                   "most you will pay.").format(
                       amount=format_currency(more.get("cheapest", ""), consortium.currency))]
        links.append(("#max_cost", _("Change the most you will pay")))
    return {"title": exc.title, "lines": lines, "links": links}


def _request_form(request: web.Request, account: Account, values: Mapping[str, str], *,
                  key: str | None = None, errors: Mapping[str, str] | None = None,
                  refusal: Mapping[str, Any] | None = None, preview: Preview | None = None,
                  notes: list[str] | None = None, status: int = 200) -> web.Response:
    consortium = request.app[appkeys.CONSORTIUM]
    home = _home(request, account)
    found = None
    if preview is not None and preview.hit is not None:
        record = preview.hit.record
        found = {"title": record.title, "author": record.author, "year": record.year}
    return render(request, "request_new.html", {
        "values": values, "errors": errors or {}, "labels": translated(LABELS), "refusal": refusal,
        "key": key or secrets.token_urlsafe(18), "home": home,
        "places": [(home.code, home.name),
                   *((b.code, f"{b.name}, {home.name}") for b in home.branches)],
        "materials": [(m.value, _(text)) for m, text in MATERIALS.items()],
        "formats": list(translated(FORMATS).items()), "currency": consortium.currency,
        "fee": fee_view(json.loads(estimate_json(preview.estimate))) if preview else None,
        "found": found, "notes": notes or [],
    }, status, private=True)


async def new_request_form(request: web.Request) -> web.Response:
    account = await _patron(request)
    if account is None:
        return redirect("/login")
    values, notes = _prefilled(request, _home(request, account))
    return _request_form(request, account, values, notes=notes)


@csrf_checked
async def new_request(request: web.Request, form: MultiDictProxy[Any]) -> web.StreamResponse:
    account = await _patron(request)
    if account is None:
        return redirect("/login")
    values = _values(form)
    key = form_text(form, "idempotency_key")
    key_or_none = key if _KEY.fullmatch(key) else None
    raw = _raw(values)
    intake = request.app[appkeys.INTAKE]
    try:
        # Enter in a field presses the first button, "Show the fee": only the send
        # button sends.
        if form_text(form, "action") == "send":
            stored, new = await intake.submit(account, raw, key_or_none)
            return redirect(f"/requests/{stored.id}/receipt" + ("" if new else "?again=1"))
        preview = await intake.preview(account, raw)
    except ValidationFailed as exc:
        return _request_form(request, account, values, key=key_or_none,
                             errors=_field_errors(exc.problems), status=exc.status)
    except REFUSALS as exc:
        consortium = request.app[appkeys.CONSORTIUM]
        errors = {}
        if isinstance(exc, OverCostLimit):
            errors["max_cost"] = _("the cheapest library would cost {amount}; raise it, or "
                                   "leave it empty").format(amount=format_currency(
                                       exc.extensions.get("cheapest", ""),
                                       consortium.currency))
        return _request_form(request, account, values, key=key_or_none, errors=errors,
                             refusal=_refusal(consortium, exc), status=exc.status)
    return _request_form(request, account, values, key=key_or_none, preview=preview)


# -- following one's requests -------------------------------------------------------


async def receipt(request: web.Request) -> web.Response:
    account = await _patron(request)
    if account is None:
        return redirect("/login")
    found = await _visible(request, account)
    if found is None:
        return _not_found(request, account)
    return render(request, "request_receipt.html", {
        "r": request_view(request.app[appkeys.CONSORTIUM], found, for_patron=True),
        "again": request.query.get("again") == "1", "email": account.email,
    }, private=True)


async def my_requests(request: web.Request) -> web.Response:
    account = await _patron(request)
    if account is None:
        return redirect("/login")
    store, consortium = request.app[appkeys.STORE], request.app[appkeys.CONSORTIUM]
    found = [await store.get(rid) for rid in await store.ids_for_patron(account.id)]
    found.sort(key=lambda r: r.created_at, reverse=True)
    return render(request, "request_list.html", {
        "requests": [request_view(consortium, r, for_patron=True) for r in found],
    }, private=True)


def _history(consortium: Consortium, events: list[Any], *,
             for_patron: bool) -> list[dict[str, Any]]:
    shown = []
    for event in events:
        if for_patron and event.event in _HIDDEN_FROM_PATRON:
            continue
        text = _(EVENTS.get(event.event, event.event.value.replace("_", " ").capitalize()))
        if not for_patron:
            lender = event.data.get("lender")
            if lender:
                text += f": {consortium.place_name(lender)}"
            if event.data.get("reason"):
                text += f" ({event.data['reason']})"
        shown.append({"at": event.at, "text": text,
                      "state": _(PLAIN_STATES.get(event.target, event.target.value))
                      if for_patron else _(STATE_NAMES[event.target])})
    return shown


async def _detail(request: web.Request, account: Account, found: Request, *,
                  error: str | None = None, notice: str | None = None,
                  status: int = 200) -> web.Response:
    consortium = request.app[appkeys.CONSORTIUM]
    for_patron = account.role is Role.PATRON
    events = await request.app[appkeys.STORE].history(found.id)
    view = request_view(consortium, found, for_patron=for_patron)
    rota = None
    if not for_patron and view.get("rota"):
        rota = {part: [{**entry, "name": consortium.place_name(entry["library"]),
                        "reason": say(from_data(entry.get("says")) or entry.get("reason"))}
                       for entry in view["rota"].get(part, [])]
                for part in ("lenders", "skipped")}
    steps: tuple[BorrowerStep, ...] = ()
    if for_patron:
        # The patron's cancel has its own form below.
        steps = tuple(s for s in steps_in(found.state, found.service, PATRON_STEPS)
                      if s is not BorrowerStep.CANCEL)
    elif account.role is Role.STAFF and account.library == found.home_library:
        steps = steps_in(found.state, found.service, LIBRARY_STEPS)
    view["condition_cost"] = condition_cost(found, events)
    return render(request, "request_detail.html", {
        "r": view, "history": _history(consortium, events, for_patron=for_patron),
        "steps": [s.value for s in steps], "notice": notice,
        "for_patron": for_patron, "rota": rota, "error": error,
        "position": int(found.rota_position) + 1 if found.rota_position else None,
        "can_cancel": for_patron and Event.CANCELLED in allowed_events(found.state,
                                                                       found.service),
    }, status, private=True)


async def request_page(request: web.Request) -> web.Response:
    account = await current_account(request)
    if account is None:
        return redirect("/login")
    found = await _visible(request, account)
    if found is None:
        return _not_found(request, account)
    return await _detail(request, account, found, notice=step_notice(request))


@csrf_checked
async def cancel(request: web.Request, form: MultiDictProxy[Any]) -> web.StreamResponse:
    account = await current_account(request)
    if account is None:
        return redirect("/login")
    found = await _visible(request, account)
    if found is None:
        return _not_found(request, account)
    if account.role is not Role.PATRON:
        return await _detail(request, account, found,
                             error=_("Only the patron who asked cancels a request."),
                             status=403)
    store = request.app[appkeys.STORE]
    try:
        await request.app[appkeys.LENDING].borrower_steps(
            found.id, BorrowerStep.CANCEL, f"patron:{account.id}", patron=account.id,
            note="cancelled by the patron")
    except (IllegalTransition, VersionConflict):
        found = await store.get(found.id)
        return await _detail(request, account, found, status=409, error=(
            _("It cannot be cancelled any more: a library has sent it, or it has ended.")))
    return redirect(f"/requests/{found.id}")


# -- the library's inbox -----------------------------------------------------------


async def _staff(request: web.Request) -> Account | web.Response:
    """The logged-in staff member, or the page for anyone else."""
    return await account_with_role(
        request, Role.STAFF, _("Only for library staff"),
        _("The inbox shows the orders other libraries send to a library; it is for that "
          "library's staff."))


def order_view(consortium: Consortium, found: Request, now: datetime) -> dict[str, Any]:
    """An order as the lender sees it, with the answers its state takes and the dates
    the answer forms start from."""
    view = request_view(consortium, found, for_patron=False)
    lenders = (view.get("rota") or {}).get("lenders", [])
    lender = consortium.libraries.get(found.lender or "")
    today = now.date()
    loan_days = lender.policy.loan_days if lender else 28
    return view | {
        "position": int(found.rota_position or 0) + 1, "of": len(lenders),
        "age": _age(found.created_at, now),
        "staff_state": _(STAFF_STATES.get(found.state, STATE_NAMES[found.state])),
        "answers": [a.value for a in answers_in(found.state, found.service)],
        # Shipped: the lender's loan period; a renewal: as long again from the due date.
        "default_due": (date.fromisoformat(found.due_date) + timedelta(days=loan_days)
                        if found.due_date else today + timedelta(days=loan_days)).isoformat(),
        "recall_due": (today + timedelta(days=7)).isoformat(),
    }


async def _inbox(request: web.Request, staff: Account, *, notice: str | None = None,
                 error: str | None = None, status: int = 200) -> web.Response:
    consortium, store = request.app[appkeys.CONSORTIUM], request.app[appkeys.STORE]
    now = _now()
    query = request.query
    state = query.get("state", "")
    age = query.get("older_than_days", "")
    try:
        found = await lender_orders(store, staff.library or "", state_filter(state),
                                    age_filter(age))
    except ValidationFailed:
        state, age = "", ""
        found = await lender_orders(store, staff.library or "")
    # Oldest change first: the order waiting longest for an answer leads.
    orders = [order_view(consortium, order, now) for order in found]
    return render(request, "inbox.html", {
        "orders": orders, "library": consortium.place_name(staff.library),
        "notice": notice, "error": error, "state": state, "age": age,
        "states": [(s.value, _(STAFF_STATES.get(s, STATE_NAMES[s])))
                   for s in WITH_LENDER],
        "ages": [("", _("any age")), ("1", _("older than a day")),
                 ("3", _("older than 3 days")), ("7", _("older than a week")),
                 ("28", _("older than 4 weeks"))],
    }, status, private=True)


async def inbox(request: web.Request) -> web.Response:
    staff = await _staff(request)
    if isinstance(staff, web.Response):
        return staff
    answered, answer = request.query.get("answered", ""), request.query.get("as", "")
    notice = _(ANSWER_NOTICES[answer]).format(id=answered) \
        if answer in ANSWER_NOTICES and _REQUEST_ID.fullmatch(answered) else None
    return await _inbox(request, staff, notice=notice)


# The fields of a lender's answer and a borrowing step, named in a refusal.
ANSWER_FIELDS = {"answer": N_("Answer"), "reason": N_("Reason"), "due_date": N_("Due date"),
                 "url": N_("Link"), "condition": N_("Condition"), "cost": N_("Cost"),
                 "granted": N_("Renewed"), "step": N_("Step"), "note": N_("Note"),
                 "file": N_("File"), "request": N_("Request")}


def _problems_text(problems: Mapping[str, str]) -> str:
    """A refusal's field problems on one line, in the page's language."""
    return "; ".join(f"{_(ANSWER_FIELDS[k]) if k in ANSWER_FIELDS else k}: {v}"
                     for k, v in said(problems).items())


def answer_error(request_id: str, exc: BrokerError) -> str:
    """Why a lender's answer was not taken, for the page it was given on."""
    if isinstance(exc, ValidationFailed):
        return f"{request_id}: " + _problems_text(exc.problems)
    text = (_("this order is not in your library's inbox")
            if isinstance(exc, (Forbidden, NotFound)) else
            _("it was answered or changed meanwhile; the list below is up to date"))
    return _sentence(f"{request_id}: {text}")


# What a lender's answer can run into, shown on the page it was given on.
ANSWER_REFUSALS = (ValidationFailed, Forbidden, NotFound, IllegalTransition, Conflict)


@csrf_checked
async def answer(request: web.Request, form: MultiDictProxy[Any]) -> web.StreamResponse:
    staff = await _staff(request)
    if isinstance(staff, web.Response):
        return staff
    request_id, given = request.match_info["request_id"], form_text(form, "answer")
    try:
        await request.app[appkeys.LENDING].lender_answers(
            request_id, staff.library or "", answer_from_input(form), f"lender:{staff.library}")
    except ANSWER_REFUSALS as exc:
        return await _inbox(request, staff, status=exc.status,
                            error=answer_error(request_id, exc))
    return redirect(f"/inbox?answered={request_id}&as={given}"
                    if given in ANSWER_NOTICES else "/inbox")


@csrf_checked_upload
async def upload_copy(request: web.Request, filename: str,
                      chunks: AsyncIterator[bytes]) -> web.StreamResponse:
    staff = await _staff(request)
    if isinstance(staff, web.Response):
        return staff
    request_id, app = request.match_info["request_id"], request.app
    try:
        await deliver_copy(copies_of(app), app[appkeys.LENDING], request_id,
                           staff.library or "", filename, chunks,
                           app[appkeys.SETTINGS].base_url, f"lender:{staff.library}")
    except ANSWER_REFUSALS as exc:
        return await _inbox(request, staff, status=exc.status,
                            error=answer_error(request_id, exc))
    return redirect(f"/inbox?answered={request_id}&as=copy_delivered")


# Where a step's form may send the browser back to (never elsewhere: no open redirect).
_STEP_PAGES = ("/borrowing", "/loans")
STEP_NOTICES = {
    "received": N_("{id}: received. The patron is told it is ready to collect."),
    "checked_out": N_("{id}: checked out to the patron."),
    "return_shipped": N_("{id}: on its way back to the lender."),
    "lost": N_("{id}: reported lost; the lender is told."),
    "renew": N_("{id}: renewal asked. The lending library answers; you will get an e-mail."),
    "accept_condition": N_("{id}: you accepted the condition; the library will supply it."),
    "decline_condition": N_("{id}: you declined the condition; we ask the next library."),
    "copy_received": N_("{id}: thank you, the request is completed."),
    "cancel": N_("{id}: cancelled."),
}


@csrf_checked
async def take_step(request: web.Request, form: MultiDictProxy[Any]) -> web.StreamResponse:
    """A step of the borrowing side from a page: the patron (renew, a condition, a copy
    received) or the home library's staff (received, checked out, return shipped, lost)."""
    account = await current_account(request)
    if account is None:
        return redirect("/login")
    found = await _visible(request, account)
    if found is None:
        return _not_found(request, account)
    lending = request.app[appkeys.LENDING]
    try:
        step = step_from_input(form)
        if account.role is Role.PATRON:
            await lending.borrower_steps(found.id, step.kind, f"patron:{account.id}",
                                         patron=account.id, note=step.note)
        else:
            await lending.borrower_steps(found.id, step.kind, f"library:{account.library}",
                                         library=account.library or "-",
                                         due_date=step.due_date, note=step.note)
    except (ValidationFailed, Forbidden, IllegalTransition, Conflict) as exc:
        text = (_problems_text(exc.problems) if isinstance(exc, ValidationFailed) else
                _("this step is not yours to take") if isinstance(exc, Forbidden) else
                _("this step does not fit the request now; the page below is up to date"))
        found = await request.app[appkeys.STORE].get(found.id)
        return await _detail(request, account, found, status=exc.status,
                             error=_sentence(text))
    back = form_text(form, "back")
    back = back if back in _STEP_PAGES else f"/requests/{found.id}"
    return redirect(f"{back}?stepped={found.id}&as={step.kind.value}")


def step_notice(request: web.Request) -> str | None:
    """The notice of a step just taken, from the address a step's form leads to."""
    stepped, kind = request.query.get("stepped", ""), request.query.get("as", "")
    return _(STEP_NOTICES[kind]).format(id=stepped) \
        if kind in STEP_NOTICES and _REQUEST_ID.fullmatch(stepped) else None


async def _back_to(request: web.Request) -> web.Response:
    # The answer and cancel addresses take POSTs only; the CSRF refusal page links
    # back to the address it refused, which should lead somewhere useful.
    path = request.path.rsplit("/", 2)[0] if request.path.startswith("/inbox/") \
        else request.path.rsplit("/", 1)[0]
    return redirect(path)


def setup(app: web.Application) -> None:
    """Routes for the request pages and the inbox, and the navigation's links to them;
    call after ``pages.setup``."""
    aiohttp_jinja2.get_env(app).globals["request_pages"] = True
    app.router.add_get("/requests/new", new_request_form)
    app.router.add_post("/requests/new", new_request)
    app.router.add_get("/requests", my_requests)
    app.router.add_get("/requests/{request_id}", request_page)
    app.router.add_get("/requests/{request_id}/receipt", receipt)
    app.router.add_post("/requests/{request_id}/cancel", cancel)
    app.router.add_get("/requests/{request_id}/cancel", _back_to)
    app.router.add_get("/inbox", inbox)
    app.router.add_post("/inbox/{request_id}/answer", answer)
    app.router.add_get("/inbox/{request_id}/answer", _back_to)
    app.router.add_post("/inbox/{request_id}/copy", upload_copy)
    app.router.add_get("/inbox/{request_id}/copy", _back_to)
    app.router.add_post("/requests/{request_id}/steps", take_step)
    app.router.add_get("/requests/{request_id}/steps", _back_to)
    # The lifecycle's pages build on this module's views (imported here, not above,
    # because they import it).
    from broker.web import lending_pages

    lending_pages.setup(app)
