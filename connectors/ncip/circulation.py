"""A home library's circulation over NCIP 2.02: the interlibrary loan in the patron's
own account.

When an interlibrary loan arrives at the patron's home library and that library
speaks NCIP, the broker tells its library system: Accept Item when the item arrives
(the system creates a temporary item and holds it for the patron), Check Out Item
when the patron takes it, Renew Item when the lender extends the loan, Check In Item
when it is returned. Each is one message over NCIP's HTTP transport through
``NcipPeer._post``; the messages are built and read by ``connectors.ncip.messages``.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from connectors.errors import ConnectorError
from connectors.ncip.errors import CirculationUnavailable
from connectors.ncip.messages import (
    ACCEPT_ITEM,
    CHECK_IN_ITEM,
    CHECK_OUT_ITEM,
    HOLD_FOR_PICKUP,
    RENEW_ITEM,
    CirculationResponse,
    accept_item_request,
    check_in_item_request,
    check_out_item_request,
    parse_circulation_response,
    renew_item_request,
)
from connectors.ncip.transport import NcipPeer


class NcipCirculation(NcipPeer):
    """The circulation of ``library``'s system, told by NCIP at ``url``.

    Every method raises ``CirculationUnavailable`` when the system cannot be
    reached, does not answer within ``timeout``, answers an HTTP error, or answers
    something that is not the NCIP response asked for (an ``NcipBadResponse``), and
    when it answers "Temporary Processing Failure" (a
    ``TemporaryProcessingFailure``): all of them are worth trying again. Any other
    NCIP Problem raises its ``NcipProblem`` by ``connectors.ncip.errors.PROBLEMS``
    (``UnknownItem``, ``UnknownUser``, ``UserBlocked``, ``ItemNotCheckedOut``...):
    the system said no, and asking again will not change that. Blank ids raise
    ``ValueError`` without asking.
    """

    unavailable: ClassVar[type[ConnectorError]] = CirculationUnavailable

    async def accept_item(
        self,
        request_id: str,
        card_number: str,
        item_id: str,
        title: str,
        author: str | None = None,
        due: date | None = None,
        *,
        action: str = HOLD_FOR_PICKUP,
    ) -> str:
        """Announce the arrival of the loan of request ``request_id`` for the patron
        with ``card_number`` as item ``item_id`` (NCIP 2.02 Part 1, "Accept Item").

        Returns the item id to check the item out and in by: the ``ItemId`` of the
        AcceptItemResponse where the system names the item itself, else
        ``item_id``.
        """
        message = accept_item_request(
            request_id, card_number, item_id, title=title, author=author, due=due,
            from_agency=self.from_agency, to_agency=self.agency_id, action=action,
        )
        answer = await self._exchange(message, ACCEPT_ITEM)
        return answer.item_id or item_id.strip()

    async def check_out(self, card_number: str, item_id: str) -> date | None:
        """Lend item ``item_id`` to the patron with ``card_number`` (NCIP 2.02
        Part 1, "Check Out Item"); the ``DateDue`` the system set, ``None`` for a
        loan without one (``IndeterminateLoanPeriodFlag``, ``NonReturnableFlag``)."""
        message = check_out_item_request(
            card_number, item_id, from_agency=self.from_agency, to_agency=self.agency_id
        )
        return (await self._exchange(message, CHECK_OUT_ITEM)).due

    async def renew(self, card_number: str, item_id: str) -> date | None:
        """Extend the loan of item ``item_id`` to the patron with ``card_number``
        (NCIP 2.02 Part 1, "Renew Item"); the new ``DateDue``, ``None`` when the
        system sends none (a ``Pending`` renewal)."""
        message = renew_item_request(
            card_number, item_id, from_agency=self.from_agency, to_agency=self.agency_id
        )
        return (await self._exchange(message, RENEW_ITEM)).due

    async def check_in(self, item_id: str) -> None:
        """Item ``item_id`` is back (NCIP 2.02 Part 1, "Check In Item").

        A check-in tried again after its first answer was lost raises
        ``ItemNotCheckedOut``: the caller knows whether that means done.
        """
        message = check_in_item_request(
            item_id, from_agency=self.from_agency, to_agency=self.agency_id
        )
        await self._exchange(message, CHECK_IN_ITEM)

    async def _exchange(self, message: bytes, service: str) -> CirculationResponse:
        body = await self._post(message)
        return parse_circulation_response(
            body, service, peer=self.library, max_bytes=self.max_bytes
        )
