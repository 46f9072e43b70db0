"""What the simulator replays: a consortium (the real one from its file, or a generated
one), how each lender behaves, the titles members hold, and a year of requests.

Everything is drawn from one seeded ``random.Random``, so a seed gives the same
scenario; every policy is replayed against the same requests.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from broker.domain.consortium import Consortium
from broker.domain.errors import ValidationFailed
from broker.domain.holdings import Holding, ItemStatus, MaterialType
from broker.domain.states import Service
from broker.domain.workdays import is_public_holiday

# Countries a generated consortium's regions are spread over, with a time zone each.
COUNTRIES: Mapping[str, str] = MappingProxyType({
    "SI": "Europe/Ljubljana", "LV": "Europe/Riga", "SE": "Europe/Stockholm",
    "NL": "Europe/Amsterdam", "AT": "Europe/Vienna", "DE": "Europe/Berlin",
    "FI": "Europe/Helsinki", "EE": "Europe/Tallinn", "LT": "Europe/Vilnius",
    "DK": "Europe/Copenhagen", "BE": "Europe/Brussels", "HR": "Europe/Zagreb",
})
REQUESTS_PER_LIBRARY = 250  # a year's ILL requests per member, when not given
MAX_REQUESTS = 1_000_000
# How the copies in members' catalogs stand when a request comes in (local
# circulation, which the simulation does not follow title by title).
STATUS_WEIGHTS: Mapping[ItemStatus, float] = MappingProxyType({
    ItemStatus.AVAILABLE: 0.72, ItemStatus.ON_LOAN: 0.16, ItemStatus.READING_ROOM: 0.06,
    ItemStatus.NOT_LOANABLE: 0.04, ItemStatus.LOST: 0.02,
})
LOAN_MATERIALS: Mapping[MaterialType, float] = MappingProxyType({
    MaterialType.BOOK: 0.85, MaterialType.AV: 0.07, MaterialType.SCORE: 0.04,
    MaterialType.MAP: 0.04})
COPY_MATERIALS: Mapping[MaterialType, float] = MappingProxyType({
    MaterialType.JOURNAL: 0.8, MaterialType.BOOK: 0.2})
COPY_PAGES = (6, 10, 14, 20, 32)
PAPER_SHARE = 0.15  # of copies; the rest are pdf
LOCAL_DUE_DAYS = 30  # a locally lent copy is due back within this many days


@dataclass(frozen=True, slots=True)
class LenderProfile:
    """How a lender answers an order: the chances of each answer (the rest of the time
    it does not answer at all), and the mean working hours it takes to answer and
    then to ship or send the copy."""

    supply: float
    unfilled: float
    answer_hours: float
    ship_hours: float = 4.0

    @property
    def silent(self) -> float:
        return max(0.0, 1.0 - self.supply - self.unfilled)


@dataclass(frozen=True, slots=True)
class Knobs:
    """What the scenario is made of. ``requests`` None is ``REQUESTS_PER_LIBRARY`` per
    member; ``holders`` is the mean number of members holding a title (the overlap);
    ``supply``/``unfilled`` the mean answer chances and ``answer_hours`` the mean
    working hours to answer, around which lenders differ by ``spread`` (0: alike);
    ``lenders`` sets single lenders' behaviour outright."""

    seed: int = 8
    requests: int | None = None
    days: int = 365
    start: date = date(2026, 1, 5)
    copy_share: float = 0.3
    holders: float = 4.0
    supply: float = 0.7
    unfilled: float = 0.2
    answer_hours: float = 10.0
    spread: float = 0.5
    lenders: Mapping[str, LenderProfile] = field(default_factory=lambda: MappingProxyType({}))

    def count(self, members: int) -> int:
        """How many requests: ``requests``, or ``REQUESTS_PER_LIBRARY`` a member."""
        return self.requests if self.requests is not None else REQUESTS_PER_LIBRARY * members

    def checked(self, consortium: Consortium) -> Knobs:
        problems: dict[str, str] = {}
        members = len(consortium.libraries)
        if members < 2:
            problems["consortium"] = "at least two member libraries"
        count = self.count(members)
        if not 1 <= count <= MAX_REQUESTS:
            problems["requests"] = f"from 1 to {MAX_REQUESTS}"
        if not date(2000, 1, 1) <= self.start <= date(2099, 1, 1):
            problems["start"] = "a day from 2000-01-01 to 2099-01-01"
        if not 1 <= self.days <= 3660:
            problems["days"] = "from 1 to 3660"
        for name in ("copy_share", "supply", "unfilled"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems[name.replace("_", "-")] = "from 0 to 1"
        if self.supply + self.unfilled > 1.0 + 1e-9:
            problems["unfilled"] = "supply + unfilled is at most 1 (the rest never answer)"
        if not 1.0 <= self.holders <= max(1, members - 1):
            problems["holders"] = f"from 1 to {max(1, members - 1)} (the members but one)"
        if not 0.0 <= self.answer_hours <= 720:
            problems["answer-hours"] = "from 0 to 720 working hours"
        if not 0.0 <= self.spread <= 3.0:
            problems["spread"] = "from 0 to 3"
        for code, profile in self.lenders.items():
            if code not in consortium.libraries:
                problems["lender"] = f"{code!r} is not a member library"
            elif not (0 <= profile.supply <= 1 and 0 <= profile.unfilled <= 1
                      and profile.supply + profile.unfilled <= 1 + 1e-9
                      and 0 <= profile.answer_hours <= 720):
                problems["lender"] = (f"{code}: supply and unfilled from 0 to 1, together at "
                                      "most 1; hours from 0 to 720")
        if problems:
            raise ValidationFailed(problems)
        return self


@dataclass(frozen=True, slots=True)
class Title:
    index: int
    material: MaterialType
    service: Service
    holders: tuple[tuple[str, ItemStatus], ...]


@dataclass(frozen=True, slots=True)
class SimRequest:
    """One patron's request, as it reaches the broker at ``at`` (seconds since the
    epoch, UTC): who asks, for what, and how the holders' copies stand then, before
    the simulation's own loans are counted."""

    index: int
    at: float
    borrower: str
    service: Service
    material: MaterialType
    title: int
    holdings: tuple[Holding, ...]
    closed: frozenset[str]
    pages: int | None = None
    copy_format: str | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    consortium: Consortium
    knobs: Knobs
    profiles: Mapping[str, LenderProfile]
    requests: tuple[SimRequest, ...]
    titles: int
    generated: bool

    @property
    def start(self) -> float:
        return datetime.combine(self.knobs.start, time(), UTC).timestamp()

    @property
    def end(self) -> float:
        return self.start + self.knobs.days * 86400.0


def generated_consortium(libraries: int, regions: int, rng: random.Random,
                         free_share: float = 0.5) -> Consortium:
    """``libraries`` members in ``regions`` regions spread over up to ``len(COUNTRIES)``
    countries (two regions a country), a share of the regions with free transfers,
    the demo's fee schedule; built by the consortium file's own checks."""
    # Imported here: the file loader is a service (it reads files and schemas).
    from broker.services.consortium_file import build

    if not 2 <= libraries <= 5000:
        raise ValidationFailed({"libraries": "from 2 to 5000"})
    if not 1 <= regions <= libraries:
        raise ValidationFailed({"regions": f"from 1 to the number of libraries ({libraries})"})
    countries = list(COUNTRIES)[:max(1, min(len(COUNTRIES), math.ceil(regions / 2)))]
    region_country = [countries[r % len(countries)] for r in range(regions)]
    optional = [MaterialType.JOURNAL, MaterialType.AV, MaterialType.SCORE, MaterialType.MAP]
    data: dict[str, Any] = {
        "consortium": {"name": f"Generated consortium of {libraries}", "currency": "EUR"},
        "regions": [{"code": f"R{r:02d}", "name": f"Region {r}", "country": country,
                     "free_transfers": rng.random() < free_share}
                    for r, country in enumerate(region_country)],
        "fees": {"ill_item": "7.00", "postage": {"domestic": "3.00", "international": "9.50"},
                 "copy": {"minimum": "2.00", "per_page": {"paper": "0.25", "pdf": "0.15"}}},
        "libraries": [],
    }
    for n in range(libraries):
        r = n % regions
        lends = ["book", *(str(m) for m in optional if rng.random() < 0.6)]
        data["libraries"].append({
            "code": f"L{n:03d}", "name": f"Library {n}", "country": region_country[r],
            "region": f"R{r:02d}", "timezone": COUNTRIES[region_country[r]],
            "policy": {"password_min_length": 8, "accepts_patron_requests": True,
                       "lends": lends, "lender_of_last_resort": rng.random() < 0.02},
            "catalog": {"connector": "sru", "url": "http://127.0.0.1:1/sru"},
            "register": {"connector": "ncip", "url": "http://127.0.0.1:1/ncip"},
            "lending": {"connector": "inbox"},
        })
    return build(data, Path("."), source="generated consortium")


def _clamp(x: float, low: float = 0.0, high: float = 1.0) -> float:
    return min(high, max(low, x))


def lender_profiles(consortium: Consortium, knobs: Knobs,
                    rng: random.Random) -> dict[str, LenderProfile]:
    """Each member's behaviour: around the knobs' means, ``spread`` apart."""
    profiles: dict[str, LenderProfile] = {}
    for code in sorted(consortium.libraries):
        supply = _clamp(knobs.supply + rng.gauss(0, 0.15) * knobs.spread)
        unfilled = _clamp(knobs.unfilled + rng.gauss(0, 0.1) * knobs.spread, 0, 1 - supply)
        hours = knobs.answer_hours * math.exp(rng.gauss(0, 0.6) * knobs.spread)
        profiles[code] = knobs.lenders.get(code) or LenderProfile(supply, unfilled, hours)
    return profiles


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: the means here are small (a handful of holders).
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _pick(rng: random.Random, weights: Mapping[Any, float]) -> Any:
    return rng.choices(list(weights), list(weights.values()))[0]


def _titles(consortium: Consortium, knobs: Knobs, count: int, sizes: Mapping[str, float],
            rng: random.Random) -> list[Title]:
    codes = sorted(consortium.libraries)
    cum = list(itertools.accumulate(sizes[code] for code in codes))
    statuses, status_weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    most = len(codes) - 1
    titles = []
    for index in range(count):
        copy = rng.random() < knobs.copy_share
        material = _pick(rng, COPY_MATERIALS if copy else LOAN_MATERIALS)
        wanted = min(most, 1 + _poisson(rng, knobs.holders - 1))
        # Bigger libraries hold more titles: holders are drawn by size.
        held: dict[str, ItemStatus] = {}
        while len(held) < wanted:
            code = codes[bisect.bisect(cum, rng.random() * cum[-1])]
            held.setdefault(code, rng.choices(statuses, status_weights)[0])
        titles.append(Title(index, material, Service.COPY if copy else Service.LOAN,
                            tuple(sorted(held.items()))))
    return titles


def _holdings(title: Title, day: date, rng: random.Random) -> tuple[Holding, ...]:
    return tuple(Holding(code, status, due_date=date.fromordinal(
        day.toordinal() + rng.randint(1, LOCAL_DUE_DAYS)) if status is ItemStatus.ON_LOAN
        else None) for code, status in title.holders)


def _closed(consortium: Consortium, holders: Sequence[str], at: datetime) -> frozenset[str]:
    closed = set()
    for code in holders:
        library = consortium.libraries[code]
        if is_public_holiday(at.astimezone(ZoneInfo(library.timezone)).date(), library.country):
            closed.add(code)
    return frozenset(closed)


def make_scenario(consortium: Consortium, knobs: Knobs, *, generated: bool = False) -> Scenario:
    """The scenario: lenders' profiles, the titles, and the requests in time order.

    A request's title is drawn with a skew (a few titles are asked for often), its
    home library among the members that do not hold it (a title the home library
    holds is reserved or read there), bigger libraries asking more.
    """
    knobs = knobs.checked(consortium)
    rng = random.Random(knobs.seed)
    codes = sorted(consortium.libraries)
    sizes = {code: math.exp(rng.gauss(0, 0.8)) for code in codes}
    profiles = lender_profiles(consortium, knobs, rng)
    count = knobs.count(len(codes))
    titles = _titles(consortium, knobs, max(50, count // 2), sizes, rng)
    start = datetime.combine(knobs.start, time(), UTC).timestamp()
    arrivals = sorted(start + rng.random() * knobs.days * 86400.0 for _ in range(count))
    ask_cum = list(itertools.accumulate(sizes[code] ** 0.5 for code in codes))
    requests: list[SimRequest] = []
    for index, at in enumerate(arrivals):
        moment = datetime.fromtimestamp(at, UTC)
        title = titles[int(len(titles) * rng.random() ** 1.6)]
        holders = {code for code, _status in title.holders}
        # A member holding the title in any form reserves or reads it at home; bigger
        # libraries ask more. A title has fewer holders than there are members.
        while (borrower := codes[bisect.bisect(ask_cum, rng.random() * ask_cum[-1])]) \
                in holders:
            pass
        copy = title.service is Service.COPY
        requests.append(SimRequest(
            index=index, at=at, borrower=borrower, service=title.service,
            material=title.material, title=title.index,
            holdings=_holdings(title, moment.date(), rng),
            closed=_closed(consortium, sorted(holders), moment),
            pages=rng.choice(COPY_PAGES) if copy else None,
            copy_format=("paper" if rng.random() < PAPER_SHARE else "pdf") if copy else None))
    return Scenario(consortium, knobs, MappingProxyType(profiles), tuple(requests), len(titles),
                    generated)
