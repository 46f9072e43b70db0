"""Jobs that move requests along (borrower check, then the next lender), and the
sweeper that picks up requests a dead worker left half-way."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from broker.domain.states import State
from broker.jobs.context import run_job
from broker.services.borrower import BorrowerChecks
from broker.services.registers import registers
from broker.services.routing import Router
from connectors.errors import ConnectorError

log = logging.getLogger(__name__)

# A request untouched this long in a state the broker itself moves on is stalled: the
# worker that had it died (kill -9, power loss) before its rq retry could run.
STALLED_AFTER = timedelta(minutes=2)
MOVED_BY_BROKER = (State.NEW, State.VALIDATING, State.ROUTING)
T = TypeVar("T")


def _with_router(work: Callable[[Router], Awaitable[T]]) -> T:
    return run_job(lambda job: work(Router(
        job.requests, job.accounts,
        BorrowerChecks(job.redis, job.keys, job.consortium,
                       registers(job.consortium, job.session)))))


def process_request(request_id: str) -> str:
    """Returns the state the request reached; raises (and is retried) while the home
    register does not answer, with the request waiting in its state."""

    async def advance(router: Router) -> str:
        return (await router.advance(request_id)).state.value

    return _with_router(advance)


def resume_stalled(subject_id: str, stalled_seconds: float | None = None) -> int:
    """Advance every request stalled in a state the broker moves on; returns how many.
    Transitions are versioned, so a request another worker is moving is not moved twice."""
    stalled = STALLED_AFTER if stalled_seconds is None else timedelta(seconds=stalled_seconds)

    async def sweep(router: Router) -> int:
        store = router.requests
        cutoff = datetime.now(UTC) - stalled
        resumed = 0
        for state in MOVED_BY_BROKER:
            for request_id in await store.ids_in_state(state):
                request = await store.get(request_id)
                if request.updated_at > cutoff:
                    continue
                try:
                    await router.advance(request_id)
                    resumed += 1
                except ConnectorError:
                    continue  # the register still does not answer: next sweep
        return resumed

    resumed = _with_router(sweep)
    if resumed:
        log.info("resumed %d stalled requests", resumed)
    return resumed
