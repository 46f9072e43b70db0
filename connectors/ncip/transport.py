"""NCIP's HTTP transport, shared by every NCIP client of the broker.

Implements NCIP 2.02 Part 1, "Transport Protocols" for HTTP: one message per HTTP
POST, the response message in the HTTP response body. ``NcipPeer._post`` is the one
place where the broker talks to a home library's NCIP responder: it enforces the
timeout over the whole exchange and the response size limit, and turns what the
network does wrong into the client's own retryable error (``unavailable``).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import aiohttp

from connectors.errors import ConnectorError
from connectors.http import read_limited
from connectors.ncip.errors import NcipBadResponse
from connectors.ncip.messages import MAX_MESSAGE_BYTES, NCIP_NS

DEFAULT_TIMEOUT = 10.0
# How the broker names itself in InitiationHeader/FromAgencyId unless the consortium
# file gives the agency id the home library's NCIP responder knows it by.
DEFAULT_FROM_AGENCY = "ILLBROKER"
CONTENT_TYPE = "application/xml; charset=utf-8"


class NcipPeer:
    """A home library's NCIP responder at ``url``, as one kind of client asks it.

    ``agency_id`` is the home library's agency id at its NCIP responder (the
    ToAgencyId, and the AgencyId of its card numbers and items); ``from_agency`` is
    the broker's. Subclasses name in ``unavailable`` the error they raise when the
    responder cannot be reached, does not answer within ``timeout`` seconds, or
    answers with an HTTP error that carries no NCIP message.
    """

    unavailable: ClassVar[type[ConnectorError]] = ConnectorError

    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        *,
        library: str,
        agency_id: str,
        timeout: float = DEFAULT_TIMEOUT,
        from_agency: str = DEFAULT_FROM_AGENCY,
        max_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        if timeout <= 0:
            raise ValueError("the timeout must be positive")
        self.url = url
        self.session = session
        self.library = library
        self.agency_id = agency_id
        self.timeout = timeout
        self.from_agency = from_agency
        self.max_bytes = max_bytes

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.url!r}, library={self.library!r}, "
            f"agency={self.agency_id!r})"
        )

    async def _post(self, message: bytes) -> bytes:
        """The one HTTP exchange: POST ``message`` to ``url``, the response body read
        up to ``max_bytes``, the whole within ``timeout``."""
        try:
            async with (
                asyncio.timeout(self.timeout),
                self.session.post(
                    self.url,
                    data=message,
                    headers={"Content-Type": CONTENT_TYPE, "Accept": "application/xml, text/xml"},
                    allow_redirects=False,
                ) as response,
            ):
                status = response.status
                body = await read_limited(response, self.max_bytes, peer=self.library,
                                           error=NcipBadResponse)
        except TimeoutError as exc:
            raise self.unavailable(
                f"no answer within {self.timeout:g} s", peer=self.library
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            # ClientError covers refused and reset connections and broken bodies;
            # OSError what the socket layer raises past aiohttp.
            raise self.unavailable(
                f"cannot reach {self.url}: {exc.__class__.__name__}", peer=self.library
            ) from exc
        if status != 200 and not _looks_like_ncip(body):
            # A Problem sent with an error status is still the responder's answer;
            # anything else with one (a proxy's 502 page, a 500) is not.
            raise self.unavailable(f"HTTP {status} from {self.url}", peer=self.library)
        return body


def _looks_like_ncip(body: bytes) -> bool:
    return b"NCIPMessage" in body[:2048] and NCIP_NS.encode() in body[:4096]
