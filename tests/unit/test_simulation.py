"""The routing simulator: deterministic with a seed, sane figures at the extremes, and
the orders whose outcome is obvious come out in that order."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date
from decimal import Decimal
from functools import cache

import pytest
from lxml import etree

from broker.domain.consortium import Consortium
from broker.domain.errors import ValidationFailed
from broker.domain.rota import DEFAULT_ORDER, Criterion
from broker.domain.states import State
from broker.services.consortium_file import load
from broker.simulation import report
from broker.simulation.engine import simulate
from broker.simulation.metrics import PolicyFigures, compare, figures, gini, percentile
from broker.simulation.policies import POLICIES, parse_policies
from broker.simulation.scenario import (
    Knobs,
    LenderProfile,
    Scenario,
    generated_consortium,
    make_scenario,
)

from conformance import DEMO

SMALL = Knobs(seed=3, requests=400, days=120)


@cache
def demo() -> Consortium:
    return load(DEMO / "consortium.toml")


@cache
def free_regions() -> Consortium:
    """30 members in 3 regions, every region with free transfers."""
    return generated_consortium(30, 3, random.Random(1), free_share=1.0)


def run(scenario: Scenario, *names: str) -> dict[str, PolicyFigures]:
    return {f.policy: f for f in compare(scenario, [POLICIES[n] for n in names])}


def test_a_seed_gives_the_same_figures_and_another_seed_others() -> None:
    first = make_scenario(demo(), SMALL)
    again = make_scenario(demo(), SMALL)
    other = make_scenario(demo(), replace(SMALL, seed=4))
    policies = [POLICIES["default"], POLICIES["random"]]
    found = compare(first, policies)
    assert found == compare(again, policies)
    assert found != compare(other, policies)


def test_every_request_ends_in_a_terminal_state_of_the_real_machine() -> None:
    scenario = make_scenario(demo(), SMALL)
    found = simulate(scenario, POLICIES["default"])
    assert len(found.outcomes) == len(scenario.requests) == 400
    assert {o.state for o in found.outcomes} <= {State.COMPLETED, State.UNFILLED,
                                                 State.REJECTED}
    for o in found.outcomes:
        assert (o.state is State.COMPLETED) == (o.supplier is not None)
        assert (o.state is State.REJECTED) == (o.orders == 0)
        assert o.turnaround is None or o.turnaround > 0
    f = figures(found, sorted(demo().libraries))
    assert 0.5 < (f.fill_rate or 0) < 1.0
    assert f.median_days is not None and f.p90_days is not None
    assert 0 < f.median_days <= f.p90_days < 60
    assert f.load_max >= f.load_mean > 0 and 0 <= f.load_gini < 1
    assert sum(found.supplied.values()) == f.filled


def test_lenders_that_always_supply_fill_nearly_everything_at_the_first_ask() -> None:
    scenario = make_scenario(demo(), replace(SMALL, supply=1.0, unfilled=0.0,
                                             answer_hours=2.0, spread=0.0))
    f = run(scenario, "default")["default"]
    # Only a copy on loan makes a lender hesitate (and miss the deadline).
    assert (f.fill_rate or 0) > 0.95 and f.orders_per_request < 1.3


def test_lenders_that_always_say_unfilled_fill_nothing_and_cost_nothing() -> None:
    scenario = make_scenario(demo(), replace(SMALL, supply=0.0, unfilled=1.0,
                                             answer_hours=2.0, spread=0.0))
    f = run(scenario, "default")["default"]
    assert f.filled == 0 and f.fill_rate == 0.0 and f.cost_total == Decimal("0.00")
    assert f.median_days is None and f.load_max == 0 and f.answers_overdue == 0
    assert f.orders_per_request > 1  # every holder of the rota was asked


def test_lenders_that_never_answer_lose_every_order_to_the_deadline() -> None:
    scenario = make_scenario(demo(), replace(SMALL, supply=0.0, unfilled=0.0, spread=0.0))
    found = simulate(scenario, POLICIES["default"])
    assert all(o.answers_overdue == o.orders for o in found.outcomes)
    assert all(o.supplier is None for o in found.outcomes)


def test_one_silent_lender_set_by_hand_is_never_the_supplier() -> None:
    silent = LenderProfile(supply=0.0, unfilled=0.0, answer_hours=8.0)
    scenario = make_scenario(demo(), replace(SMALL, lenders={"SI-LJMK": silent}))
    found = simulate(scenario, POLICIES["default"])
    assert all(o.supplier != "SI-LJMK" for o in found.outcomes)
    assert found.asked["SI-LJMK"] > 0


def test_same_region_first_costs_patrons_least_when_the_region_is_free() -> None:
    scenario = make_scenario(free_regions(), Knobs(seed=5, requests=600, days=180),
                             generated=True)
    found = run(scenario, "default", "random", "fastest")
    cost = {name: f.cost_mean for name, f in found.items()}
    assert cost["default"] is not None and cost["random"] is not None
    assert cost["default"] < cost["random"] and cost["default"] < cost["fastest"]  # type: ignore[operator]


def test_balance_first_spreads_the_lending_more_evenly_than_the_default() -> None:
    scenario = make_scenario(free_regions(), Knobs(seed=5, requests=600, days=180),
                             generated=True)
    found = run(scenario, "default", "balance")
    assert found["balance"].load_gini < found["default"].load_gini


@pytest.mark.parametrize(("values", "expected"), [
    ([], 0.0), ([0, 0], 0.0), ([5, 5, 5, 5], 0.0), ([0, 0, 9], 2 / 3), ([0, 1], 0.5),
    ([1, 2, 3, 4], 0.25),
])
def test_gini(values: list[float], expected: float) -> None:
    assert gini(values) == pytest.approx(expected)


@pytest.mark.parametrize(("values", "share", "expected"), [
    ([], 0.5, None), ([4.0], 0.9, 4.0), ([1.0, 3.0], 0.5, 2.0),
    ([1.0, 2.0, 3.0, 4.0, 5.0], 0.5, 3.0), ([10.0, 1.0, 2.0, 3.0, 4.0, 5.0], 0.9, 7.5),
])
def test_percentile(values: list[float], share: float, expected: float | None) -> None:
    assert percentile(values, share) == (None if expected is None
                                         else pytest.approx(expected))


def test_policies_are_orders_of_the_real_criteria() -> None:
    assert POLICIES["default"].order == DEFAULT_ORDER
    for policy in POLICIES.values():
        assert len(set(policy.order)) == len(policy.order)
        assert set(policy.order) <= set(Criterion)
    assert [p.name for p in parse_policies("all")] == list(POLICIES)
    custom = parse_policies("default", ["mine=availability, cost"])
    assert custom[1].name == "mine"
    assert custom[1].order == (Criterion.AVAILABILITY, Criterion.COST)


@pytest.mark.parametrize(("names", "orders", "option"), [
    ("nope", [], "policies"), ("", [], "policies"), ("default,default", [], "policies"),
    ("default", ["x=cost,cost"], "order"), ("default", ["x=speed"], "order"),
    ("default", ["cost"], "order"), ("default", ["default=cost"], "policies"),
])
def test_bad_policies_name_the_option(names: str, orders: list[str], option: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_policies(names, orders)
    assert set(caught.value.problems) == {option}


@pytest.mark.parametrize(("change", "option"), [
    ({"requests": 0}, "requests"), ({"days": 0}, "days"), ({"copy_share": 1.5}, "copy-share"),
    ({"supply": 0.9, "unfilled": 0.2}, "unfilled"), ({"holders": 9}, "holders"),
    ({"holders": 0.5}, "holders"), ({"answer_hours": -1}, "answer-hours"),
    ({"spread": 4}, "spread"), ({"start": date(1999, 12, 31)}, "start"),
    ({"start": date(2099, 1, 2)}, "start"),
    ({"lenders": {"NOPE": LenderProfile(1, 0, 1)}}, "lender"),
    ({"lenders": {"SI-LJMK": LenderProfile(0.8, 0.8, 1)}}, "lender"),
])
def test_bad_knobs_name_the_option(change: dict[str, object], option: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        replace(SMALL, **change).checked(demo())  # type: ignore[arg-type]
    assert option in caught.value.problems


def test_a_generated_consortium_passes_the_file_checks() -> None:
    members = generated_consortium(200, 8, random.Random(2))
    assert len(members.libraries) == 200 and len(members.regions) == 8
    assert {r.country for r in members.regions.values()} == {"SI", "LV", "SE", "NL"}
    with pytest.raises(ValidationFailed):
        generated_consortium(1, 1, random.Random(2))
    with pytest.raises(ValidationFailed):
        generated_consortium(10, 11, random.Random(2))


def test_the_report_as_table_json_and_a_well_formed_chart() -> None:
    scenario = make_scenario(demo(), replace(SMALL, requests=100))
    results = compare(scenario, parse_policies("default,cheapest"))
    text = report.table(scenario, results)
    assert text.splitlines()[2].split()[:3] == ["policy", "fill", "rate"]
    assert "default: same-region, cost, availability" in text
    data = report.as_json(scenario, results)
    assert [p["policy"] for p in data["policies"]] == ["default", "cheapest"]
    assert data["scenario"]["requests"] == 100 and data["consortium"]["libraries"] == 9
    load = data["policies"][0]["load"]
    assert sorted(load["supplied"]) == sorted(demo().libraries)
    assert max(load["supplied"].values()) == load["max"]
    assert sum(load["supplied"].values()) == data["policies"][0]["filled"]
    svg = report.chart(scenario, results)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(svg.encode(), parser)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(root.findall("{http://www.w3.org/2000/svg}rect")) == 1 + 5 * 2
