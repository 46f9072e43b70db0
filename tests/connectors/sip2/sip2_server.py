"""A real SIP2 server on 127.0.0.1, for the register connector's tests.

It speaks SIP2 2.00 over TCP the way Koha's and Evergreen's servers do: messages end
with CR (or CR LF, as Koha can be configured), a request whose checksum is wrong is
answered with Request SC Resend (96), Request ACS Resend (97) gets the last answer
again, Login (93) is checked against one account, and Patron Information (63) is
answered from a small register of patrons with Unicode names. Answers carry the
request's sequence number and a checksum. The framing and the checksum are written
here afresh, not taken from ``connectors.sip2.messages``, so the tests do not check
the connector against itself.

``fault`` makes the running server misbehave on purpose (see ``Fault``); every
message it receives is kept in ``received``.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

HOST = "127.0.0.1"
LOGIN_USER = "ill-broker"
LOGIN_PASSWORD = "sip-secret"
INSTITUTION = "LJMK"

_TRAILER = re.compile(rb"AY([0-9])AZ([0-9A-Fa-f]{4})\Z")


@dataclass(frozen=True, slots=True)
class Patron:
    """A patron as the server's ILS has them; ``status`` is the 14-flag field."""

    card_number: str
    surname: str
    given_name: str
    birth_date: date | None = None
    email: str | None = None
    patron_class: str | None = None
    expires: date | None = None
    fee_amount: str = "0.00"
    status: str = " " * 14
    screen_message: str = ""


PATRONS = (
    Patron("25278073", "Čuk", "Matej", date(1985, 3, 14), "matej.cuk@example.org", "adult",
           date(2028, 1, 31)),
    Patron("CES9465586", "Bērziņa", "Līga", date(2001, 7, 2), "liga.berzina@example.net",
           "student", date(2027, 9, 30), fee_amount="12.40",
           screen_message="Jums ir nesamaksāti sodi"),
    Patron("UPS5350808", "Åström", "Karin", date(1968, 11, 26), "karin.astrom@example.org",
           "adult", date(2026, 1, 15)),
    # Charge and hold privileges denied: the ILS has blocked him.
    Patron("DEL6761697", "Müller", "Jürgen", date(1979, 5, 5), None, "adult",
           date(2028, 5, 31), status="Y  Y          ", screen_message="Pas geblokkeerd"),
)


class Fault(StrEnum):
    """How the server misbehaves."""

    NONE = "none"
    SILENT = "silent"  # reads every request, never answers
    CLOSE = "close"  # closes every connection as soon as it is made
    HANG_UP = "hang-up"  # reads the first request, then closes without a word
    RESET = "reset"  # sends half an answer, then resets the connection
    BAD_CHECKSUM = "bad-checksum"  # every answer's checksum is off by one
    GARBAGE = "garbage"  # answers with something that is not SIP2
    WRONG_SEQUENCE = "wrong-sequence"  # answers with another sequence number
    RESEND = "resend"  # asks for the first request of a connection again (96)
    CORRUPT_ONCE = "corrupt-once"  # garbles the first answer; a 97 gets it right


def sip_checksum(covered: bytes) -> str:
    """SIP2 2.00 "Error Detection": 16-bit sum of the bytes, negated, in hex."""
    total = sum(covered) % 0x10000
    return format((0x10000 - total) % 0x10000, "04X")


def _framed(body: str, sequence: str | None, encoding: str) -> bytes:
    covered = body.encode(encoding)
    if sequence is not None:
        covered += b"AY" + sequence.encode("ascii")
    covered += b"AZ"
    return covered + sip_checksum(covered).encode("ascii")


def _spoil(message: bytes) -> bytes:
    wrong = (int(message[-4:], 16) + 1) % 0x10000
    return message[:-4] + format(wrong, "04X").encode("ascii")


def _fields(text: str) -> dict[str, str]:
    return {part[:2]: part[2:] for part in text.split("|") if len(part) >= 2}


def _timestamp() -> str:
    return datetime.now().strftime("%Y%m%d    %H%M%S")


@dataclass(slots=True)
class _Session:
    logged_in: bool = False
    last_answer: bytes = b""
    asked_resend: bool = False
    corrupted: bool = False


class Sip2Server:
    """An asyncio SIP2 server over ``patrons``; ``start`` picks a free port."""

    def __init__(self, patrons: Iterable[Patron] = PATRONS, *,
                 login: tuple[str, str] | None = (LOGIN_USER, LOGIN_PASSWORD),
                 encoding: str = "utf-8", terminator: bytes = b"\r",
                 name_format: str = "{surname}, {given_name}") -> None:
        self.patrons = {p.card_number.casefold(): p for p in patrons}
        self.login = login
        self.encoding = encoding
        self.terminator = terminator
        self.name_format = name_format
        self.fault = Fault.NONE
        self.received: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # Dropping the connections ends their handlers (they read EOF); cancelling the
        # handlers instead makes asyncio 3.11 log a traceback for each.
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)

    def requests(self, code: str) -> list[bytes]:
        """The messages received with command identifier ``code``."""
        return [raw for raw in self.received if raw[:2] == code.encode("ascii")]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self._converse(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.transport.abort()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.fault is Fault.CLOSE:
            writer.close()
            return
        session = _Session()
        while True:
            raw = (await reader.readuntil(b"\r")).strip(b"\r\n")
            if not raw:
                continue
            self.received.append(raw)
            if self.fault is Fault.SILENT:
                continue
            if self.fault is Fault.HANG_UP:
                writer.close()
                return
            if self.fault is Fault.GARBAGE:
                writer.write(b"<html><body>502 Bad Gateway</body></html>\r\n")
                await writer.drain()
                continue
            answer = self._answer(raw, session)
            if answer is None:
                writer.close()
                return
            if self.fault is Fault.RESET:
                writer.write(answer[: len(answer) // 2])
                await writer.drain()
                await asyncio.sleep(0.05)
                sock = writer.get_extra_info("socket")
                # Linger 0: close() now sends RST instead of FIN.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            if self.fault is Fault.BAD_CHECKSUM:
                answer = _spoil(answer)
            elif self.fault is Fault.CORRUPT_ONCE and not session.corrupted:
                session.corrupted = True
                answer = _spoil(answer)
            writer.write(answer + self.terminator)
            await writer.drain()

    def _answer(self, raw: bytes, session: _Session) -> bytes | None:
        """The framed answer to ``raw`` (without terminator); ``None`` hangs up."""
        trailer = _TRAILER.search(raw)
        sequence: str | None = None
        if trailer is not None:
            covered = raw[: trailer.start(2)]
            if sip_checksum(covered) != trailer.group(2).decode("ascii").upper():
                return _framed("96", None, "ascii")
            sequence = trailer.group(1).decode("ascii")
            raw = raw[: trailer.start()]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _framed("96", None, "ascii")
        code = text[:2]
        if code == "97":
            return session.last_answer or _framed("96", None, "ascii")
        if self.fault is Fault.RESEND and not session.asked_resend:
            session.asked_resend = True
            return _framed("96", None, "ascii")
        if self.fault is Fault.WRONG_SEQUENCE and sequence is not None:
            sequence = str((int(sequence) + 1) % 10)
        if code == "93":
            fields = _fields(text[4:])
            session.logged_in = self.login is None or (
                (fields.get("CN"), fields.get("CO")) == self.login)
            body = "94" + ("1" if session.logged_in else "0")
        elif code == "63":
            if self.login is not None and not session.logged_in:
                return None  # as Koha does: no session, no service
            body = self._patron_information(text)
        else:
            return _framed("96", None, "ascii")
        session.last_answer = _framed(body, sequence, self.encoding)
        return session.last_answer

    def _patron_information(self, request: str) -> str:
        # 63, language 3, transaction date 18, summary 10: fields start at 33.
        language = request[2:5]
        fields = _fields(request[33:])
        card = fields.get("AA", "")
        institution = fields.get("AO", INSTITUTION)
        patron = self.patrons.get(card.strip().casefold())
        if patron is None:
            # Koha's answer for an unknown patron: everything denied, BL N.
            return ("64" + "YYYY" + " " * 10 + language + _timestamp() + "0000" * 6
                    + f"AO{institution}|AA{card}|AE|BLN|AFInvalid cardnumber|")
        name = self.name_format.format(surname=patron.surname, given_name=patron.given_name)
        body = ("64" + patron.status + language + _timestamp() + "0000" * 6
                + f"AO{institution}|AA{patron.card_number}|AE{name}|BZ0010|CA0005|CB0030|BLY|"
                + f"BHEUR|BV{patron.fee_amount}|CC10.00|")
        if patron.email:
            body += f"BE{patron.email}|"
        if patron.expires:
            body += f"PA{patron.expires:%Y%m%d}|"
        if patron.birth_date:
            body += f"PB{patron.birth_date:%Y%m%d}|"
        if patron.patron_class:
            body += f"PC{patron.patron_class}|"
        if patron.screen_message:
            body += f"AF{patron.screen_message}|"
        return body
