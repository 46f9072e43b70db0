"""The outbox: work a transition asks for reaches a real rq worker exactly once."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from redis import Redis as SyncRedis
from rq import Queue, SimpleWorker, get_current_job

from broker.domain.states import Event
from broker.jobs.dispatcher import Dispatcher
from broker.jobs.registry import JOBS, PERIODIC
from broker.store.keys import Keys, shard_of
from broker.store.requests import OutboxJob, RequestStore

from builders import a_request


def touch(request_id: str, note: str) -> None:
    current = get_current_job()
    assert current is not None
    current.connection.rpush(f"touched:{request_id}", note)


@pytest.fixture
def sync_redis(redis_url: str, namespace: str) -> Iterator[SyncRedis]:
    client = SyncRedis.from_url(redis_url)
    yield client
    for key in client.scan_iter(match=f"*{namespace}*"):
        client.delete(key)
    client.close()


@pytest.fixture(autouse=True)
def touch_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(JOBS, "test_touch", touch)


@pytest.fixture
def dispatcher(sync_redis: SyncRedis, namespace: str) -> Dispatcher:
    queue = Queue(Keys(namespace).queue("default"), connection=sync_redis)
    return Dispatcher(sync_redis, Keys(namespace), queue)


def run_worker(dispatcher: Dispatcher) -> None:
    SimpleWorker([dispatcher.queue], connection=dispatcher.redis).work(burst=True)


async def test_outbox_entries_run_once_in_a_worker(store: RequestStore,
                                                   dispatcher: Dispatcher) -> None:
    assert "test_touch" in JOBS
    r = await store.create(a_request(), actor="t")
    await store.apply(r, Event.SUBMITTED, "t", jobs=[OutboxJob("test_touch", r.id,
                                                               {"note": "hello"})])
    assert dispatcher.dispatch_once() == 1
    assert dispatcher.dispatch_once() == 0
    run_worker(dispatcher)
    assert dispatcher.redis.lrange(f"touched:{r.id}", 0, -1) == [b"hello"]
    dispatcher.redis.delete(f"touched:{r.id}")


async def test_claims_left_by_a_crash_are_recovered(store: RequestStore,
                                                    dispatcher: Dispatcher) -> None:
    r = await store.create(a_request(), actor="t")
    await store.apply(r, Event.SUBMITTED, "t", jobs=[OutboxJob("test_touch", r.id,
                                                               {"note": "again"})])
    shard = shard_of(r.id)
    keys = dispatcher.keys
    # A dispatcher claimed the entry and died before enqueueing it.
    dispatcher.redis.lmove(keys.outbox(shard), keys.outbox_claimed(shard), "LEFT", "RIGHT")
    assert dispatcher.dispatch_once() == 0
    assert dispatcher.recover() == 1
    assert dispatcher.dispatch_once() == 1
    run_worker(dispatcher)
    assert dispatcher.redis.lrange(f"touched:{r.id}", 0, -1) == [b"again"]
    dispatcher.redis.delete(f"touched:{r.id}")


async def test_an_entry_naming_no_job_is_parked_not_lost(store: RequestStore,
                                                         dispatcher: Dispatcher) -> None:
    r = await store.create(a_request(), actor="t", jobs=[OutboxJob("no_such_job", "x")])
    assert dispatcher.dispatch_once() == 1
    parked = dispatcher.redis.lrange(dispatcher.keys.queue("outbox:unknown"), 0, -1)
    assert [json.loads(p)["name"] for p in parked] == ["no_such_job"]
    assert r.version == 1


def test_periodic_jobs_are_queued_once_per_period(dispatcher: Dispatcher) -> None:
    # At 1,000,200 s both periods (300 s purge, 60 s sweep) start; 60 s later only one.
    assert dispatcher.periodic(1_000_200.0) == len(PERIODIC) == 2
    assert dispatcher.periodic(1_000_201.0) == 0  # another scheduler, same periods
    assert dispatcher.queue.count == 2
    assert dispatcher.periodic(1_000_260.0) == 1


async def test_a_timer_waits_in_the_scheduled_registry(store: RequestStore,
                                                       dispatcher: Dispatcher) -> None:
    from datetime import UTC, datetime, timedelta

    from rq.registry import ScheduledJobRegistry

    r = await store.create(a_request(), actor="t")
    later = datetime.now(UTC) + timedelta(hours=24)
    await store.apply(r, Event.SUBMITTED, "t", jobs=[OutboxJob("test_touch", r.id,
                                                               {"note": "late"}, at=later)])
    assert dispatcher.dispatch_once() == 1
    assert dispatcher.queue.count == 0
    registry = ScheduledJobRegistry(queue=dispatcher.queue)
    [job_id] = registry.get_job_ids()
    assert abs(registry.get_scheduled_time(job_id).timestamp() - later.timestamp()) < 1
