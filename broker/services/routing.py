"""Moving a request along: the borrower check before anything leaves, then each lender
of the rota in turn, and lenders' answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from broker.domain.errors import NotFound, VersionConflict
from broker.domain.register import Outcome
from broker.domain.request import Request
from broker.domain.states import Event, State
from broker.domain.workdays import answer_deadline
from broker.services.borrower import BorrowerChecks
from broker.services.notices import Notice, patron_notice
from broker.store.accounts import AccountStore
from broker.store.requests import OutboxJob, RequestStore
from connectors.errors import RegisterUnavailable

# More steps than any request takes from NEW to a lender; a guard, not a limit.
MAX_STEPS = 12


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Router:
    requests: RequestStore
    accounts: AccountStore
    borrowers: BorrowerChecks
    clock: Callable[[], datetime] = _now

    async def advance(self, request_id: str) -> Request:
        """Take the request as far as it goes without an outside answer. Safe to run
        twice: each step is a transition at a version, and a lost race just re-reads.
        Raises ``RegisterUnavailable`` to be retried while the register does not answer."""
        request = await self.requests.get(request_id)
        for _step in range(MAX_STEPS):
            try:
                moved = await self._step(request)
            except VersionConflict:
                moved = await self.requests.get(request_id)
            if moved is None:
                return request
            request = moved
        return request

    async def _step(self, request: Request) -> Request | None:
        if request.state is State.NEW:
            return await self.requests.apply(request, Event.SUBMITTED, "broker")
        if request.state is State.VALIDATING:
            return await self._check_borrower(request)
        if request.state is State.ROUTING:
            return await self._next_lender(request)
        return None

    async def _check_borrower(self, request: Request) -> Request:
        try:
            account = await self.accounts.get(request.patron_id)
        except NotFound:
            return await self.requests.apply(request, Event.REFUSED, "broker",
                                             changes={"reason": "the account was deleted"})
        found = await self.borrowers.check(account)
        outcome = found.check.outcome
        if outcome is Outcome.UNREACHABLE:
            raise RegisterUnavailable(found.check.detail or "the register does not answer",
                                      peer=request.home_library)
        if outcome is not Outcome.MATCH:
            return await self.requests.apply(
                request, Event.BORROWER_MISMATCH, f"register:{request.home_library}",
                changes={"reason": found.check.detail or "not in the home register"},
                data={"differing": list(found.check.differing)})
        if not found.allows(request.service):
            reasons = [r.value for r in found.restrictions] or ["digital_only"]
            return await self.requests.apply(
                request, Event.REFUSED, f"register:{request.home_library}",
                changes={"reason": "membership restricted: " + ", ".join(reasons)},
                data={"restrictions": reasons})
        return await self.requests.apply(request, Event.BORROWER_CONFIRMED,
                                         f"register:{request.home_library}")

    async def _next_lender(self, request: Request) -> Request:
        lenders = [e["library"] for e in request.rota_lenders]
        position = int(request.rota_position or -1) + 1
        if position >= len(lenders):
            return await self.requests.apply(
                request, Event.ROTA_EXHAUSTED, "broker",
                changes={"reason": "no lender could supply it", "lender": None},
                jobs=await self._tell_patron_unfilled(request))
        lender = self.borrowers.consortium.library(lenders[position])
        sent_at = self.clock()
        answer_by = answer_deadline(sent_at, lender.policy.answer_hours, lender.country,
                                    lender.timezone)
        # The timer carries the version this transition creates: if anything happens
        # to the request before it fires (an answer, a cancel), it finds another
        # version and does nothing.
        timer = OutboxJob("answer_overdue", request.id, {"version": request.version + 1},
                          at=answer_by)
        delivery = OutboxJob("send_order", request.id, {"lender": lender.code})
        return await self.requests.apply(
            request, Event.SENT_TO_LENDER, "broker",
            changes={"lender": lender.code, "rota_position": str(position)},
            data={"lender": lender.code, "position": position,
                  "answer_by": answer_by.isoformat()},
            jobs=[delivery, timer], at=sent_at)

    async def _tell_patron_unfilled(self, request: Request) -> list[OutboxJob]:
        # An order from a partner: the partner was told with its lender's answer.
        return await patron_notice(self.accounts, self.borrowers.consortium, request,
                                   Notice.UNFILLED)
