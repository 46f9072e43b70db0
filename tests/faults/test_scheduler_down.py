"""The clock passes a lender's answer deadline and a pickup deadline while no scheduler
runs: nothing happens meanwhile, and when schedulers come back (two at once, as
after a deploy) each overdue action happens exactly once, with a gap-free history."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from checks import assert_sound, events_of, process_env
from redis.asyncio import Redis

from broker.domain.lifecycle import Answer, BorrowerStep, LenderAnswer
from broker.domain.request import Request
from broker.domain.states import Event, State
from broker.jobs.dispatcher import Dispatcher
from broker.services.borrower import BorrowerChecks
from broker.services.consortium_file import load
from broker.services.lending import Lending
from broker.services.routing import Router
from broker.store.accounts import AccountStore
from broker.store.keys import Keys
from broker.store.requests import RequestStore

from builders import a_request, add_patron, three_library_consortium

# Last June: every deadline set then has long passed.
PAST = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
ROTA = json.dumps({"lenders": [{"library": "C"}, {"library": "B"}]})
PROCESS_WAIT = 20.0


async def confirmed(store: RequestStore, patron: str) -> Request:
    """A request whose borrower check passed, with C then B in its rota."""
    r = await store.create(replace(a_request(patron), home_library="A", pickup_location="A",
                                   rota=ROTA), actor="t")
    r = await store.apply(r, Event.SUBMITTED, "t")
    return await store.apply(r, Event.BORROWER_CONFIRMED, "t")


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + PROCESS_WAIT
    while not await condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        await asyncio.sleep(0.1)


async def start(role: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "broker.cli", role, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def stop(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        await asyncio.wait_for(process.wait(), 15)


@pytest.mark.timeout(30)
async def test_deadlines_passed_while_the_scheduler_was_down_act_once(
        tmp_path: Path, redis: Redis, namespace: str, redis_url: str,
        dispatcher: Dispatcher) -> None:
    path = three_library_consortium(tmp_path)
    consortium = load(path)
    keys = Keys(namespace)
    client = Redis.from_url(redis_url, decode_responses=True)
    store = RequestStore(client, keys)
    accounts = AccountStore(client, keys)
    await add_patron(accounts, "ana@example.org", "111", "Ana", "Čuk", date(1990, 4, 1))
    ana = await accounts.find("ana@example.org")
    assert ana is not None
    # Both were set last June, by a broker whose scheduler then went away.
    router = Router(store, accounts, BorrowerChecks(client, keys, consortium, {}),
                    clock=lambda: PAST)
    lending = Lending(store, accounts, consortium, clock=lambda: PAST)
    unanswered = await router.advance((await confirmed(store, ana.id)).id)
    assert (unanswered.state, unanswered.lender) == (State.SENT, "C")
    collected = await router.advance((await confirmed(store, ana.id)).id)
    await lending.lender_answers(collected.id, "C", Answer(LenderAnswer.SHIPPED,
                                                           due_date=date(2025, 7, 20)),
                                 "lender:C")
    received = await lending.borrower_steps(collected.id, BorrowerStep.RECEIVED, "staff:A",
                                            library="A")
    assert await lending.timer(collected.id, received.version, "ready_for_pickup")
    waiting = await store.get(collected.id)
    assert waiting.state is State.AWAITING_PICKUP
    ids = [unanswered.id, collected.id]

    # No scheduler: the timers wait in the outbox, and nothing moves.
    env = process_env(redis_url, namespace, path)
    worker = await start("worker", env)
    try:
        await asyncio.sleep(1.5)
        assert [(r.state, r.version) for r in await assert_sound(store, ids)] == [
            (State.SENT, unanswered.version), (State.AWAITING_PICKUP, waiting.version)]

        # Two schedulers come up at once; rq's lock lets one move the timers.
        schedulers = [await start("scheduler", env), await start("scheduler", env)]

        async def both_acted() -> bool:
            first, second = await store.get_many(ids)
            return first.lender == "B" and second.state is State.RETURNED

        try:
            await until(both_acted, "the overdue order moved on and the item went back")
            await asyncio.sleep(1.0)  # time for a second action, were there one
        finally:
            await stop(schedulers)
    finally:
        await stop([worker])

    moved, returned = await assert_sound(store, ids)
    assert (moved.state, moved.lender) == (State.SENT, "B")
    assert await events_of(store, moved.id, Event.ANSWER_OVERDUE) == 1
    assert await events_of(store, moved.id, Event.SENT_TO_LENDER) == 2  # C, then B once
    assert (returned.state, returned.reason) == (State.RETURNED, "not collected in time")
    assert await events_of(store, returned.id, Event.PICKUP_EXPIRED) == 1
    await client.aclose()
