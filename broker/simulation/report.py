"""The simulator's answer: a table for people, JSON for programs, and an SVG chart
comparing the policies.

The chart's bars are the dashboard's ``broker.domain.figures.Bar`` (0 to 100 wide) in
the dashboard chart's geometry and colours; the dashboard draws them with a Jinja macro
inside its page template, which a standalone file cannot use, so the SVG is written
here, one panel per figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from broker.domain.figures import Bar
from broker.simulation.metrics import PolicyFigures
from broker.simulation.scenario import Scenario


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "–" if value is None else fmt.format(value)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def describe(scenario: Scenario) -> str:
    c, k = scenario.consortium, scenario.knobs
    kind = "generated" if scenario.generated else "from its file"
    return (f"{c.name} ({kind}): {len(c.libraries)} libraries in {len(c.regions)} regions; "
            f"{len(scenario.requests)} requests over {k.days} days from {k.start}, "
            f"{scenario.titles} titles held by {k.holders:g} members on average, "
            f"copies {k.copy_share:.0%}; lenders supply {k.supply:.0%}, say unfilled "
            f"{k.unfilled:.0%}, answer in {k.answer_hours:g} working hours on average "
            f"(spread {k.spread:g}); seed {k.seed}")


COLUMNS: tuple[tuple[str, Callable[[PolicyFigures], str]], ...] = (
    ("policy", lambda f: f.policy),
    ("fill rate", lambda f: _percent(f.fill_rate)),
    ("median d", lambda f: _num(f.median_days)),
    ("p90 d", lambda f: _num(f.p90_days)),
    ("cost/filled", lambda f: "–" if f.cost_mean is None else str(f.cost_mean)),
    ("cost total", lambda f: str(f.cost_total)),
    ("orders/req", lambda f: f"{f.orders_per_request:.2f}"),
    ("timed out", lambda f: str(f.answers_overdue)),
    ("load max", lambda f: str(f.load_max)),
    ("load mean", lambda f: f"{f.load_mean:.1f}"),
    ("load Gini", lambda f: f"{f.load_gini:.3f}"),
)


def table(scenario: Scenario, results: Sequence[PolicyFigures]) -> str:
    """A plain-text table, one row a policy, with the scenario above it and what each
    policy's order is below."""
    rows = [[name for name, _ in COLUMNS]] + [[cell(f) for _, cell in COLUMNS]
                                              for f in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [describe(scenario), ""]
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    refused = results[0].refused if results else 0
    lines.append(f"refused at intake (no lender could lend it): {refused}; turnaround in days "
                 f"from the request to the item at the pickup place; cost in "
                 f"{scenario.consortium.currency}, paid by patrons; load = orders a member "
                 "supplied")
    lines.extend(f"  {f.policy}: {f.order}" for f in results)
    return "\n".join(lines)


def as_json(scenario: Scenario, results: Sequence[PolicyFigures]) -> dict[str, Any]:
    c, k = scenario.consortium, scenario.knobs
    return {
        "consortium": {"name": c.name, "libraries": len(c.libraries),
                       "regions": len(c.regions), "generated": scenario.generated},
        "scenario": {"seed": k.seed, "start": k.start.isoformat(), "days": k.days,
                     "requests": len(scenario.requests), "titles": scenario.titles,
                     "holders": k.holders, "copy_share": k.copy_share, "supply": k.supply,
                     "unfilled": k.unfilled, "answer_hours": k.answer_hours,
                     "spread": k.spread},
        "currency": c.currency,
        "policies": [{
            "policy": f.policy, "order": f.order, "requests": f.requests,
            "refused": f.refused, "accepted": f.accepted, "filled": f.filled,
            "unfilled": f.unfilled,
            "fill_rate": None if f.fill_rate is None else round(f.fill_rate, 4),
            "turnaround_days": {"median": f.median_days, "p90": f.p90_days},
            "cost": {"total": str(f.cost_total),
                     "per_filled": None if f.cost_mean is None else str(f.cost_mean)},
            "orders_per_request": f.orders_per_request,
            "answers_overdue": f.answers_overdue,
            "load": {"max": f.load_max, "mean": f.load_mean, "gini": f.load_gini,
                     "busiest": f.busiest, "supplied": dict(f.supplied)},
        } for f in results],
    }


@dataclass(frozen=True, slots=True)
class Panel:
    caption: str
    bars: list[Bar]
    best: int | None  # which bar is the best one


BEST_COLOUR, BAR_COLOUR = "#1b7a3a", "#1f5fa8"


def _panel(caption: str, results: Sequence[PolicyFigures],
           value: Callable[[PolicyFigures], float | None], text: Callable[[float], str],
           *, higher: bool = False, top: float | None = None) -> Panel:
    values = [value(f) for f in results]
    known = [(v if higher else -v, -n) for n, v in enumerate(values) if v is not None]
    largest = top or max((v for v in values if v is not None), default=0.0) or 1.0
    return Panel(caption, [Bar(f.policy, "–" if v is None else text(v), 0.0,
                               0.0 if v is None else round(v / largest * 100, 2), False)
                           for f, v in zip(results, values, strict=True)],
                 -max(known)[1] if known else None)


def panels(results: Sequence[PolicyFigures], currency: str) -> list[Panel]:
    return [
        _panel("Fill rate (higher is better)", results, lambda f: f.fill_rate,
               lambda v: f"{v:.1%}", higher=True, top=1.0),
        _panel("Median turnaround, days (lower is better)", results, lambda f: f.median_days,
               lambda v: f"{v:.1f}"),
        _panel("90th percentile turnaround, days (lower is better)", results,
               lambda f: f.p90_days, lambda v: f"{v:.1f}"),
        _panel(f"Cost to the patron per filled request, {currency} (lower is better)",
               results, lambda f: None if f.cost_mean is None else float(f.cost_mean),
               lambda v: f"{v:.2f}"),
        _panel("Load spread over lenders, Gini (lower is more even)", results,
               lambda f: f.load_gini, lambda v: f"{v:.3f}", top=1.0),
    ]


def chart(scenario: Scenario, results: Sequence[PolicyFigures]) -> str:
    """The policies side by side, one panel per figure, as a standalone SVG document."""
    parts: list[str] = []
    y = 44
    for panel in panels(results, scenario.consortium.currency):
        parts.append(f'<text x="10" y="{y + 14}" font-weight="600" fill="#1d2430">'
                     f'{escape(panel.caption)}</text>')
        y += 24
        height = 24 * len(panel.bars)
        for tick in (0, 50, 100):
            parts.append(f'<line x1="{180 + tick * 4}" y1="{y}" x2="{180 + tick * 4}" '
                         f'y2="{y + height}" stroke="#d5dae1"/>')
        for n, bar in enumerate(panel.bars):
            top = y + 24 * n
            parts.append(f'<text x="170" y="{top + 16}" text-anchor="end" fill="#1d2430">'
                         f'{escape(bar.label[:26])}</text>')
            parts.append(f'<rect x="{180 + bar.x * 4:g}" y="{top + 4}" '
                         f'width="{bar.width * 4:g}" height="16" '
                         f'fill="{BEST_COLOUR if n == panel.best else BAR_COLOUR}"/>')
            parts.append(f'<text x="636" y="{top + 16}" text-anchor="end" fill="#1d2430">'
                         f'{escape(bar.value_text)}</text>')
        y += height + 16
    title = f"Routing policies compared: {scenario.consortium.name}"
    k = scenario.knobs
    subtitle = (f"{len(scenario.consortium.libraries)} libraries, {len(scenario.requests)} "
                f"requests over {k.days} days, seed {k.seed}; green: the best of each")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 640 {y + 8}" '
        f'width="640" height="{y + 8}" font-family="system-ui, sans-serif" font-size="13">\n'
        f'<title>{escape(title)}</title>\n'
        f'<desc>{escape(describe(scenario))}</desc>\n'
        '<rect width="100%" height="100%" fill="#fff"/>\n'
        f'<text x="10" y="18" font-weight="700" fill="#1d2430">{escape(title)}</text>\n'
        f'<text x="10" y="32" fill="#5a6472" font-size="11">{escape(subtitle)}</text>\n'
        + "\n".join(parts) + "\n</svg>\n")

