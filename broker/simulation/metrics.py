"""What a policy did over the scenario: fill rate, turnaround, what patrons paid, and
how the lending was spread over the members."""

from __future__ import annotations

import multiprocessing
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from broker.domain.fees import money
from broker.simulation.engine import Run, simulate
from broker.simulation.policies import Policy
from broker.simulation.scenario import Scenario

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class PolicyFigures:
    """One policy's figures. ``refused`` requests had no lender at intake (the same
    under every policy); the fill rate is of the ``accepted`` ones. Turnaround is in
    days from the request to the item at the pickup place (the copy delivered); the
    cost is what patrons paid for filled requests. Load is the orders each member
    supplied: the most, the mean over all members, and their Gini coefficient
    (0: every member supplies as much, 1: one supplies everything)."""

    policy: str
    order: str
    requests: int
    refused: int
    filled: int
    unfilled: int
    median_days: float | None
    p90_days: float | None
    cost_total: Decimal
    cost_mean: Decimal | None
    orders_per_request: float
    answers_overdue: int
    load_max: int
    load_mean: float
    load_gini: float
    busiest: str | None
    supplied: tuple[tuple[str, int], ...] = ()  # every member and the orders it supplied

    @property
    def accepted(self) -> int:
        return self.requests - self.refused

    @property
    def fill_rate(self) -> float | None:
        return self.filled / self.accepted if self.accepted else None


def gini(values: Iterable[float]) -> float:
    """The Gini coefficient of ``values`` (none negative): 0 when all are equal, near 1
    when one holds everything; 0 for nothing at all."""
    ordered = sorted(values)
    n, total = len(ordered), sum(ordered)
    if not n or not total:
        return 0.0
    ranked = sum(i * x for i, x in enumerate(ordered, start=1))
    return 2 * ranked / (n * total) - (n + 1) / n


def percentile(values: Sequence[float], share: float) -> float | None:
    """The ``share`` quantile (0.5 the median) of ``values``, interpolated between the
    two nearest; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def figures(run: Run, members: Sequence[str]) -> PolicyFigures:
    """``run`` summed up; ``members`` are every library of the consortium, so that one
    that supplied nothing counts in the load."""
    outcomes = run.outcomes
    refused = sum(1 for o in outcomes if o.orders == 0)
    filled = [o for o in outcomes if o.supplier is not None]
    days = [o.turnaround / DAY for o in filled if o.turnaround is not None]
    load = [run.supplied.get(code, 0) for code in members]
    cost = sum((o.cost for o in filled), Decimal("0.00"))
    accepted = len(outcomes) - refused
    median, p90 = percentile(days, 0.5), percentile(days, 0.9)
    return PolicyFigures(
        policy=run.policy.name, order=run.policy.description, requests=len(outcomes),
        refused=refused, filled=len(filled), unfilled=accepted - len(filled),
        median_days=None if median is None else round(median, 2),
        p90_days=None if p90 is None else round(p90, 2),
        cost_total=money(cost), cost_mean=money(cost / len(filled)) if filled else None,
        orders_per_request=round(sum(o.orders for o in outcomes) / accepted, 3)
        if accepted else 0.0,
        answers_overdue=sum(o.answers_overdue for o in outcomes),
        load_max=max(load, default=0),
        load_mean=round(statistics.fmean(load), 2) if load else 0.0,
        load_gini=round(gini(load), 3),
        busiest=max(members, key=lambda c: (run.supplied.get(c, 0), c)) if filled else None,
        supplied=tuple(zip(members, load, strict=True)))


# The scenario a forked worker process replays: inherited from the parent at the
# fork, so the year of requests is not pickled once per policy.
_SHARED: Scenario | None = None


def _figures_of(policy: Policy) -> PolicyFigures:
    assert _SHARED is not None
    return figures(simulate(_SHARED, policy), sorted(_SHARED.consortium.libraries))


def compare(scenario: Scenario, policies: Sequence[Policy], jobs: int = 1) -> list[PolicyFigures]:
    """Each policy's figures over ``scenario``, in the order given; with ``jobs`` above
    1, that many policies at once in forked processes (where the platform forks)."""
    global _SHARED
    _SHARED = scenario
    try:
        workers = min(jobs, len(policies))
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                return pool.map(_figures_of, policies, chunksize=1)
        return [_figures_of(p) for p in policies]
    finally:
        _SHARED = None
