"""A partner's ISO 18626 endpoint over HTTP on 127.0.0.1, for the client tests.

It plays another ILL system: an aiohttp server that takes one message per POST,
parses it with lxml (entities and network off), validates it against the official
schema of the version it speaks (``Partner.version``) and answers the confirmation of
that message kind: OK, or ERROR with ``error_type``/``error_value`` when told to
refuse, or BadlyFormedMessage (with the schema's first complaint) for a message that
is not valid. It expects ``Authorization: Bearer <token>`` and answers HTTP 401
without it.

It is written independently of ``connectors.iso18626`` (its own confirmation writer,
its own parse), so that the connector is checked against the schema and not against
itself. Every confirmation it writes is validated too, and every exchange is logged
with the schema's complaints about both directions.

``unavailable`` makes it answer HTTP 503 that many times first; ``behaviour`` makes
it hang, answer an HTML page, an oversized body, or the confirmation of another
message kind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from aiohttp import web
from lxml import etree

from local_server import post_endpoint

NS = "http://illtransactions.org/2013/iso18626"
V1_2 = "1.2"
V2021_2 = "2021-2"
TOKEN = "partner-token-0c5e"
MAX_REQUEST_BYTES = 256 * 1024
HUGE_BYTES = 3 * 1024 * 1024




class Behaviour(StrEnum):
    OK = "ok"  # the OK confirmation
    REFUSE = "refuse"  # an ERROR confirmation with ``error_type`` and ``error_value``
    HANG = "hang"  # read the message, never answer
    GARBAGE = "garbage"  # HTTP 200 with an HTML page
    HUGE = "huge"  # HTTP 200 with a body past any sane limit
    WRONG_KIND = "wrong_kind"  # a valid confirmation, but of another message kind


@dataclass(frozen=True, slots=True)
class Received:
    """One POST the partner took, and what it made of it."""

    body: bytes
    content_type: str
    authorization: str | None
    kind: str | None
    schema_errors: tuple[str, ...]  # () for a message valid against the version's schema
    response: bytes
    response_errors: tuple[str, ...]


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Partner:
    """The partner's state; ``url`` is set once it listens."""

    schemas: dict[str, etree.XMLSchema]
    version: str = V1_2
    token: str = TOKEN
    behaviour: Behaviour = Behaviour.OK
    unavailable: int = 0  # answer HTTP 503 to this many POSTs before behaving
    error_type: str = "UnrecognisedDataValue"
    error_value: str = "unknown requestingAgencyId"
    url: str = ""
    received: list[Received] = field(default_factory=list)
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.content.read(MAX_REQUEST_BYTES + 1)
        authorization = request.headers.get("Authorization")
        document, kind, errors = self._read(body)
        if self.unavailable:
            self.unavailable -= 1
            return self._answer(request, body, kind, errors,
                                web.Response(status=503, text="maintenance"))
        if self.behaviour is Behaviour.HANG:
            self._log(request, body, kind, errors, b"")
            await self._release.wait()
            return web.Response(status=204)
        if authorization != f"Bearer {self.token}":
            return self._answer(request, body, kind, errors,
                                web.Response(status=401, text="who are you?"))
        if self.behaviour is Behaviour.GARBAGE:
            return self._answer(request, body, kind, errors, web.Response(
                text="<html><body><h1>It works!</h1></body></html>", content_type="text/html"))
        if self.behaviour is Behaviour.HUGE:
            return self._answer(request, body, kind, errors, web.Response(
                body=b"<x>" + b" " * HUGE_BYTES + b"</x>", content_type="application/xml"))
        if document is None or kind is None:
            xml = self._confirmation(None, "request", "BadlyFormedMessage", errors[0][:200])
        elif errors:
            xml = self._confirmation(document, kind, "BadlyFormedMessage", errors[0][:200])
        elif self.behaviour is Behaviour.REFUSE:
            xml = self._confirmation(document, kind, self.error_type, self.error_value)
        elif self.behaviour is Behaviour.WRONG_KIND:
            other = "requestingAgencyMessage" if kind == "request" else "request"
            xml = self._confirmation(document, other, None, None)
        else:
            xml = self._confirmation(document, kind, None, None)
        return self._answer(request, body, kind, errors,
                            web.Response(body=xml, content_type="application/xml"))

    def release(self) -> None:
        self._release.set()

    def _read(self, body: bytes) -> tuple[etree._Element | None, str | None, tuple[str, ...]]:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            document = etree.fromstring(body, parser)
        except etree.XMLSyntaxError as exc:
            return None, None, (f"not XML: {exc}",)
        schema = self.schemas[self.version]
        errors = () if schema.validate(document) else tuple(str(e) for e in schema.error_log)
        kind = etree.QName(document[0]).localname if len(document) else None
        return document, kind, errors

    def _confirmation(self, document: etree._Element | None, kind: str,
                      error_type: str | None, error_value: str | None) -> bytes:
        root = etree.Element(_q("ISO18626Message"), nsmap={"ns1": NS})
        root.set(_q("version"), "1.2" if self.version == V1_2 else "2021-2")
        confirmation = etree.SubElement(root, _q(f"{kind}Confirmation"))
        header = etree.SubElement(confirmation, _q("confirmationHeader"))
        message = document[0] if document is not None else None
        sent = message.find(_q("header")) if message is not None else None
        if sent is not None:
            for name in ("supplyingAgencyId", "requestingAgencyId"):
                element = sent.find(_q(name))
                if element is not None:
                    header.append(_copy(element))
        etree.SubElement(header, _q("timestamp")).text = _now()
        if sent is not None and sent.find(_q("requestingAgencyRequestId")) is not None:
            header.append(_copy(sent.find(_q("requestingAgencyRequestId"))))
        etree.SubElement(header, _q("timestampReceived")).text = _now()
        etree.SubElement(header, _q("messageStatus")).text = "ERROR" if error_type else "OK"
        echo = {"supplyingAgencyMessage": "messageInfo/reasonForMessage",
                "requestingAgencyMessage": "action"}.get(kind)
        if echo and message is not None:
            value = message.find("/".join(_q(step) for step in echo.split("/")))
            if value is not None:
                etree.SubElement(confirmation, _q(echo.split("/")[-1])).text = value.text
        if error_type:
            error = etree.SubElement(confirmation, _q("errorData"))
            etree.SubElement(error, _q("errorType")).text = error_type
            etree.SubElement(error, _q("errorValue")).text = error_value
        return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))

    def _answer(self, request: web.Request, body: bytes, kind: str | None,
                errors: tuple[str, ...], response: web.Response) -> web.Response:
        self._log(request, body, kind, errors, response.body if isinstance(response.body, bytes)
                  else b"")
        return response

    def _log(self, request: web.Request, body: bytes, kind: str | None,
             errors: tuple[str, ...], response: bytes) -> None:
        response_errors: tuple[str, ...] = ()
        if response.startswith(b"<?xml"):
            schema = self.schemas[self.version]
            document = etree.fromstring(response)
            if not schema.validate(document):
                response_errors = tuple(str(e) for e in schema.error_log)
        self.received.append(Received(
            body=body, content_type=request.headers.get("Content-Type", ""),
            authorization=request.headers.get("Authorization"), kind=kind,
            schema_errors=errors, response=response, response_errors=response_errors,
        ))


def _copy(element: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(element))




@contextlib.asynccontextmanager
async def serve(partner: Partner) -> AsyncIterator[Partner]:
    """Run ``partner`` on a free port of 127.0.0.1 for the block's duration."""
    async with post_endpoint("/iso18626", partner.handle) as url:
        partner.url = url
        try:
            yield partner
        finally:
            partner.release()
