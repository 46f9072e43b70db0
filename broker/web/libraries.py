"""The consortium's member libraries: JSON under /api and the public page."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from broker.domain.consortium import Consortium, Library
from broker.domain.errors import NotFound
from broker.web import appkeys


def _library(consortium: Consortium, library: Library) -> dict[str, Any]:
    region = consortium.regions[library.region]
    return {
        "code": library.code,
        "name": library.name,
        "country": library.country,
        "region": {"code": region.code, "name": region.name,
                   "free_transfers": region.free_transfers},
        "timezone": library.timezone,
        "languages": list(library.languages),
        "branches": [{"code": b.code, "name": b.name} for b in library.branches],
        "accepts_patron_requests": library.policy.accepts_patron_requests,
        "lends": sorted(library.policy.lends),
        "loan_days": library.policy.loan_days,
        "pickup_days": library.policy.pickup_days,
        "catalog": library.catalog.connector,
        "lending": library.lending.connector,
    }


async def list_libraries(request: web.Request) -> web.Response:
    consortium = request.app[appkeys.CONSORTIUM]
    return web.json_response({
        "consortium": consortium.name,
        "currency": consortium.currency,
        "fees": {"ill_item": str(consortium.fees.ill_item),
                 "free_within_region": [r.code for r in consortium.regions.values()
                                        if r.free_transfers]},
        "libraries": [_library(consortium, lib) for lib in consortium.libraries.values()],
    })


async def get_library(request: web.Request) -> web.Response:
    consortium = request.app[appkeys.CONSORTIUM]
    code = request.match_info["code"]
    if code not in consortium.libraries:
        raise NotFound(f"no member library {code!r}")
    return web.json_response(_library(consortium, consortium.libraries[code]))


@aiohttp_jinja2.template("index.html")
async def index(request: web.Request) -> dict[str, Any]:
    consortium = request.app[appkeys.CONSORTIUM]
    return {"consortium": consortium,
            "libraries": sorted(consortium.libraries.values(), key=lambda x: x.code)}


def setup(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/api/libraries", list_libraries)
    app.router.add_get("/api/libraries/{code}", get_library)
