"""The borrower check against a live NCIP register (the responder on localhost)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from broker.domain.accounts import Account, AccountStatus, Role
from broker.domain.errors import BorrowerMismatch, MembershipRestricted, Unavailable
from broker.domain.register import Outcome, Restriction
from broker.domain.states import Service
from broker.services.borrower import BorrowerChecks
from broker.services.consortium_file import load
from broker.services.registers import registers
from broker.store.keys import Keys

from builders import VALID_CONSORTIUM, write_consortium
from ncip_responder import Fault, NcipResponder

CATEGORIES = """
[[categories]]
code = "adult"
name = "Adult"
[[categories]]
code = "student"
name = "Student"
[[categories]]
code = "child"
name = "Child"
[[categories]]
code = "digital"
name = "E-book subscriber"
digital_only = true
"""


def account(card: str, surname: str, given: str, born: date) -> Account:
    return Account(id="A01-test", email="x@example.org", role=Role.PATRON,
                   status=AccountStatus.ACTIVE, created_at=datetime.now(UTC), library="A",
                   given_name=given, surname=surname, birth_date=born, card_number=card,
                   category="adult")


ZIGA = account("1001", "Čuk", "Žiga", date(1990, 3, 14))


@pytest.fixture
async def checks(tmp_path: Path, ncip_responder: NcipResponder, redis_url: str,
                 namespace: str) -> AsyncIterator[BorrowerChecks]:
    text = VALID_CONSORTIUM.replace("[[regions]]", CATEGORIES + "[[regions]]", 1).replace(
        '[libraries.register]\nconnector = "file"\npath = "a.csv"',
        f'[libraries.register]\nconnector = "ncip"\nurl = "{ncip_responder.url}"\n'
        'agency_id = "SI-LJMK"\ntimeout = 1\ncache_seconds = 60', 1)
    consortium = load(write_consortium(tmp_path, text))
    redis = Redis.from_url(redis_url, decode_responses=True)
    async with aiohttp.ClientSession() as session:
        yield BorrowerChecks(redis, Keys(namespace), consortium, registers(consortium, session))
    async for key in redis.scan_iter(match=f"*{namespace}*"):
        await redis.delete(key)
    await redis.aclose()


async def test_a_member_in_good_standing_may_borrow(checks: BorrowerChecks) -> None:
    found = await checks.check(ZIGA)
    assert found.check.outcome is Outcome.MATCH and found.restrictions == ()
    assert found.allows(Service.LOAN) and found.allows(Service.COPY)
    await checks.require(ZIGA, Service.LOAN)


@pytest.mark.parametrize(("who", "restrictions", "digital_only"), [
    (account("1002", "Bērziņa", "Ilze Anna", date(1985, 11, 2)),
     (Restriction.STATEMENT_UNSIGNED,), False),
    (account("1003", "Åström", "Björn", date(1972, 7, 21)),
     (Restriction.FEE_UNPAID, Restriction.BLOCKED, Restriction.FINES), False),
    (account("1004", "Müller", "Jürgen", date(1964, 1, 9)), (Restriction.EXPIRED,), True),
])
async def test_restricted_members_are_told_why(checks: BorrowerChecks, who: Account,
                                               restrictions: tuple[Restriction, ...],
                                               digital_only: bool) -> None:
    found = await checks.check(who)
    assert found.check.outcome is Outcome.MATCH
    assert found.restrictions == restrictions and found.digital_only is digital_only
    with pytest.raises(MembershipRestricted) as refused:
        await checks.require(who, Service.COPY)
    for restriction in restrictions:
        assert restriction.advice in refused.value.detail


async def test_a_mismatch_names_the_fields(checks: BorrowerChecks) -> None:
    wrong = account("1001", "Čuk", "Žiga", date(1990, 3, 15))
    found = await checks.check(wrong)
    assert (found.check.outcome, found.check.differing) == (Outcome.MISMATCH, ("birth_date",))
    with pytest.raises(BorrowerMismatch):
        await checks.require(wrong, Service.LOAN)
    unknown = await checks.check(account("9999", "Nobody", "No", date(2000, 1, 1)))
    assert unknown.check.outcome is Outcome.NOT_FOUND


async def test_answers_are_cached_for_the_configured_time(
        checks: BorrowerChecks, ncip_responder: NcipResponder) -> None:
    await checks.check(ZIGA)
    asked = len(ncip_responder.exchanges)
    await checks.check(ZIGA)
    assert len(ncip_responder.exchanges) == asked


@pytest.mark.parametrize("fault", [Fault.HANG, Fault.RESET, Fault.GARBAGE, Fault.HTTP_500])
async def test_an_unreachable_register_is_an_answer_not_a_hang(
        checks: BorrowerChecks, ncip_responder: NcipResponder, fault: Fault) -> None:
    ncip_responder.fault = fault
    started = time.monotonic()
    found = await checks.check(ZIGA)
    assert found.check.outcome is Outcome.UNREACHABLE
    assert time.monotonic() - started < 2.5
    with pytest.raises(Unavailable):
        await checks.require(ZIGA, Service.LOAN)
