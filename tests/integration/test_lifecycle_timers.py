"""The lifecycle's own steps and timers (ready for pickup, pickup deadline, due date,
reminders) against a real Redis: each acts once, and only at the version that set it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from broker.domain.errors import Forbidden
from broker.domain.lifecycle import PATRON_STEPS, Answer, BorrowerStep, LenderAnswer
from broker.domain.request import Request
from broker.domain.states import Event, State
from broker.services.consortium_file import load
from broker.services.lending import Lending
from broker.store.accounts import AccountStore
from broker.store.keys import Keys, shard_of
from broker.store.requests import RequestStore

from builders import VALID_CONSORTIUM, a_request, add_patron, write_consortium

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
async def lending(tmp_path: Path, store: RequestStore, redis: Redis,
                  namespace: str) -> Lending:
    accounts = AccountStore(redis, Keys(namespace))
    await add_patron(accounts, "ana@example.org", "111", "Ana", "Čuk", date(1990, 4, 1))
    return Lending(store, accounts, load(write_consortium(tmp_path, VALID_CONSORTIUM)),
                   clock=lambda: NOW)


async def shipped(lending: Lending) -> Request:
    account = await lending.accounts.find("ana@example.org")
    assert account is not None
    store = lending.requests
    r = await store.create(replace(a_request(account.id), home_library="A",
                                   pickup_location="A"), actor="t")
    for event, changes in ((Event.SUBMITTED, {}), (Event.BORROWER_CONFIRMED, {}),
                           (Event.SENT_TO_LENDER, {"lender": "B"})):
        r = await store.apply(r, event, "t", changes=changes)
    return await lending.lender_answers(r.id, "B", Answer(LenderAnswer.SHIPPED,
                                                          due_date=date(2026, 12, 20)),
                                        "lender:B")


async def outbox(redis: Redis, namespace: str, request: Request) -> list[dict[str, Any]]:
    raw = await redis.lrange(Keys(namespace).outbox(shard_of(request.id)), 0, -1)
    return [json.loads(e) for e in raw]


async def test_received_then_ready_for_pickup_with_its_deadline(
        lending: Lending, redis: Redis, namespace: str) -> None:
    r = await shipped(lending)
    assert (r.state, r.due_date) == (State.SHIPPED, "2026-12-20")
    r = await lending.borrower_steps(r.id, BorrowerStep.RECEIVED, "staff:A", library="A")
    assert r.state is State.RECEIVED
    [step] = [j for j in await outbox(redis, namespace, r) if j["name"] == "lifecycle_timer"]
    assert step["args"] == {"version": r.version, "kind": "ready_for_pickup"}

    assert await lending.timer(r.id, r.version, "ready_for_pickup")
    ready = await lending.requests.get(r.id)
    assert (ready.state, ready.pickup_by) == (State.AWAITING_PICKUP, "2026-12-03")
    jobs = await outbox(redis, namespace, ready)
    mails = [j["args"]["subject"] for j in jobs if j["name"] == "send_mail"]
    assert "Alamut is ready for you to collect" in mails
    timers = {j["args"]["kind"]: j for j in jobs if j["name"] == "lifecycle_timer"
              and j["args"]["version"] == ready.version}
    assert set(timers) == {"pickup_near", "pickup_expired"}
    # The last day to collect it, to its end, in the library's time zone.
    expired_at = datetime.fromtimestamp(timers["pickup_expired"]["at"], UTC)
    assert expired_at == datetime(2026, 12, 3, 22, 59, tzinfo=UTC)
    # A second run of the same step finds another version and does nothing.
    assert not await lending.timer(r.id, r.version, "ready_for_pickup")


async def test_not_collected_in_time_goes_back(lending: Lending) -> None:
    r = await lending.borrower_steps((await shipped(lending)).id, BorrowerStep.RECEIVED,
                                     "staff:A", library="A")
    await lending.timer(r.id, r.version, "ready_for_pickup")
    ready = await lending.requests.get(r.id)
    assert await lending.timer(r.id, ready.version, "pickup_expired")
    back = await lending.requests.get(r.id)
    assert (back.state, back.reason) == (State.RETURNED, "not collected in time")
    assert not await lending.timer(r.id, ready.version, "pickup_expired")


async def test_a_renewal_moves_the_due_timer(lending: Lending, redis: Redis,
                                             namespace: str) -> None:
    r = await lending.borrower_steps((await shipped(lending)).id, BorrowerStep.RECEIVED,
                                     "staff:A", library="A")
    await lending.timer(r.id, r.version, "ready_for_pickup")
    out = await lending.borrower_steps(r.id, BorrowerStep.CHECKED_OUT, "staff:A",
                                       library="A")
    assert out.state is State.ON_LOAN
    pending = await lending.borrower_steps(r.id, BorrowerStep.RENEW, "patron",
                                           patron=out.patron_id)
    assert pending.state is State.RENEWAL_PENDING
    renewed = await lending.lender_answers(r.id, "B", Answer(
        LenderAnswer.RENEWAL, due_date=date(2027, 1, 20)), "lender:B")
    assert (renewed.state, renewed.due_date) == (State.ON_LOAN, "2027-01-20")
    # The timer of the first due date finds a newer version: the loan is not overdue.
    assert not await lending.timer(r.id, out.version, "due")
    assert await lending.timer(r.id, renewed.version, "due")
    overdue = await lending.requests.get(r.id)
    assert overdue.state is State.OVERDUE
    subjects = [j["args"]["subject"] for j in await outbox(redis, namespace, overdue)
                if j["name"] == "send_mail"]
    assert "Alamut is renewed until January 20, 2027" in subjects  # in the mail's language
    assert "Alamut is overdue" in subjects


async def test_only_the_lender_answers_and_only_the_home_library_steps(
        lending: Lending) -> None:
    r = await shipped(lending)
    with pytest.raises(Forbidden):
        await lending.lender_answers(r.id, "C", Answer(LenderAnswer.RECALLED), "lender:C")
    with pytest.raises(Forbidden):
        await lending.borrower_steps(r.id, BorrowerStep.RECEIVED, "staff:B", library="B")
    with pytest.raises(Forbidden):
        await lending.borrower_steps(r.id, BorrowerStep.RECEIVED, "patron",
                                     patron=r.patron_id)
    # The patron's own steps (renewing, a condition's cost, cancelling) are not the desk's.
    for step in PATRON_STEPS:
        with pytest.raises(Forbidden):
            await lending.borrower_steps(r.id, step, "staff:A", library="A")
