from __future__ import annotations

import itertools

import pytest

from broker.domain.errors import IllegalTransition
from broker.domain.states import (
    TABLE,
    Event,
    IsoStatus,
    Service,
    State,
    allowed_events,
    iso18626_status,
    transition,
)

ALLOWED = {(row.source, row.event, svc): row.target for row in TABLE for svc in row.services}


@pytest.mark.parametrize(("source", "event", "service", "target"),
                         [(s, e, v, t) for (s, e, v), t in ALLOWED.items()],
                         ids=lambda x: str(x))
def test_each_row_of_the_table_moves_the_request(source: State, event: Event, service: Service,
                                                 target: State) -> None:
    assert transition(source, event, service) is target


def test_every_other_triple_is_refused() -> None:
    refused = 0
    for source, event, service in itertools.product(State, Event, Service):
        if (source, event, service) in ALLOWED:
            continue
        with pytest.raises(IllegalTransition):
            transition(source, event, service)
        refused += 1
    assert refused == len(State) * len(Event) * len(Service) - len(ALLOWED)


def test_the_table_has_no_conflicting_rows() -> None:
    keys = [(r.source, r.event, s) for r in TABLE for s in r.services]
    assert len(keys) == len(set(keys))


def test_terminal_states_take_no_event() -> None:
    for state in (State.COMPLETED, State.UNFILLED, State.CANCELLED, State.REJECTED):
        for service in Service:
            assert allowed_events(state, service) == ()


def test_every_state_is_reachable_from_new() -> None:
    for service in Service:
        seen, frontier = {State.NEW}, [State.NEW]
        while frontier:
            state = frontier.pop()
            for event in allowed_events(state, service):
                nxt = transition(state, event, service)
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        loan_only = {State.SHIPPED, State.RECEIVED, State.AWAITING_PICKUP, State.ON_LOAN,
                     State.RENEWAL_PENDING, State.OVERDUE, State.RECALLED, State.RETURNED}
        expected = set(State) - (loan_only if service is Service.COPY else {State.COPY_DELIVERED})
        assert seen == expected


def test_copies_never_ship_and_loans_are_never_copy_delivered() -> None:
    with pytest.raises(IllegalTransition):
        transition(State.WILL_SUPPLY, Event.SHIPPED, Service.COPY)
    with pytest.raises(IllegalTransition):
        transition(State.WILL_SUPPLY, Event.COPY_DELIVERED, Service.LOAN)


@pytest.mark.parametrize(("state", "service", "status"), [
    (State.NEW, Service.LOAN, IsoStatus.REQUEST_RECEIVED),
    (State.SENT, Service.LOAN, IsoStatus.REQUEST_RECEIVED),
    (State.CONDITIONAL, Service.LOAN, IsoStatus.EXPECT_TO_SUPPLY),
    (State.WILL_SUPPLY, Service.COPY, IsoStatus.WILL_SUPPLY),
    (State.SHIPPED, Service.LOAN, IsoStatus.LOANED),
    (State.ON_LOAN, Service.LOAN, IsoStatus.LOANED),
    (State.OVERDUE, Service.LOAN, IsoStatus.OVERDUE),
    (State.RECALLED, Service.LOAN, IsoStatus.RECALLED),
    (State.COPY_DELIVERED, Service.COPY, IsoStatus.COPY_COMPLETED),
    (State.COMPLETED, Service.LOAN, IsoStatus.LOAN_COMPLETED),
    (State.COMPLETED, Service.COPY, IsoStatus.COPY_COMPLETED),
    (State.UNFILLED, Service.LOAN, IsoStatus.UNFILLED),
    (State.CANCELLED, Service.COPY, IsoStatus.CANCELLED),
    (State.REJECTED, Service.LOAN, IsoStatus.UNFILLED),
])
def test_iso18626_status(state: State, service: Service, status: IsoStatus) -> None:
    assert iso18626_status(state, service) is status


def test_every_state_maps_to_an_iso18626_status() -> None:
    for state, service in itertools.product(State, Service):
        assert iso18626_status(state, service) in IsoStatus
