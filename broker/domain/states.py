"""The request state machine, as one table.

A row says: in this state, this event moves a request of these services to that
state. ``transition`` looks the pair up and refuses everything else, so the
lifecycle can be read (and tested) row by row instead of being spread over ifs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from broker.domain.errors import IllegalTransition
from broker.domain.messages import N_


class Service(StrEnum):
    LOAN = "loan"
    COPY = "copy"


class State(StrEnum):
    NEW = "new"
    VALIDATING = "validating"
    ROUTING = "routing"
    SENT = "sent"
    CONDITIONAL = "conditional"
    WILL_SUPPLY = "will_supply"
    SHIPPED = "shipped"
    RECEIVED = "received"
    AWAITING_PICKUP = "awaiting_pickup"
    ON_LOAN = "on_loan"
    RENEWAL_PENDING = "renewal_pending"
    OVERDUE = "overdue"
    RECALLED = "recalled"
    RETURNED = "returned"
    COMPLETED = "completed"
    COPY_DELIVERED = "copy_delivered"
    UNFILLED = "unfilled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({State.COMPLETED, State.UNFILLED, State.CANCELLED, State.REJECTED})
# Each state in words, for the staff and coordinators who see every one of them (the
# patron's pages have their own, plainer words); marked N_, so a page translates it.
STATE_NAMES: Mapping[State, str] = MappingProxyType({
    State.NEW: N_("new"), State.VALIDATING: N_("validating"), State.ROUTING: N_("routing"),
    State.SENT: N_("sent"), State.CONDITIONAL: N_("conditional"),
    State.WILL_SUPPLY: N_("will supply"), State.SHIPPED: N_("shipped"),
    State.RECEIVED: N_("received"), State.AWAITING_PICKUP: N_("awaiting pickup"),
    State.ON_LOAN: N_("on loan"), State.RENEWAL_PENDING: N_("renewal pending"),
    State.OVERDUE: N_("overdue"), State.RECALLED: N_("recalled"),
    State.RETURNED: N_("returned"), State.COMPLETED: N_("completed"),
    State.COPY_DELIVERED: N_("copy delivered"), State.UNFILLED: N_("unfilled"),
    State.CANCELLED: N_("cancelled"), State.REJECTED: N_("rejected"),
})


class Event(StrEnum):
    """The closed vocabulary of what can happen to a request."""

    # Opens the history; no row of the table takes it.
    CREATED = "created"
    SUBMITTED = "submitted"
    # An order for one of our member libraries from an ILL partner (ISO 18626).
    ORDER_RECEIVED = "order_received"
    BORROWER_CONFIRMED = "borrower_confirmed"
    BORROWER_MISMATCH = "borrower_mismatch"
    REFUSED = "refused"
    SENT_TO_LENDER = "sent_to_lender"
    LENDER_CONDITIONAL = "lender_conditional"
    CONDITION_ACCEPTED = "condition_accepted"
    CONDITION_DECLINED = "condition_declined"
    LENDER_WILL_SUPPLY = "lender_will_supply"
    LENDER_UNFILLED = "lender_unfilled"
    ANSWER_OVERDUE = "answer_overdue"
    ROTA_EXHAUSTED = "rota_exhausted"
    SHIPPED = "shipped"
    RECEIVED = "received"
    # The partner that borrowed an item from one of our libraries has it (ISO 18626
    # Received): on the supplying side the loan runs from here.
    PARTNER_RECEIVED = "partner_received"
    READY_FOR_PICKUP = "ready_for_pickup"
    PICKUP_EXPIRED = "pickup_expired"
    CHECKED_OUT = "checked_out"
    RENEWAL_REQUESTED = "renewal_requested"
    RENEWAL_ANSWERED = "renewal_answered"
    DUE_DATE_PASSED = "due_date_passed"
    RECALLED = "recalled"
    RETURN_SHIPPED = "return_shipped"
    RETURN_RECEIVED = "return_received"
    COPY_DELIVERED = "copy_delivered"
    COPY_RECEIVED = "copy_received"
    ITEM_LOST = "item_lost"
    CANCELLED = "cancelled"


class IsoStatus(StrEnum):
    """ISO 18626 Status values (the supplying agency's view of a request)."""

    REQUEST_RECEIVED = "RequestReceived"
    EXPECT_TO_SUPPLY = "ExpectToSupply"
    WILL_SUPPLY = "WillSupply"
    LOANED = "Loaned"
    OVERDUE = "Overdue"
    RECALLED = "Recalled"
    RETRY_POSSIBLE = "RetryPossible"
    UNFILLED = "Unfilled"
    COPY_COMPLETED = "CopyCompleted"
    LOAN_COMPLETED = "LoanCompleted"
    COMPLETED_WITHOUT_RETURN = "CompletedWithoutReturn"
    CANCELLED = "Cancelled"


BOTH = frozenset(Service)
LOAN = frozenset({Service.LOAN})
COPY = frozenset({Service.COPY})


@dataclass(frozen=True, slots=True)
class Row:
    source: State
    event: Event
    target: State
    services: frozenset[Service] = BOTH


S, E = State, Event
_ANSWERABLE = (S.SENT, S.CONDITIONAL, S.WILL_SUPPLY)
_LENT = (S.SHIPPED, S.RECEIVED, S.AWAITING_PICKUP, S.ON_LOAN, S.RENEWAL_PENDING,
         S.OVERDUE, S.RECALLED, S.RETURNED)

TABLE: tuple[Row, ...] = (
    Row(S.NEW, E.SUBMITTED, S.VALIDATING),
    Row(S.NEW, E.REFUSED, S.REJECTED),
    Row(S.NEW, E.ORDER_RECEIVED, S.SENT),
    Row(S.VALIDATING, E.BORROWER_CONFIRMED, S.ROUTING),
    Row(S.VALIDATING, E.BORROWER_MISMATCH, S.CANCELLED),
    Row(S.VALIDATING, E.REFUSED, S.REJECTED),
    Row(S.ROUTING, E.SENT_TO_LENDER, S.SENT),
    Row(S.ROUTING, E.ROTA_EXHAUSTED, S.UNFILLED),
    Row(S.SENT, E.LENDER_CONDITIONAL, S.CONDITIONAL),
    Row(S.WILL_SUPPLY, E.LENDER_CONDITIONAL, S.CONDITIONAL),
    Row(S.CONDITIONAL, E.CONDITION_ACCEPTED, S.WILL_SUPPLY),
    # Declining a lender's condition is a no from that lender: try the next one.
    Row(S.CONDITIONAL, E.CONDITION_DECLINED, S.ROUTING),
    Row(S.SENT, E.LENDER_WILL_SUPPLY, S.WILL_SUPPLY),
    *(Row(s, E.LENDER_UNFILLED, S.ROUTING) for s in _ANSWERABLE),
    Row(S.SENT, E.ANSWER_OVERDUE, S.ROUTING),
    Row(S.SENT, E.SHIPPED, S.SHIPPED, LOAN),
    Row(S.WILL_SUPPLY, E.SHIPPED, S.SHIPPED, LOAN),
    Row(S.SHIPPED, E.RECEIVED, S.RECEIVED, LOAN),
    Row(S.SHIPPED, E.PARTNER_RECEIVED, S.ON_LOAN, LOAN),
    Row(S.RECEIVED, E.READY_FOR_PICKUP, S.AWAITING_PICKUP, LOAN),
    Row(S.AWAITING_PICKUP, E.CHECKED_OUT, S.ON_LOAN, LOAN),
    # Not collected in time: the item goes back to the lender.
    Row(S.AWAITING_PICKUP, E.PICKUP_EXPIRED, S.RETURNED, LOAN),
    Row(S.ON_LOAN, E.RENEWAL_REQUESTED, S.RENEWAL_PENDING, LOAN),
    Row(S.RENEWAL_PENDING, E.RENEWAL_ANSWERED, S.ON_LOAN, LOAN),
    Row(S.ON_LOAN, E.DUE_DATE_PASSED, S.OVERDUE, LOAN),
    Row(S.RENEWAL_PENDING, E.DUE_DATE_PASSED, S.OVERDUE, LOAN),
    Row(S.ON_LOAN, E.RECALLED, S.RECALLED, LOAN),
    Row(S.RENEWAL_PENDING, E.RECALLED, S.RECALLED, LOAN),
    Row(S.OVERDUE, E.RECALLED, S.RECALLED, LOAN),
    Row(S.ON_LOAN, E.RETURN_SHIPPED, S.RETURNED, LOAN),
    Row(S.OVERDUE, E.RETURN_SHIPPED, S.RETURNED, LOAN),
    Row(S.RECALLED, E.RETURN_SHIPPED, S.RETURNED, LOAN),
    Row(S.RETURNED, E.RETURN_RECEIVED, S.COMPLETED, LOAN),
    *(Row(s, E.ITEM_LOST, S.COMPLETED, LOAN) for s in _LENT),
    Row(S.SENT, E.COPY_DELIVERED, S.COPY_DELIVERED, COPY),
    Row(S.WILL_SUPPLY, E.COPY_DELIVERED, S.COPY_DELIVERED, COPY),
    Row(S.COPY_DELIVERED, E.COPY_RECEIVED, S.COMPLETED, COPY),
    # Once a lender has shipped, only the lifecycle can end the request.
    *(Row(s, E.CANCELLED, S.CANCELLED)
      for s in (S.NEW, S.VALIDATING, S.ROUTING, *_ANSWERABLE)),
)

_INDEX = MappingProxyType({
    (row.source, row.event, service): row.target for row in TABLE for service in row.services
})


def transition(state: State, event: Event, service: Service) -> State:
    """The state ``event`` moves a ``service`` request in ``state`` to; refuses the rest."""
    try:
        return _INDEX[(state, event, service)]
    except KeyError:
        raise IllegalTransition(state, event, service) from None


def allowed_events(state: State, service: Service) -> tuple[Event, ...]:
    return tuple(e for (s, e, sv) in _INDEX if s == state and sv == service)


_ISO_STATUS = MappingProxyType({
    S.NEW: IsoStatus.REQUEST_RECEIVED,
    S.VALIDATING: IsoStatus.REQUEST_RECEIVED,
    S.ROUTING: IsoStatus.REQUEST_RECEIVED,
    S.SENT: IsoStatus.REQUEST_RECEIVED,
    S.CONDITIONAL: IsoStatus.EXPECT_TO_SUPPLY,
    S.WILL_SUPPLY: IsoStatus.WILL_SUPPLY,
    S.SHIPPED: IsoStatus.LOANED,
    S.RECEIVED: IsoStatus.LOANED,
    S.AWAITING_PICKUP: IsoStatus.LOANED,
    S.ON_LOAN: IsoStatus.LOANED,
    S.RENEWAL_PENDING: IsoStatus.LOANED,
    S.OVERDUE: IsoStatus.OVERDUE,
    S.RECALLED: IsoStatus.RECALLED,
    # The item is on its way back; the supplier closes the loan on receipt.
    S.RETURNED: IsoStatus.LOANED,
    S.COPY_DELIVERED: IsoStatus.COPY_COMPLETED,
    S.UNFILLED: IsoStatus.UNFILLED,
    S.CANCELLED: IsoStatus.CANCELLED,
    S.REJECTED: IsoStatus.UNFILLED,
})


def iso18626_status(state: State, service: Service) -> IsoStatus:
    """The ISO 18626 Status (code list "Status") that corresponds to ``state``."""
    if state is State.COMPLETED:
        return IsoStatus.COPY_COMPLETED if service is Service.COPY else IsoStatus.LOAN_COMPLETED
    return _ISO_STATUS[state]
