"""``GET /inbox/pull-slips.pdf``: the printable pull slips of a library's new orders,
for that library's staff only.

By default the slips are for the orders that arrived today (in the library's time
zone) and are still to be pulled; ``?all=1`` prints every order still to be pulled.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from broker.domain.accounts import Role
from broker.services.pull_slips import PullSlips
from broker.web import appkeys
from broker.web.auth import current_account
from broker.web.pages import message, redirect
from broker.web.slip_pdf import FontMissing, SlipPage, pull_slips_pdf


def _now() -> datetime:
    return datetime.now(UTC)


async def pull_slips(request: web.Request) -> web.StreamResponse:
    account = await current_account(request)
    if account is None:
        return redirect("/login")
    if account.role is not Role.STAFF or not account.library:
        return message(request, "Only for library staff", [
            "Pull slips are printed by the staff of the library the orders were sent "
            "to."], status=403, links=[("/", "Start page")])
    app = request.app
    consortium = app[appkeys.CONSORTIUM]
    library = consortium.library(account.library)
    now = _now()
    today = now.astimezone(ZoneInfo(library.timezone)).date()
    every = request.query.get("all") == "1"
    slips = await PullSlips(app[appkeys.REDIS], app[appkeys.KEYS], app[appkeys.STORE],
                            app[appkeys.INDEX], consortium).for_library(
        library.code, None if every else today)
    heading = (f"Pull slips, {library.name}: every order to pull" if every
               else f"Pull slips, {library.name}: orders of {today.isoformat()}")
    try:
        # Setting type is CPU work (tens of milliseconds for a long list): not on the
        # event loop that answers everyone else.
        pdf = await asyncio.to_thread(pull_slips_pdf, slips, consortium,
                                      SlipPage(library.code, now, heading))
    except FontMissing as exc:
        return message(request, "Pull slips cannot be made", [str(exc) + "."], status=503,
                       links=[("/inbox", "The inbox")])
    name = f"pull-slips-{library.code}-{'all' if every else today.isoformat()}.pdf"
    return web.Response(body=pdf, content_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})


def setup(app: web.Application) -> None:
    app.router.add_get("/inbox/pull-slips.pdf", pull_slips)
