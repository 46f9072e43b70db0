"""What the two sides of a loan say and do once a lender has the order, as commands,
and which event of the state machine each one is.

The lender (a library's staff in the inbox, an e-mail answer, or an ISO 18626
SupplyingAgencyMessage) answers with a ``LenderAnswer``; the borrowing side (the home
library's staff, the patron, or an ISO 18626 RequestingAgencyMessage from a partner)
takes a ``BorrowerStep``. Every connector turns its own message into one of these, so
the lifecycle has one implementation whatever the protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from broker.domain.errors import ValidationFailed
from broker.domain.messages import N_
from broker.domain.states import Event, Service, State, allowed_events

MAX_REASON = 500
MAX_URL = 2000


class LenderAnswer(StrEnum):
    WILL_SUPPLY = "will_supply"
    UNFILLED = "unfilled"
    CONDITIONAL = "conditional"
    SHIPPED = "shipped"
    COPY_DELIVERED = "copy_delivered"
    # The answer to a renewal request: granted with a new due date, or not.
    RENEWAL = "renewal"
    OVERDUE = "overdue"
    RECALLED = "recalled"
    RECEIVED_BACK = "received_back"
    LOST = "lost"


class BorrowerStep(StrEnum):
    RECEIVED = "received"
    CHECKED_OUT = "checked_out"
    RENEW = "renew"
    RETURN_SHIPPED = "return_shipped"
    COPY_RECEIVED = "copy_received"
    ACCEPT_CONDITION = "accept_condition"
    DECLINE_CONDITION = "decline_condition"
    CANCEL = "cancel"
    LOST = "lost"


LENDER_EVENTS = MappingProxyType({
    LenderAnswer.WILL_SUPPLY: Event.LENDER_WILL_SUPPLY,
    LenderAnswer.UNFILLED: Event.LENDER_UNFILLED,
    LenderAnswer.CONDITIONAL: Event.LENDER_CONDITIONAL,
    LenderAnswer.SHIPPED: Event.SHIPPED,
    LenderAnswer.COPY_DELIVERED: Event.COPY_DELIVERED,
    LenderAnswer.RENEWAL: Event.RENEWAL_ANSWERED,
    LenderAnswer.OVERDUE: Event.DUE_DATE_PASSED,
    LenderAnswer.RECALLED: Event.RECALLED,
    LenderAnswer.RECEIVED_BACK: Event.RETURN_RECEIVED,
    LenderAnswer.LOST: Event.ITEM_LOST,
})

BORROWER_EVENTS = MappingProxyType({
    BorrowerStep.RECEIVED: Event.RECEIVED,
    BorrowerStep.CHECKED_OUT: Event.CHECKED_OUT,
    BorrowerStep.RENEW: Event.RENEWAL_REQUESTED,
    BorrowerStep.RETURN_SHIPPED: Event.RETURN_SHIPPED,
    BorrowerStep.COPY_RECEIVED: Event.COPY_RECEIVED,
    BorrowerStep.ACCEPT_CONDITION: Event.CONDITION_ACCEPTED,
    BorrowerStep.DECLINE_CONDITION: Event.CONDITION_DECLINED,
    BorrowerStep.CANCEL: Event.CANCELLED,
    BorrowerStep.LOST: Event.ITEM_LOST,
})


@dataclass(frozen=True, slots=True)
class Answer:
    """A lender's answer with what that kind of answer carries."""

    kind: LenderAnswer
    reason: str | None = None
    # SHIPPED, RENEWAL (granted), RECALLED: the (new) due date.
    due_date: date | None = None
    # COPY_DELIVERED: where the patron gets the copy.
    url: str | None = None
    # CONDITIONAL: what the lender asks; CONDITIONAL and LOST: the cost it names.
    condition: str | None = None
    cost: Decimal | None = None
    # RENEWAL: whether the loan was renewed.
    granted: bool = True


def check_answer(answer: Answer) -> Answer:
    """``answer`` if it carries what its kind needs, else ``ValidationFailed``."""
    problems: dict[str, str] = {}
    if answer.reason is not None and len(answer.reason) > MAX_REASON:
        problems["reason"] = N_("at most {limit} characters", limit=MAX_REASON)
    if answer.kind is LenderAnswer.SHIPPED and answer.due_date is None:
        problems["due_date"] = N_("a loan is shipped with its due date")
    if answer.kind is LenderAnswer.RENEWAL and answer.granted and answer.due_date is None:
        problems["due_date"] = N_("a granted renewal has the new due date")
    if answer.kind is LenderAnswer.COPY_DELIVERED and (
            not answer.url or len(answer.url) > MAX_URL
            or not answer.url.startswith(("https://", "http://"))):
        problems["url"] = N_("the link (http or https) where the copy can be fetched")
    if answer.kind is LenderAnswer.CONDITIONAL and not answer.condition:
        problems["condition"] = N_("what the lender asks before it supplies")
    if answer.condition is not None and len(answer.condition) > MAX_REASON:
        problems["condition"] = N_("at most {limit} characters", limit=MAX_REASON)
    if answer.cost is not None and (not answer.cost.is_finite() or answer.cost < 0):
        problems["cost"] = N_("an amount such as 12.50")
    if problems:
        raise ValidationFailed(problems)
    return answer


def _due_date(raw: Mapping[str, Any], problems: dict[str, str]) -> date | None:
    """The ISO date in ``raw["due_date"]``, if any; a bad one noted in ``problems``."""
    if not raw.get("due_date"):
        return None
    try:
        return date.fromisoformat(str(raw["due_date"]))
    except ValueError:
        problems["due_date"] = N_("a date such as 2026-12-24")
        return None


def answer_from_input(raw: Mapping[str, Any]) -> Answer:
    """An ``Answer`` from the API's or a form's fields, or ``ValidationFailed`` naming
    every bad one. Dates are ISO dates, the cost a decimal amount, ``granted`` a boolean
    (or "yes"/"no" from a form)."""
    problems: dict[str, str] = {}
    kind_value = raw.get("answer")
    if kind_value not in {k.value for k in LenderAnswer}:
        raise ValidationFailed({"answer": N_("one of {choices}", choices=", ".join(
            k.value for k in LenderAnswer))})
    texts: dict[str, str | None] = {}
    for name in ("reason", "url", "condition"):
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            problems[name] = N_("text")
        texts[name] = value.strip() or None if isinstance(value, str) else None
    due = _due_date(raw, problems)
    cost: Decimal | None = None
    if raw.get("cost") not in (None, ""):
        try:
            cost = Decimal(str(raw["cost"]).replace(",", "."))
        except InvalidOperation:
            problems["cost"] = N_("an amount such as 12.50")
    granted = raw.get("granted", True)
    if isinstance(granted, str):
        granted = granted.lower() in ("yes", "true", "1", "on")
    if not isinstance(granted, bool):
        problems["granted"] = N_("true or false")
        granted = True
    if problems:
        raise ValidationFailed(problems)
    return check_answer(Answer(LenderAnswer(kind_value), reason=texts["reason"],
                               due_date=due, url=texts["url"], condition=texts["condition"],
                               cost=cost, granted=granted))


# Who on the borrowing side takes which step: the patron renews, answers a condition,
# confirms a copy and cancels; the home library's staff handle the item itself.
PATRON_STEPS = (BorrowerStep.RENEW, BorrowerStep.ACCEPT_CONDITION,
                BorrowerStep.DECLINE_CONDITION, BorrowerStep.COPY_RECEIVED,
                BorrowerStep.CANCEL)
LIBRARY_STEPS = (BorrowerStep.RECEIVED, BorrowerStep.CHECKED_OUT,
                 BorrowerStep.RETURN_SHIPPED, BorrowerStep.LOST)


def answers_in(state: State, service: Service) -> tuple[LenderAnswer, ...]:
    """The answers a lender can give to an order in ``state``, in the table's terms."""
    events = allowed_events(state, service)
    return tuple(kind for kind, event in LENDER_EVENTS.items() if event in events)


def steps_in(state: State, service: Service, steps: tuple[BorrowerStep, ...]
             ) -> tuple[BorrowerStep, ...]:
    """Those of ``steps`` the borrowing side can take in ``state``; a renewal only while
    the loan runs and is not overdue."""
    events = allowed_events(state, service)
    return tuple(step for step in steps if BORROWER_EVENTS[step] in events
                 and (step is not BorrowerStep.RENEW or state is State.ON_LOAN))


@dataclass(frozen=True, slots=True)
class Step:
    """A borrowing side's step with what it may carry."""

    kind: BorrowerStep
    # CHECKED_OUT: the due date the home library gives the patron (default: the lender's).
    due_date: date | None = None
    note: str | None = None


def step_from_input(raw: Mapping[str, Any]) -> Step:
    """A ``Step`` from the API's or a form's fields, or ``ValidationFailed`` naming every
    bad one."""
    problems: dict[str, str] = {}
    kind_value = raw.get("step")
    if kind_value not in {k.value for k in BorrowerStep}:
        problems["step"] = N_("one of {choices}",
                              choices=", ".join(k.value for k in BorrowerStep))
    note = raw.get("note")
    if note is not None and not isinstance(note, str):
        problems["note"] = N_("text")
    elif isinstance(note, str) and len(note) > MAX_REASON:
        problems["note"] = N_("at most {limit} characters", limit=MAX_REASON)
    due = _due_date(raw, problems)
    if problems:
        raise ValidationFailed(problems)
    return Step(BorrowerStep(str(kind_value)), due_date=due,
                note=note.strip() or None if isinstance(note, str) else None)


# A request is with a lender in these states: its inbox holds it, and the home library
# follows it as borrowed.
WITH_LENDER = (State.SENT, State.CONDITIONAL, State.WILL_SUPPLY, State.SHIPPED,
               State.RECEIVED, State.AWAITING_PICKUP, State.ON_LOAN, State.RENEWAL_PENDING,
               State.OVERDUE, State.RECALLED, State.RETURNED, State.COPY_DELIVERED)
# A loan's item is out of the lender's hands.
LENT = (State.SHIPPED, State.RECEIVED, State.AWAITING_PICKUP, State.ON_LOAN,
        State.RENEWAL_PENDING, State.OVERDUE, State.RECALLED, State.RETURNED)
