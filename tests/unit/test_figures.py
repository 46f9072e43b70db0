"""The coordinator's figures: orders from events, stuck requests, filters, each
library's figures and the charts' bars."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from broker.domain.figures import (
    QUIET_LIMIT,
    Debt,
    Filters,
    Stuck,
    attention,
    balance_bars,
    fill_rate_bars,
    library_figures,
    listing,
    orders_of,
    page_of,
)
from broker.domain.request import ItemDescription, Request, RequestEvent
from broker.domain.states import Event, Service, State

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
E = Event


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def req(rid: str = "ILL-0000-0001", state: State = State.SENT, home: str = "A",
        lender: str | None = "B", updated: datetime = T0, created: datetime = T0,
        **more: Any) -> Request:
    return Request(id=rid, service=Service.LOAN, state=state, version=1, patron_id="p",
                   home_library=home, pickup_location=home,
                   item=ItemDescription(title="Alamut"), created_at=created,
                   updated_at=updated, lender=lender, **more)


def ev(event: Event, at: float, **data: Any) -> RequestEvent:
    return RequestEvent(seq=0, event=event, source=State.NEW, target=State.NEW,
                        at=hours(at), actor="x", data=data)


def sent(lender: str, at: float, answer_in: float = 24) -> RequestEvent:
    return ev(E.SENT_TO_LENDER, at, lender=lender,
              answer_by=hours(at + answer_in).isoformat())


# -- orders ----------------------------------------------------------------------------


@pytest.mark.parametrize(("events", "expected"), [
    # (lender, supplied at, delivered at) per order
    ([], []),
    ([ev(E.CREATED, 0)], []),
    ([sent("B", 0)], [("B", None, None)]),
    ([sent("B", 0), ev(E.LENDER_UNFILLED, 1, lender="B"), sent("C", 2)],
     [("B", None, None), ("C", None, None)]),
    ([sent("B", 0), ev(E.LENDER_WILL_SUPPLY, 3, lender="B"), ev(E.SHIPPED, 10, lender="B")],
     [("B", 3, 10)]),
    # Shipped without saying "will supply" first: supplied and delivered at once.
    ([sent("B", 0), ev(E.SHIPPED, 5, lender="B")], [("B", 5, 5)]),
    ([sent("B", 0), ev(E.COPY_DELIVERED, 2)], [("B", 2, 2)]),
    # An answer naming another lender than the open order's is not that order's.
    ([sent("B", 0), ev(E.LENDER_WILL_SUPPLY, 1, lender="C")], [("B", None, None)]),
    # A partner's order for our library: the lender is the request's.
    ([ev(E.ORDER_RECEIVED, 0), ev(E.LENDER_WILL_SUPPLY, 4, lender="B")], [("B", 4, None)]),
    # Only the first supply and the first delivery count.
    ([sent("B", 0), ev(E.LENDER_WILL_SUPPLY, 1, lender="B"),
      ev(E.LENDER_CONDITIONAL, 2, lender="B"), ev(E.LENDER_WILL_SUPPLY, 3, lender="B")],
     [("B", 1, None)]),
])
def test_orders_from_events(events: list[RequestEvent],
                            expected: list[tuple[str, float | None, float | None]]) -> None:
    found = orders_of(req(), events)
    assert [(o.lender, o.supplied_at, o.delivered_at) for o in found] == [
        (lender, None if s is None else hours(s), None if d is None else hours(d))
        for lender, s, d in expected]


def test_an_order_keeps_its_answer_deadline_and_turnaround() -> None:
    [order] = orders_of(req(), [sent("B", 0, answer_in=30), ev(E.SHIPPED, 12, lender="B")])
    assert order.answer_by == hours(30)
    assert order.turnaround == timedelta(hours=12)


# -- stuck requests --------------------------------------------------------------------


NOW = hours(48)


@pytest.mark.parametrize(("request_", "events", "kind"), [
    (req(state=State.SENT), [sent("B", 0, answer_in=24)], Stuck.ANSWER_OVERDUE),
    (req(state=State.SENT), [sent("B", 0, answer_in=72)], None),
    (req(state=State.SENT), [ev(E.SENT_TO_LENDER, 0, lender="B")], None),
    (req(state=State.OVERDUE, due_date="2026-03-01"), [], Stuck.OVERDUE),
    (req(state=State.AWAITING_PICKUP), [], Stuck.AWAITING_PICKUP),
    (req(state=State.ROUTING, updated=NOW - QUIET_LIMIT - timedelta(minutes=1)), [],
     Stuck.NOT_MOVING),
    (req(state=State.NEW, updated=NOW - timedelta(minutes=5)), [], None),
    (req(state=State.VALIDATING, updated=hours(0)), [], Stuck.NOT_MOVING),
    (req(state=State.ON_LOAN), [], None),
    (req(state=State.COMPLETED, updated=hours(0)), [], None),
])
def test_what_counts_as_stuck(request_: Request, events: list[RequestEvent],
                              kind: Stuck | None) -> None:
    found = attention(request_, events, NOW)
    assert (found.kind if found else None) is kind


def test_a_late_answer_says_since_when() -> None:
    found = attention(req(), [sent("B", 0, answer_in=24)], NOW)
    assert found is not None and found.since == hours(24)
    assert "2026-03-03 08:00" in found.text


def test_a_pickup_past_its_last_day_says_so() -> None:
    found = attention(req(state=State.AWAITING_PICKUP, pickup_by="2026-03-01"), [], NOW)
    assert found is not None and "the last day to collect was 2026-03-01" in found.text


# -- the list ------------------------------------------------------------------------


@pytest.mark.parametrize(("filters", "kept"), [
    (Filters(), {"1", "2", "3"}),
    (Filters(state=State.SENT), {"1", "2"}),
    (Filters(library="A"), {"1", "2"}),
    (Filters(library="B"), {"1"}),
    (Filters(library="C"), {"2", "3"}),
    (Filters(older_than_days=1), {"1", "3"}),
    (Filters(older_than_days=3), set()),
    (Filters(state=State.SENT, library="C", older_than_days=1), set()),
])
def test_filters(filters: Filters, kept: set[str]) -> None:
    found = [(req("1", lender="B", created=hours(0)), []),
             (req("2", lender="C", created=hours(30)), []),
             (req("3", state=State.ON_LOAN, home="C", lender="D", created=hours(10)), [])]
    assert {x.request.id for x in listing(found, filters, NOW)} == kept


def test_stuck_first_most_urgent_kind_then_longest_stuck_then_latest_change() -> None:
    found = [
        (req("moving-old", state=State.ON_LOAN, updated=hours(1)), []),
        (req("pickup", state=State.AWAITING_PICKUP, updated=hours(2)), []),
        (req("late-2", updated=hours(5)), [sent("B", 5, answer_in=20)]),
        (req("late-1", updated=hours(1)), [sent("B", 1, answer_in=20)]),
        (req("quiet", state=State.ROUTING, updated=hours(3)), []),
        (req("moving-new", state=State.ON_LOAN, updated=hours(40)), []),
    ]
    assert [x.request.id for x in listing(found, Filters(), NOW)] == [
        "late-1", "late-2", "quiet", "pickup", "moving-new", "moving-old"]


@pytest.mark.parametrize(("total", "number", "size", "ids", "pages"), [
    (0, 1, 50, [], 1),
    (5, 1, 2, ["0", "1"], 3),
    (5, 3, 2, ["4"], 3),
    (5, 4, 2, [], 3),
    (4, 2, 2, ["2", "3"], 2),
])
def test_pages(total: int, number: int, size: int, ids: list[str], pages: int) -> None:
    items = listing([(req(str(i), state=State.ON_LOAN, updated=hours(-i)), [])
                     for i in range(total)], Filters(), NOW)
    page = page_of(items, number, size)
    assert [x.request.id for x in page.items] == ids
    assert (page.total, page.pages) == (total, pages)


# -- each library's figures ----------------------------------------------------------------


def test_library_figures() -> None:
    found = [
        # A borrows from B, who ships in 10 h.
        (req("1", home="A"), [sent("B", 0), ev(E.LENDER_WILL_SUPPLY, 2, lender="B"),
                              ev(E.SHIPPED, 10, lender="B")]),
        # A asks C (no), then B, who ships in 20 h.
        (req("2", home="A"), [sent("C", 0), ev(E.LENDER_UNFILLED, 1, lender="C"),
                              sent("B", 1), ev(E.SHIPPED, 21, lender="B")]),
        # C borrows from A, who will supply but has not shipped.
        (req("3", home="C"), [sent("A", 0), ev(E.LENDER_WILL_SUPPLY, 1, lender="A")]),
        # C's request still being checked: not sent.
        (req("4", home="C", state=State.VALIDATING, lender=None), [ev(E.CREATED, 0)]),
    ]
    debts = [Debt("A", "B", Decimal("7.00")), Debt("C", "A", Decimal("2.50")),
             Debt("A", "C", Decimal("1.00"))]
    a, b, c, d = library_figures(["A", "B", "C", "D"], found, debts)
    assert (a.sent, a.received, a.lent, a.borrowed) == (2, 1, 1, 2)
    assert (a.fill_rate, a.net_balance, a.median_turnaround_hours) == (1.0, -1, None)
    assert (a.fees_owed_to, a.fees_owing, a.fees_net) == (
        Decimal("2.50"), Decimal("8.00"), Decimal("-5.50"))
    assert (b.sent, b.received, b.lent, b.borrowed, b.fill_rate) == (0, 2, 2, 0, 1.0)
    assert (b.median_turnaround_hours, b.net_balance) == (15.0, 2)
    assert (c.sent, c.received, c.lent, c.borrowed, c.fill_rate) == (1, 1, 0, 1, 0.0)
    assert c.net_balance == -1
    assert (d.sent, d.received, d.fill_rate, d.median_turnaround_hours) == (0, 0, None, None)
    assert d.fees_net == Decimal("0.00")


def test_bars() -> None:
    found = [(req("1", home="A"), [sent("B", 0), ev(E.SHIPPED, 1, lender="B")]),
             (req("2", home="A"), [sent("B", 0)]),
             (req("3", home="A"), [sent("C", 0), ev(E.SHIPPED, 1, lender="C")]),
             (req("4", home="B"), [sent("C", 0), ev(E.SHIPPED, 1, lender="C")])]
    figures = library_figures(["A", "B", "C"], found, [])
    names = {"A": "Library A", "B": "Library B"}
    assert [(b.label, b.value_text, b.width) for b in fill_rate_bars(figures, names)] == [
        ("Library B", "50%", 50.0), ("C", "100%", 100.0)]
    bars = balance_bars(figures, names)
    # A borrowed 2, B lent 1 and borrowed 1, C lent 2.
    assert [(b.value_text, b.x, b.width, b.negative) for b in bars] == [
        ("-2", 0.0, 50.0, True), ("0", 50.0, 0.0, False), ("+2", 50.0, 50.0, False)]


def test_no_figures_make_no_bars_and_no_division_by_zero() -> None:
    figures = library_figures(["A"], [], [])
    assert fill_rate_bars(figures, {}) == []
    assert [(b.x, b.width) for b in balance_bars(figures, {})] == [(50.0, 0.0)]
    assert replace(figures[0]).fill_rate is None
