"""Jobs of the lifecycle: delivering an order to its lender, telling a lender or an ILL
partner what the other side did, the home library's circulation, and the timers.

Each is written to the outbox by the transition that calls for it, so it runs once that
transition has happened and is retried (rq ``Retry``) while the peer cannot be reached.
"""

from __future__ import annotations

import json
import logging

from broker.domain.errors import NotFound
from broker.domain.lifecycle import BorrowerStep
from broker.domain.request import Request
from broker.domain.states import State
from broker.jobs.context import JobContext, run_job
from broker.services.circulation import Circulation
from broker.services.lenders import lender_for
from broker.services.lending import Lending

log = logging.getLogger(__name__)


def send_order(request_id: str, lender: str) -> bool:
    """Deliver the order to ``lender`` if the request is still with it; True if sent."""

    async def send(job: JobContext) -> bool:
        request = await job.requests.get(request_id)
        if request.lender != lender or request.state is not State.SENT:
            return False  # answered, cancelled or moved on before delivery
        await lender_for(job.consortium.library(lender), job.session,
                         job.settings).order(request)
        return True

    return run_job(send)


def tell_lender(request_id: str, step: str, note: str | None = None) -> bool:
    """Tell the lender of the request a step of the borrowing side."""

    async def tell(job: JobContext) -> bool:
        try:
            request = await job.requests.get(request_id)
        except NotFound:
            return False
        lender = request.lender or _last_lender(request)
        if lender is None or lender not in job.consortium.libraries:
            return False
        await lender_for(job.consortium.library(lender), job.session,
                         job.settings).tell(request, BorrowerStep(step), note)
        return True

    return run_job(tell)


def circulate(request_id: str, step: str) -> bool:
    """The home library's own system learns a step of the loan (NCIP); see
    ``Circulation.record``."""
    return run_job(lambda job: Circulation(job.redis, job.keys, job.consortium,
                                           job.requests, job.accounts, job.session)
                   .record(request_id, BorrowerStep(step)))


def lifecycle_timer(request_id: str, version: int, kind: str) -> bool:
    """A lifecycle step, deadline or reminder; see ``Lending.timer``."""
    return run_job(lambda job: Lending(job.requests, job.accounts, job.consortium)
                   .timer(request_id, version, kind))



def _last_lender(request: Request) -> str | None:
    """The lender a request was at when it left it (a cancel, a declined condition):
    the rota's entry at the position the request reached."""
    lenders = json.loads(request.rota or "{}").get("lenders", [])
    if request.rota_position is None or int(request.rota_position) >= len(lenders):
        return None
    return str(lenders[int(request.rota_position)]["library"])
