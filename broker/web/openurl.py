"""OpenURL intake: a link from a database or discovery system opens the patron's request
form pre-filled (GET /api/requests/new?{openurl})."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from broker.domain.accounts import Role
from broker.domain.errors import BrokerError, ValidationFailed
from broker.domain.intake import check_request_input
from broker.domain.openurl import read_openurl
from broker.web import appkeys
from broker.web.auth import require

# Refused in the handler, as problem+json, below aiohttp's own 8190-byte limit on the
# whole request line (which answers a bare-text 400): real OpenURLs are under 2 kB.
MAX_QUERY = 8000


class QueryTooLong(BrokerError):
    problem_type = "query-too-long"
    title = "The link is too long to read"
    status = 414


async def new_request(request: web.Request) -> web.Response:
    """The request form pre-filled from the OpenURL 1.0 (Z39.88-2004 KEV) or 0.1 query,
    with the patron's home library as pickup place, notes on what the link had that was
    dropped, and the problems the intake would name if it were sent as it is."""
    query = request.rel_url.raw_query_string
    size = len(query.encode("utf-8", "replace"))
    if size > MAX_QUERY:
        raise QueryTooLong(f"the link's query has {size} bytes, more than {MAX_QUERY}",
                           limit=MAX_QUERY)
    account = await require(request, Role.PATRON)
    home = request.app[appkeys.CONSORTIUM].libraries[account.library or ""]
    prefill = read_openurl(query)
    raw: dict[str, Any] = {**prefill.request, "pickup_location": home.code}
    problems: dict[str, str] = {}
    try:
        check_request_input(raw, home)
    except ValidationFailed as exc:
        # A pre-filled form may still lack what the link did not say: the patron
        # completes it, so this is the form's state, not an error.
        problems = dict(exc.problems)
    return web.json_response({"request": raw, "notes": list(prefill.notes),
                              "problems": problems})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/requests/new", new_request)
