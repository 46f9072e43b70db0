"""The home library's register: what it says of a borrower, and the borrower check.

Before an order leaves, the patron's data is compared with the home library's own
register (NCIP, SIP2 or an export file). The comparison and the membership
restrictions are pure functions here; the connectors only look the borrower up.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from broker.domain.messages import N_


@dataclass(frozen=True, slots=True)
class Borrower:
    """Who the patron says they are, as the broker has them on the account."""

    card_number: str
    surname: str
    given_name: str
    birth_date: date


@dataclass(frozen=True, slots=True)
class RegisterEntry:
    """What the home library's register says of a card number.

    ``None`` means the register does not say (SIP2, for one, has no birth date);
    a field the register does not say is not compared.
    """

    card_number: str
    surname: str
    given_name: str
    birth_date: date | None = None
    email: str | None = None
    category: str | None = None
    fee_paid: bool | None = None
    statement_signed: bool | None = None
    blocked: bool = False
    expires: date | None = None
    fines_due: Decimal | None = None


class Outcome(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    NOT_FOUND = "not_found"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class BorrowerCheck:
    outcome: Outcome
    differing: tuple[str, ...] = ()
    entry: RegisterEntry | None = None
    detail: str | None = None


def _name(text: str) -> str:
    # Same letters, any case, any spacing and any Unicode composition: "Čuk" typed
    # with a combining caron is the register's "Čuk". Diacritics themselves count.
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def compare(borrower: Borrower, entry: RegisterEntry | None) -> BorrowerCheck:
    """Match, or mismatch with the fields that differ, or not found."""
    if entry is None:
        return BorrowerCheck(Outcome.NOT_FOUND, ("card_number",),
                             detail=N_("the home library's register has no such card number"))
    differing = []
    if entry.card_number.strip().casefold() != borrower.card_number.strip().casefold():
        differing.append("card_number")
    if _name(entry.surname) != _name(borrower.surname):
        differing.append("surname")
    if _name(entry.given_name) != _name(borrower.given_name):
        differing.append("given_name")
    if entry.birth_date is not None and entry.birth_date != borrower.birth_date:
        differing.append("birth_date")
    if differing:
        return BorrowerCheck(Outcome.MISMATCH, tuple(differing), entry,
                             N_("the account does not match the home library's register: "
                                "{fields}", fields=", ".join(differing)))
    return BorrowerCheck(Outcome.MATCH, (), entry)


class Restriction(StrEnum):
    """Why a membership is not complete, each with what the patron can do about it."""

    FEE_UNPAID = "fee_unpaid"
    STATEMENT_UNSIGNED = "statement_unsigned"
    BLOCKED = "blocked"
    EXPIRED = "expired"
    FINES = "fines"

    @property
    def advice(self) -> str:
        return _ADVICE[self]


_ADVICE = {
    Restriction.FEE_UNPAID: N_("pay the membership fee at your library or online"),
    Restriction.STATEMENT_UNSIGNED: N_("visit your library to sign the membership statement "
                                       "in person"),
    Restriction.BLOCKED: N_("contact your library: your membership is blocked"),
    Restriction.EXPIRED: N_("renew your membership at your library"),
    Restriction.FINES: N_("pay your outstanding fines at your library"),
}


def restrictions(entry: RegisterEntry, today: date, fines_limit: Decimal
                 ) -> tuple[Restriction, ...]:
    """What keeps this membership from ILL today; empty when it is complete."""
    found = []
    if entry.fee_paid is False:
        found.append(Restriction.FEE_UNPAID)
    if entry.statement_signed is False:
        found.append(Restriction.STATEMENT_UNSIGNED)
    if entry.blocked:
        found.append(Restriction.BLOCKED)
    if entry.expires is not None and entry.expires < today:
        found.append(Restriction.EXPIRED)
    if entry.fines_due is not None and entry.fines_due > fines_limit:
        found.append(Restriction.FINES)
    return tuple(found)
