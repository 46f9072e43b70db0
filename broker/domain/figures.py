"""What the coordinator's dashboard shows, computed from requests and their events.

Pure: the service reads the requests, their histories and the ledger, and these
functions turn them into the list of requests that need a look (stuck ones first) and
each library's figures. No I/O here, so every rule is a table in the unit tests.

An *order* is one sending of a request to one lender (``SENT_TO_LENDER``, or
``ORDER_RECEIVED`` for an ILL partner's order). The lender *supplied* it when it said
it will supply, shipped it or delivered the copy; the turnaround runs from the
sending to the shipping (or the copy's delivery).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from broker.domain.messages import N_
from broker.domain.request import Request, RequestEvent
from broker.domain.rota import LenderStats
from broker.domain.states import STATE_NAMES, Event, State

# The automatic steps (borrower check, routing) take seconds; an hour without a move
# means a worker or a peer is not doing its part.
QUIET_LIMIT = timedelta(hours=1)
CENT = Decimal("0.01")
AUTOMATIC = frozenset({State.NEW, State.VALIDATING, State.ROUTING})

_SENDINGS = frozenset({Event.SENT_TO_LENDER, Event.ORDER_RECEIVED})
_SUPPLIED = frozenset({Event.LENDER_WILL_SUPPLY, Event.SHIPPED, Event.COPY_DELIVERED})
_DELIVERED = frozenset({Event.SHIPPED, Event.COPY_DELIVERED})


class Stuck(StrEnum):
    """Why a request needs a coordinator's look, most urgent first."""

    ANSWER_OVERDUE = "answer_overdue"
    OVERDUE = "overdue"
    NOT_MOVING = "not_moving"
    AWAITING_PICKUP = "awaiting_pickup"


_URGENCY = {kind: rank for rank, kind in enumerate(Stuck)}


@dataclass(frozen=True, slots=True)
class Attention:
    """A stuck request: why, and since when."""

    kind: Stuck
    since: datetime
    text: str


@dataclass(frozen=True, slots=True)
class Order:
    """One sending of a request to one lender, and what the lender did with it."""

    request_id: str
    borrower: str
    lender: str
    sent_at: datetime
    answer_by: datetime | None = None
    supplied_at: datetime | None = None
    delivered_at: datetime | None = None

    @property
    def supplied(self) -> bool:
        return self.supplied_at is not None

    @property
    def turnaround(self) -> timedelta | None:
        return None if self.delivered_at is None else self.delivered_at - self.sent_at


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def orders_of(request: Request, events: Sequence[RequestEvent]) -> list[Order]:
    """The request's orders in the order they were sent. A lender's answer belongs to
    the lender it names (the lending service writes it into the event), else to the
    order open at the time."""
    orders: list[Order] = []
    for event in events:
        lender = event.data.get("lender")
        if event.event in _SENDINGS:
            orders.append(Order(request.id, request.home_library,
                                str(lender or request.lender or ""), event.at,
                                answer_by=_when(event.data.get("answer_by"))))
            continue
        if event.event not in _SUPPLIED or not orders:
            continue
        current = orders[-1]
        if lender and lender != current.lender:
            continue
        supplied = current.supplied_at or event.at
        delivered = current.delivered_at or (event.at if event.event in _DELIVERED else None)
        orders[-1] = Order(current.request_id, current.borrower, current.lender,
                           current.sent_at, current.answer_by, supplied, delivered)
    return [o for o in orders if o.lender]


def attention(request: Request, events: Sequence[RequestEvent], now: datetime
              ) -> Attention | None:
    """Why ``request`` is stuck at ``now``, or None when it is moving as it should."""
    if request.state is State.SENT:
        orders = orders_of(request, events)
        answer_by = orders[-1].answer_by if orders else None
        if answer_by is not None and now > answer_by:
            deadline = f"{answer_by:%Y-%m-%d %H:%M}"
            return Attention(Stuck.ANSWER_OVERDUE, answer_by, N_(
                "no answer from {lender} since the deadline {deadline} UTC",
                lender=request.lender, deadline=deadline) if request.lender else N_(
                "no answer from the lender since the deadline {deadline} UTC",
                deadline=deadline))
    elif request.state is State.OVERDUE:
        return Attention(Stuck.OVERDUE, request.updated_at, N_(
            "not returned; due {due_date}", due_date=request.due_date)
            if request.due_date else N_("not returned; due date unknown"))
    elif request.state is State.AWAITING_PICKUP:
        late = bool(request.pickup_by and request.pickup_by < now.date().isoformat())
        return Attention(Stuck.AWAITING_PICKUP, request.updated_at, N_(
            "waiting for the patron to collect it; the last day to collect was {day}",
            day=request.pickup_by) if late else N_("waiting for the patron to collect it"))
    elif request.state in AUTOMATIC and now - request.updated_at > QUIET_LIMIT:
        return Attention(Stuck.NOT_MOVING, request.updated_at, N_(
            "{state} for {age}", state=STATE_NAMES[request.state],
            age=age_text(now - request.updated_at)))
    return None


def age_text(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    if seconds < 3600:
        return N_("{count} min", count=seconds // 60)
    if seconds < 2 * 86400:
        return N_("{count} h", count=seconds // 3600)
    return N_("{count} days", count=seconds // 86400)


# -- the list of requests ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    """The coordinator's choice: a state, a library (as home library or lender), and a
    least age in days; None for each means all."""

    state: State | None = None
    library: str | None = None
    older_than_days: int | None = None

    def keeps(self, request: Request, now: datetime) -> bool:
        if self.state is not None and request.state is not self.state:
            return False
        if self.library is not None and self.library not in (request.home_library,
                                                             request.lender):
            return False
        return not (self.older_than_days is not None
                    and now - request.created_at < timedelta(days=self.older_than_days))


@dataclass(frozen=True, slots=True)
class Listed:
    request: Request
    attention: Attention | None


def listing(found: Iterable[tuple[Request, Sequence[RequestEvent]]], filters: Filters,
            now: datetime) -> list[Listed]:
    """The requests ``filters`` keeps: the stuck ones first, most urgent kind first and
    longest stuck first within a kind; then the rest, the latest change first."""
    kept = [Listed(request, attention(request, events, now))
            for request, events in found if filters.keeps(request, now)]
    stuck = sorted((x for x in kept if x.attention is not None),
                   key=lambda x: (_URGENCY[x.attention.kind], x.attention.since,
                                  x.request.id) if x.attention else ())
    moving = sorted((x for x in kept if x.attention is None),
                    key=lambda x: (x.request.updated_at, x.request.id), reverse=True)
    return stuck + moving


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Listed]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def page_of(items: Sequence[Listed], number: int, size: int) -> Page:
    """Page ``number`` (from 1) of ``size`` items; past the end it is empty."""
    start = (number - 1) * size
    return Page(list(items[start:start + size]), number, size, len(items))


# -- each library's figures ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Debt:
    """What ``borrower`` owes ``lender`` in fees, from the ledger."""

    borrower: str
    lender: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LibraryFigures:
    library: str
    # Requests of its patrons sent to a lender; orders other libraries sent to it.
    sent: int
    received: int
    # Orders it supplied (as lender), and requests of its patrons some lender supplied.
    lent: int
    borrowed: int
    median_turnaround_hours: float | None
    fees_owed_to: Decimal
    fees_owing: Decimal

    @property
    def fill_rate(self) -> float | None:
        """Supplied ÷ asked, as a lender; None when nobody asked."""
        return None if self.received == 0 else self.lent / self.received

    @property
    def net_balance(self) -> int:
        """Lent minus borrowed: above zero, the library gives more than it takes."""
        return self.lent - self.borrowed

    @property
    def fees_net(self) -> Decimal:
        return self.fees_owed_to - self.fees_owing


def library_figures(libraries: Sequence[str],
                    found: Iterable[tuple[Request, Sequence[RequestEvent]]],
                    debts: Iterable[Debt]) -> list[LibraryFigures]:
    """Each of ``libraries``' figures, in the order given."""
    sent: dict[str, set[str]] = defaultdict(set)
    received: dict[str, int] = defaultdict(int)
    lent: dict[str, int] = defaultdict(int)
    borrowed: dict[str, set[str]] = defaultdict(set)
    hours: dict[str, list[float]] = defaultdict(list)
    for request, events in found:
        for order in orders_of(request, events):
            sent[order.borrower].add(order.request_id)
            received[order.lender] += 1
            if order.supplied:
                lent[order.lender] += 1
                borrowed[order.borrower].add(order.request_id)
            if order.turnaround is not None:
                hours[order.lender].append(order.turnaround.total_seconds() / 3600)
    owed_to: dict[str, Decimal] = defaultdict(Decimal)
    owing: dict[str, Decimal] = defaultdict(Decimal)
    for debt in debts:
        owed_to[debt.lender] += debt.amount
        owing[debt.borrower] += debt.amount
    return [LibraryFigures(
        library=code, sent=len(sent[code]), received=received[code], lent=lent[code],
        borrowed=len(borrowed[code]),
        median_turnaround_hours=round(statistics.median(hours[code]), 1)
        if hours[code] else None,
        fees_owed_to=owed_to[code].quantize(CENT), fees_owing=owing[code].quantize(CENT))
        for code in libraries]


def lender_stats(figures: Iterable[LibraryFigures]) -> dict[str, LenderStats]:
    """The history the rota weighs (lending balance, fill rate, turnaround), counted as
    the coordinator's figures count it."""
    return {f.library: LenderStats(f.library, lent=f.lent, borrowed=f.borrowed, filled=f.lent,
                                   asked=f.received,
                                   median_turnaround_hours=f.median_turnaround_hours)
            for f in figures}


# -- charts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a horizontal bar chart, in the chart's units (0 to 100 wide)."""

    label: str
    value_text: str
    x: float
    width: float
    negative: bool


def fill_rate_bars(figures: Sequence[LibraryFigures], names: Mapping[str, str]) -> list[Bar]:
    """One bar per library that was asked for anything, its length the fill rate."""
    return [Bar(names.get(f.library, f.library), f"{f.fill_rate:.0%}", 0.0,
                round(f.fill_rate * 100, 2), False)
            for f in figures if f.fill_rate is not None]


def balance_bars(figures: Sequence[LibraryFigures], names: Mapping[str, str]) -> list[Bar]:
    """One bar per library from a middle zero line: right for lending more than it
    borrows, left for borrowing more; the longest bar reaches the edge."""
    largest = max((abs(f.net_balance) for f in figures), default=0) or 1
    bars = []
    for f in figures:
        width = round(abs(f.net_balance) / largest * 50, 2)
        negative = f.net_balance < 0
        bars.append(Bar(names.get(f.library, f.library), f"{f.net_balance:+d}"
                        if f.net_balance else "0",
                        50 - width if negative else 50.0, width, negative))
    return bars
