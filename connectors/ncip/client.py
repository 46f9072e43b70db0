"""A home library's register over NCIP 2.02, as a ``RegisterConnector``.

Implements the LookupUser service (NCIP 2.02 Part 1, "Lookup User") over NCIP's HTTP
transport; all I/O goes through ``NcipPeer._post`` (``connectors.ncip.transport``),
which enforces the timeout and the response size limit.
"""

from __future__ import annotations

from typing import ClassVar

from broker.domain.register import RegisterEntry
from connectors.errors import ConnectorError, RegisterUnavailable
from connectors.ncip.messages import (
    ELEMENT_TYPES,
    lookup_user_request,
    parse_lookup_user_response,
)
from connectors.ncip.transport import NcipPeer


class NcipRegister(NcipPeer):
    """The patron register of ``library``, asked by NCIP LookupUser at ``url``.

    ``lookup`` returns the ``RegisterEntry``, ``None`` for "Unknown User", raises
    ``RegisterUnavailable`` (an ``NcipBadResponse`` for a response that is not NCIP)
    when the register cannot say, and an ``NcipProblem`` for any other NCIP Problem.
    """

    unavailable: ClassVar[type[ConnectorError]] = RegisterUnavailable

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
