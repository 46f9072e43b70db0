"""The exceptions every connector raises: one base, ``ConnectorError``, for any peer.

Each protocol maps its own error codes to subclasses by an explicit table (see
``connectors.sru.diagnostics``); the web layer and the rq jobs catch these, nothing
else catches broadly.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """A peer (a member library's system) failed us or sent something we cannot use."""

    def __init__(self, message: str, *, peer: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.peer = peer

    def __str__(self) -> str:
        return f"{self.peer}: {self.message}" if self.peer else self.message


class CatalogUnavailable(ConnectorError):
    """The catalog did not answer in time, refused the connection or failed at HTTP level.

    Federated search shows such a catalog as "not answered"; it is never a 500.
    """


class BadResponse(ConnectorError):
    """The peer answered, but not with a message of its protocol (not XML, too large,
    a DOCTYPE with entity declarations, an unexpected root element)."""


class RegisterUnavailable(ConnectorError):
    """The home library's register did not answer in time, refused the connection,
    or answered something that is not its protocol. The borrower check is retried."""


class PartnerUnavailable(ConnectorError):
    """An ISO 18626 partner (another ILL system, or a library's own) did not answer in
    time, refused the connection, failed at HTTP level (5xx) or answered something that
    is not an ISO 18626 confirmation. Sending the message is retried later."""
