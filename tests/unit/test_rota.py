from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from types import MappingProxyType

import pytest

from broker.domain.consortium import (
    ConnectorConfig,
    Consortium,
    FeeSchedule,
    Library,
    LocalHoldings,
    Policy,
    Region,
)
from broker.domain.fees import Estimate, FeeCode, FeeLine, estimate
from broker.domain.holdings import Holding, ItemStatus, MaterialType
from broker.domain.rota import (
    DEFAULT_ORDER,
    Candidate,
    Criterion,
    LenderStats,
    Rota,
    RotaCode,
    build_rota,
    topic_rota,
)
from broker.domain.states import Service
from broker.services.consortium_file import load

from conformance import DEMO

D = Decimal
S = ItemStatus
SCHEDULE = FeeSchedule(
    ill_item=D("7.00"), postage_domestic=D("3.00"), postage_international=D("9.50"),
    copy_minimum=D("2.00"), copy_per_page=MappingProxyType({"paper": D("0.25"),
                                                            "pdf": D("0.15")}),
    late_per_day=MappingProxyType({}), reminders=(), lost_processing=D("5.00"))
ALL = frozenset(MaterialType)
BOOKS = frozenset({MaterialType.BOOK})
# HOME is the borrower, in HOMELAND (free transfers). Loans cost: HOMELAND 0.00,
# ELSEWHERE 10.00 (fee + domestic postage), ABROAD 16.50 (fee + international postage).
REGIONS = {"HOMELAND": ("SI", True), "ELSEWHERE": ("SI", False), "ABROAD": ("LV", True)}
LIBRARIES: dict[str, tuple[str, frozenset[MaterialType], bool]] = {
    "HOME": ("HOMELAND", ALL, False),
    "NEAR1": ("HOMELAND", ALL, False),
    "NEAR2": ("HOMELAND", ALL, False),
    "FAR1": ("ELSEWHERE", ALL, False),
    "FAR2": ("ELSEWHERE", ALL, False),
    "FAR3": ("ELSEWHERE", ALL, False),
    "BOOKSONLY": ("ELSEWHERE", BOOKS, False),
    "OUT1": ("ABROAD", ALL, False),
    "LAST1": ("HOMELAND", ALL, True),
    "LAST2": ("ELSEWHERE", ALL, True),
}
DUE = date(2026, 12, 1)


def a_library(code: str, region: str, country: str, lends: frozenset[MaterialType],
              last: bool) -> Library:
    inbox = ConnectorConfig("inbox")
    policy = Policy(password_min_length=8, accepts_patron_requests=True, lends=lends,
                    loan_days=21, answer_hours=24, pickup_days=10, max_open_requests=10,
                    lender_of_last_resort=last)
    return Library(code, code, country, region, "UTC", policy, inbox, inbox, inbox)


def a_consortium(regions: Mapping[str, tuple[str, bool]],
                 libraries: Mapping[str, tuple[str, frozenset[MaterialType], bool]]
                 ) -> Consortium:
    return Consortium(
        name="Rota", currency="EUR", local_holdings=LocalHoldings.LENDABLE,
        regions=MappingProxyType({c: Region(c, c, country, free)
                                  for c, (country, free) in regions.items()}),
        libraries=MappingProxyType({c: a_library(c, region, regions[region][0], lends, last)
                                    for c, (region, lends, last) in libraries.items()}),
        categories=MappingProxyType({}), fees=SCHEDULE)


CONSORTIUM = a_consortium(REGIONS, LIBRARIES)


def has(library: str, *statuses: ItemStatus, due: date | None = DUE) -> Candidate:
    """A candidate with one copy per status; copies on loan are due on ``due``."""
    return Candidate(library, tuple(
        Holding(library, s, due_date=due if s is S.ON_LOAN else None) for s in statuses))


def priced(amount: str) -> Estimate:
    return Estimate("EUR", (FeeLine(FeeCode.ILL_ITEM, "fixed for the test", D(amount)),))


def rota(candidates: Sequence[Candidate], *, service: Service = Service.LOAN,
         material: MaterialType = MaterialType.BOOK, max_cost: str | None = None,
         stats: Sequence[LenderStats] = (), closed: frozenset[str] = frozenset(),
         prices: Mapping[str, str] | None = None,
         order: Sequence[Criterion | str] = DEFAULT_ORDER) -> Rota:
    def price(lender: str) -> Estimate:
        if prices is not None:
            return priced(prices[lender])
        return estimate(CONSORTIUM, borrower="HOME", lender=lender, service=service, pages=10,
                        copy_format="pdf")
    return build_rota(CONSORTIUM, borrower="HOME", material=material, service=service,
                      candidates=candidates,
                      max_cost=None if max_cost is None else D(max_cost),
                      stats={s.library: s for s in stats}, closed=closed, estimate=price,
                      order=order)


def history(library: str, lent: int = 0, borrowed: int = 0, filled: int = 0, asked: int = 0,
            hours: float | None = None) -> LenderStats:
    return LenderStats(library, lent, borrowed, filled, asked, hours)


# ---------------------------------------------------------------- who is left out

@pytest.mark.parametrize(("candidate", "options", "code"), [
    (has("HOME", S.AVAILABLE), {}, RotaCode.HOME_LIBRARY),
    (has("GHOST", S.AVAILABLE), {}, RotaCode.NOT_A_MEMBER),
    (has("BOOKSONLY", S.AVAILABLE), {"material": MaterialType.JOURNAL},
     RotaCode.DOES_NOT_LEND_MATERIAL),
    (has("BOOKSONLY", S.AVAILABLE), {"material": MaterialType.AV},
     RotaCode.DOES_NOT_LEND_MATERIAL),
    # A copy of a journal article only needs the library to hold the journal ...
    (has("BOOKSONLY", S.AVAILABLE), {"material": MaterialType.JOURNAL,
                                     "service": Service.COPY}, RotaCode.CHOSEN),
    # ... but a copy from material it does not lend at all is still refused.
    (has("BOOKSONLY", S.AVAILABLE), {"material": MaterialType.AV, "service": Service.COPY},
     RotaCode.DOES_NOT_LEND_MATERIAL),
    (has("FAR1", S.READING_ROOM), {}, RotaCode.READING_ROOM_ONLY),
    (has("FAR1", S.READING_ROOM, S.LOST), {}, RotaCode.READING_ROOM_ONLY),
    # A copy can be made from a reading-room or reference copy.
    (has("FAR1", S.READING_ROOM), {"service": Service.COPY}, RotaCode.CHOSEN),
    (has("FAR1", S.NOT_LOANABLE), {"service": Service.COPY}, RotaCode.CHOSEN),
    (has("FAR1", S.LOST), {"service": Service.COPY}, RotaCode.NO_LENDABLE_COPY),
    (has("FAR1", S.LOST), {}, RotaCode.NO_LENDABLE_COPY),
    (has("FAR1", S.NOT_LOANABLE, S.LOST), {}, RotaCode.NO_LENDABLE_COPY),
    (has("FAR1"), {}, RotaCode.NO_LENDABLE_COPY),
    # On loan is lendable: the lender queues the order.
    (has("FAR1", S.ON_LOAN), {}, RotaCode.CHOSEN),
    (has("FAR1", S.LOST, S.ON_LOAN), {}, RotaCode.CHOSEN),
    (has("FAR1", S.AVAILABLE), {"closed": frozenset({"FAR1"})}, RotaCode.CLOSED_TODAY),
    (has("OUT1", S.AVAILABLE), {"max_cost": "16.49"}, RotaCode.OVER_COST_LIMIT),
    # The limit itself is within the limit.
    (has("OUT1", S.AVAILABLE), {"max_cost": "16.50"}, RotaCode.CHOSEN),
    (has("NEAR1", S.AVAILABLE), {"max_cost": "0"}, RotaCode.CHOSEN),
], ids=lambda x: str(x))
def test_each_rule_of_who_is_asked(candidate: Candidate, options: dict[str, object],
                                   code: RotaCode) -> None:
    result = rota([candidate], **options)  # type: ignore[arg-type]
    entry = result.entry(candidate.library)
    assert entry is not None
    assert entry.code is code
    assert entry.reason
    assert (result.libraries == (candidate.library,)) is (code is RotaCode.CHOSEN)
    assert len(result.entries) + len(result.skipped) == 1


def test_skip_reasons_say_why() -> None:
    result = rota([has("HOME", S.AVAILABLE), has("BOOKSONLY", S.AVAILABLE),
                   has("FAR1", S.LOST, S.NOT_LOANABLE), has("OUT1", S.AVAILABLE)],
                  material=MaterialType.JOURNAL, max_cost="12.00")
    reasons = {e.library: e.reason for e in result.skipped}
    assert "home library" in reasons["HOME"]
    assert reasons["BOOKSONLY"] == "does not lend journals"
    assert reasons["FAR1"] == "no copy it can lend (lost, not loanable)"
    assert reasons["OUT1"] == "estimated 16.50 EUR, above the patron's limit of 12.00 EUR"
    over = result.entry("OUT1")
    assert over is not None and over.estimate_total == D("16.50") and over.available_now


def test_the_price_is_asked_only_for_libraries_that_could_lend() -> None:
    asked: list[str] = []

    def price(lender: str) -> Estimate:
        asked.append(lender)
        return priced("1.00")

    build_rota(CONSORTIUM, borrower="HOME", material=MaterialType.BOOK, service=Service.LOAN,
               candidates=[has("HOME", S.AVAILABLE), has("FAR1", S.LOST),
                           has("FAR2", S.AVAILABLE), has("FAR3", S.AVAILABLE)],
               max_cost=None, stats={}, closed=frozenset({"FAR3"}), estimate=price)
    assert asked == ["FAR2"]


# ---------------------------------------------------------------- the order

@pytest.mark.parametrize(("candidates", "prices", "stats", "expected", "decided_by"), [
    # Same region first, even when another library is priced lower.
    ([has("FAR1", S.AVAILABLE), has("NEAR1", S.ON_LOAN)], {"FAR1": "0", "NEAR1": "5"}, [],
     ["NEAR1", "FAR1"], Criterion.SAME_REGION),
    # Then the cheaper, even when on loan.
    ([has("OUT1", S.AVAILABLE), has("FAR1", S.ON_LOAN)], None, [],
     ["FAR1", "OUT1"], Criterion.COST),
    # Then available now over on loan ...
    ([has("FAR1", S.ON_LOAN), has("FAR2", S.ON_LOAN, S.AVAILABLE)], None, [],
     ["FAR2", "FAR1"], Criterion.AVAILABILITY),
    # ... and among copies on loan, the earliest due date first, an unknown one last.
    ([has("FAR1", S.ON_LOAN, due=date(2026, 12, 9)), has("FAR2", S.ON_LOAN, due=None),
      has("FAR3", S.ON_LOAN, due=date(2026, 12, 2))], None, [],
     ["FAR3", "FAR1", "FAR2"], Criterion.AVAILABILITY),
    # Then lending balance: who lends much more than it borrows comes later.
    ([has("FAR1", S.AVAILABLE), has("FAR2", S.AVAILABLE)], None,
     [history("FAR1", lent=50, borrowed=10), history("FAR2", lent=10, borrowed=10)],
     ["FAR2", "FAR1"], Criterion.LENDING_BALANCE),
    # No history counts as balanced (0): after a net borrower, before a net lender.
    ([has("FAR1", S.AVAILABLE), has("FAR2", S.AVAILABLE), has("FAR3", S.AVAILABLE)], None,
     [history("FAR1", lent=5), history("FAR3", borrowed=5)],
     ["FAR3", "FAR2", "FAR1"], Criterion.LENDING_BALANCE),
    # Then fill rate, higher first.
    ([has("FAR1", S.AVAILABLE), has("FAR2", S.AVAILABLE)], None,
     [history("FAR1", filled=5, asked=10), history("FAR2", filled=9, asked=10)],
     ["FAR2", "FAR1"], Criterion.FILL_RATE),
    # No history is a neutral 0.5: between a good and a poor record.
    ([has("FAR1", S.AVAILABLE), has("FAR2", S.AVAILABLE), has("FAR3", S.AVAILABLE)], None,
     [history("FAR1", filled=2, asked=10), history("FAR3", filled=9, asked=10)],
     ["FAR3", "FAR2", "FAR1"], Criterion.FILL_RATE),
    # One lucky fill does not outrank a long good record.
    ([has("FAR1", S.AVAILABLE), has("FAR2", S.AVAILABLE)], None,
     [history("FAR1", filled=1, asked=1), history("FAR2", filled=95, asked=100)],
     ["FAR2", "FAR1"], Criterion.FILL_RATE),
    # Then turnaround, faster first.
    ([has("FAR1", S.AVAILABLE), has("FAR2", S.AVAILABLE)], None,
     [history("FAR1", filled=8, asked=10, hours=48), history("FAR2", filled=8, asked=10,
                                                               hours=20)],
     ["FAR2", "FAR1"], Criterion.TURNAROUND),
    # Unknown turnaround: the median of the known ones (30 h here).
    ([has("FAR1", S.AVAILABLE), has("FAR2", S.AVAILABLE), has("FAR3", S.AVAILABLE)], None,
     [history("FAR1", hours=50), history("FAR3", hours=10)],
     ["FAR3", "FAR2", "FAR1"], Criterion.TURNAROUND),
    # Then the library code.
    ([has("FAR2", S.AVAILABLE), has("FAR1", S.AVAILABLE)], None, [],
     ["FAR1", "FAR2"], "library-code"),
    # Lenders of last resort after all others, however well they rank ...
    ([has("LAST1", S.AVAILABLE), has("OUT1", S.ON_LOAN)], None,
     [history("LAST1", filled=10, asked=10, hours=1)], ["OUT1", "LAST1"], "last-resort"),
    # ... and among themselves in the usual order.
    ([has("LAST2", S.AVAILABLE), has("LAST1", S.ON_LOAN), has("FAR1", S.ON_LOAN)], None, [],
     ["FAR1", "LAST1", "LAST2"], Criterion.SAME_REGION),
], ids=lambda x: str(x) if isinstance(x, str | Criterion) else None)
def test_each_criterion_decides_a_tie_of_the_ones_before(
        candidates: list[Candidate], prices: Mapping[str, str] | None,
        stats: list[LenderStats], expected: list[str], decided_by: str) -> None:
    result = rota(candidates, prices=prices, stats=stats)
    assert list(result.libraries) == expected
    assert result.entries[0].decided_by is None
    assert result.entries[-1].decided_by == decided_by
    keys = [e.rank_key for e in result.entries]
    assert keys == sorted(keys)  # type: ignore[type-var]


def test_the_order_does_not_depend_on_the_order_of_candidates() -> None:
    candidates = [has(code, S.AVAILABLE) for code in LIBRARIES if code != "HOME"]
    expected = rota(candidates).libraries
    rng = random.Random(5)
    for _ in range(20):
        rng.shuffle(candidates)
        assert rota(candidates).libraries == expected


def test_a_library_named_twice_is_one_candidate_with_all_its_copies() -> None:
    result = rota([has("FAR1", S.ON_LOAN), has("FAR2", S.ON_LOAN), has("FAR1", S.AVAILABLE)])
    assert result.libraries == ("FAR1", "FAR2")
    first = result.entries[0]
    assert first.available_now


@pytest.mark.parametrize("candidates", [
    [],
    [has("HOME", S.AVAILABLE)],
    [has("FAR1", S.READING_ROOM), has("FAR2", S.LOST)],
])
def test_nobody_to_ask(candidates: list[Candidate]) -> None:
    result = rota(candidates)
    assert result.entries == ()
    assert result.libraries == ()
    assert len(result.skipped) == len(candidates)


def test_reasons_explain_the_place() -> None:
    result = rota([has("NEAR1", S.AVAILABLE), has("NEAR2", S.AVAILABLE),
                   has("FAR1", S.ON_LOAN), has("LAST1", S.AVAILABLE)],
                  stats=[history("NEAR1", lent=20, borrowed=8, filled=8, asked=10, hours=30),
                         history("NEAR2", lent=40, borrowed=8)])
    reasons = [e.reason for e in result.entries]
    assert reasons == [
        "same region, free; no fee; available now; lends 12 more than it borrows; "
        "filled 8 of 10 requests; median turnaround 30 h",
        "same region, free; no fee; available now; lends 32 more than it borrows; "
        "no fill history; no turnaround history; after NEAR1 by lending balance",
        "another region; costs 10.00 EUR; on loan, due back 2026-12-01; no lending history; "
        "no fill history; no turnaround history; after NEAR2 by region",
        "lender of last resort, asked after the others; same region, free; no fee; "
        "available now; no lending history; no fill history; no turnaround history; "
        "after FAR1 by being a lender of last resort",
    ]
    assert [e.estimate_total for e in result.entries] == [D("0.00"), D("0.00"), D("10.00"),
                                                          D("0.00")]
    assert [e.available_now for e in result.entries] == [True, True, False, True]
    assert all(e.code is RotaCode.CHOSEN for e in result.entries)


# ---------------------------------------------------------------- the order is data

def test_another_order_of_criteria() -> None:
    candidates = [has("NEAR1", S.ON_LOAN), has("OUT1", S.AVAILABLE), has("FAR1", S.ON_LOAN,
                                                                        due=date(2026, 12, 3))]
    assert rota(candidates).libraries == ("NEAR1", "FAR1", "OUT1")
    by_availability = rota(candidates, order=(Criterion.AVAILABILITY, Criterion.COST))
    assert by_availability.libraries == ("OUT1", "NEAR1", "FAR1")
    assert by_availability.order == (Criterion.AVAILABILITY, Criterion.COST)
    # Names work as well as members, and no criterion at all leaves the library code.
    assert rota(candidates, order=("availability", "cost")).libraries == (
        "OUT1", "NEAR1", "FAR1")
    assert rota(candidates, order=()).libraries == ("FAR1", "NEAR1", "OUT1")
    assert len(by_availability.entries[0].rank_key) == 4


@pytest.mark.parametrize("order", [("speed",), (Criterion.COST, "cost")])
def test_a_bad_order_is_refused(order: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        rota([has("FAR1", S.AVAILABLE)], order=order)


def test_the_default_order_is_the_issue_s() -> None:
    assert DEFAULT_ORDER == (Criterion.SAME_REGION, Criterion.COST, Criterion.AVAILABILITY,
                             Criterion.LENDING_BALANCE, Criterion.FILL_RATE,
                             Criterion.TURNAROUND)


# ---------------------------------------------------------------- properties

STATUSES = list(ItemStatus)


def random_case(rng: random.Random) -> tuple[Consortium, dict[str, object]]:
    regions = {f"R{i}": (rng.choice(["SI", "LV", "SE"]), rng.random() < 0.5)
               for i in range(rng.randint(1, 5))}
    libraries = {f"L{i:02}": (rng.choice(list(regions)),
                              frozenset(rng.sample(list(MaterialType), rng.randint(1, 6))),
                              rng.random() < 0.15)
                 for i in range(rng.randint(1, 30))}
    codes = list(libraries)
    borrower = rng.choice(codes)
    candidates = [Candidate(code, tuple(
        Holding(code, rng.choice(STATUSES),
                due_date=date(2026, 12, rng.randint(1, 28)) if rng.random() < 0.7 else None)
        for _ in range(rng.randint(0, 3))))
        for code in rng.sample([*codes, "GHOST"], rng.randint(0, len(codes)))]
    stats = {code: LenderStats(code, rng.randint(0, 99), rng.randint(0, 99),
                               filled := rng.randint(0, 50), filled + rng.randint(0, 50),
                               rng.choice([None, rng.uniform(2, 200)]))
             for code in codes if rng.random() < 0.7}
    options: dict[str, object] = {
        "borrower": borrower, "material": rng.choice(list(MaterialType)),
        "service": rng.choice(list(Service)), "candidates": candidates,
        "max_cost": rng.choice([None, D("0"), D("10.00"), D("12.00"), D("20")]),
        "stats": stats, "closed": frozenset(rng.sample(codes, rng.randint(0, min(3, len(codes))))),
        "pages": rng.choice([None, 3, 40]),
    }
    return a_consortium(regions, libraries), options


@pytest.mark.parametrize("seed", range(300))
def test_random_rotas_hold_the_policy(seed: int) -> None:
    rng = random.Random(seed)
    consortium, options = random_case(rng)
    borrower = options["borrower"]
    service, material = options["service"], options["material"]
    pages, max_cost = options.pop("pages"), options["max_cost"]
    assert isinstance(borrower, str) and isinstance(service, Service)
    assert isinstance(material, MaterialType)
    assert max_cost is None or isinstance(max_cost, Decimal)
    price: Callable[[str], Estimate] = lambda lender: estimate(  # noqa: E731
        consortium, borrower=borrower, lender=lender, service=service,
        pages=pages if isinstance(pages, int) else None, copy_format="paper")
    result = build_rota(consortium, estimate=price, **options)  # type: ignore[arg-type]

    candidates: list[Candidate] = options["candidates"]  # type: ignore[assignment]
    closed: frozenset[str] = options["closed"]  # type: ignore[assignment]
    usable = ({S.AVAILABLE, S.ON_LOAN} if service is Service.LOAN
              else {S.AVAILABLE, S.ON_LOAN, S.READING_ROOM, S.NOT_LOANABLE})
    eligible = {
        c.library for c in candidates
        if c.library != borrower and c.library in consortium.libraries
        and c.library not in closed
        and (material in consortium.library(c.library).policy.lends
             or (service is Service.COPY and material is MaterialType.JOURNAL))
        and any(h.status in usable for h in c.holdings)
        and (max_cost is None or price(c.library).total <= max_cost)}

    chosen = result.libraries
    assert borrower not in chosen
    assert not closed & set(chosen)
    assert sorted(chosen) == sorted(eligible)  # a permutation of the eligible ones
    assert sorted(chosen + tuple(e.library for e in result.skipped)) == sorted(
        c.library for c in candidates)
    for entry in result.entries:
        assert entry.estimate_total is not None
        assert max_cost is None or entry.estimate_total <= max_cost
        assert entry.reason
    last = [consortium.library(code).policy.lender_of_last_resort for code in chosen]
    assert last == sorted(last)  # every lender of last resort after every other one
    keys = [e.rank_key for e in result.entries]
    assert keys == sorted(keys)  # type: ignore[type-var]
    assert all(e.decided_by is not None for e in result.entries[1:])
    assert all(e.code is not RotaCode.CHOSEN for e in result.skipped)


def test_a_topic_goes_to_the_lenders_of_last_resort_same_region_first() -> None:
    consortium = _topic_consortium()
    rota = topic_rota(consortium, borrower="SI-LJMK", max_cost=None, closed=frozenset(),
                      estimate=_price(consortium, "SI-LJMK"))
    assert rota.libraries == ("SI-KAM", "LV-RCB", "SE-UPS")
    assert all("lender of last resort" in e.reason for e in rota.entries)


def test_a_topic_rota_leaves_out_the_home_library_the_closed_and_the_too_dear() -> None:
    consortium = _topic_consortium()
    rota = topic_rota(consortium, borrower="SI-KAM", max_cost=Decimal("1.00"),
                      closed=frozenset({"SE-UPS"}), estimate=_price(consortium, "SI-KAM"))
    assert rota.entries == ()
    assert {e.library: e.code for e in rota.skipped} == {
        "SI-KAM": RotaCode.HOME_LIBRARY, "SE-UPS": RotaCode.CLOSED_TODAY,
        "LV-RCB": RotaCode.OVER_COST_LIMIT}


def _topic_consortium() -> Consortium:
    demo = load(DEMO / "consortium.toml")
    last_resort = {"SI-KAM", "LV-RCB", "SE-UPS"}
    return replace(demo, libraries={
        code: replace(lib, policy=replace(lib.policy,
                                          lender_of_last_resort=code in last_resort))
        for code, lib in demo.libraries.items()})


def _price(consortium: Consortium, borrower: str) -> Callable[[str], Estimate]:
    return lambda lender: estimate(consortium, borrower=borrower, lender=lender,
                                   service=Service.LOAN)
