"""What every register connector offers the borrower check."""

from __future__ import annotations

from typing import Protocol

from broker.domain.register import RegisterEntry


class RegisterConnector(Protocol):
    """A home library's patron register (NCIP, SIP2 or an export file).

    ``lookup`` returns the entry for a card number, ``None`` when the register has
    no such patron, and raises ``connectors.errors.RegisterUnavailable`` when it
    cannot say (timeout, refused connection, garbage).
    """

    library: str

    async def lookup(self, card_number: str) -> RegisterEntry | None: ...
