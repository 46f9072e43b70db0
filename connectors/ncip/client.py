"""A home library's register over NCIP 2.02, as a ``RegisterConnector``.

Implements NCIP's HTTP transport (NCIP 2.02 Part 1, "Transport Protocols": one
message per HTTP POST, the response message in the HTTP response body) for the
LookupUser service. All I/O goes through ``NcipRegister._post``, which enforces the
timeout and the response size limit.
"""

from __future__ import annotations

import asyncio

import aiohttp

from broker.domain.register import RegisterEntry
from connectors.errors import RegisterUnavailable
from connectors.http import read_limited
from connectors.ncip.errors import NcipBadResponse
from connectors.ncip.messages import (
    ELEMENT_TYPES,
    MAX_MESSAGE_BYTES,
    lookup_user_request,
    parse_lookup_user_response,
)

DEFAULT_TIMEOUT = 10.0
# How the broker names itself in InitiationHeader/FromAgencyId unless the consortium
# file gives the agency id the home library's NCIP responder knows it by.
DEFAULT_FROM_AGENCY = "ILLBROKER"
CONTENT_TYPE = "application/xml; charset=utf-8"


class NcipRegister:
    """The patron register of ``library``, asked by NCIP LookupUser at ``url``.

    ``agency_id`` is the home library's agency id at its NCIP responder (the
    ToAgencyId, and the AgencyId of the card number); ``from_agency`` is the
    broker's. ``lookup`` returns the ``RegisterEntry``, ``None`` for "Unknown User",
    raises ``RegisterUnavailable`` (an ``NcipBadResponse`` for a response that is not
    NCIP) when the register cannot say, and an ``NcipProblem`` for any other NCIP
    Problem.
    """

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
        return f"NcipRegister({self.url!r}, library={self.library!r}, agency={self.agency_id!r})"

    async def lookup(self, card_number: str) -> RegisterEntry | None:
        """What the register says of ``card_number`` (NCIP LookupUser).

        Raises ``ValueError``, without asking the register, for a blank card number.
        """
        message = lookup_user_request(
            card_number,
            from_agency=self.from_agency,
            to_agency=self.agency_id,
            element_types=ELEMENT_TYPES,
        )
        body = await self._post(message)
        return parse_lookup_user_response(
            body, card_number, peer=self.library, max_bytes=self.max_bytes
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
            raise RegisterUnavailable(
                f"no answer within {self.timeout:g} s", peer=self.library
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            # ClientError covers refused and reset connections and broken bodies;
            # OSError what the socket layer raises past aiohttp.
            raise RegisterUnavailable(
                f"cannot reach {self.url}: {exc.__class__.__name__}", peer=self.library
            ) from exc
        if status != 200 and not _looks_like_ncip(body):
            # A Problem sent with an error status is still the register's answer;
            # anything else with one (a proxy's 502 page, a 500) is not.
            raise RegisterUnavailable(f"HTTP {status} from {self.url}", peer=self.library)
        return body


def _looks_like_ncip(body: bytes) -> bool:
    return b"NCIPMessage" in body[:2048] and b"http://www.niso.org/2008/ncip" in body[:4096]
