"""The SIP2 register connector: messages built and parsed (table tests on fixture
strings), then lookups against a real SIP2 server on localhost (``sip2_server``),
well-behaved and misbehaving."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from broker.domain.register import RegisterEntry
from connectors.errors import RegisterUnavailable
from connectors.sip2 import messages
from connectors.sip2.client import Sip2Register
from connectors.sip2.errors import ChecksumMismatch, LoginRefused, MalformedMessage
from connectors.sip2.messages import PatronStatus

from sip2_server import HOST, PATRONS, Fault, Patron, Sip2Server, sip_checksum


def signed(text: str, encoding: str = "utf-8") -> bytes:
    """``text`` (ending in AZ) with its checksum, by the test server's own arithmetic."""
    covered = text.encode(encoding)
    return covered + sip_checksum(covered).encode("ascii") + b"\r"


FIXED_64 = "64              00020261123    093005" + "0000" * 6
KNOWN_64 = (FIXED_64 + "AOLJMK|AA25278073|AEČuk, Matej|BZ0010|CA0005|CB0030|BLY|BHEUR|"
            "BV0.00|CC10.00|BEmatej.cuk@example.org|PA20280131|PB19850314|PCadult|"
            "AFWelcome|AFSecond line|AY1AZ")
UNKNOWN_64 = ("64YYYY          00020261123    093005" + "0000" * 6
              + "AOLJMK|AA0000|AE|BLN|AFInvalid cardnumber|AY2AZ")


# ------------------------------------------------------------------ error detection


@pytest.mark.parametrize(("covered", "expected"), [
    # The worked example of the SIP2 2.00 specification (an SC Status message).
    ("990 402.00AY1AZ", "FCB4"),
    # Koha's REQUEST_SC_RESEND_CKSUM and its sibling.
    ("96AZ", "FEF6"),
    ("97AZ", "FEF5"),
    ("", "0000"),
])
def test_checksum(covered: str, expected: str) -> None:
    assert messages.checksum(covered.encode()) == expected


def test_checksum_sums_bytes_not_characters() -> None:
    # "Č" is two bytes in UTF-8: 0xC4 0x8C.
    assert messages.checksum("ČAZ".encode()) == f"{-(0xC4 + 0x8C + 0x41 + 0x5A) & 0xFFFF:04X}"


@pytest.mark.parametrize(("raw", "code", "sequence", "checked"), [
    (signed("941AY3AZ"), "94", 3, True),
    (signed("941AZ"), "94", None, True),
    (b"941\r", "94", None, False),  # error detection off at the server
    (b"\n" + signed("940AY0AZ"), "94", 0, True),  # after a CR LF server's previous message
    (signed("941AY3AZ")[:-5] + signed("941AY3AZ")[-5:-1].lower() + b"\r", "94", 3, True),
    (signed("96AZ"), "96", None, True),
])
def test_decode(raw: bytes, code: str, sequence: int | None, checked: bool) -> None:
    message = messages.decode(raw)
    assert (message.code, message.sequence, message.checked) == (code, sequence, checked)
    assert "AZ" not in message.text


def test_decode_accepts_a_checksum_over_characters() -> None:
    # Some servers sum code points, not UTF-8 bytes: "Č" counts as U+010C.
    text = FIXED_64 + "AOX|AA1|AEČuk, Matej|BLY|AY4AZ"
    wrong_kind = f"{-sum(map(ord, text)) & 0xFFFF:04X}"
    message = messages.decode((text + wrong_kind).encode() + b"\r")
    assert message.sequence == 4


@pytest.mark.parametrize("raw", [
    signed("941AY3AZ")[:-2] + b"0\r",
    signed(KNOWN_64).replace(b"Matej", b"Matey"),
])
def test_decode_refuses_a_wrong_checksum(raw: bytes) -> None:
    with pytest.raises(ChecksumMismatch):
        messages.decode(raw)


@pytest.mark.parametrize("raw", [
    b"<html><body>502 Bad Gateway</body></html>\r",
    b"\x00\xff\xfe\r",
    b"9\r",
    b"\r",
    b"HTTP/1.1 400 Bad Request\r\n",
])
def test_decode_refuses_what_is_not_sip2(raw: bytes) -> None:
    with pytest.raises(MalformedMessage):
        messages.decode(raw)


def test_decode_falls_back_to_latin_1() -> None:
    message = messages.decode(signed(FIXED_64 + "AOX|AA1|AEÅström, Karin|BLY|AY0AZ", "latin-1"))
    info = messages.parse_patron_information_response(message)
    assert info.personal_name == "Åström, Karin"


# ----------------------------------------------------------------------- requests


@pytest.mark.parametrize(("location", "sequence", "expected"), [
    ("ILL", 0, b"9300CNill-broker|COsip-secret|CPILL|AY0AZF1D2\r"),
    ("", 9, b"9300CNill-broker|COsip-secret|AY9AZF3B9\r"),
])
def test_build_login(location: str, sequence: int, expected: bytes) -> None:
    built = messages.build_login("ill-broker", "sip-secret", location_code=location,
                                 sequence=sequence)
    assert built == expected
    assert sip_checksum(expected[:-5]) == expected[-5:-1].decode()


@pytest.mark.parametrize(("card", "institution", "sequence", "terminal", "when", "expected"), [
    ("25278073", "LJMK", 1, "", datetime(2026, 11, 23, 9, 30, 5),
     b"6300020261123    093005          AOLJMK|AA25278073|AY1AZF445\r"),
    ("CES9465586", "", None, "term", datetime(2026, 1, 2, 3, 4, 5),
     b"6300020260102    030405          AO|AACES9465586|ACterm|AZF2DB\r"),
])
def test_build_patron_information(card: str, institution: str, sequence: int | None,
                                  terminal: str, when: datetime, expected: bytes) -> None:
    built = messages.build_patron_information(card, institution_id=institution, when=when,
                                              sequence=sequence, terminal_password=terminal)
    assert built == expected
    assert sip_checksum(expected[:-5]) == expected[-5:-1].decode()


@pytest.mark.parametrize("value", ["12|34", "12\r34", "12\n34"])
def test_build_refuses_values_that_would_break_the_message(value: str) -> None:
    with pytest.raises(ValueError, match="cannot contain"):
        messages.build_patron_information(value, institution_id="X", when=datetime(2026, 1, 1),
                                          sequence=0)
    with pytest.raises(ValueError, match="cannot contain"):
        messages.build_login(value, "pw", sequence=0)


@pytest.mark.parametrize("sequence", [-1, 10])
def test_sequence_numbers_are_one_digit(sequence: int) -> None:
    with pytest.raises(ValueError, match="one digit"):
        messages.frame("93", sequence)


def test_request_acs_resend() -> None:
    assert messages.build_request_acs_resend() == b"97AZFEF5\r"


# ---------------------------------------------------------------------- responses


@pytest.mark.parametrize(("raw", "ok"), [
    (signed("941AY0AZ"), True),
    (signed("940AY0AZ"), False),
])
def test_parse_login_response(raw: bytes, ok: bool) -> None:
    assert messages.parse_login_response(messages.decode(raw)) is ok


@pytest.mark.parametrize("raw", [signed("94XAY0AZ"), signed("94AY0AZ"), signed(KNOWN_64)])
def test_parse_login_response_refuses_others(raw: bytes) -> None:
    with pytest.raises(MalformedMessage):
        messages.parse_login_response(messages.decode(raw))


STATUS_FLAGS = [
    "charge_privileges_denied", "renewal_privileges_denied", "recall_privileges_denied",
    "hold_privileges_denied", "card_reported_lost", "too_many_items_charged",
    "too_many_items_overdue", "too_many_renewals", "too_many_claims_of_items_returned",
    "too_many_items_lost", "excessive_outstanding_fines", "excessive_outstanding_fees",
    "recall_overdue", "too_many_items_billed",
]  # fmt: skip


@pytest.mark.parametrize(("position", "flag"), list(enumerate(STATUS_FLAGS)))
def test_patron_status_positions(position: int, flag: str) -> None:
    status = PatronStatus.parse(" " * position + "Y" + " " * (13 - position))
    assert [name for name in STATUS_FLAGS if getattr(status, name)] == [flag]
    assert status.blocks_borrowing is (flag in {"charge_privileges_denied",
                                                "hold_privileges_denied",
                                                "card_reported_lost"})


@pytest.mark.parametrize(("text", "denied"), [
    (" " * 14, 0),
    ("N" * 14, 0),
    ("YYYY" + " " * 10, 4),
    ("y" * 14, 14),
])
def test_patron_status_blank_n_and_y(text: str, denied: int) -> None:
    status = PatronStatus.parse(text)
    assert sum(getattr(status, name) for name in STATUS_FLAGS) == denied


@pytest.mark.parametrize("text", [" " * 13, " " * 15, "X" + " " * 13])
def test_patron_status_refuses_garbage(text: str) -> None:
    with pytest.raises(MalformedMessage):
        PatronStatus.parse(text)


def test_parse_patron_information_response() -> None:
    info = messages.parse_patron_information_response(messages.decode(signed(KNOWN_64)))
    assert info.status == PatronStatus()
    assert (info.language, info.transaction_date) == ("000", "20261123    093005")
    assert info.hold_items_count == info.unavailable_holds_count == 0
    assert (info.institution_id, info.patron_identifier) == ("LJMK", "25278073")
    assert info.personal_name == "Čuk, Matej"
    assert (info.valid_patron, info.valid_patron_password) == (True, None)
    assert (info.hold_items_limit, info.overdue_items_limit, info.charged_items_limit) == (
        10, 5, 30)
    assert (info.currency, info.fee_amount, info.fee_limit) == ("EUR", Decimal("0.00"),
                                                                Decimal("10.00"))
    assert info.email == "matej.cuk@example.org"
    assert (info.birth_date, info.expiration_date) == (date(1985, 3, 14), date(2028, 1, 31))
    assert info.patron_class == "adult"
    assert info.screen_messages == ("Welcome", "Second line")
    assert info.sequence == 1
    assert messages.to_register_entry(info) == RegisterEntry(
        card_number="25278073", surname="Čuk", given_name="Matej",
        birth_date=date(1985, 3, 14), email="matej.cuk@example.org", category="adult",
        fee_paid=None, statement_signed=None, blocked=False, expires=date(2028, 1, 31),
        fines_due=Decimal("0.00"))


@pytest.mark.parametrize(("fields", "attribute", "expected"), [
    ("AOX|AA1|AEA, B|BLY|BV€12,40|", "fee_amount", Decimal("12.40")),
    ("AOX|AA1|AEA, B|BLY|BV-1.50|", "fee_amount", Decimal("-1.50")),
    ("AOX|AA1|AEA, B|BLY|BVEUR 3.00|", "fee_amount", Decimal("3.00")),
    ("AOX|AA1|AEA, B|BLY|BV|", "fee_amount", None),
    ("AOX|AA1|AEA, B|BLY|", "fee_amount", None),
    # Polaris's expiration date when there is no PA; Polaris's own PA is not a date.
    ("AOX|AA1|AEA, B|BLY|PX20270101|", "expiration_date", date(2027, 1, 1)),
    ("AOX|AA1|AEA, B|BLY|PAY|PX20270101|", "expiration_date", date(2027, 1, 1)),
    ("AOX|AA1|AEA, B|BLY|PA2027-02-03|", "expiration_date", date(2027, 2, 3)),
    ("AOX|AA1|AEA, B|BLY|PA20270203    235900|", "expiration_date", date(2027, 2, 3)),
    ("AOX|AA1|AEA, B|BLY|PA20271303|", "expiration_date", None),
    ("AOX|AA1|AEA, B|BLY|PBsoon|", "birth_date", None),
    ("AOX|AA1|AEA&#124;B, C|BLY|", "personal_name", "A|B, C"),
    ("AOX|AA1|AEA, B|BLY|BE  |PC |", "email", None),
    ("AOX|AA1|AEA, B|BLY|BZabcd|", "hold_items_limit", None),
    ("AOX|AA1|AEA, B|", "valid_patron", None),
])
def test_parse_patron_information_fields(fields: str, attribute: str, expected: object) -> None:
    info = messages.parse_patron_information_response(
        messages.decode(signed(FIXED_64 + fields + "AY0AZ")))
    assert getattr(info, attribute) == expected


@pytest.mark.parametrize("text", [
    FIXED_64[:-4] + "AOX|AA1|",  # a count short
    FIXED_64.replace("0000", "00x0", 1) + "AOX|AA1|",  # a count that is not a number
    FIXED_64 + "AOX|AE|BLN|",  # no patron identifier
    FIXED_64 + "AOX|AA1|BLmaybe|",
    FIXED_64 + "AOX|AA1|BVfree|",
    FIXED_64 + "AOX|AA1|x|",  # a field without an identifier
    "24" + FIXED_64[2:] + "AOX|AA1|",  # a Patron Status Response, not what we asked
])
def test_parse_patron_information_refuses_garbage(text: str) -> None:
    with pytest.raises(MalformedMessage):
        messages.parse_patron_information_response(messages.decode(signed(text + "AY0AZ")))


@pytest.mark.parametrize(("fields", "entry"), [
    ("AOLJMK|AA0000|AE|BLN|AFInvalid cardnumber|", None),
    ("AOLJMK|AA0000|AE|", None),  # no BL, no name: a SIP 1.00 style unknown patron
    ("AOLJMK|AA0000|AEMatej Čuk|", RegisterEntry("0000", "Čuk", "Matej")),
])
def test_unknown_patron(fields: str, entry: RegisterEntry | None) -> None:
    info = messages.parse_patron_information_response(
        messages.decode(signed(FIXED_64 + fields + "AY0AZ")))
    assert messages.to_register_entry(info) == entry


def test_unknown_patron_koha_style() -> None:
    info = messages.parse_patron_information_response(messages.decode(signed(UNKNOWN_64)))
    assert info.valid_patron is False
    assert info.status.charge_privileges_denied
    assert messages.to_register_entry(info) is None


@pytest.mark.parametrize(("status", "blocked"), [
    (" " * 14, False),
    ("Y" + " " * 13, True),
    ("   Y" + " " * 10, True),
    ("    Y" + " " * 9, True),
    (" YY" + " " * 11, False),  # renewals and recalls denied: may still borrow
    (" " * 10 + "YY  ", False),  # fines: judged by the broker from BV
])
def test_blocked_from_the_status(status: str, blocked: bool) -> None:
    text = "64" + status + FIXED_64[16:] + "AOX|AA1|AEA, B|BLY|AY0AZ"
    entry = messages.to_register_entry(
        messages.parse_patron_information_response(messages.decode(signed(text))))
    assert entry is not None
    assert entry.blocked is blocked


@pytest.mark.parametrize(("name", "surname", "given"), [
    ("Čuk, Matej", "Čuk", "Matej"),
    ("van der Meer, Femke", "van der Meer", "Femke"),
    ("Bērziņa,Līga Anna", "Bērziņa", "Līga Anna"),
    ("  Åström ,  Karin ", "Åström", "Karin"),
    ("Jürgen Müller", "Müller", "Jürgen"),  # Koha's default: firstname surname
    ("Ana  Božič", "Božič", "Ana"),  # Evergreen's "first second family", no second
    ("Anna Maria Svensson", "Svensson", "Anna Maria"),
    ("Madonna", "Madonna", ""),
    ("", "", ""),
])
def test_split_personal_name(name: str, surname: str, given: str) -> None:
    assert messages.split_personal_name(name) == (surname, given)


@pytest.mark.parametrize(("value", "expected"), [
    ("20280131", date(2028, 1, 31)),
    ("2028-01-31", date(2028, 1, 31)),
    ("20280131    235900", date(2028, 1, 31)),
    ("20280131   Z235900", date(2028, 1, 31)),
    (" 20280131 ", date(2028, 1, 31)),
    ("20280231", None),
    ("31.01.2028", None),
    ("", None),
    (None, None),
])
def test_parse_extension_date(value: str | None, expected: date | None) -> None:
    assert messages.parse_extension_date(value) == expected


# ------------------------------------------------------ against a real SIP2 server


async def test_known_patron(sip2_register: Sip2Register, sip2_server: Sip2Server) -> None:
    entry = await sip2_register.lookup("25278073")
    assert entry == RegisterEntry(
        card_number="25278073", surname="Čuk", given_name="Matej",
        birth_date=date(1985, 3, 14), email="matej.cuk@example.org", category="adult",
        blocked=False, expires=date(2028, 1, 31), fines_due=Decimal("0.00"))
    # Logged in first, with the broker's account and location.
    assert [raw[:2] for raw in sip2_server.received] == [b"93", b"63"]
    assert b"CNill-broker|COsip-secret|CPILL|" in sip2_server.received[0]
    assert b"AOLJMK|AA25278073|" in sip2_server.received[1]


@pytest.mark.parametrize("patron", PATRONS, ids=lambda p: p.surname)
async def test_unicode_round_trip(sip2_register: Sip2Register, patron: Patron) -> None:
    entry = await sip2_register.lookup(f"  {patron.card_number.lower()} ")
    assert entry is not None
    assert (entry.card_number, entry.surname, entry.given_name) == (
        patron.card_number, patron.surname, patron.given_name)
    assert (entry.birth_date, entry.expires, entry.category) == (
        patron.birth_date, patron.expires, patron.patron_class)
    assert entry.fines_due == Decimal(patron.fee_amount)


async def test_blocked_patron(sip2_register: Sip2Register) -> None:
    entry = await sip2_register.lookup("DEL6761697")
    assert entry is not None
    assert entry.blocked
    assert entry.email is None


async def test_unknown_patron_is_none(sip2_register: Sip2Register) -> None:
    assert await sip2_register.lookup("99999999") is None


@pytest.mark.parametrize("card", ["", "   ", "123|AD", "123\r63"])
async def test_card_numbers_sip2_cannot_carry(sip2_register: Sip2Register,
                                              sip2_server: Sip2Server, card: str) -> None:
    assert await sip2_register.lookup(card) is None
    assert sip2_server.received == []


async def test_login_refused(sip2_server: Sip2Server) -> None:
    register = Sip2Register(HOST, sip2_server.port, library="SI-LJMK", timeout=0.5,
                            login_user="ill-broker", login_password="wrong")
    with pytest.raises(LoginRefused) as caught:
        await register.lookup("25278073")
    assert isinstance(caught.value, RegisterUnavailable)
    assert caught.value.peer == "SI-LJMK"
    assert sip2_server.requests("63") == []


async def test_without_login() -> None:
    server = Sip2Server(login=None)
    await server.start()
    try:
        register = Sip2Register(HOST, server.port, library="SE-UPS", timeout=0.5)
        entry = await register.lookup("UPS5350808")
        assert entry is not None
        assert entry.surname == "Åström"
        assert [raw[:2] for raw in server.received] == [b"63"]
    finally:
        await server.stop()


@pytest.mark.parametrize(("encoding", "terminator", "name_format"), [
    ("latin-1", b"\r", "{surname}, {given_name}"),  # an old server: names in latin-1
    ("utf-8", b"\r\n", "{surname}, {given_name}"),  # Koha's default line end
    ("utf-8", b"\r", "{given_name} {surname}"),  # Koha's default personal name
])
async def test_server_conventions(encoding: str, terminator: bytes, name_format: str) -> None:
    server = Sip2Server(encoding=encoding, terminator=terminator, name_format=name_format)
    await server.start()
    try:
        register = Sip2Register(HOST, server.port, library="SE-UPS", timeout=0.5,
                                login_user="ill-broker", login_password="sip-secret")
        for _ in range(2):
            entry = await register.lookup("UPS5350808")
            assert entry is not None
            assert (entry.surname, entry.given_name) == ("Åström", "Karin")
    finally:
        await server.stop()


async def test_sequence_numbers_cycle(sip2_register: Sip2Register,
                                      sip2_server: Sip2Server) -> None:
    for _ in range(6):
        assert await sip2_register.lookup("25278073") is not None
    sequences = [int(raw[-7:-6]) for raw in sip2_server.received]
    assert sequences == [i % 10 for i in range(12)]


async def test_server_asks_for_a_resend(sip2_register: Sip2Register,
                                        sip2_server: Sip2Server) -> None:
    sip2_server.fault = Fault.RESEND
    entry = await sip2_register.lookup("25278073")
    assert entry is not None
    assert [raw[:2] for raw in sip2_server.received] == [b"93", b"93", b"63"]
    assert sip2_server.received[0] == sip2_server.received[1]


async def test_a_garbled_answer_is_asked_for_again(sip2_register: Sip2Register,
                                                   sip2_server: Sip2Server) -> None:
    sip2_server.fault = Fault.CORRUPT_ONCE
    entry = await sip2_register.lookup("CES9465586")
    assert entry is not None
    assert entry.surname == "Bērziņa"
    assert [raw[:2] for raw in sip2_server.received] == [b"93", b"97", b"63"]


async def test_server_answers_96_to_a_bad_checksum(sip2_server: Sip2Server) -> None:
    reader, writer = await asyncio.open_connection(HOST, sip2_server.port)
    try:
        login = messages.build_login("ill-broker", "sip-secret", sequence=0)
        writer.write(login[:-5] + b"0000\r")
        await writer.drain()
        assert await reader.readuntil(b"\r") == b"96AZFEF6\r"
        writer.write(login)
        await writer.drain()
        assert messages.parse_login_response(messages.decode(await reader.readuntil(b"\r")))
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize("fault", [
    Fault.SILENT, Fault.CLOSE, Fault.HANG_UP, Fault.RESET, Fault.BAD_CHECKSUM, Fault.GARBAGE,
    Fault.WRONG_SEQUENCE,
])
async def test_faults_are_unavailable_within_the_timeout(
        sip2_register: Sip2Register, sip2_server: Sip2Server, fault: Fault) -> None:
    sip2_server.fault = fault
    started = time.monotonic()
    with pytest.raises(RegisterUnavailable) as caught:
        await sip2_register.lookup("25278073")
    elapsed = time.monotonic() - started
    assert elapsed < sip2_register.timeout + 0.25
    if fault is Fault.SILENT:
        assert elapsed >= sip2_register.timeout * 0.9
        assert "did not answer within 0.5 s" in str(caught.value)
    assert caught.value.peer == "SI-LJMK"
    # Nothing personal in the message that goes to logs and problem details.
    assert "25278073" not in str(caught.value)


async def test_bad_checksum_is_asked_for_again_then_refused(
        sip2_register: Sip2Register, sip2_server: Sip2Server) -> None:
    sip2_server.fault = Fault.BAD_CHECKSUM
    with pytest.raises(ChecksumMismatch):
        await sip2_register.lookup("25278073")
    assert [raw[:2] for raw in sip2_server.received] == [b"93", b"97", b"97"]


async def test_refused_connection(dead_port: int) -> None:
    register = Sip2Register(HOST, dead_port, library="SI-KR", timeout=2.0)
    started = time.monotonic()
    with pytest.raises(RegisterUnavailable, match="cannot talk to the SIP2 server"):
        await register.lookup("25278073")
    assert time.monotonic() - started < 1.0


async def test_unroutable_host_times_out() -> None:
    # TEST-NET-1 (RFC 5737): nothing answers, the connect itself must time out.
    register = Sip2Register("192.0.2.1", 6001, library="SI-KR", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(RegisterUnavailable):
        await register.lookup("25278073")
    assert time.monotonic() - started < 0.3 + 0.25


async def test_an_endless_answer_is_refused() -> None:
    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"64" + b" " * 5000)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
            await reader.read()
        writer.close()

    server = await asyncio.start_server(flood, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        register = Sip2Register(HOST, port, library="SI-KR", timeout=0.5,
                                max_message_bytes=1024)
        with pytest.raises(MalformedMessage, match="no end within 1024 bytes"):
            await register.lookup("25278073")
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("settings", [
    {"login_user": "ill|broker"},
    {"login_password": "pass\rword"},
    {"location_code": "ILL\n"},
    {"institution_id": "LJ|MK"},
    {"timeout": 0},
])
def test_settings_sip2_cannot_carry_are_refused_at_once(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="SIP2"):
        Sip2Register(HOST, 6001, library="SI-KR", **settings)
