"""The register connector over SIP2: Patron Information on an asyncio TCP connection.

One connection per lookup: connect, Login (93) when the library gave the broker a SIP2
account, Patron Information (63), close. A borrower check is rare next to a self-check
machine's traffic, and a fresh connection cannot be left half-read or logged out by
a server's idle timeout; the cost is one TCP handshake and one login per check, which
the broker's short result cache absorbs.

Error detection (SIP2 2.00, "Error Detection") is always on: every request carries a
sequence number (0-9, cycling per register) and a checksum. An answer whose checksum
is wrong gets one Request ACS Resend (97); a Request SC Resend (96) from the server
gets the request again, at most twice. Everything that goes wrong (refused, reset,
closed, silent, garbled) is a ``RegisterUnavailable`` within ``timeout`` seconds: the
deadline covers the connect, every write and every read of the lookup together.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from datetime import datetime

from broker.domain.register import RegisterEntry
from connectors.errors import RegisterUnavailable
from connectors.sip2 import messages
from connectors.sip2.errors import ChecksumMismatch, LoginRefused, MalformedMessage, Sip2Error

DEFAULT_TIMEOUT = 10.0
# A Patron Information Response without item lists is a few hundred bytes; a
# "message" past this is a server that is not speaking SIP2.
MAX_MESSAGE_BYTES = 64 * 1024
# How often we answer 96 or a bad checksum by sending again before giving up.
MAX_RESENDS = 2


class Sip2Register:
    """A home library's register behind its ILS's SIP2 server.

    ``institution_id`` goes into AO (the consortium file's ``agency_id``); Koha and
    Evergreen check it against the SIP2 account. ``login_user`` and
    ``login_password`` are the broker's SIP2 account (CN, CO), ``location_code`` its
    CP; without ``login_user`` no Login is sent, for servers that trust the address.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        library: str,
        timeout: float = DEFAULT_TIMEOUT,
        login_user: str | None = None,
        login_password: str | None = None,
        location_code: str = "",
        institution_id: str = "",
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        for name, value in (("login_user", login_user), ("login_password", login_password),
                            ("location_code", location_code),
                            ("institution_id", institution_id)):
            # Refused here, at start-up, rather than at the first borrower check.
            if value is not None and not messages.can_carry(value):
                raise ValueError(f"SIP2 {name} cannot contain '|', CR or LF")
        if timeout <= 0:
            raise ValueError("the SIP2 timeout must be positive")
        self.host = host
        self.port = port
        self.library = library
        self.timeout = timeout
        self.login_user = login_user
        self.login_password = login_password
        self.location_code = location_code
        self.institution_id = institution_id
        self.max_message_bytes = max_message_bytes
        self._sequence = itertools.cycle(range(10))

    def __repr__(self) -> str:
        return f"Sip2Register({self.host!r}, {self.port}, library={self.library!r})"

    async def lookup(self, card_number: str) -> RegisterEntry | None:
        """The register's entry for ``card_number``, ``None`` when the server does not
        know the patron (BL=N), ``RegisterUnavailable`` when it cannot say."""
        card = card_number.strip()
        if not card or not messages.can_carry(card):
            # No SIP2 server can hold such a card number: it could not be sent to it.
            return None
        try:
            async with asyncio.timeout(self.timeout):
                info = await self._patron_information(card)
        except TimeoutError:
            raise RegisterUnavailable(f"the SIP2 server did not answer within "
                                      f"{self.timeout:g} s", peer=self.library) from None
        except Sip2Error as exc:
            exc.peer = self.library
            raise
        except asyncio.IncompleteReadError:
            raise RegisterUnavailable("the SIP2 server closed the connection without a "
                                      "complete answer", peer=self.library) from None
        except asyncio.LimitOverrunError:
            raise MalformedMessage(f"the SIP2 server's answer has no end within "
                                   f"{self.max_message_bytes} bytes",
                                   peer=self.library) from None
        except OSError as exc:
            raise RegisterUnavailable(f"cannot talk to the SIP2 server at {self.host}:"
                                      f"{self.port}: {exc.strerror or exc}",
                                      peer=self.library) from None
        return messages.to_register_entry(info)

    async def _patron_information(self, card: str) -> messages.PatronInformation:
        reader, writer = await asyncio.open_connection(
            self.host, self.port, limit=self.max_message_bytes)
        polite = False
        try:
            if self.login_user is not None:
                sequence = next(self._sequence)
                answer = await self._ask(reader, writer, messages.build_login(
                    self.login_user, self.login_password or "",
                    location_code=self.location_code, sequence=sequence), sequence)
                if not messages.parse_login_response(answer):
                    raise LoginRefused("the SIP2 server refused the broker's login")
            sequence = next(self._sequence)
            answer = await self._ask(reader, writer, messages.build_patron_information(
                card, institution_id=self.institution_id, when=datetime.now(),
                sequence=sequence), sequence)
            info = messages.parse_patron_information_response(answer)
            polite = True
            return info
        finally:
            if polite:
                writer.close()
            else:
                # After a failure the server may be stuck or gone: do not wait for it
                # to take the rest of our data, drop the connection.
                writer.transport.abort()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _ask(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   request: bytes, sequence: int) -> messages.Message:
        """Send ``request`` and return the answer, resending on 96 and asking for a
        resend (97) on a bad checksum, at most ``MAX_RESENDS`` times in all."""
        writer.write(request)
        await writer.drain()
        resends = 0
        while True:
            raw = await self._read(reader)
            try:
                answer = messages.decode(raw)
            except ChecksumMismatch:
                if resends == MAX_RESENDS:
                    raise
                resends += 1
                writer.write(messages.build_request_acs_resend())
                await writer.drain()
                continue
            if answer.code == messages.REQUEST_SC_RESEND:
                if resends == MAX_RESENDS:
                    raise MalformedMessage("the SIP2 server keeps asking for the request "
                                           "again (96)")
                resends += 1
                writer.write(request)
                await writer.drain()
                continue
            if answer.sequence is not None and answer.sequence != sequence:
                raise MalformedMessage(f"the SIP2 server answered sequence number "
                                       f"{answer.sequence} to request {sequence}")
            return answer

    async def _read(self, reader: asyncio.StreamReader) -> bytes:
        """The next non-empty message, up to and including its CR."""
        while True:
            raw = await reader.readuntil(messages.TERMINATOR)
            if raw.strip(b"\r\n"):
                return raw
