"""What every lending connector offers the broker: sending an order to a lender, and
telling it the borrowing side's steps.

The lender's answers come back the other way, through whatever the connector's peer
uses (the inbox pages and API, an answer link in an e-mail, ISO 18626 messages to
POST /iso18626), and all of them end in ``broker.services.lending.Lending``.
"""

from __future__ import annotations

from typing import Protocol

from broker.domain.lifecycle import BorrowerStep
from broker.domain.request import Request


class LendingConnector(Protocol):
    """A lender's way of receiving orders (its inbox in the broker, e-mail, ISO 18626).

    ``order`` delivers ``request`` to the lender; ``tell`` tells the lender a step of the borrowing
    side (received, renew, return shipped, cancel...). Both raise a
    ``connectors.errors.ConnectorError`` that is worth retrying
    (``PartnerUnavailable``) when the lender cannot be reached.
    """

    library: str

    async def order(self, request: Request) -> None: ...

    async def tell(self, request: Request, step: BorrowerStep, note: str | None) -> None: ...


class InboxLending:
    """A library without a protocol: its orders wait in its inbox in the broker (the
    lender index of the request store, filled by the transition that sends the order),
    and its staff answer there, so there is nothing to deliver."""

    def __init__(self, library: str) -> None:
        self.library = library

    async def order(self, request: Request) -> None:
        return None

    async def tell(self, request: Request, step: BorrowerStep, note: str | None) -> None:
        return None
