"""Fixtures of the fault tests: the outbox dispatcher and rq queue of the test.

The peers of tests/connectors (the NCIP responder, the ISO 18626 partner) are
imported from their folders, which pytest does not put on the path for this one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis as SyncRedis
from rq import Queue
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry

from broker.jobs.dispatcher import Dispatcher
from broker.processes import QUEUE
from broker.store.keys import Keys

TESTS = Path(__file__).resolve().parent.parent
for peer in ("ncip", "iso18626"):
    sys.path.insert(0, str(TESTS / "connectors" / peer))


@pytest.fixture
def dispatcher(redis_url: str, namespace: str, redis: object) -> Iterator[Dispatcher]:
    """The outbox dispatcher on the test's namespace; rq's jobs go with the test."""
    sync = SyncRedis.from_url(redis_url)
    keys = Keys(namespace)
    queue = Queue(keys.queue(QUEUE), connection=sync)
    yield Dispatcher(sync, keys, queue)
    # rq names a job's keys by the job id, outside the test's namespace.
    for registry in (ScheduledJobRegistry(queue=queue), FinishedJobRegistry(queue=queue),
                     FailedJobRegistry(queue=queue)):
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)
    queue.delete(delete_jobs=True)
    sync.close()


