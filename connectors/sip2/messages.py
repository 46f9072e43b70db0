"""SIP2 messages built and parsed without I/O.

Implements, of the 3M Standard Interchange Protocol version 2.00 ("SIP2"):

- the message format: a two-digit command identifier, fixed-length fields, then
  variable-length fields, each a two-letter field identifier, a value and the field
  delimiter ``|``; a message ends with a carriage return;
- error detection: the sequence number (``AY``, one digit 0-9) and the checksum
  (``AZ``, four hex digits: the 16-bit two's complement of the sum of the message's
  bytes up to and including ``AZ``); Request SC Resend (96) and Request ACS Resend (97);
- Login (93) and Login Response (94);
- Patron Information (63) and Patron Information Response (64), with the 14-character
  patron status shared with Patron Status Response (24).

Beyond the standard, a Patron Information Response may carry extension fields. We
read the ones the big open-source servers send:

===== ================ =====================================================
field meaning          from
===== ================ =====================================================
PB    birth date       Envisionware extension; sent by Koha (C4::SIP, as
                       ``FID_PATRON_BIRTHDATE``) and Evergreen (YYYYMMDD)
PC    patron class     Envisionware extension; Koha sends the patron category
                       code, Evergreen the profile (permission group) name
PA    expiration date  Georgia Public Library Service's SIPServer, kept by
                       Evergreen (``expire_date`` as YYYYMMDD)
PX    expiration date  Polaris (read only when PA is absent or not a date)
===== ================ =====================================================

Koha sends no expiration date unless the library adds one as a custom patron field;
we found no server that uses ``PE`` for it, so ``PE`` is not read. Extension fields
are not standard, and Polaris uses ``PA`` for something else: a value that is not a
date is therefore "the register does not say", never an error.

Character set: SIP2 2.00 only speaks of ASCII; in practice servers send UTF-8 (Koha's
``encoding`` setting, Evergreen), older ones latin-1. We write UTF-8 and read UTF-8,
falling back to latin-1 for a message that is not UTF-8. The checksum is summed over
the bytes on the wire (what Koha's and Evergreen's servers do); a checksum summed over
the characters instead (what some clients do) is accepted too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType

from broker.domain.register import RegisterEntry
from connectors.sip2.errors import ChecksumMismatch, MalformedMessage

TERMINATOR = b"\r"
DELIMITER = "|"
ENCODING = "utf-8"

LOGIN = "93"
LOGIN_RESPONSE = "94"
PATRON_INFORMATION = "63"
PATRON_INFORMATION_RESPONSE = "64"
REQUEST_SC_RESEND = "96"
REQUEST_ACS_RESEND = "97"

# "000" is the protocol's "unknown" language: the server answers in its default.
LANGUAGE_UNKNOWN = "000"
# Ten blanks: no item lists in the answer, we only want the patron.
SUMMARY_NONE = " " * 10

# Field identifiers we write or read (SIP2 2.00, "Fields"; extensions at the end).
PATRON_IDENTIFIER = "AA"
TERMINAL_PASSWORD = "AC"
PATRON_PASSWORD = "AD"
PERSONAL_NAME = "AE"
SCREEN_MESSAGE = "AF"
INSTITUTION_ID = "AO"
SEQUENCE_NUMBER = "AY"
CHECKSUM = "AZ"
EMAIL = "BE"
CURRENCY = "BH"
VALID_PATRON = "BL"
FEE_AMOUNT = "BV"
HOLD_ITEMS_LIMIT = "BZ"
OVERDUE_ITEMS_LIMIT = "CA"
CHARGED_ITEMS_LIMIT = "CB"
FEE_LIMIT = "CC"
LOGIN_USER_ID = "CN"
LOGIN_PASSWORD = "CO"
LOCATION_CODE = "CP"
VALID_PATRON_PASSWORD = "CQ"
EXT_EXPIRATION_DATE = "PA"  # GPLS SIPServer / Evergreen
EXT_BIRTH_DATE = "PB"  # Envisionware (Koha, Evergreen)
EXT_PATRON_CLASS = "PC"  # Envisionware (Koha, Evergreen)
EXT_POLARIS_EXPIRATION_DATE = "PX"  # Polaris

# The error-detection trailer: optional sequence number, then AZ and four hex digits.
_TRAILER = re.compile(rb"(?:AY([0-9]))?AZ([0-9A-Fa-f]{4})\Z")
_FIELD_ID = re.compile(r"[A-Z][A-Z0-9]")
_COUNT = re.compile(r"[0-9]{4}|\s{4}")
_MONEY = re.compile(r"([-+]?)\s*(?:[^\d\s.,+-]{1,3}\s*)?(\d+(?:[.,]\d+)?)")
# Koha writes a delimiter inside a value as an HTML character reference.
_ESCAPED_DELIMITER = "&#124;"


# ------------------------------------------------------------------ error detection


def checksum(data: bytes) -> str:
    """The SIP2 checksum of ``data`` (everything up to and including ``AZ``): the
    two's complement of the 16-bit sum of its bytes, as four uppercase hex digits.

    The specification's worked example: ``990 402.00AY1AZ`` has checksum ``FCB4``.
    """
    return f"{-sum(data) & 0xFFFF:04X}"


def _checksum_matches(covered: bytes, given: str) -> bool:
    value = int(given, 16)
    if (sum(covered) + value) & 0xFFFF == 0:
        return True
    # Some implementations sum characters, not bytes; the same for ASCII.
    text = _decode(covered)
    return (sum(map(ord, text)) + value) & 0xFFFF == 0


def frame(body: str, sequence: int | None) -> bytes:
    """``body`` on the wire: encoded, with the error-detection trailer (``AY`` when
    ``sequence`` is given, then ``AZ`` and the checksum) and the terminating CR."""
    if sequence is not None and not 0 <= sequence <= 9:
        raise ValueError(f"a SIP2 sequence number is one digit, not {sequence}")
    covered = body.encode(ENCODING)
    if sequence is not None:
        covered += f"{SEQUENCE_NUMBER}{sequence}".encode("ascii")
    covered += CHECKSUM.encode("ascii")
    return covered + checksum(covered).encode("ascii") + TERMINATOR


def _decode(data: bytes) -> str:
    try:
        return data.decode(ENCODING)
    except UnicodeDecodeError:
        # latin-1 maps every byte, so an old server's names still come through.
        return data.decode("latin-1")


@dataclass(frozen=True, slots=True)
class Message:
    """One SIP2 message off the wire: its command identifier, its text without the
    error-detection trailer, the sequence number it carried and the raw bytes."""

    code: str
    text: str
    sequence: int | None
    raw: bytes = field(repr=False)
    checked: bool = False


def decode(raw: bytes) -> Message:
    """Parse the framing of one message (without or with its CR) and verify its
    checksum when it has one.

    A message without ``AZ`` is accepted: error detection is a setting of the server.
    Raises ``ChecksumMismatch`` for a wrong checksum and ``MalformedMessage`` for
    anything that does not start with a two-digit command identifier.
    """
    # A server configured for CR LF leaves the LF in front of its next message.
    raw = raw.strip(b"\r\n")
    sequence: int | None = None
    checked = False
    body = raw
    trailer = _TRAILER.search(raw)
    if trailer is not None:
        covered = raw[: trailer.start(2)]
        if not _checksum_matches(covered, trailer.group(2).decode("ascii")):
            raise ChecksumMismatch("the message's checksum does not match its content")
        if trailer.group(1) is not None:
            sequence = int(trailer.group(1))
        body = raw[: trailer.start()]
        checked = True
    text = _decode(body)
    if len(text) < 2 or not text[:2].isascii() or not text[:2].isdigit():
        raise MalformedMessage("the answer is not a SIP2 message (no command identifier)")
    return Message(text[:2], text, sequence, raw, checked)


# ------------------------------------------------------------------------- fields


def _value(name: str, value: str) -> str:
    # A delimiter or a line end inside a value would end the field or the message.
    if any(c in value for c in "|\r\n"):
        raise ValueError(f"a SIP2 {name} cannot contain '|', CR or LF")
    return value


def can_carry(value: str) -> bool:
    """Whether ``value`` fits in a SIP2 variable-length field."""
    return not any(c in value for c in "|\r\n")


def split_fields(text: str) -> Mapping[str, tuple[str, ...]]:
    """The variable-length fields of ``text`` (the part after the fixed fields),
    each identifier with its values in message order (AF, for one, may repeat)."""
    found: dict[str, list[str]] = {}
    for part in text.split(DELIMITER):
        if not part:
            continue
        if not _FIELD_ID.match(part):
            raise MalformedMessage("a variable-length field without a field identifier")
        found.setdefault(part[:2], []).append(part[2:].replace(_ESCAPED_DELIMITER, DELIMITER))
    return MappingProxyType({key: tuple(values) for key, values in found.items()})


def _first(fields: Mapping[str, tuple[str, ...]], key: str) -> str | None:
    values = fields.get(key)
    return values[0] if values else None


def _transaction_date(when: datetime) -> str:
    # YYYYMMDDZZZZHHMMSS; four blanks for ZZZZ mean local time.
    return when.strftime("%Y%m%d") + "    " + when.strftime("%H%M%S")


# ----------------------------------------------------------------------- requests


def build_login(user_id: str, password: str, *, location_code: str = "",
                sequence: int | None) -> bytes:
    """Login (93): UID and PWD algorithms "0" (not encrypted), CN, CO and, when
    given, CP."""
    body = (LOGIN + "00"
            + LOGIN_USER_ID + _value("login user id", user_id) + DELIMITER
            + LOGIN_PASSWORD + _value("login password", password) + DELIMITER)
    if location_code:
        body += LOCATION_CODE + _value("location code", location_code) + DELIMITER
    return frame(body, sequence)


def build_patron_information(patron_identifier: str, *, institution_id: str, when: datetime,
                             sequence: int | None, terminal_password: str = "",
                             language: str = LANGUAGE_UNKNOWN) -> bytes:
    """Patron Information (63): language, transaction date, a blank summary (no item
    lists), AO and AA, and AC when given. No patron password (AD): the broker does
    not know it, and servers then leave CQ out instead of refusing."""
    if len(language) != 3:
        raise ValueError("a SIP2 language is three digits")
    body = (PATRON_INFORMATION + language + _transaction_date(when) + SUMMARY_NONE
            + INSTITUTION_ID + _value("institution id", institution_id) + DELIMITER
            + PATRON_IDENTIFIER + _value("patron identifier", patron_identifier)
            + DELIMITER)
    if terminal_password:
        body += TERMINAL_PASSWORD + _value("terminal password", terminal_password) + DELIMITER
    return frame(body, sequence)


def build_request_acs_resend() -> bytes:
    """Request ACS Resend (97): "your last message reached me garbled"."""
    return frame(REQUEST_ACS_RESEND, None)


# ---------------------------------------------------------------------- responses


def parse_login_response(message: Message) -> bool:
    """Login Response (94): whether the login was accepted ("1") or not ("0")."""
    if message.code != LOGIN_RESPONSE:
        raise MalformedMessage(f"expected a Login Response (94), got {message.code}")
    ok = message.text[2:3]
    if ok not in ("0", "1"):
        raise MalformedMessage("the Login Response's ok field is neither 0 nor 1")
    return ok == "1"


def _flag(char: str) -> bool:
    # The specification says Y or blank; some servers write N for "no".
    if char in "Yy":
        return True
    if char in " Nn":
        return False
    raise MalformedMessage("a patron status flag is neither Y, N nor blank")


@dataclass(frozen=True, slots=True)
class PatronStatus:
    """The 14-character patron status (Patron Status Response, 24; Patron Information
    Response, 64): each flag says a restriction applies."""

    charge_privileges_denied: bool = False
    renewal_privileges_denied: bool = False
    recall_privileges_denied: bool = False
    hold_privileges_denied: bool = False
    card_reported_lost: bool = False
    too_many_items_charged: bool = False
    too_many_items_overdue: bool = False
    too_many_renewals: bool = False
    too_many_claims_of_items_returned: bool = False
    too_many_items_lost: bool = False
    excessive_outstanding_fines: bool = False
    excessive_outstanding_fees: bool = False
    recall_overdue: bool = False
    too_many_items_billed: bool = False

    @classmethod
    def parse(cls, text: str) -> PatronStatus:
        if len(text) != 14:
            raise MalformedMessage("the patron status is not 14 characters")
        return cls(*map(_flag, text))

    @property
    def blocks_borrowing(self) -> bool:
        """Whether the patron may not borrow or request: charge or hold privileges
        denied, or the card reported lost. Renewal and recall denials do not keep a
        patron from a new loan; too many items or fines are the ILS's reasons for the
        denials, and fines reach the broker as the fee amount anyway."""
        return (self.charge_privileges_denied or self.hold_privileges_denied
                or self.card_reported_lost)


# 64 + status 14 + language 3 + transaction date 18 + six counts of 4.
_PATRON_INFORMATION_FIXED = 2 + 14 + 3 + 18 + 6 * 4


@dataclass(frozen=True, slots=True)
class PatronInformation:
    """Patron Information Response (64), the parts of it the broker reads.

    Counts and limits are ``None`` where the server left them blank or out; the
    dates and the class come from the extension fields (see the module docstring).
    """

    status: PatronStatus
    language: str
    transaction_date: str
    hold_items_count: int | None
    overdue_items_count: int | None
    charged_items_count: int | None
    fine_items_count: int | None
    recall_items_count: int | None
    unavailable_holds_count: int | None
    institution_id: str
    patron_identifier: str
    personal_name: str
    valid_patron: bool | None = None
    valid_patron_password: bool | None = None
    hold_items_limit: int | None = None
    overdue_items_limit: int | None = None
    charged_items_limit: int | None = None
    currency: str | None = None
    fee_amount: Decimal | None = None
    fee_limit: Decimal | None = None
    email: str | None = None
    birth_date: date | None = None
    patron_class: str | None = None
    expiration_date: date | None = None
    screen_messages: tuple[str, ...] = ()
    sequence: int | None = None
    raw: bytes = field(default=b"", repr=False)


def _count(text: str) -> int | None:
    if not _COUNT.fullmatch(text):
        raise MalformedMessage("an item count is not four digits")
    return None if text.isspace() else int(text)


def _yes_no(value: str | None) -> bool | None:
    if value is None or not value.strip():
        return None
    if value.strip() in ("Y", "y"):
        return True
    if value.strip() in ("N", "n"):
        return False
    raise MalformedMessage("a Y/N field is neither Y nor N")


def _limit(value: str | None) -> int | None:
    # Limits are unused by the broker: a server's odd value is not worth a failure.
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


def parse_money(value: str | None) -> Decimal | None:
    """A fee amount (BV, CC): a decimal number, perhaps with a currency sign in front
    or a decimal comma; ``None`` when the field is absent or blank."""
    if value is None or not value.strip():
        return None
    match = _MONEY.fullmatch(value.strip())
    if match is None:
        raise MalformedMessage("a fee amount is not a number")
    return Decimal(match.group(1) + match.group(2).replace(",", "."))


def parse_extension_date(value: str | None) -> date | None:
    """A date in an extension field: YYYYMMDD, YYYY-MM-DD, or a SIP2 timestamp
    (YYYYMMDDZZZZHHMMSS). Anything else is ``None``: extensions are not standard."""
    if value is None:
        return None
    text = value.strip()
    match = re.fullmatch(r"(\d{4})-?(\d{2})-?(\d{2})(?:.{4}\d{6})?", text)
    if match is None:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None


def parse_patron_information_response(message: Message) -> PatronInformation:
    """Patron Information Response (64): fixed fields by position, then AO, AA, AE,
    BL, CQ, BZ, CA, CB, BH, BV, CC, BE, AF and the extensions PA/PX, PB and PC."""
    if message.code != PATRON_INFORMATION_RESPONSE:
        raise MalformedMessage(
            f"expected a Patron Information Response (64), got {message.code}")
    text = message.text
    if len(text) < _PATRON_INFORMATION_FIXED:
        raise MalformedMessage("the Patron Information Response's fixed fields are short")
    counts = [_count(text[37 + 4 * i: 41 + 4 * i]) for i in range(6)]
    fields = split_fields(text[_PATRON_INFORMATION_FIXED:])
    identifier = _first(fields, PATRON_IDENTIFIER)
    if identifier is None:
        raise MalformedMessage("the Patron Information Response has no patron identifier")
    expiration = parse_extension_date(_first(fields, EXT_EXPIRATION_DATE))
    if expiration is None:
        expiration = parse_extension_date(_first(fields, EXT_POLARIS_EXPIRATION_DATE))
    return PatronInformation(
        status=PatronStatus.parse(text[2:16]),
        language=text[16:19],
        transaction_date=text[19:37],
        hold_items_count=counts[0],
        overdue_items_count=counts[1],
        charged_items_count=counts[2],
        fine_items_count=counts[3],
        recall_items_count=counts[4],
        unavailable_holds_count=counts[5],
        institution_id=_first(fields, INSTITUTION_ID) or "",
        patron_identifier=identifier,
        personal_name=_first(fields, PERSONAL_NAME) or "",
        valid_patron=_yes_no(_first(fields, VALID_PATRON)),
        valid_patron_password=_yes_no(_first(fields, VALID_PATRON_PASSWORD)),
        hold_items_limit=_limit(_first(fields, HOLD_ITEMS_LIMIT)),
        overdue_items_limit=_limit(_first(fields, OVERDUE_ITEMS_LIMIT)),
        charged_items_limit=_limit(_first(fields, CHARGED_ITEMS_LIMIT)),
        currency=_first(fields, CURRENCY) or None,
        fee_amount=parse_money(_first(fields, FEE_AMOUNT)),
        fee_limit=parse_money(_first(fields, FEE_LIMIT)),
        email=(_first(fields, EMAIL) or "").strip() or None,
        birth_date=parse_extension_date(_first(fields, EXT_BIRTH_DATE)),
        patron_class=(_first(fields, EXT_PATRON_CLASS) or "").strip() or None,
        expiration_date=expiration,
        screen_messages=fields.get(SCREEN_MESSAGE, ()),
        sequence=message.sequence,
        raw=message.raw,
    )


def split_personal_name(name: str) -> tuple[str, str]:
    """(surname, given name) of a personal name (AE).

    SIP2 leaves the form of AE open. "Surname, Given" is split at the first comma.
    Without a comma the name is taken as given names first, surname last, which is
    what Koha ("firstname surname") and Evergreen ("first second family") send by
    default; a surname of several words ("van der Meer") then needs the server to
    write "surname, given" (Koha: the account's ``ae_field_template``).
    """
    name = " ".join(name.split())
    if "," in name:
        surname, _, given = name.partition(",")
        return surname.strip(), given.strip()
    given, _, surname = name.rpartition(" ")
    return surname, given


def to_register_entry(info: PatronInformation) -> RegisterEntry | None:
    """What the register says, or ``None`` for a patron the server does not know.

    Unknown is BL=N. A server that leaves BL out (SIP 1.00 style) is taken at its
    personal name: an unknown patron has an empty one. Blocked is the status's
    ``blocks_borrowing``; fines are BV; SIP2 says nothing of a membership fee or a
    signed statement, so those stay ``None``.
    """
    valid = info.valid_patron
    if valid is None:
        valid = bool(info.personal_name.strip())
    if not valid:
        return None
    surname, given_name = split_personal_name(info.personal_name)
    return RegisterEntry(
        card_number=info.patron_identifier.strip(),
        surname=surname,
        given_name=given_name,
        birth_date=info.birth_date,
        email=info.email,
        category=info.patron_class,
        fee_paid=None,
        statement_signed=None,
        blocked=info.status.blocks_borrowing,
        expires=info.expiration_date,
        fines_due=info.fee_amount,
    )
