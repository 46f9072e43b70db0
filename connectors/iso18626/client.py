"""Sending ISO 18626 messages to a partner over HTTP, and reading its confirmation.

Implements the HTTP binding ISO 18626 implementations share: one message per HTTP
POST of ``application/xml`` to the partner's endpoint, answered synchronously by the
confirmation of that message (``requestConfirmation`` for a ``request``, and so on)
in the response body. All I/O goes through ``Iso18626Client._exchange``, which
enforces the timeout and the response size limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import overload

import aiohttp

from connectors.errors import PartnerUnavailable
from connectors.http import read_limited
from connectors.iso18626.errors import (
    Iso18626BadResponse,
    MessageError,
    PartnerHttpError,
    PartnerRefused,
)
from connectors.iso18626.messages import (
    CONFIRMATIONS,
    MAX_MESSAGE_BYTES,
    MESSAGE_ELEMENTS,
    VERSIONS,
    Confirmation,
    Initiating,
    MessageStatus,
    Request,
    RequestConfirmation,
    RequestingAgencyMessage,
    RequestingAgencyMessageConfirmation,
    SupplyingAgencyMessage,
    SupplyingAgencyMessageConfirmation,
    build,
    parse,
)

DEFAULT_TIMEOUT = 15.0
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF = 1.0
DEFAULT_MAX_BACKOFF = 30.0
CONTENT_TYPE = "application/xml; charset=utf-8"
# HTTP answers that say "not now" rather than "not this": a server error, a gateway
# that could not reach the partner, a timeout at its end, a rate limit.
RETRYABLE_STATUS = frozenset({408, 429})


class Iso18626Client:
    """Sends messages to one partner's ISO 18626 endpoint at ``url``.

    ``partner`` names the partner in errors (the library code); ``version`` is the
    schema version it speaks ("1.2" or "2021-2", from the consortium file);
    ``credential``, when given, is sent as ``Authorization: <auth_scheme>
    <credential>``. Each attempt has ``timeout`` seconds for the whole exchange and
    reads at most ``max_bytes`` of the answer. Up to ``attempts`` attempts are made
    while the partner is unavailable, ``backoff`` seconds apart at first and twice as
    long after each failure, at most ``max_backoff``; ``sleep`` waits (tests pass
    one that does not).

    ``send`` returns the partner's OK confirmation, and raises

    - ``PartnerRefused`` for an ERROR confirmation (not retried: the partner read
      the message and will answer it the same way again);
    - ``PartnerHttpError`` for an HTTP error that more attempts will not mend (401,
      403, 404...) without a confirmation in its body;
    - ``PartnerUnavailable`` when the last attempt failed to connect, timed out, got
      an HTTP 5xx, 408 or 429, or (``Iso18626BadResponse``) an answer that is not the
      confirmation of the message sent.

    A Request re-sent after a timeout may reach a partner that got the first one;
    partners tell the copies apart by ``requestingAgencyRequestId``.
    """

    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        *,
        partner: str,
        version: str,
        credential: str | None = None,
        auth_scheme: str = "Bearer",
        timeout: float = DEFAULT_TIMEOUT,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        max_bytes: int = MAX_MESSAGE_BYTES,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if version not in VERSIONS:
            raise ValueError(f"ISO 18626 version {version!r} is not one of {', '.join(VERSIONS)}")
        if timeout <= 0:
            raise ValueError("the timeout must be positive")
        if attempts < 1:
            raise ValueError("at least one attempt")
        if backoff < 0 or max_backoff < 0:
            raise ValueError("back-off times cannot be negative")
        self.url = url
        self.session = session
        self.partner = partner
        self.version = version
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_bytes = max_bytes
        self.sleep = sleep
        self._headers = {"Content-Type": CONTENT_TYPE, "Accept": "application/xml, text/xml"}
        if credential:
            self._headers["Authorization"] = f"{auth_scheme} {credential}"

    def __repr__(self) -> str:
        # Never the credential.
        return f"Iso18626Client({self.url!r}, partner={self.partner!r}, version={self.version!r})"

    @overload
    async def send(self, message: Request) -> RequestConfirmation: ...

    @overload
    async def send(self, message: SupplyingAgencyMessage) -> SupplyingAgencyMessageConfirmation: ...

    @overload
    async def send(
        self, message: RequestingAgencyMessage
    ) -> RequestingAgencyMessageConfirmation: ...

    async def send(self, message: Initiating) -> Confirmation:
        """Send ``message`` (built for the partner's version) and return the OK
        confirmation answering it; see the class for what it raises. ``ValueError``,
        before anything is sent, for a message the version cannot carry."""
        body = build(message, self.version)
        expected = CONFIRMATIONS[type(message)]
        for attempt in range(1, self.attempts + 1):
            try:
                confirmation = await self._exchange(body, expected)
            except PartnerUnavailable:
                if attempt == self.attempts:
                    raise
                await self.sleep(self.delay(attempt))
                continue
            if confirmation.confirmation_header.message_status is MessageStatus.ERROR:
                raise PartnerRefused(confirmation, peer=self.partner)
            return confirmation
        raise AssertionError("unreachable: the last attempt returns or raises")

    def delay(self, attempt: int) -> float:
        """How long to wait after failed attempt number ``attempt`` (1, 2...)."""
        return float(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))

    async def _exchange(self, body: bytes, expected: type[Confirmation]) -> Confirmation:
        """The one HTTP exchange: POST ``body`` to ``url``, the answer read up to
        ``max_bytes`` and parsed as ``expected``, the whole within ``timeout``."""
        try:
            async with (
                asyncio.timeout(self.timeout),
                self.session.post(self.url, data=body, headers=self._headers,
                                  allow_redirects=False) as response,
            ):
                status = response.status
                answer = await read_limited(response, self.max_bytes, peer=self.partner,
                                            error=Iso18626BadResponse)
        except TimeoutError as exc:
            raise PartnerUnavailable(f"no answer within {self.timeout:g} s",
                                     peer=self.partner) from exc
        except (aiohttp.ClientError, OSError) as exc:
            # ClientError covers refused and reset connections and broken bodies;
            # OSError what the socket layer raises past aiohttp.
            raise PartnerUnavailable(f"cannot reach {self.url}: {exc.__class__.__name__}",
                                     peer=self.partner) from exc
        try:
            confirmation = parse(answer, self.version, peer=self.partner,
                                 max_bytes=self.max_bytes)
        except MessageError as exc:
            # A confirmation sent with an error status is still the partner's answer
            # (some send ERROR confirmations with 400); anything else with one is not.
            if status >= 500 or status in RETRYABLE_STATUS:
                raise PartnerUnavailable(f"HTTP {status} from {self.url}",
                                         peer=self.partner) from exc
            if status >= 300:
                raise PartnerHttpError(f"HTTP {status} from {self.url}", status=status,
                                       peer=self.partner) from exc
            raise Iso18626BadResponse(f"the answer is not an ISO 18626 confirmation: {exc.message}",
                                      peer=self.partner) from exc
        if not isinstance(confirmation, expected):
            raise Iso18626BadResponse(
                f"the answer is a {MESSAGE_ELEMENTS[type(confirmation)]}, not a "
                f"{MESSAGE_ELEMENTS[expected]}", peer=self.partner)
        return confirmation
