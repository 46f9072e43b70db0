"""Rota decisions per second with 200 candidate lenders, against plain sorting.

A generated consortium of 200 libraries in 20 regions (five countries), each title
held by every member with random copies (available, on loan with due dates, reading
room, lost, not loanable) and random lending history; a few libraries closed, some
lenders of last resort, a patron's cost limit on some requests. One decision is one
``build_rota`` over all 200 libraries as candidates (the patron's home library among
them, as the union index returns it), pricing each lender with ``fees.estimate``
as the intake does. The baseline, in the same run, sorts the same 200 candidates by
one precomputed key with ``sorted(..., key=...)``: the floor any ranking costs.

    python bench/routing.py [--lenders 200] [--regions 20] [--seconds 1] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from broker.domain.consortium import Consortium
from broker.domain.fees import Estimate, estimate
from broker.domain.holdings import Holding, ItemStatus, MaterialType
from broker.domain.rota import Candidate, LenderStats, build_rota
from broker.domain.states import Service
from broker.services.consortium_file import build

COUNTRIES = ("SI", "LV", "SE", "NL", "AT")
MATERIALS = ["book", "journal", "av", "score", "map"]
STATUSES = [ItemStatus.AVAILABLE] * 5 + [ItemStatus.ON_LOAN] * 3 + [
    ItemStatus.READING_ROOM, ItemStatus.LOST, ItemStatus.NOT_LOANABLE]
TODAY = date(2026, 11, 23)


def consortium(lenders: int, regions: int, rng: random.Random) -> Consortium:
    region_codes = [f"R{r:02d}" for r in range(regions)]
    return build({
        "consortium": {"name": "Routing bench", "currency": "EUR"},
        "regions": [{"code": code, "name": code, "country": COUNTRIES[r % len(COUNTRIES)],
                     "free_transfers": rng.random() < 0.5}
                    for r, code in enumerate(region_codes)],
        "fees": {"ill_item": "7.00", "postage": {"domestic": "3.00", "international": "9.50"},
                 "copy": {"minimum": "2.00", "per_page": {"paper": "0.25", "pdf": "0.15"}}},
        "libraries": [{
            "code": f"L{n:03d}", "name": f"Library {n}",
            "country": COUNTRIES[(n % regions) % len(COUNTRIES)],
            "region": region_codes[n % regions], "timezone": "UTC",
            "policy": {"password_min_length": 8, "accepts_patron_requests": True,
                       "lends": rng.sample(MATERIALS, rng.randint(2, 5)),
                       "lender_of_last_resort": rng.random() < 0.03},
            "catalog": {"connector": "sru", "url": "http://127.0.0.1:1/sru"},
            "register": {"connector": "ncip", "url": "http://127.0.0.1:1/ncip"},
            "lending": {"connector": "inbox"},
        } for n in range(lenders)],
    }, Path("."))


@dataclass(frozen=True, slots=True)
class Scenario:
    """One request to route: who asks, for what, and what the members hold."""

    borrower: str
    material: MaterialType
    service: Service
    candidates: tuple[Candidate, ...]
    max_cost: Decimal | None
    stats: dict[str, LenderStats]
    closed: frozenset[str]
    estimate: Callable[[str], Estimate]
    key: dict[str, float]  # the baseline's one precomputed key per library


def scenario(members: Consortium, rng: random.Random) -> Scenario:
    codes = list(members.libraries)
    borrower = rng.choice(codes)
    service = rng.choice([Service.LOAN, Service.LOAN, Service.COPY])
    pages = rng.choice([None, 12, 40])

    def copies(code: str) -> tuple[Holding, ...]:
        out = []
        for _ in range(rng.randint(1, 3)):
            status = rng.choice(STATUSES)
            due = TODAY + timedelta(days=rng.randint(1, 40)) if status is ItemStatus.ON_LOAN \
                else None
            out.append(Holding(code, status, due_date=due))
        return tuple(out)

    def price(lender: str) -> Estimate:
        return estimate(members, borrower=borrower, lender=lender, service=service,
                        pages=pages, copy_format="pdf")

    stats = {}
    for code in codes:
        if rng.random() < 0.85:
            asked = rng.randint(0, 500)
            stats[code] = LenderStats(code, rng.randint(0, 800), rng.randint(0, 800),
                                      rng.randint(0, asked), asked,
                                      rng.choice([None, rng.uniform(4, 240)]))
    return Scenario(
        borrower=borrower, material=MaterialType(rng.choice(MATERIALS)), service=service,
        candidates=tuple(Candidate(code, copies(code)) for code in codes),
        max_cost=rng.choice([None, None, Decimal("12.00"), Decimal("20.00")]),
        stats=stats, closed=frozenset(rng.sample(codes, len(codes) // 20)), estimate=price,
        key={code: rng.random() for code in codes})


def decide(members: Consortium, s: Scenario) -> int:
    rota = build_rota(members, borrower=s.borrower, material=s.material, service=s.service,
                      candidates=s.candidates, max_cost=s.max_cost, stats=s.stats,
                      closed=s.closed, estimate=s.estimate)
    return len(rota.entries)


def baseline(s: Scenario) -> int:
    key = s.key
    return len(sorted(s.candidates, key=lambda c: key[c.library]))


def rate(work: Callable[[Scenario], Any], scenarios: list[Scenario], seconds: float) -> float:
    done, started = 0, time.perf_counter()
    deadline = started + seconds
    while True:
        for s in scenarios:
            work(s)
        done += len(scenarios)
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lenders", type=int, default=200)
    parser.add_argument("--regions", type=int, default=20)
    parser.add_argument("--scenarios", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=1.0, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=18626)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    members = consortium(args.lenders, args.regions, rng)
    scenarios = [scenario(members, rng) for _ in range(args.scenarios)]

    def cached(s: Scenario) -> Scenario:
        # The same scenario with every lender priced beforehand: the ranking alone.
        prices = {code: s.estimate(code) for code in members.libraries}
        return Scenario(s.borrower, s.material, s.service, s.candidates, s.max_cost, s.stats,
                        s.closed, prices.__getitem__, s.key)

    priced = [cached(s) for s in scenarios]
    chosen = [decide(members, s) for s in scenarios]
    print(f"{args.lenders} candidate lenders in {args.regions} regions, {len(scenarios)} "
          f"requests, median of {args.rounds} rounds of {args.seconds:g} s")
    print(f"lenders chosen per rota: median {statistics.median(chosen):g}, "
          f"min {min(chosen)}, max {max(chosen)}")
    rotas, ranks, sorts = [], [], []
    for _ in range(args.rounds):  # interleaved, so drift in CPU speed hits all three alike
        rotas.append(rate(lambda s: decide(members, s), scenarios, args.seconds))
        ranks.append(rate(lambda s: decide(members, s), priced, args.seconds))
        sorts.append(rate(baseline, scenarios, args.seconds))
    rota, rank, sort = (statistics.median(x) for x in (rotas, ranks, sorts))
    print(f"rota, pricing each lender:        {rota:10.0f} decisions/s "
          f"({1e6 / rota:.0f} µs each)")
    print(f"rota, prices computed beforehand: {rank:10.0f} decisions/s "
          f"({1e6 / rank:.0f} µs each)")
    print(f"baseline, sorted() by one key:    {sort:10.0f} sorts/s "
          f"({1e6 / sort:.1f} µs each)")
    print(f"ratio rota / baseline: {rota / sort:.4f} (prices beforehand: {rank / sort:.4f})")


if __name__ == "__main__":
    main()
