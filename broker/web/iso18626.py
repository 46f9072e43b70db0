"""POST /iso18626: the ISO 18626 endpoint peers send their messages to.

The body is read up to the message size limit (a larger one is not read further and
is answered BadlyFormedMessage), handed to ``Iso18626Inbound``, and the confirmation
is the answer: HTTP 200 whether it says OK or ERROR, since the confirmation is the
standard's answer and HTTP carried it fine (a client that took a 4xx for a transport
failure would send a badly formed message again and again). A request without a
peer's bearer token is HTTP 401 problem+json.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web

from broker.domain.errors import Unauthenticated
from broker.services.iso18626 import Iso18626Inbound
from broker.web import appkeys
from broker.web.problems import from_error
from connectors.iso18626 import messages as iso
from connectors.iso18626.errors import MessageTooLarge

CONTENT_TYPE = "application/xml"
INBOUND = web.AppKey("iso18626_inbound", Iso18626Inbound)


async def _body(request: web.Request) -> bytes | None:
    """The body, or None when it is over the limit. The app's ``client_max_size``
    stops reading a body that goes on past it."""
    if (request.content_length or 0) > iso.MAX_MESSAGE_BYTES:
        return None
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return None
    return body if len(body) <= iso.MAX_MESSAGE_BYTES else None


async def _inbound(app: web.Application) -> AsyncIterator[None]:
    # After the app's Redis and lending service (cleanup contexts run in order).
    app[INBOUND] = Iso18626Inbound(app[appkeys.LENDING], app[appkeys.REDIS],
                                   app[appkeys.KEYS], app[appkeys.CONSORTIUM])
    yield


async def receive(request: web.Request) -> web.Response:
    inbound = request.app[INBOUND]
    authorization = request.headers.get("Authorization")
    try:
        peers = inbound.authorised(authorization)
    except Unauthenticated as exc:
        response = from_error(exc)
        response.headers["WWW-Authenticate"] = 'Bearer realm="iso18626"'
        return response
    body = await _body(request)
    if body is None:
        error = MessageTooLarge(f"a message is at most {iso.MAX_MESSAGE_BYTES} bytes")
        version = peers[0].version
        xml = iso.build(iso.error_confirmation(error, received=datetime.now(UTC)), version)
    else:
        xml, _ = await inbound.receive(body, authorization)
    return web.Response(body=xml, content_type=CONTENT_TYPE, charset="utf-8")


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_inbound)
    app.router.add_post("/iso18626", receive)
