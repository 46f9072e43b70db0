"""The coordinator's dashboard: every request (the stuck ones first) with filters, and
each library's figures, as a page with charts, as JSON and as CSV downloads.

Only coordinators see it: it shows every library's orders. The reading is
``broker.services.figures.Dashboard`` (kept on the app, so it reads only what changed
since the last load); the computing is ``broker.domain.figures``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from broker.domain.accounts import Account, Role
from broker.domain.consortium import Consortium
from broker.domain.errors import ValidationFailed
from broker.domain.figures import (
    Filters,
    LibraryFigures,
    Listed,
    Page,
    age_text,
    balance_bars,
    fill_rate_bars,
    library_figures,
    listing,
    page_of,
)
from broker.domain.messages import N_
from broker.domain.states import STATE_NAMES, Service, State
from broker.services.figures import Snapshot
from broker.web import appkeys
from broker.web.auth import require
from broker.web.csv_export import Cell, csv_response
from broker.web.languages import _, format_number, format_percent, said, say, translated
from broker.web.pages import account_with_role, render

PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_DAYS = 3650
# The filters' names, for the list of what is wrong with them.
FILTER_LABELS = {"state": N_("State"), "library": N_("Library (borrowing or lending)"),
                 "older_than_days": N_("Older than (days)"), "page": N_("Page"),
                 "per_page": N_("Requests per page")}


@dataclass(frozen=True, slots=True)
class Query:
    filters: Filters
    page: int
    per_page: int


def _number(query: Mapping[str, str], name: str, default: int | None, low: int, high: int,
            problems: dict[str, str]) -> int | None:
    raw = query.get(name, "").strip()
    if not raw:
        return default
    # ASCII digits, and few: isdigit() takes "²", which int() refuses (a 500, not a 422).
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not low <= int(raw) <= high:
        problems[name] = N_("a whole number from {low} to {high}", low=low, high=high)
        return default
    return int(raw)


def parse_query(query: Mapping[str, str], consortium: Consortium) -> Query:
    """The filters and page from the address; ``ValidationFailed`` names each bad one."""
    problems: dict[str, str] = {}
    state_text = query.get("state", "").strip()
    state = None
    if state_text:
        try:
            state = State(state_text)
        except ValueError:
            problems["state"] = N_("one of: {choices}",
                                   choices=", ".join(s.value for s in State))
    library = query.get("library", "").strip() or None
    if library is not None and library not in consortium.libraries:
        problems["library"] = N_("the code of a member library")
    days = _number(query, "older_than_days", None, 0, MAX_DAYS, problems)
    page = _number(query, "page", 1, 1, 1_000_000, problems)
    per_page = _number(query, "per_page", PER_PAGE, 1, MAX_PER_PAGE, problems)
    if problems:
        raise ValidationFailed(problems)
    return Query(Filters(state, library, days), page or 1, per_page or PER_PAGE)


def _filter_params(filters: Filters) -> dict[str, str]:
    params = {"state": filters.state.value if filters.state else "",
              "library": filters.library or "",
              "older_than_days": "" if filters.older_than_days is None
              else str(filters.older_than_days)}
    return {k: v for k, v in params.items() if v}


def _figures(snapshot: Snapshot, consortium: Consortium) -> list[LibraryFigures]:
    return library_figures(sorted(consortium.libraries), snapshot.requests, snapshot.debts)


async def _snapshot(request: web.Request) -> Snapshot:
    return await request.app[appkeys.DASHBOARD].snapshot()


# -- JSON ----------------------------------------------------------------------------


def listed_json(item: Listed) -> dict[str, Any]:
    r, a = item.request, item.attention
    return {"id": r.id, "service": r.service.value, "state": r.state.value,
            "home_library": r.home_library, "lender": r.lender,
            "pickup_location": r.pickup_location, "title": r.item.title,
            "created_at": r.created_at.isoformat(), "updated_at": r.updated_at.isoformat(),
            "attention": None if a is None else {"kind": a.kind.value,
                                                 "since": a.since.isoformat(),
                                                 "text": a.text}}


def figures_json(f: LibraryFigures) -> dict[str, Any]:
    return {"library": f.library, "sent": f.sent, "received": f.received, "lent": f.lent,
            "borrowed": f.borrowed,
            "fill_rate": None if f.fill_rate is None else round(f.fill_rate, 4),
            "median_turnaround_hours": f.median_turnaround_hours,
            "net_balance": f.net_balance, "fees_owed_to": str(f.fees_owed_to),
            "fees_owing": str(f.fees_owing), "fees_net": str(f.fees_net)}


async def requests_api(request: web.Request) -> web.Response:
    await require(request, Role.COORDINATOR)
    consortium = request.app[appkeys.CONSORTIUM]
    query = parse_query(request.query, consortium)
    snapshot = await _snapshot(request)
    listed = listing(snapshot.requests, query.filters, snapshot.at)
    found = page_of(listed, query.page, query.per_page)
    return web.json_response({
        "at": snapshot.at.isoformat(), "total": found.total, "page": found.number,
        "per_page": found.size, "pages": found.pages,
        "stuck": sum(1 for x in listed if x.attention is not None),
        "requests": [listed_json(x) for x in found.items]})


async def figures_api(request: web.Request) -> web.Response:
    await require(request, Role.COORDINATOR)
    consortium = request.app[appkeys.CONSORTIUM]
    snapshot = await _snapshot(request)
    return web.json_response({
        "at": snapshot.at.isoformat(), "currency": consortium.currency,
        "libraries": [figures_json(f) for f in _figures(snapshot, consortium)]})


# -- pages and CSV -------------------------------------------------------------------


async def _coordinator(request: web.Request) -> Account | web.Response:
    """The logged-in coordinator, or the page for anyone else."""
    return await account_with_role(
        request, Role.COORDINATOR, _("Only for coordinators"),
        _("The dashboard shows every library's requests; it is for the consortium's "
          "coordinators."))


def _percent(value: float | None) -> str:
    return "–" if value is None else format_percent(value)


def _figures_view(figures: list[LibraryFigures], consortium: Consortium) -> list[dict[str, Any]]:
    return [{"code": f.library, "name": consortium.place_name(f.library), "sent": f.sent,
             "received": f.received, "lent": f.lent, "borrowed": f.borrowed,
             "fill_rate": _percent(f.fill_rate),
             "turnaround": "–" if f.median_turnaround_hours is None
             else _("{hours} h").format(hours=format_number(f.median_turnaround_hours)),
             "net": f"{f.net_balance:+d}" if f.net_balance else "0",
             "owed_to": f.fees_owed_to, "owing": f.fees_owing, "fees_net": f.fees_net}
            for f in figures]


def _row_view(item: Listed, consortium: Consortium, snapshot: Snapshot) -> dict[str, Any]:
    r = item.request
    return {"id": r.id, "service": _("Copy") if r.service is Service.COPY else _("Loan"),
            "state": _(STATE_NAMES[r.state]),
            "home": consortium.place_name(r.home_library),
            "lender": consortium.place_name(r.lender) if r.lender else "–",
            "title": r.item.title, "created": r.created_at, "updated": r.updated_at,
            "age": say(age_text(snapshot.at - r.created_at)),
            "quiet": say(age_text(snapshot.at - r.updated_at)),
            "attention": item.attention}


async def dashboard_page(request: web.Request) -> web.Response:
    account = await _coordinator(request)
    if isinstance(account, web.Response):
        return account
    consortium = request.app[appkeys.CONSORTIUM]
    errors: Mapping[str, str] = {}
    try:
        query = parse_query(request.query, consortium)
    except ValidationFailed as exc:
        errors, query = exc.problems, Query(Filters(), 1, PER_PAGE)
    snapshot = await _snapshot(request)
    listed = listing(snapshot.requests, query.filters, snapshot.at)
    found: Page = page_of(listed, query.page, query.per_page)
    figures = _figures(snapshot, consortium)
    names = {code: lib.name for code, lib in consortium.libraries.items()}
    params = _filter_params(query.filters)

    def page_link(number: int) -> str:
        return "/coordinator?" + urlencode({**params, "page": number})

    return render(request, "coordinator.html", {
        "errors": said(errors), "labels": translated(FILTER_LABELS), "at": snapshot.at,
        "values": {"state": request.query.get("state", ""),
                   "library": request.query.get("library", ""),
                   "older_than_days": request.query.get("older_than_days", "")},
        "states": [(s.value, _(STATE_NAMES[s])) for s in State],
        "libraries": sorted(((c, lib.name) for c, lib in consortium.libraries.items()),
                            key=lambda x: x[1]),
        "rows": [_row_view(x, consortium, snapshot) for x in found.items],
        "listed": found, "stuck": sum(1 for x in listed if x.attention is not None),
        "prev": page_link(found.number - 1) if found.number > 1 else None,
        "next": page_link(found.number + 1) if found.number < found.pages else None,
        "csv": "/coordinator/requests.csv" + ("?" + urlencode(params) if params else ""),
        "figures": _figures_view(figures, consortium), "currency": consortium.currency,
        "fill_bars": fill_rate_bars(figures, names),
        "balance_bars": balance_bars(figures, names),
    }, 422 if errors else 200, private=True)


async def requests_csv(request: web.Request) -> web.StreamResponse:
    account = await _coordinator(request)
    if isinstance(account, web.Response):
        return account
    consortium = request.app[appkeys.CONSORTIUM]
    query = parse_query(request.query, consortium)
    snapshot = await _snapshot(request)
    rows: list[list[Cell]] = []
    for item in listing(snapshot.requests, query.filters, snapshot.at):
        r, a = item.request, item.attention
        rows.append([r.id, r.service.value, r.state.value, r.home_library, r.lender,
                     r.pickup_location, r.item.title, r.item.author, r.item.year,
                     r.item.isbn, r.item.issn, r.created_at.isoformat(),
                     r.updated_at.isoformat(), a.kind.value if a else None,
                     a.text if a else None])
    return csv_response(f"ill-requests-{snapshot.at:%Y-%m-%d}.csv", [
        "request", "service", "state", "home_library", "lender", "pickup", "title",
        "author", "year", "isbn", "issn", "created_at", "updated_at", "stuck", "why"], rows)


async def figures_csv(request: web.Request) -> web.StreamResponse:
    account = await _coordinator(request)
    if isinstance(account, web.Response):
        return account
    consortium = request.app[appkeys.CONSORTIUM]
    snapshot = await _snapshot(request)
    rows: list[list[Cell]] = [
        [f.library, consortium.place_name(f.library), f.sent, f.received, f.lent, f.borrowed,
         None if f.fill_rate is None else round(f.fill_rate, 4), f.median_turnaround_hours,
         f.net_balance, f.fees_owed_to, f.fees_owing, f.fees_net]
        for f in _figures(snapshot, consortium)]
    return csv_response(f"ill-figures-{snapshot.at:%Y-%m-%d}.csv", [
        "library", "name", "sent", "received", "lent", "borrowed", "fill_rate",
        "median_turnaround_hours", "net_balance", f"fees_owed_to_{consortium.currency}",
        f"fees_owing_{consortium.currency}", f"fees_net_{consortium.currency}"], rows)


def setup(app: web.Application) -> None:
    """Routes of the dashboard."""
    app.router.add_get("/coordinator", dashboard_page)
    app.router.add_get("/coordinator/requests.csv", requests_csv)
    app.router.add_get("/coordinator/figures.csv", figures_csv)
    app.router.add_get("/api/coordinator/requests", requests_api)
    app.router.add_get("/api/coordinator/figures", figures_api)
