"""GET /api/search and GET /api/holdings."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from stdnum import isbn as stdisbn
from stdnum import issn as stdissn
from stdnum.exceptions import ValidationError

from broker.domain.consortium import Consortium
from broker.domain.errors import NotFound, ValidationFailed
from broker.domain.holdings import Holding
from broker.domain.search import SearchQuery, TitleHit, lendable_now
from broker.services.search import SearchResult, search
from broker.web import appkeys

MAX_FIELD = 300
MAX_LIMIT = 100
FIELDS = ("q", "title", "author", "isbn", "issn", "key")


def parse_query(params: Any) -> tuple[SearchQuery, int]:
    problems: dict[str, str] = {}
    values: dict[str, str | None] = {}
    for name in FIELDS:
        value = params.get(name, "").strip()
        if len(value) > MAX_FIELD:
            problems[name] = f"at most {MAX_FIELD} characters"
        values[name] = value or None
    unknown = set(params) - {*FIELDS, "limit", "live"}
    for name in sorted(unknown):
        problems[name] = "unknown parameter"
    isbn = values["isbn"]
    if isbn and "isbn" not in problems:
        try:
            values["isbn"] = stdisbn.to_isbn13(stdisbn.validate(isbn))
        except ValidationError:
            problems["isbn"] = f"{isbn!r} is not a valid ISBN"
    issn = values["issn"]
    if issn and "issn" not in problems:
        try:
            values["issn"] = stdissn.format(stdissn.validate(issn))
        except ValidationError:
            problems["issn"] = f"{issn!r} is not a valid ISSN"
    limit_text = params.get("limit", "20")
    # ASCII digits, and few: isdigit() takes "²", which int() refuses (a 500, not a 422).
    limit = int(limit_text) if limit_text.isascii() and limit_text.isdigit() \
        and len(limit_text) <= 3 else 0
    if not 1 <= limit <= MAX_LIMIT:
        problems["limit"] = f"a whole number from 1 to {MAX_LIMIT}"
    if not any(values.values()) and not problems:
        problems["q"] = "give q, title, author, isbn, issn or key"
    if problems:
        raise ValidationFailed(problems)
    return SearchQuery(text=values["q"], title=values["title"], author=values["author"],
                       isbn=values["isbn"], issn=values["issn"], match_key=values["key"]), limit


def _holding(h: Holding) -> dict[str, Any]:
    return {"branch": h.branch, "call_number": h.call_number, "status": h.status.value,
            "due_date": h.due_date.isoformat() if h.due_date else None}


def _title(hit: TitleHit, consortium: Consortium) -> dict[str, Any]:
    r = hit.record
    return {
        "match_keys": list(hit.match_keys), "title": r.title, "author": r.author,
        "year": r.year, "edition": r.edition, "material": r.material.value,
        "isbns": list(r.isbns), "issns": list(r.issns),
        "holdings": [{"library": code,
                      "name": consortium.libraries[code].name
                      if code in consortium.libraries else code,
                      "live": code in hit.live,
                      "copies": [_holding(h) for h in copies]}
                     for code, copies in sorted(hit.holdings.items())],
        "lendable_now": sorted(lendable_now(hit, consortium)),
    }


def render(result: SearchResult, consortium: Consortium) -> dict[str, Any]:
    q = result.query
    return {
        "query": {"q": q.text, "title": q.title, "author": q.author, "isbn": q.isbn,
                  "issn": q.issn},
        "titles": [_title(hit, consortium) for hit in result.titles],
        "catalogs": [{"library": c.library, "answer": c.answer.value, "detail": c.detail,
                      "seconds": round(c.seconds, 3) if c.seconds is not None else None}
                     for c in result.catalogs],
    }


async def _search(request: web.Request, query: SearchQuery, limit: int) -> SearchResult:
    app = request.app
    live = app[appkeys.LIVE_CATALOGS] if request.query.get("live", "1") != "0" else {}
    return await search(query, app[appkeys.CONSORTIUM], app[appkeys.INDEX], live, limit)


async def search_view(request: web.Request) -> web.Response:
    query, limit = parse_query(request.query)
    result = await _search(request, query, limit)
    return web.json_response(render(result, request.app[appkeys.CONSORTIUM]))


async def holdings_view(request: web.Request) -> web.Response:
    """Who holds one title (by ISBN, ISSN or match key) and who could lend it now."""
    query, _ = parse_query(request.query)
    if not (query.isbn or query.issn or query.match_key) or query.text or query.title \
            or query.author:
        raise ValidationFailed({"isbn": "give exactly one of isbn, issn or key"})
    result = await _search(request, query, 1)
    body = render(result, request.app[appkeys.CONSORTIUM])
    if not body["titles"]:
        raise NotFound("no member library holds this title", catalogs=body["catalogs"])
    return web.json_response({"title": body["titles"][0], "catalogs": body["catalogs"]})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/search", search_view)
    app.router.add_get("/api/holdings", holdings_view)
