"""Deadline timers: a lender that has not answered in its answer time loses the order.

``Router`` schedules ``answer_overdue`` (through the outbox, at the lender's deadline
in working hours) in the same atomic step that sends the order, so the timer is in
Redis as surely as the order is; rq's scheduler queues it when it is due.
"""

from __future__ import annotations

import asyncio
import logging

from broker.domain.errors import NotFound, VersionConflict
from broker.domain.states import Event, State
from broker.settings import Settings
from broker.store.client import connect
from broker.store.keys import Keys
from broker.store.requests import OutboxJob, RequestStore

log = logging.getLogger(__name__)

OVERDUE_REASON = "no answer in time"


async def take_back_overdue(store: RequestStore, request_id: str, version: int) -> bool:
    """Move the order on from a lender that has not answered, if the request is still
    exactly as it was sent (SENT at ``version``); True if it was moved.

    Anything else means the lender answered, the patron cancelled, or this timer ran
    already, and then it does nothing: safe to run late, early-retried or twice.
    """
    try:
        request = await store.get(request_id)
    except NotFound:
        return False  # deleted since: nothing waits for an answer
    if request.state is not State.SENT or request.version != version:
        return False
    lender = request.lender
    try:
        await store.apply(request, Event.ANSWER_OVERDUE, "broker",
                          changes={"lender": None, "reason": OVERDUE_REASON},
                          data={"lender": lender},
                          jobs=[OutboxJob("process_request", request.id)])
    except VersionConflict:
        # The lender's answer (or a cancel) landed between the read and the write: it
        # wins, because it came in time.
        return False
    log.info("request %s: lender %s did not answer in time", request_id, lender)
    return True


def answer_overdue(request_id: str, version: int) -> bool:
    """The rq job of a lender's answer deadline; see ``take_back_overdue``."""
    settings = Settings.from_env()

    async def run() -> bool:
        redis = connect(settings.existing_redis_url())
        try:
            return await take_back_overdue(RequestStore(redis, Keys(settings.namespace)),
                                           request_id, version)
        finally:
            await redis.aclose()

    return asyncio.run(run())
