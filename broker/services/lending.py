"""The loan and copy lifecycle once a lender has the order: the lender's answers, the
borrowing side's steps, the deadlines they start, and the messages and mails each step
owes the other side.

Every connector (a library's inbox, an e-mail answer link, ISO 18626 in either
direction) turns its message into a ``LenderAnswer`` or a ``BorrowerStep`` and calls
this service, so each step is one transition with its jobs, written atomically.

Two kinds of request go through here: our patrons' requests (the borrowing side is one
of our member libraries; an ISO 18626 lender is told of its steps by ``tell_lender``),
and orders from ILL partners for one of our libraries (``Request.from_partner``: the
partner is told of the lender's answers by ``tell_partner``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from broker.domain.consortium import Consortium
from broker.domain.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from broker.domain.fees import late_fee
from broker.domain.lifecycle import (
    BORROWER_EVENTS,
    LENDER_EVENTS,
    LIBRARY_STEPS,
    Answer,
    BorrowerStep,
    LenderAnswer,
    check_answer,
)
from broker.domain.messages import N_
from broker.domain.request import Request
from broker.domain.states import Event, State, transition
from broker.services.notices import Notice, patron_notice
from broker.store.accounts import AccountStore
from broker.store.requests import Kept, OutboxJob, RequestStore

# Reminders go out this long before the pickup deadline and the due date.
PICKUP_REMINDER = timedelta(days=2)
DUE_REMINDER = timedelta(days=3)
# A renewal is asked for while the loan is not overdue.
RENEWABLE = (State.ON_LOAN,)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Lending:
    requests: RequestStore
    accounts: AccountStore
    consortium: Consortium
    clock: Callable[[], datetime] = _now

    async def lender_answers(self, request_id: str, lender: str, answer: Answer,
                             actor: str) -> Request:
        """``lender`` answers the order it holds. Raises ``Forbidden`` when the order
        is not that lender's, ``IllegalTransition`` when the answer does not fit the
        request's state."""
        return await self.answer(await self.requests.get(request_id), lender, answer, actor)

    async def answer(self, request: Request, lender: str, answer: Answer,
                     actor: str, keep: Kept | None = None) -> Request:
        """``lender_answers`` for a request the caller has just read (at its version:
        if it changed since, the write is refused with ``VersionConflict``); ``keep``
        is written with the answer's transition."""
        check_answer(answer)
        if request.lender != lender:
            raise Forbidden("this order is not in your library's inbox")
        event = LENDER_EVENTS[answer.kind]
        changes: dict[str, str | None] = {}
        data: dict[str, Any] = {"lender": lender, "answer": answer.kind.value}
        if answer.reason:
            data["reason"] = answer.reason
        jobs: list[OutboxJob] = []
        notices: list[tuple[Notice, str | None]] = []
        if answer.kind is LenderAnswer.UNFILLED:
            changes |= {"lender": None, "reason": answer.reason or "unfilled"}
            jobs.append(OutboxJob("process_request", request.id))
        elif answer.kind is LenderAnswer.WILL_SUPPLY and request.state is State.SENT:
            fee = _fee_for(request, lender)
            data["fee"] = fee
            jobs.append(OutboxJob("record_fee", request.id, {
                "borrower": request.home_library, "lender": lender, "amount": fee}))
        elif answer.kind is LenderAnswer.CONDITIONAL:
            changes["condition"] = answer.condition
            data |= {"condition": answer.condition,
                     "cost": str(answer.cost) if answer.cost is not None else None}
            notices.append((Notice.CONDITIONAL, None))
        elif answer.kind is LenderAnswer.COPY_DELIVERED:
            changes["delivery_url"] = answer.url
            data["url"] = answer.url
            notices.append((Notice.COPY_DELIVERED, None))
        elif answer.kind is LenderAnswer.LOST:
            jobs += self._lost_fees(request, lender, answer.cost)
            changes["reason"] = answer.reason or "lost"
        elif answer.kind is LenderAnswer.OVERDUE:
            notices.append((Notice.OVERDUE, None))
        elif answer.kind is LenderAnswer.RECALLED:
            notices.append((Notice.RECALLED, answer.reason))
        elif answer.kind is LenderAnswer.RENEWAL:
            data["granted"] = answer.granted
            notices.append((Notice.RENEWAL_ANSWERED if answer.granted
                            else Notice.RENEWAL_REFUSED, answer.reason))
        if answer.due_date is not None and answer.kind in (
                LenderAnswer.SHIPPED, LenderAnswer.RECALLED, LenderAnswer.RENEWAL):
            changes["due_date"] = data["due_date"] = answer.due_date.isoformat()
        after = _predict(request, event, changes)
        if request.from_partner:
            jobs.append(OutboxJob("tell_partner", request.id, {"answer": answer.kind.value}))
        else:
            for kind, reason in notices:
                jobs += await self._tell_patron(after, kind, reason=reason)
            if after.state is State.ON_LOAN and answer.kind in (LenderAnswer.RENEWAL,
                                                               LenderAnswer.RECALLED):
                jobs += self._loan_timers(after)
        return await self.requests.apply(request, event, actor, changes=changes, data=data,
                                         jobs=jobs, keep=keep)

    async def borrower_steps(self, request_id: str, step: BorrowerStep, actor: str, *,
                             library: str | None = None, patron: str | None = None,
                             due_date: date | None = None, note: str | None = None
                             ) -> Request:
        """The borrowing side takes ``step``: the home library's staff (``library``),
        the patron (``patron``, for renewals, cancels, conditions and a copy received),
        or an ILL partner for an order from it (neither: the caller checked the partner).

        The worker may move the request on while someone looks at it (sent to the next
        lender); their step holds in the new state too, so a lost race is tried once
        more on the request as it is now.
        """
        try:
            return await self._borrower_step(request_id, step, actor, library, patron,
                                             due_date, note)
        except VersionConflict:
            return await self._borrower_step(request_id, step, actor, library, patron,
                                             due_date, note)

    async def _borrower_step(self, request_id: str, step: BorrowerStep, actor: str,
                             library: str | None, patron: str | None, due_date: date | None,
                             note: str | None) -> Request:
        request = await self.requests.get(request_id)
        self._check_borrower(request, step, library, patron)
        if note is not None and len(note) > 500:
            raise ValidationFailed({"note": N_("at most {limit} characters", limit=500)})
        if step is BorrowerStep.RENEW and request.state not in RENEWABLE:
            raise Conflict(N_("a loan is renewed while it is on loan and not overdue"))
        event = BORROWER_EVENTS[step]
        if step is BorrowerStep.RECEIVED and request.from_partner:
            event = Event.PARTNER_RECEIVED
        changes: dict[str, str | None] = {}
        data: dict[str, Any] = {"step": step.value}
        if note:
            data["note"] = note
        jobs: list[OutboxJob] = []
        if not request.from_partner:
            jobs.append(OutboxJob("tell_lender", request.id, {"step": step.value,
                                                             "note": note}))
            if step in (BorrowerStep.RECEIVED, BorrowerStep.CHECKED_OUT,
                        BorrowerStep.RETURN_SHIPPED):
                # The loan in the home library's own system, where it speaks NCIP.
                jobs.append(OutboxJob("circulate", request.id, {"step": step.value}))
        if step is BorrowerStep.CHECKED_OUT and due_date is not None:
            changes["due_date"] = data["due_date"] = due_date.isoformat()
        elif step is BorrowerStep.RETURN_SHIPPED:
            data |= self._late(request)
        elif step in (BorrowerStep.CANCEL, BorrowerStep.DECLINE_CONDITION):
            changes |= {"lender": None, "reason": note or (
                "cancelled" if step is BorrowerStep.CANCEL else "the condition was declined")}
            if step is BorrowerStep.DECLINE_CONDITION:
                jobs.append(OutboxJob("process_request", request.id))
        elif step is BorrowerStep.LOST and request.lender:
            jobs += self._lost_fees(request, request.lender, None)
        after = _predict(request, event, changes)
        if after.state is State.RECEIVED:
            # Ready for pickup is its own transition, run by a worker right after.
            jobs.append(OutboxJob("lifecycle_timer", request.id,
                                  {"version": after.version, "kind": "ready_for_pickup"}))
        elif after.state is State.ON_LOAN and not after.from_partner:
            jobs += self._loan_timers(after)
        elif after.state is State.ON_LOAN and after.due_date:
            jobs.append(OutboxJob("lifecycle_timer", after.id,
                                  {"version": after.version, "kind": "due"},
                                  at=self._end_of(after.due_date, after.lender)))
        return await self.requests.apply(request, event, actor, changes=changes, data=data,
                                         jobs=jobs)

    def _check_borrower(self, request: Request, step: BorrowerStep, library: str | None,
                        patron: str | None) -> None:
        if patron is not None:
            if request.patron_id != patron:
                raise NotFound(f"no request {request.id}")
            if step not in (BorrowerStep.RENEW, BorrowerStep.CANCEL,
                            BorrowerStep.ACCEPT_CONDITION, BorrowerStep.DECLINE_CONDITION,
                            BorrowerStep.COPY_RECEIVED):
                raise Forbidden("the home library's staff record this step")
        elif library is not None and request.home_library != library:
            raise Forbidden("this request is not from your library")
        elif library is not None and step not in LIBRARY_STEPS:
            # Renewing, a condition's cost, a cancel: the patron's to decide, not the desk's.
            raise Forbidden("the patron takes this step")

    async def _ready_for_pickup(self, request: Request) -> Request:
        home = self.consortium.library(request.home_library)
        today = self.clock().astimezone(ZoneInfo(home.timezone)).date()
        changes: dict[str, str | None] = {
            "pickup_by": (today + timedelta(days=home.policy.pickup_days)).isoformat()}
        after = _predict(request, Event.READY_FOR_PICKUP, changes)
        deadline = self._end_of(after.pickup_by or "", after.home_library)
        jobs = await self._tell_patron(after, Notice.READY_FOR_PICKUP)
        jobs += [OutboxJob("lifecycle_timer", after.id,
                           {"version": after.version, "kind": "pickup_near"},
                           at=deadline - PICKUP_REMINDER),
                 OutboxJob("lifecycle_timer", after.id,
                           {"version": after.version, "kind": "pickup_expired"},
                           at=deadline)]
        return await self.requests.apply(request, Event.READY_FOR_PICKUP, "broker",
                                         changes=changes, data=dict(changes), jobs=jobs)

    def _loan_timers(self, request: Request) -> list[OutboxJob]:
        """The due-soon reminder and the overdue timer of a loan at its version now."""
        if not request.due_date:
            return []
        due = self._end_of(request.due_date, request.home_library)
        return [OutboxJob("lifecycle_timer", request.id,
                          {"version": request.version, "kind": "due_soon"},
                          at=due - DUE_REMINDER),
                OutboxJob("lifecycle_timer", request.id,
                          {"version": request.version, "kind": "due"}, at=due)]

    def _end_of(self, day: str, library: str | None) -> datetime:
        """The last moment of ``day`` in ``library``'s time zone: a deadline is that
        whole day."""
        known = self.consortium.libraries.get(library or "")
        zone = ZoneInfo(known.timezone if known else "UTC")
        return datetime.combine(date.fromisoformat(day), time(23, 59), zone)

    def _late(self, request: Request) -> dict[str, Any]:
        """The late fee of a loan returned after its due date, for the event."""
        if not request.due_date:
            return {}
        home = self.consortium.libraries.get(request.home_library)
        zone = ZoneInfo(home.timezone) if home else UTC
        days = (self.clock().astimezone(zone).date() - date.fromisoformat(request.due_date)).days
        fee = late_fee(self.consortium, request.item.material, days)
        return {"days_late": days, "late_fee": str(fee)} if days > 0 else {}

    def _lost_fees(self, request: Request, lender: str, cost: Decimal | None
                   ) -> list[OutboxJob]:
        """The replacement cost the lender names and the schedule's processing fee,
        owed by the borrowing library."""
        amount = (cost or Decimal("0")) + self.consortium.fees.lost_processing
        return [OutboxJob("record_fee", request.id, {
            "borrower": request.home_library, "lender": lender, "amount": str(amount),
            "kind": "lost"})]

    async def _tell_patron(self, request: Request, kind: Notice, *,
                           reason: str | None = None) -> list[OutboxJob]:
        return await patron_notice(self.accounts, self.consortium, request, kind, reason)

    async def timer(self, request_id: str, version: int, kind: str) -> bool:
        """A lifecycle step, deadline or reminder comes due; it acts only if the request
        is still at ``version`` (anything since, such as a renewal, set new timers), so
        it is safe to run late or twice."""
        try:
            request = await self.requests.get(request_id)
        except NotFound:
            return False
        if request.version != version:
            return False
        if kind == "ready_for_pickup" and request.state is State.RECEIVED:
            await self._ready_for_pickup(request)
            return True
        if kind == "pickup_expired" and request.state is State.AWAITING_PICKUP:
            changes: dict[str, str | None] = {"reason": "not collected in time"}
            after = _predict(request, Event.PICKUP_EXPIRED, changes)
            await self.requests.apply(
                request, Event.PICKUP_EXPIRED, "broker", changes=changes,
                jobs=[OutboxJob("tell_lender", request.id, {"step": "return_shipped"}),
                      *await self._tell_patron(after, Notice.PICKUP_EXPIRED)])
            return True
        if kind == "due" and request.state in (State.ON_LOAN, State.RENEWAL_PENDING):
            after = _predict(request, Event.DUE_DATE_PASSED, {})
            await self.requests.apply(
                request, Event.DUE_DATE_PASSED, "broker", data={"due_date": request.due_date},
                jobs=[OutboxJob("tell_partner", request.id, {"answer": "overdue"})]
                if request.from_partner else await self._tell_patron(after, Notice.OVERDUE))
            return True
        reminders = {"pickup_near": (State.AWAITING_PICKUP, Notice.PICKUP_NEAR),
                     "due_soon": (State.ON_LOAN, Notice.DUE_SOON)}
        if kind in reminders and request.state is reminders[kind][0]:
            await self.requests.enqueue(request, await self._tell_patron(
                request, reminders[kind][1]))
            return True
        return False


def _predict(request: Request, event: Event, changes: Mapping[str, str | None]) -> Request:
    """The request as ``apply`` will leave it, for jobs that need its new version and
    values and are written in the same atomic step."""
    return replace(request, state=transition(request.state, event, request.service),
                   version=request.version + 1, **cast(dict[str, Any], changes))


def _fee_for(request: Request, lender: str) -> str:
    """The fee this pair of libraries settles: the rota's estimate for this lender
    (the request's stored estimate is the first lender's)."""
    found = next((e.get("estimate") for e in request.rota_lenders
                  if e["library"] == lender), None)
    return str(found or "0.00")

