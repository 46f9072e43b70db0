"""The rota (lending string): which member libraries are asked for an item, in which
order, and why each one is where it is, or why it was left out.

Pure: the caller brings the holdings, the lenders' history, the libraries closed
today and a price function; ``build_rota`` only decides. The order of the ranking
criteria is data (``DEFAULT_ORDER``, or any other tuple of ``Criterion``), so that
the routing simulator can compare orders without touching this module.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from broker.domain.consortium import Consortium
from broker.domain.fees import Estimate
from broker.domain.holdings import Holding, ItemStatus, MaterialType
from broker.domain.messages import N_, joined
from broker.domain.states import Service


class RotaCode(StrEnum):
    """Why a candidate is in the rota or not: the closed vocabulary kept on the request."""

    CHOSEN = "chosen"
    HOME_LIBRARY = "home-library"
    NOT_A_MEMBER = "not-a-member"
    DOES_NOT_LEND_MATERIAL = "does-not-lend-material"
    READING_ROOM_ONLY = "reading-room-only"
    NO_LENDABLE_COPY = "no-lendable-copy"
    CLOSED_TODAY = "closed-today"
    OVER_COST_LIMIT = "over-cost-limit"


class Criterion(StrEnum):
    """The ranking criteria a routing order is made of."""

    SAME_REGION = "same-region"
    COST = "cost"
    AVAILABILITY = "availability"
    LENDING_BALANCE = "lending-balance"
    FILL_RATE = "fill-rate"
    TURNAROUND = "turnaround"


DEFAULT_ORDER: tuple[Criterion, ...] = (
    # Same region first: the region's courier is free and usually the fastest.
    Criterion.SAME_REGION,
    # Over the patron's limit is skipped; of the rest, the cheaper is asked first,
    # so the estimate the patron accepted is the likeliest final charge.
    Criterion.COST,
    Criterion.AVAILABILITY,
    # Libraries that already lend much more than they borrow come later: spreads load.
    Criterion.LENDING_BALANCE,
    Criterion.FILL_RATE,
    Criterion.TURNAROUND,
)

# Which copies a request can be served from. A copy (article, chapter) is made from
# a copy in the building, so a reading-room or reference copy serves it, where a
# loan needs a copy that leaves the library.
USABLE: Mapping[Service, frozenset[ItemStatus]] = MappingProxyType({
    Service.LOAN: frozenset({ItemStatus.AVAILABLE, ItemStatus.ON_LOAN}),
    Service.COPY: frozenset({ItemStatus.AVAILABLE, ItemStatus.ON_LOAN,
                             ItemStatus.READING_ROOM, ItemStatus.NOT_LOANABLE}),
})
ON_SHELF = frozenset({ItemStatus.AVAILABLE, ItemStatus.READING_ROOM, ItemStatus.NOT_LOANABLE})
# Materials a library copies from even when its policy does not lend them: journal
# volumes rarely leave the building, yet article copies from them are the bulk of
# copy requests.
COPIED_WITHOUT_LENDING = frozenset({MaterialType.JOURNAL})

# Fill rate with Laplace's rule of succession, (filled + 1) / (asked + 2): no history
# is the neutral 0.5, and one lucky fill does not outrank a long good record.
_PRIOR_FILLED, _PRIOR_ASKED = 1, 2
# Sorts an on-loan copy without a due date after every copy with one.
_NO_DUE_DATE = date.max.toordinal() + 1

_PLURAL = MappingProxyType({
    MaterialType.BOOK: N_("books"), MaterialType.JOURNAL: N_("journals"),
    MaterialType.AV: N_("audiovisual material"), MaterialType.SCORE: N_("scores"),
    MaterialType.MAP: N_("maps"), MaterialType.OTHER: N_("this kind of material"),
})


@dataclass(frozen=True, slots=True)
class LenderStats:
    """A library's ILL history, as the coordinator's figures count it."""

    library: str
    lent: int
    borrowed: int
    filled: int
    asked: int
    median_turnaround_hours: float | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A library that holds the title, with its copies of it."""

    library: str
    holdings: tuple[Holding, ...]


@dataclass(frozen=True, slots=True)
class RotaEntry:
    """One candidate's place in the rota, or why it has none.

    ``rank_key`` is what the chosen entries were sorted by: last-resort flag, one
    value per criterion of the order, then the library code. ``decided_by`` names
    what put a chosen entry after the one before it (a ``Criterion``,
    ``"last-resort"`` or ``"library-code"``); None for the first and for skipped ones.
    """

    library: str
    code: RotaCode
    reason: str
    rank_key: tuple[object, ...] = ()
    estimate_total: Decimal | None = None
    available_now: bool = False
    decided_by: str | None = None


@dataclass(frozen=True, slots=True)
class Rota:
    entries: tuple[RotaEntry, ...]
    skipped: tuple[RotaEntry, ...]
    order: tuple[Criterion, ...] = DEFAULT_ORDER

    @property
    def libraries(self) -> tuple[str, ...]:
        """The lenders to ask, in order."""
        return tuple(e.library for e in self.entries)

    def entry(self, library: str) -> RotaEntry | None:
        for e in (*self.entries, *self.skipped):
            if e.library == library:
                return e
        return None


# Not frozen: it never leaves build_rota, and its neutral turnaround can only be
# filled in once every eligible lender is known.
@dataclass(slots=True)
class _Lender:
    """What the ranking knows of one eligible lender."""

    code: str
    last_resort: bool
    same_region: bool
    free: bool
    total: Decimal
    currency: str
    available_now: bool
    due: date | None
    stats: LenderStats | None
    hours: float | None  # median turnaround, if known
    turnaround: float = 0.0  # the hours, or the neutral value when unknown


@dataclass(frozen=True, slots=True)
class _Rule:
    label: str  # how "placed after X by ..." names it
    key: Callable[[_Lender], object]
    says: Callable[[_Lender], str]


def _region_says(lender: _Lender) -> str:
    if lender.same_region:
        return N_("same region, free") if lender.free else N_("same region")
    return N_("another region")


def _cost_says(lender: _Lender) -> str:
    return N_("no fee") if not lender.total else N_("costs {amount} {currency}",
                                                    amount=lender.total,
                                                    currency=lender.currency)


def _availability_key(lender: _Lender) -> int:
    if lender.available_now:
        return 0
    return lender.due.toordinal() if lender.due else _NO_DUE_DATE


def _availability_says(lender: _Lender) -> str:
    if lender.available_now:
        return N_("available now")
    return N_("on loan, due back {due_date}", due_date=lender.due.isoformat()) \
        if lender.due else N_("on loan, due date unknown")


def _balance_key(lender: _Lender) -> int:
    # No history counts as lending as much as it borrows.
    return lender.stats.lent - lender.stats.borrowed if lender.stats else 0


def _balance_says(lender: _Lender) -> str:
    if lender.stats is None:
        return N_("no lending history")
    balance = lender.stats.lent - lender.stats.borrowed
    if balance > 0:
        return N_("lends {count} more than it borrows", count=balance)
    if balance < 0:
        return N_("borrows {count} more than it lends", count=-balance)
    return N_("lends as much as it borrows")


def _fill_key(lender: _Lender) -> float:
    filled, asked = (lender.stats.filled, lender.stats.asked) if lender.stats else (0, 0)
    return -(filled + _PRIOR_FILLED) / (asked + _PRIOR_ASKED)  # negated: higher rate first


def _fill_says(lender: _Lender) -> str:
    if lender.stats is None or not lender.stats.asked:
        return N_("no fill history")
    return N_("filled {filled} of {asked} requests", filled=lender.stats.filled,
              asked=lender.stats.asked)


def _turnaround_says(lender: _Lender) -> str:
    if lender.hours is None:
        return N_("no turnaround history")
    return N_("median turnaround {hours} h", hours=f"{lender.hours:g}")


CRITERIA: Mapping[Criterion, _Rule] = MappingProxyType({
    Criterion.SAME_REGION: _Rule(N_("region"), lambda x: not x.same_region, _region_says),
    Criterion.COST: _Rule(N_("cost"), lambda x: x.total, _cost_says),
    Criterion.AVAILABILITY: _Rule(N_("availability"), _availability_key, _availability_says),
    Criterion.LENDING_BALANCE: _Rule(N_("lending balance"), _balance_key, _balance_says),
    Criterion.FILL_RATE: _Rule(N_("fill rate"), _fill_key, _fill_says),
    Criterion.TURNAROUND: _Rule(N_("turnaround"), lambda x: x.turnaround, _turnaround_says),
})
_LAST_RESORT, _LIBRARY_CODE = "last-resort", "library-code"
_LABELS = MappingProxyType({
    _LAST_RESORT: N_("being a lender of last resort"),
    _LIBRARY_CODE: N_("library code, a tie on everything else"),
    **{str(c): rule.label for c, rule in CRITERIA.items()},
})


def _checked(order: Sequence[Criterion | str]) -> tuple[Criterion, ...]:
    criteria = tuple(Criterion(c) for c in order)  # ValueError names an unknown one
    if len(set(criteria)) != len(criteria):
        raise ValueError(f"a criterion appears twice in the routing order {order!r}")
    return criteria


def _merged(candidates: Sequence[Candidate]) -> dict[str, tuple[Holding, ...]]:
    # One library named twice (two index records of one title) is one candidate.
    merged: dict[str, tuple[Holding, ...]] = {}
    for c in candidates:
        merged[c.library] = merged.get(c.library, ()) + c.holdings
    return merged


def build_rota(consortium: Consortium, *, borrower: str, material: MaterialType,
               service: Service, candidates: Sequence[Candidate], max_cost: Decimal | None,
               stats: Mapping[str, LenderStats], closed: frozenset[str],
               estimate: Callable[[str], Estimate],
               order: Sequence[Criterion | str] = DEFAULT_ORDER) -> Rota:
    """The lenders to ask for ``borrower``'s patron, in order, and the ones left out.

    Left out, each with its ``RotaCode``, checked in this order: the home library
    (the borrower), a library not in the consortium, one whose policy does not lend
    ``material`` (for a copy, journals are exempt: see ``COPIED_WITHOUT_LENDING``),
    one without a copy ``USABLE`` for the service (reading-room-only when it has a
    reading-room copy, so the patron learns where to read it), one in ``closed``,
    one whose ``estimate`` is above ``max_cost``. ``estimate`` is called only for
    libraries that pass the rest.

    The others are sorted by the criteria of ``order``, each deciding only a tie of
    the ones before it; then by library code, so the result is stable. Lenders of
    last resort come after all others, in the same order among themselves. Unknown
    history is neutral: lending balance 0, fill rate 0.5, turnaround the median of
    the known turnarounds among the eligible lenders.
    """
    criteria = _checked(order)
    home = consortium.libraries.get(borrower)
    home_region = home.region if home else None
    free_region = home is not None and consortium.regions[home.region].free_transfers
    usable_statuses = USABLE[service]
    exempt = service is Service.COPY and material in COPIED_WITHOUT_LENDING
    lenders: list[_Lender] = []
    skipped: list[RotaEntry] = []
    for code, holdings in _merged(candidates).items():
        library = consortium.libraries.get(code)
        if code == borrower:
            skipped.append(RotaEntry(code, RotaCode.HOME_LIBRARY,
                                     N_("the patron's home library: a title it holds is "
                                        "reserved there, not borrowed")))
            continue
        if library is None:
            skipped.append(RotaEntry(code, RotaCode.NOT_A_MEMBER,
                                     N_("not a member library of the consortium")))
            continue
        if not exempt and material not in library.policy.lends:
            skipped.append(RotaEntry(code, RotaCode.DOES_NOT_LEND_MATERIAL,
                                     N_("does not lend {material}",
                                        material=_PLURAL[material])))
            continue
        usable = [h for h in holdings if h.status in usable_statuses]
        if not usable:
            # A reading-room copy is the one the patron can use (by going there):
            # say so, even if the library's other copies are lost.
            if any(h.status is ItemStatus.READING_ROOM for h in holdings):
                skipped.append(RotaEntry(code, RotaCode.READING_ROOM_ONLY,
                                         N_("its copies are for the reading room only")))
            else:
                statuses = sorted({str(h.status).replace("_", " ") for h in holdings})
                skipped.append(RotaEntry(code, RotaCode.NO_LENDABLE_COPY, N_(
                    "no copy it can lend ({statuses})", statuses=", ".join(statuses))
                    if statuses else N_("no copy it can lend (none listed)")))
            continue
        available_now = any(h.status in ON_SHELF for h in usable)
        due = min((h.due_date for h in usable if h.due_date is not None), default=None)
        if code in closed:
            skipped.append(RotaEntry(code, RotaCode.CLOSED_TODAY, N_("closed today"),
                                     available_now=available_now))
            continue
        priced = estimate(code)
        total = priced.total
        if max_cost is not None and total > max_cost:
            skipped.append(RotaEntry(
                code, RotaCode.OVER_COST_LIMIT,
                N_("estimated {amount} {currency}, above the patron's limit of {limit} "
                   "{currency}", amount=total, limit=max_cost, currency=priced.currency),
                estimate_total=total, available_now=available_now))
            continue
        same_region = library.region == home_region
        history = stats.get(code)
        lenders.append(_Lender(
            code=code, last_resort=library.policy.lender_of_last_resort,
            same_region=same_region, free=same_region and free_region, total=total,
            currency=priced.currency, available_now=available_now,
            due=None if available_now else due, stats=history,
            hours=history.median_turnaround_hours if history else None))

    known = [x.hours for x in lenders if x.hours is not None]
    neutral = statistics.median(known) if known else 0.0
    for x in lenders:
        x.turnaround = neutral if x.hours is None else x.hours

    rules = [CRITERIA[c] for c in criteria]
    keyed = [((x.last_resort, *[rule.key(x) for rule in rules], x.code), x) for x in lenders]
    keyed.sort(key=lambda pair: pair[0])
    names = (_LAST_RESORT, *map(str, criteria), _LIBRARY_CODE)
    entries: list[RotaEntry] = []
    previous: tuple[object, ...] | None = None
    for key, x in keyed:
        says = [rule.says(x) for rule in rules]
        if x.last_resort:
            says.insert(0, N_("lender of last resort, asked after the others"))
        decided_by = None
        if previous is not None:
            decided_by = next(n for n, a, b in zip(names, previous, key, strict=True) if a != b)
            says.append(N_("after {library} by {criterion}", library=entries[-1].library,
                           criterion=_LABELS[decided_by]))
        entries.append(RotaEntry(x.code, RotaCode.CHOSEN, joined(says), rank_key=key,
                                 estimate_total=x.total, available_now=x.available_now,
                                 decided_by=decided_by))
        previous = key
    return Rota(tuple(entries), tuple(skipped), criteria)


def topic_rota(consortium: Consortium, *, borrower: str, max_cost: Decimal | None,
               closed: frozenset[str], estimate: Callable[[str], Estimate]) -> Rota:
    """The lenders to ask for a topic request ("books about X").

    No catalog says who holds a topic, so the candidates are the lenders of last
    resort, the libraries whose staff search and choose for others. Left out: the
    borrower itself, one closed today, one above ``max_cost``. The others go in
    region-then-cost order, as ``DEFAULT_ORDER`` puts them for a title.
    """
    home = consortium.libraries.get(borrower)
    home_region = home.region if home else None
    chosen: list[tuple[tuple[object, ...], RotaEntry]] = []
    skipped: list[RotaEntry] = []
    for code, library in sorted(consortium.libraries.items()):
        if not library.policy.lender_of_last_resort:
            continue
        if code == borrower:
            skipped.append(RotaEntry(code, RotaCode.HOME_LIBRARY,
                                     N_("the patron's home library: ask its own staff")))
            continue
        if code in closed:
            skipped.append(RotaEntry(code, RotaCode.CLOSED_TODAY, N_("closed today")))
            continue
        priced = estimate(code)
        if max_cost is not None and priced.total > max_cost:
            skipped.append(RotaEntry(
                code, RotaCode.OVER_COST_LIMIT,
                N_("estimated {amount} {currency}, above the patron's limit of {limit} "
                   "{currency}", amount=priced.total, limit=max_cost,
                   currency=priced.currency), estimate_total=priced.total))
            continue
        same_region = library.region == home_region
        key = (not same_region, priced.total, code)
        says = [N_("takes topic requests (lender of last resort)"),
                N_("in the patron's region") if same_region else N_("in another region"),
                N_("estimated {amount} {currency}", amount=priced.total,
                   currency=priced.currency)]
        chosen.append((key, RotaEntry(code, RotaCode.CHOSEN, joined(says), rank_key=key,
                                      estimate_total=priced.total)))
    chosen.sort(key=lambda pair: pair[0])
    return Rota(tuple(entry for _, entry in chosen), tuple(skipped),
                (Criterion.SAME_REGION, Criterion.COST))
