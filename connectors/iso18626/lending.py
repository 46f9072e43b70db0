"""A lender whose ILL system speaks ISO 18626: our orders go to it as Requests, the
borrowing side's steps as RequestingAgencyMessages. Its answers come back as
SupplyingAgencyMessages to our POST /iso18626 (``broker.services.iso18626``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp

from broker.domain.consortium import Consortium, Library
from broker.domain.lifecycle import BorrowerStep
from broker.domain.request import Request
from connectors.iso18626.client import DEFAULT_TIMEOUT, Iso18626Client
from connectors.iso18626.lifecycle import Pickup, order_message, step_message
from connectors.iso18626.messages import V2021_2

log = logging.getLogger(__name__)


def credential(env_name: str | None) -> str | None:
    """The bearer token in the environment variable ``env_name`` (None: none set)."""
    return os.environ.get(env_name) or None if env_name else None


class Iso18626Lending:
    """``connectors.lending.LendingConnector`` for ``library``, whose lending config
    names its endpoint (``url``), its ``agency_id``, the ``schema_version`` it speaks
    (default 2021-2), the environment variable of its bearer token
    (``credential_env``) and the seconds each attempt may take (``timeout``). Raises
    ``PartnerUnavailable`` (worth retrying) when the lender cannot be reached,
    ``PartnerRefused`` when it answers ERROR."""

    def __init__(self, library: Library, consortium: Consortium,
                 session: aiohttp.ClientSession, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 attempts: int = 2) -> None:
        settings = library.lending.settings
        self.library = library.code
        self.consortium = consortium
        self.agency_id = str(settings["agency_id"])
        self.version = str(settings.get("schema_version", V2021_2))
        self.clock = clock
        self.client = Iso18626Client(str(settings["url"]), session, partner=library.code,
                                     version=self.version,
                                     credential=credential(settings.get("credential_env")),
                                     timeout=float(settings.get("timeout", DEFAULT_TIMEOUT)),
                                     attempts=attempts)

    def _home(self, request: Request) -> Library:
        return self.consortium.library(request.home_library)

    async def order(self, request: Request) -> None:
        home = self._home(request)
        message = order_message(
            request, requester=home.agency_id, supplier=self.agency_id,
            pickup=Pickup(self.consortium.place_name(request.pickup_location) or home.name,
                          home.country),
            currency=self.consortium.currency, now=self.clock())
        await self.client.send(message)

    async def tell(self, request: Request, step: BorrowerStep, note: str | None) -> None:
        message = step_message(request, step, note, requester=self._home(request).agency_id,
                               supplier=self.agency_id, version=self.version,
                               now=self.clock())
        if message is None:
            log.debug("%s: nothing to tell %s of %s", request.id, self.library, step.value)
            return
        await self.client.send(message)
