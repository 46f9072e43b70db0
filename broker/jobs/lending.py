"""Jobs of the lifecycle: delivering an order to its lender, telling a lender or an ILL
partner what the other side did, the home library's circulation, and the timers.

Each is written to the outbox by the transition that calls for it, so it runs once that
transition has happened and is retried (rq ``Retry``) while the peer cannot be reached.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from broker.domain.errors import NotFound
from broker.domain.lifecycle import MAX_REASON, Answer, BorrowerStep, LenderAnswer
from broker.domain.request import Request
from broker.domain.states import State
from broker.jobs.context import JobContext, run_job
from broker.services.circulation import Circulation
from broker.services.iso18626 import supplier_of, told
from broker.services.lenders import lender_for
from broker.services.lending import Lending
from connectors.iso18626.client import Iso18626Client
from connectors.iso18626.errors import PartnerRefused
from connectors.iso18626.lending import credential
from connectors.iso18626.lifecycle import answer_message

log = logging.getLogger(__name__)


def send_order(request_id: str, lender: str) -> bool:
    """Deliver the order to ``lender`` if the request is still with it; True if sent."""

    async def send(job: JobContext) -> bool:
        request = await job.requests.get(request_id)
        if request.lender != lender or request.state is not State.SENT:
            return False  # answered, cancelled or moved on before delivery
        try:
            await lender_for(job.consortium.library(lender), job.session, job.settings,
                             consortium=job.consortium).order(request)
        except PartnerRefused as exc:
            # The lender read the order and will not take it: a no from that lender,
            # so the request moves on to the next one.
            log.warning("%s: %s refused the order: %s", request_id, lender, exc)
            await _lending(job).lender_answers(
                request_id, lender,
                Answer(LenderAnswer.UNFILLED, reason=f"refused: {exc.message}"[:MAX_REASON]),
                f"iso18626:{lender}")
            return False
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
        try:
            await lender_for(job.consortium.library(lender), job.session, job.settings,
                             consortium=job.consortium).tell(request, BorrowerStep(step), note)
        except PartnerRefused as exc:
            # Sending it again would be refused again; the lender's staff see the step
            # in their own system's state soon enough.
            log.warning("%s: %s refused the step %s: %s", request_id, lender, step, exc)
            return False
        return True

    return run_job(tell)


def circulate(request_id: str, step: str) -> bool:
    """The home library's own system learns a step of the loan (NCIP); see
    ``Circulation.record``."""
    return run_job(lambda job: Circulation(job.redis, job.keys, job.consortium,
                                           job.requests, job.accounts, job.session)
                   .record(request_id, BorrowerStep(step)))


def tell_partner(request_id: str, answer: str) -> bool:
    """Tell the ILL partner an order came from what our library answered (an answer
    kind of ``LenderAnswer``, or "status", "cancelled", "cancel_refused") as an ISO
    18626 SupplyingAgencyMessage in the partner's schema version, with its token.
    Raises ``PartnerUnavailable`` to be retried while the partner cannot be reached."""

    async def tell(job: JobContext) -> bool:
        try:
            request = await job.requests.get(request_id)
        except NotFound:
            return False
        partner = job.consortium.partners.get(request.partner or "")
        supplier = await supplier_of(job.requests, request)
        if partner is None or supplier not in job.consortium.libraries:
            log.warning("%s: no partner %r or library %r to answer for", request_id,
                        request.partner, supplier)
            return False
        message = answer_message(
            await told(job.requests, request, answer),
            partner_request_id=request.partner_request_id or request.id,
            requester=partner.agency_id,
            supplier=job.consortium.library(str(supplier)).agency_id,
            supplier_request_id=request.id, currency=job.consortium.currency,
            version=partner.schema_version, now=datetime.now(UTC))
        client = Iso18626Client(partner.url, job.session, partner=partner.code,
                                version=partner.schema_version,
                                credential=credential(partner.credential_env), attempts=2)
        try:
            await client.send(message)
        except PartnerRefused as exc:
            log.warning("%s: partner %s refused %s: %s", request_id, partner.code, answer, exc)
            return False
        return True

    return run_job(tell)


def _lending(job: JobContext) -> Lending:
    return Lending(job.requests, job.accounts, job.consortium)


def lifecycle_timer(request_id: str, version: int, kind: str) -> bool:
    """A lifecycle step, deadline or reminder; see ``Lending.timer``."""
    return run_job(lambda job: _lending(job).timer(request_id, version, kind))



def _last_lender(request: Request) -> str | None:
    """The lender a request was at when it left it (a cancel, a declined condition):
    the rota's entry at the position the request reached."""
    lenders = request.rota_lenders
    if request.rota_position is None or int(request.rota_position) >= len(lenders):
        return None
    return str(lenders[int(request.rota_position)]["library"])
