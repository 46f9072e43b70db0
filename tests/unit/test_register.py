from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from broker.domain.register import (
    Borrower,
    Outcome,
    RegisterEntry,
    Restriction,
    compare,
    restrictions,
)

ANA = Borrower("0123456", "Čuk", "Ana", date(1990, 4, 1))
ENTRY = RegisterEntry("0123456", "Čuk", "Ana", date(1990, 4, 1))


@pytest.mark.parametrize(("entry", "outcome", "differing"), [
    (ENTRY, Outcome.MATCH, ()),
    (RegisterEntry(" 0123456 ", "ČUK", "ana", date(1990, 4, 1)), Outcome.MATCH, ()),
    # Composed and decomposed Č are the same letter.
    (RegisterEntry("0123456", "C\u030cuk", "Ana", date(1990, 4, 1)), Outcome.MATCH, ()),
    (RegisterEntry("0123456", "Čuk", "Ana", None), Outcome.MATCH, ()),
    (RegisterEntry("0123456", "Cuk", "Ana", date(1990, 4, 1)), Outcome.MISMATCH,
     ("surname",)),
    (RegisterEntry("0123456", "Čuk", "Anna", date(1991, 4, 1)), Outcome.MISMATCH,
     ("given_name", "birth_date")),
    (None, Outcome.NOT_FOUND, ("card_number",)),
])
def test_compare(entry: RegisterEntry | None, outcome: Outcome,
                 differing: tuple[str, ...]) -> None:
    result = compare(ANA, entry)
    assert (result.outcome, result.differing) == (outcome, differing)


TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, ()),
    ({"fee_paid": False}, (Restriction.FEE_UNPAID,)),
    ({"statement_signed": False}, (Restriction.STATEMENT_UNSIGNED,)),
    ({"blocked": True}, (Restriction.BLOCKED,)),
    ({"expires": date(2026, 11, 22)}, (Restriction.EXPIRED,)),
    ({"expires": TODAY}, ()),
    ({"fines_due": Decimal("10.01")}, (Restriction.FINES,)),
    ({"fines_due": Decimal("10.00")}, ()),
    ({"fee_paid": False, "blocked": True}, (Restriction.FEE_UNPAID, Restriction.BLOCKED)),
])
def test_restrictions(changes: dict[str, object], expected: tuple[Restriction, ...]) -> None:
    entry = RegisterEntry(**{**{"card_number": "1", "surname": "S", "given_name": "G"},
                             **changes})  # type: ignore[arg-type]
    assert restrictions(entry, TODAY, Decimal("10.00")) == expected


def test_every_restriction_tells_what_to_do() -> None:
    for restriction in Restriction:
        assert restriction.advice
