"""Routing policies: each one is an order of the real rota's criteria
(``broker.domain.rota.Criterion``), handed to ``build_rota`` as its ``order``.

"random" is the baseline any order must beat: ``build_rota`` with no criterion (so
every eligibility rule still applies, and lenders of last resort still come last),
then the chosen lenders shuffled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from broker.domain.errors import ValidationFailed
from broker.domain.rota import DEFAULT_ORDER, Criterion

C = Criterion


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    order: tuple[Criterion, ...]
    shuffled: bool = False

    @property
    def description(self) -> str:
        if self.shuffled:
            return "random order of the eligible lenders"
        return ", ".join(map(str, self.order)) or "library code"


POLICIES: Mapping[str, Policy] = MappingProxyType({p.name: p for p in (
    # The broker's own order.
    Policy("default", DEFAULT_ORDER),
    Policy("cheapest", (C.COST, C.AVAILABILITY, C.FILL_RATE, C.TURNAROUND, C.SAME_REGION,
                        C.LENDING_BALANCE)),
    Policy("fastest", (C.TURNAROUND, C.AVAILABILITY, C.FILL_RATE, C.SAME_REGION, C.COST,
                       C.LENDING_BALANCE)),
    Policy("reliable", (C.FILL_RATE, C.AVAILABILITY, C.TURNAROUND, C.SAME_REGION, C.COST,
                        C.LENDING_BALANCE)),
    Policy("balance", (C.LENDING_BALANCE, C.SAME_REGION, C.COST, C.AVAILABILITY, C.FILL_RATE,
                       C.TURNAROUND)),
    Policy("random", (), shuffled=True),
)})


def parse_policies(names: str, orders: Sequence[str] = ()) -> tuple[Policy, ...]:
    """The policies named in ``names`` (comma-separated, or "all"), then the custom ones
    in ``orders``, each "NAME=criterion,criterion,...". ``ValidationFailed`` names the
    option that is wrong and what it may be."""
    chosen: list[Policy] = []
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    for name in (list(POLICIES) if wanted == ["all"] else wanted):
        if name not in POLICIES:
            raise ValidationFailed({"policies": f"unknown policy {name!r}; one of "
                                                f"{', '.join(POLICIES)} or all"})
        chosen.append(POLICIES[name])
    for raw in orders:
        name, sep, criteria = raw.partition("=")
        name = name.strip()
        if not sep or not name or not criteria.strip():
            raise ValidationFailed({"order": f"{raw!r}: NAME=criterion,criterion,..."})
        try:
            order = tuple(Criterion(c.strip()) for c in criteria.split(","))
        except ValueError:
            raise ValidationFailed({"order": f"{raw!r}: criteria are "
                                             f"{', '.join(Criterion)}"}) from None
        if len(set(order)) != len(order):
            raise ValidationFailed({"order": f"{raw!r}: a criterion appears twice"})
        chosen.append(Policy(name, order))
    names_seen = [p.name for p in chosen]
    if not chosen:
        raise ValidationFailed({"policies": "name at least one policy"})
    if len(set(names_seen)) != len(names_seen):
        raise ValidationFailed({"policies": "a policy is named twice"})
    return tuple(chosen)
