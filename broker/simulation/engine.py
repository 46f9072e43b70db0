"""The discrete-event loop: one policy over one scenario, on a virtual clock.

Each request goes through the real state machine (every step is
``broker.domain.states.transition``), gets its rota from the real ``build_rota`` with
the policy's order, the lenders' history as the coordinator's figures count it, and
the intake's closed-today rule; each order's answer time is the lender's
``answer_hours`` in its working hours (``broker.domain.workdays.answer_deadline``),
and a lender that lets it pass loses the order to the next one, as the broker's timer
does. Timers carry the version of the request they were set for, so a late answer or
a timer after an answer changes nothing, as in the store.

A lender's answer to a request is drawn from a generator seeded by the request and the
lender, so every policy meets the same answer from the same lender (common random
numbers): the policies differ by whom they ask, not by luck.
"""

from __future__ import annotations

import bisect
import heapq
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import IntEnum
from functools import cache

from broker.domain.fees import Estimate, estimate
from broker.domain.holdings import Holding, ItemStatus
from broker.domain.rota import Candidate, LenderStats, Rota, build_rota
from broker.domain.states import Event, Service, State, transition
from broker.domain.workdays import answer_deadline
from broker.simulation.policies import Policy
from broker.simulation.scenario import Scenario, SimRequest

DAY = 86400.0
# A copy on loan when the order comes: the lender queues it and more often says no
# in time (the broker does not wait for the due date).
ON_LOAN_SUPPLY = 0.4
# Working hours a parcel travels: within a region, within a country, abroad.
TRANSIT_HOURS = (8, 16, 40)
PICKUP_DAYS_MAX = 5.0  # a patron collects within this many days ...
NOT_COLLECTED = 0.03  # ... or, this often, never


class Kind(IntEnum):
    ANSWER = 1
    DEADLINE = 2
    SHIP = 3
    RECEIVE = 4
    CHECK_OUT = 5
    RETURN_SHIP = 6
    RETURN_RECEIVE = 7
    PICKUP_EXPIRED = 8


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one request ended: ``supplier`` None is unfilled (or refused at intake, when
    ``orders`` is 0); ``turnaround`` seconds from the request to the item at the
    pickup place (the copy delivered); ``cost`` what the patron paid."""

    request: int
    borrower: str
    service: Service
    state: State
    supplier: str | None
    orders: int
    answers_overdue: int
    turnaround: float | None
    cost: Decimal


@dataclass(frozen=True, slots=True)
class Run:
    policy: Policy
    outcomes: tuple[Outcome, ...]
    supplied: dict[str, int]  # orders each lender supplied
    asked: dict[str, int]  # orders each lender was sent


@dataclass(slots=True)
class _Live:
    """A request in flight: its state and version, its rota and where it is in it."""

    request: SimRequest
    state: State = State.NEW
    version: int = 0
    lenders: tuple[str, ...] = ()
    available: tuple[bool, ...] = ()
    position: int = -1
    sent_at: float = 0.0
    supplier: str | None = None
    orders: int = 0
    overdue: int = 0
    turnaround: float | None = None
    due: int = 0  # the ordinal of the day the lender's copy is due back


@dataclass
class _History:
    """The lenders' history, kept as ``LenderStats`` for ``build_rota``."""

    lent: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    borrowed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    asked: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    hours: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    stats: dict[str, LenderStats] = field(default_factory=dict)

    def update(self, code: str) -> None:
        hours = self.hours.get(code)  # kept sorted
        median = None
        if hours:
            middle = len(hours) // 2
            median = hours[middle] if len(hours) % 2 else (hours[middle - 1] + hours[middle]) / 2
        self.stats[code] = LenderStats(code, self.lent[code], self.borrowed[code],
                                       self.lent[code], self.asked[code],
                                       None if median is None else round(median, 1))


def _when(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class Simulation:
    """One policy over one scenario; ``run`` replays every request to its end."""

    def __init__(self, scenario: Scenario, policy: Policy) -> None:
        self.scenario = scenario
        self.consortium = scenario.consortium
        self.policy = policy
        self.seed = scenario.knobs.seed
        self.history = _History()
        self.heap: list[tuple[float, int, Kind, _Live, int]] = []
        self.seq = 0
        self.outcomes: list[Outcome] = []
        # Copies out on the simulation's own loans: (title, lender) -> due days.
        self.out: dict[tuple[int, str], list[int]] = defaultdict(list)
        self.shuffle = random.Random(self.seed)
        self.library_number = {code: n for n, code in enumerate(sorted(self.consortium.libraries))}
        self.handlers: dict[Kind, Callable[[_Live, float], None]] = {
            Kind.ANSWER: self._answer, Kind.DEADLINE: self._deadline, Kind.SHIP: self._ship,
            Kind.RECEIVE: self._receive, Kind.CHECK_OUT: self._check_out,
            Kind.RETURN_SHIP: self._return_ship, Kind.RETURN_RECEIVE: self._return_receive,
            Kind.PICKUP_EXPIRED: self._pickup_expired,
        }
        self._price = cache(self._estimate)

    # -- the loop -------------------------------------------------------------------

    def run(self) -> Run:
        arrivals = self.scenario.requests
        next_arrival = 0
        heap = self.heap
        while next_arrival < len(arrivals) or heap:
            if next_arrival < len(arrivals) and (
                    not heap or arrivals[next_arrival].at <= heap[0][0]):
                self._arrive(arrivals[next_arrival])
                next_arrival += 1
                continue
            t, _seq, kind, live, version = heapq.heappop(heap)
            if version == live.version:  # else the request has moved on since
                self.handlers[kind](live, t)
        self.outcomes.sort(key=lambda o: o.request)
        return Run(self.policy, tuple(self.outcomes), dict(self.history.lent),
                   dict(self.history.asked))

    def _at(self, t: float, kind: Kind, live: _Live) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, live, live.version))

    def _apply(self, live: _Live, event: Event) -> None:
        live.state = transition(live.state, event, live.request.service)
        live.version += 1

    def _working(self, t: float, hours: float, code: str) -> float:
        """``hours`` working hours of library ``code`` after ``t``."""
        library = self.consortium.libraries[code]
        return answer_deadline(_when(t), max(1, round(hours)), library.country,
                               library.timezone).timestamp()

    def _estimate(self, borrower: str, lender: str, service: Service, pages: int | None,
                  copy_format: str | None) -> Estimate:
        return estimate(self.consortium, borrower=borrower, lender=lender, service=service,
                        pages=pages, copy_format=copy_format)

    def _end(self, live: _Live) -> None:
        r = live.request
        cost = Decimal("0.00")
        if live.supplier is not None:
            cost = self._price(r.borrower, live.supplier, r.service, r.pages,
                               r.copy_format).total
        self.outcomes.append(Outcome(r.index, r.borrower, r.service, live.state, live.supplier,
                                     live.orders, live.overdue, live.turnaround, cost))

    # -- intake and routing --------------------------------------------------------------

    def _holdings(self, r: SimRequest) -> list[Candidate]:
        """The holders' copies now: a copy out on one of the simulation's loans is on
        loan until its due date."""
        found: dict[str, list[Holding]] = defaultdict(list)
        for h in r.holdings:
            out = self.out.get((r.title, h.library))
            if out and h.status is ItemStatus.AVAILABLE:
                h = Holding(h.library, ItemStatus.ON_LOAN, due_date=date.fromordinal(min(out)))
            found[h.library].append(h)
        return [Candidate(code, tuple(copies)) for code, copies in found.items()]

    def _rota(self, r: SimRequest) -> Rota:
        candidates = self._holdings(r)

        def build(closed: frozenset[str]) -> Rota:
            return build_rota(
                self.consortium, borrower=r.borrower, material=r.material, service=r.service,
                candidates=candidates, max_cost=None, stats=self.history.stats, closed=closed,
                estimate=lambda lender: self._price(r.borrower, lender, r.service, r.pages,
                                                    r.copy_format),
                order=self.policy.order)

        # The intake's rule: libraries on a public holiday are left out while another
        # can be asked.
        rota = build(r.closed)
        return build(frozenset()) if r.closed and not rota.entries else rota

    def _arrive(self, r: SimRequest) -> None:
        live = _Live(r)
        rota = self._rota(r)
        if not rota.entries:
            self._apply(live, Event.REFUSED)
            self._end(live)
            return
        entries = list(rota.entries)
        if self.policy.shuffled:
            last = {code for code, lib in self.consortium.libraries.items()
                    if lib.policy.lender_of_last_resort}
            first = [e for e in entries if e.library not in last]
            after = [e for e in entries if e.library in last]
            self.shuffle.shuffle(first)
            self.shuffle.shuffle(after)
            entries = first + after
        live.lenders = tuple(e.library for e in entries)
        live.available = tuple(e.available_now for e in entries)
        for event in (Event.SUBMITTED, Event.BORROWER_CONFIRMED):
            self._apply(live, event)
        self._next_lender(live, r.at)

    def _next_lender(self, live: _Live, t: float) -> None:
        live.position += 1
        if live.position >= len(live.lenders):
            self._apply(live, Event.ROTA_EXHAUSTED)
            self._end(live)
            return
        code = live.lenders[live.position]
        lender = self.consortium.libraries[code]
        self._apply(live, Event.SENT_TO_LENDER)
        live.sent_at = t
        live.orders += 1
        self.history.asked[code] += 1
        self.history.update(code)
        deadline = self._working(t, lender.policy.answer_hours, code)
        self._at(deadline, Kind.DEADLINE, live)
        profile = self.scenario.profiles[code]
        r = live.request
        draw = random.Random((self.seed * 1_000_003 + r.index) * 65_537
                             + self.library_number[code])
        supply = profile.supply
        if r.service is Service.LOAN and not live.available[live.position]:
            supply *= ON_LOAN_SUPPLY
        u = draw.random()
        hours = draw.expovariate(1 / profile.answer_hours) if profile.answer_hours else 0.0
        if u < supply + profile.unfilled:
            answered = self._working(t, hours, code)
            if answered < deadline:  # else the timer moves the request on first
                self._at(answered, Kind.ANSWER, live)
                live.supplier = code if u < supply else None

    def _deadline(self, live: _Live, t: float) -> None:
        live.overdue += 1
        live.supplier = None
        self._apply(live, Event.ANSWER_OVERDUE)
        self._next_lender(live, t)

    def _answer(self, live: _Live, t: float) -> None:
        code = live.lenders[live.position]
        if live.supplier is None:
            self._apply(live, Event.LENDER_UNFILLED)
            self._next_lender(live, t)
            return
        self._apply(live, Event.LENDER_WILL_SUPPLY)
        h = self.history
        h.lent[code] += 1
        h.borrowed[live.request.borrower] += 1
        h.update(code)
        h.update(live.request.borrower)
        profile = self.scenario.profiles[code]
        draw = random.Random((self.seed * 1_000_003 + live.request.index) * 65_537 + 7)
        self._at(self._working(t, draw.expovariate(1 / profile.ship_hours)
                               if profile.ship_hours else 0.0, code), Kind.SHIP, live)

    # -- delivery and the loan -----------------------------------------------------------

    def _transit(self, t: float, lender: str, borrower: str) -> float:
        a, b = self.consortium.libraries[lender], self.consortium.libraries[borrower]
        hours = TRANSIT_HOURS[0 if a.region == b.region else 1 if a.country == b.country else 2]
        return self._working(t, hours, lender)

    def _ship(self, live: _Live, t: float) -> None:
        code, r = live.lenders[live.position], live.request
        hours = self.history.hours[code]
        bisect.insort(hours, (t - live.sent_at) / 3600)
        self.history.update(code)
        if r.service is Service.COPY:
            self._apply(live, Event.COPY_DELIVERED)
            live.turnaround = t - r.at
            self._apply(live, Event.COPY_RECEIVED)
            self._end(live)
            return
        self._apply(live, Event.SHIPPED)
        lender = self.consortium.libraries[code]
        live.due = _when(t).date().toordinal() + lender.policy.loan_days + 7
        bisect.insort(self.out[(r.title, code)], live.due)
        self._at(self._transit(t, code, r.borrower), Kind.RECEIVE, live)

    def _receive(self, live: _Live, t: float) -> None:
        r = live.request
        self._apply(live, Event.RECEIVED)
        self._apply(live, Event.READY_FOR_PICKUP)
        live.turnaround = t - r.at
        draw = random.Random((self.seed * 1_000_003 + r.index) * 65_537 + 11)
        if draw.random() < NOT_COLLECTED:
            pickup_days = self.consortium.libraries[r.borrower].policy.pickup_days
            self._at(t + pickup_days * DAY, Kind.PICKUP_EXPIRED, live)
        else:
            self._at(t + draw.random() * PICKUP_DAYS_MAX * DAY, Kind.CHECK_OUT, live)

    def _check_out(self, live: _Live, t: float) -> None:
        self._apply(live, Event.CHECKED_OUT)
        lender = self.consortium.libraries[live.lenders[live.position]]
        self._at(t + lender.policy.loan_days * DAY, Kind.RETURN_SHIP, live)

    def _return_ship(self, live: _Live, t: float) -> None:
        self._apply(live, Event.RETURN_SHIPPED)
        self._send_back(live, t)

    def _pickup_expired(self, live: _Live, t: float) -> None:
        self._apply(live, Event.PICKUP_EXPIRED)
        self._send_back(live, t)

    def _send_back(self, live: _Live, t: float) -> None:
        self._at(self._transit(t, live.request.borrower, live.lenders[live.position]),
                 Kind.RETURN_RECEIVE, live)

    def _return_receive(self, live: _Live, t: float) -> None:
        self._apply(live, Event.RETURN_RECEIVED)
        r = live.request
        out = self.out[(r.title, live.lenders[live.position])]
        out.remove(live.due)
        self._end(live)


def simulate(scenario: Scenario, policy: Policy) -> Run:
    """Every request of ``scenario`` routed by ``policy``, each to its end."""
    return Simulation(scenario, policy).run()
