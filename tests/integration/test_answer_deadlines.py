"""A lender that does not answer within its answer time (working hours, its own country's
holidays) loses the order to the next lender: the timer written with the order, rq's
scheduled registry, the scheduler process and a real worker, against a real Redis."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry
from rq.scheduler import RQScheduler

from broker.domain.request import Request
from broker.domain.states import Event, State
from broker.domain.workdays import answer_deadline
from broker.jobs.deadlines import OVERDUE_REASON, take_back_overdue
from broker.jobs.dispatcher import Dispatcher
from broker.processes import QUEUE
from broker.services.borrower import BorrowerChecks
from broker.services.consortium_file import load
from broker.services.routing import Router
from broker.store.accounts import AccountStore
from broker.store.keys import Keys, shard_of
from broker.store.requests import OutboxJob, RequestStore

from builders import a_request, three_library_consortium

ROTA = json.dumps({"lenders": [{"library": "C"}, {"library": "B"}]})
# A Friday afternoon in Ljubljana, where library C is: its 24 working hours are Friday
# 14-16, Monday 23 and Tuesday 24 June, then Wednesday 25 June is Statehood Day, so the
# order is overdue on Thursday 26 June at 14:00 local time, 12:00 UTC.
FRIDAY = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
FRIDAY_DEADLINE = datetime(2025, 6, 26, 12, 0, tzinfo=UTC)
TIMER = "broker.jobs.deadlines.answer_overdue"
# Long enough for a Python process to start; the scheduler polls every 0.2 s.
PROCESS_WAIT = 30.0


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(autouse=True)
def consortium_file(tmp_path: Path, redis_url: str, namespace: str,
                    monkeypatch: pytest.MonkeyPatch) -> Path:
    """Library C (SI) first in the rota, then B (LV); the environment a worker and the
    scheduler started from this test read their settings from."""
    path = three_library_consortium(tmp_path)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("ILLBROKER_NAMESPACE", namespace)
    monkeypatch.setenv("ILLBROKER_CONSORTIUM", str(path))
    return path


@pytest.fixture
def keys(namespace: str) -> Keys:
    return Keys(namespace)


@pytest.fixture
def sync_redis(redis_url: str, namespace: str) -> Iterator[SyncRedis]:
    client = SyncRedis.from_url(redis_url)
    yield client
    for key in client.scan_iter(match=f"*{namespace}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def dispatcher(sync_redis: SyncRedis, keys: Keys) -> Iterator[Dispatcher]:
    queue = Queue(keys.queue(QUEUE), connection=sync_redis)
    yield Dispatcher(sync_redis, keys, queue)
    # rq names a job's keys by the job id, outside the test's namespace.
    for holder in (queue, ScheduledJobRegistry(queue=queue), FinishedJobRegistry(queue=queue),
                   FailedJobRegistry(queue=queue)):
        for job in Job.fetch_many(holder.get_job_ids(), connection=sync_redis):
            if job is not None:
                job.delete()


@pytest.fixture
def router_at(store: RequestStore, redis: Redis, keys: Keys,
              consortium_file: Path) -> Callable[[datetime | None], Router]:
    """A router whose clock says ``at`` (None: the real clock). From ROUTING on it asks
    no register, so it needs no register connectors."""
    consortium = load(consortium_file)

    def make(at: datetime | None = None) -> Router:
        clock = (lambda: at) if at is not None else now
        return Router(store, AccountStore(redis, keys),
                      BorrowerChecks(redis, keys, consortium, {}), clock=clock)

    return make


async def routing_request(store: RequestStore, forward: bool = False) -> Request:
    """A request whose borrower check passed: next stop, the first lender of its rota
    (with ``forward``, the job that sends it there waits in the outbox)."""
    r = await store.create(replace(a_request(), home_library="A", pickup_location="A",
                                   rota=ROTA), actor="t")
    r = await store.apply(r, Event.SUBMITTED, "t")
    jobs = [OutboxJob("process_request", r.id)] if forward else []
    return await store.apply(r, Event.BORROWER_CONFIRMED, "t", jobs=jobs)


def timers(dispatcher: Dispatcher) -> dict[str, Job]:
    """The answer deadlines waiting for their time (B's orders go over ISO 18626 to a
    partner that is down here, so its delivery waits for a retry beside them)."""
    registry = ScheduledJobRegistry(queue=dispatcher.queue)
    jobs = (Job.fetch(job_id, connection=dispatcher.redis)
            for job_id in registry.get_job_ids())
    return {job.id: job for job in jobs if job.func_name == TIMER}


def scheduled_at(dispatcher: Dispatcher, job_id: str) -> datetime:
    return ScheduledJobRegistry(queue=dispatcher.queue).get_scheduled_time(job_id)


def close(scheduled: datetime, deadline: datetime) -> bool:
    """rq keeps a scheduled time to the second."""
    return abs(scheduled - deadline) < timedelta(seconds=1)


def fire_due_timers(dispatcher: Dispatcher) -> None:
    """What the scheduler does each round: due jobs from rq's scheduled registry into
    the queue (the scheduler process itself is tested below)."""
    scheduler = RQScheduler([dispatcher.queue], connection=dispatcher.redis)
    assert scheduler.acquire_locks()
    scheduler.enqueue_scheduled_jobs()
    scheduler.release_locks()


def outbox(dispatcher: Dispatcher, request: Request) -> list[dict[str, Any]]:
    entries = dispatcher.redis.lrange(dispatcher.keys.outbox(shard_of(request.id)), 0, -1)
    return [json.loads(e) for e in entries]


async def run_worker() -> None:
    """`illbroker worker --burst`: a real worker process until the queue is empty."""
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "broker.cli", "worker", "--burst",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(worker.communicate(), 60)
    assert worker.returncode == 0, err.decode()


async def work(dispatcher: Dispatcher) -> None:
    """Workers, and the outbox into rq after each, until nothing is left to run now
    (timers for later wait in the scheduled registry)."""
    while dispatcher.queue.count:
        await run_worker()
        dispatcher.dispatch_once()


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PROCESS_WAIT
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        await asyncio.sleep(0.05)


async def run_scheduler_until(condition: Callable[[], bool], what: str) -> None:
    """`illbroker scheduler` until ``condition``, then stopped as a deploy stops it."""
    scheduler = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "broker.cli", "scheduler",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        await until(condition, what)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(scheduler.wait(), 30) == 0


async def test_sending_an_order_schedules_its_answer_deadline(
        store: RequestStore, router_at: Callable[[datetime | None], Router],
        dispatcher: Dispatcher) -> None:
    r = await routing_request(store)
    sent = await router_at(FRIDAY).advance(r.id)
    assert (sent.state, sent.lender, sent.version) == (State.SENT, "C", r.version + 1)
    assert (await store.history(r.id))[-1].data["answer_by"] == FRIDAY_DEADLINE.isoformat()

    assert dispatcher.dispatch_once() == 2
    # The order's delivery is queued; the timer waits for its time.
    assert [j.func_name for j in dispatcher.queue.jobs] == ["broker.jobs.lending.send_order"]
    [(job_id, job)] = timers(dispatcher).items()
    assert scheduled_at(dispatcher, job_id) == FRIDAY_DEADLINE
    assert (job.func_name, job.args, job.kwargs) == (TIMER, (r.id,), {"version": sent.version})


async def test_an_unanswered_order_moves_to_the_next_lender(
        store: RequestStore, router_at: Callable[[datetime | None], Router],
        dispatcher: Dispatcher) -> None:
    r = await routing_request(store)
    # Sent to C last June: its deadline has long passed.
    await router_at(FRIDAY).advance(r.id)
    dispatcher.dispatch_once()
    [c_timer] = timers(dispatcher)
    fire_due_timers(dispatcher)
    assert timers(dispatcher) == {} and c_timer in dispatcher.queue.job_ids

    await work(dispatcher)

    moved = await store.get(r.id)
    assert (moved.state, moved.lender, moved.rota_position) == (State.SENT, "B", "1")
    history = await store.history(r.id)
    assert [e.event for e in history[-3:]] == [Event.SENT_TO_LENDER, Event.ANSWER_OVERDUE,
                                               Event.SENT_TO_LENDER]
    overdue, to_b = history[-2:]
    assert (overdue.actor, dict(overdue.data)) == ("broker", {"lender": "C"})
    assert Job.fetch(c_timer, connection=dispatcher.redis).return_value() is True
    # B's own timer, on B's calendar (Latvia, Riga time), from the moment it was sent.
    [(b_timer, job)] = timers(dispatcher).items()
    assert job.kwargs == {"version": moved.version}
    assert close(scheduled_at(dispatcher, b_timer), answer_deadline(to_b.at, 24, "LV",
                                                                    "Europe/Riga"))
    assert scheduled_at(dispatcher, b_timer) > now()


async def test_a_lender_that_answered_in_time_keeps_the_order(
        store: RequestStore, router_at: Callable[[datetime | None], Router],
        dispatcher: Dispatcher) -> None:
    r = await routing_request(store)
    sent = await router_at(FRIDAY).advance(r.id)
    answered = await store.apply(sent, Event.LENDER_WILL_SUPPLY, "lender:C")
    dispatcher.dispatch_once()
    [c_timer] = timers(dispatcher)
    fire_due_timers(dispatcher)

    await work(dispatcher)

    assert Job.fetch(c_timer, connection=dispatcher.redis).get_status() == JobStatus.FINISHED
    assert Job.fetch(c_timer, connection=dispatcher.redis).return_value() is False
    after = await store.get(r.id)
    assert (after.state, after.lender, after.version) == (State.WILL_SUPPLY, "C",
                                                          answered.version)
    assert Event.ANSWER_OVERDUE not in [e.event for e in await store.history(r.id)]
    assert outbox(dispatcher, r) == []


async def test_a_late_timer_leaves_the_next_lender_alone(
        store: RequestStore, router_at: Callable[[datetime | None], Router],
        dispatcher: Dispatcher) -> None:
    r = await routing_request(store)
    sent = await router_at(FRIDAY).advance(r.id)
    # C says no in time; the order goes on to B (today, so B's timer is not due).
    await store.apply(sent, Event.LENDER_UNFILLED, "lender:C", changes={"lender": None})
    at_b = await router_at(None).advance(r.id)
    assert (at_b.state, at_b.lender) == (State.SENT, "B")
    dispatcher.dispatch_once()
    fire_due_timers(dispatcher)
    assert len(timers(dispatcher)) == 1
    assert [j.func_name for j in dispatcher.queue.jobs].count(TIMER) == 1

    await work(dispatcher)

    after = await store.get(r.id)
    # Still SENT, as C's timer expects; only the version tells it is B's turn now.
    assert (after.state, after.lender, after.version) == (State.SENT, "B", at_b.version)


async def test_the_timer_is_safe_to_run_twice(
        store: RequestStore, router_at: Callable[[datetime | None], Router],
        dispatcher: Dispatcher) -> None:
    r = await routing_request(store)
    sent = await router_at(FRIDAY).advance(r.id)
    assert await take_back_overdue(store, r.id, sent.version) is True
    assert await take_back_overdue(store, r.id, sent.version) is False
    after = await store.get(r.id)
    assert (after.state, after.lender, after.reason) == (State.ROUTING, None, OVERDUE_REASON)
    assert [e.event for e in await store.history(r.id)].count(Event.ANSWER_OVERDUE) == 1
    assert [e["name"] for e in outbox(dispatcher, r)] == ["send_order", "answer_overdue",
                                                          "process_request"]
    assert await take_back_overdue(store, a_request().id, 4) is False  # never stored


class AnswerWhileReading(RequestStore):
    """The lender's answer lands between the timer's read and its write."""

    async def get(self, request_id: str) -> Request:
        read = await super().get(request_id)
        await super().apply(read, Event.LENDER_WILL_SUPPLY, "lender:C")
        return read


async def test_an_answer_racing_the_timer_wins(
        store: RequestStore, router_at: Callable[[datetime | None], Router],
        redis: Redis, keys: Keys) -> None:
    r = await routing_request(store)
    sent = await router_at(FRIDAY).advance(r.id)
    assert await take_back_overdue(AnswerWhileReading(redis, keys), r.id, sent.version) is False
    after = await store.get(r.id)
    assert (after.state, after.lender) == (State.WILL_SUPPLY, "C")


async def test_the_timer_survives_a_scheduler_restart(
        store: RequestStore, dispatcher: Dispatcher) -> None:
    # The real path: a worker sends the order, the scheduler process schedules the timer.
    r = await routing_request(store, forward=True)
    assert dispatcher.dispatch_once() == 1
    await run_worker()
    sent = await store.get(r.id)
    assert (sent.state, sent.lender) == (State.SENT, "C")

    registry = ScheduledJobRegistry(queue=dispatcher.queue)
    await run_scheduler_until(lambda: bool(registry.get_job_ids()),
                              "the scheduler puts the timer into rq's scheduled registry")
    [timer] = registry.get_job_ids()
    due = scheduled_at(dispatcher, timer)
    assert close(due, answer_deadline((await store.history(r.id))[-1].at, 24, "SI",
                                      "Europe/Ljubljana"))
    assert due > now() + timedelta(hours=24)  # three working days: never sooner
    # The scheduler is gone; the timer is in Redis, and the request waits for C.
    assert registry.get_job_ids() == [timer] and timer not in dispatcher.queue.job_ids
    assert (await store.get(r.id)).version == sent.version

    # Time passes (rq's own API moves the timer) and a new scheduler comes up.
    registry.schedule(Job.fetch(timer, connection=dispatcher.redis), now() - timedelta(seconds=1))
    # (The scheduler also queues its housekeeping jobs, so the queue holds more.)
    await run_scheduler_until(lambda: timer in dispatcher.queue.job_ids,
                              "the restarted scheduler queues the due timer")
    assert registry.get_job_ids() == []

    await run_worker()
    moved = await store.get(r.id)
    assert (moved.state, moved.lender) == (State.ROUTING, None)
    assert [e["name"] for e in outbox(dispatcher, moved)] == ["process_request"]
