"""The ``illbroker`` command."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import random
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from broker.domain.accounts import Role
from broker.domain.errors import BrokerError, ConsortiumInvalid, ValidationFailed
from broker.domain.rota import Criterion
from broker.settings import Settings
from broker.simulation.policies import POLICIES
from broker.simulation.scenario import REQUESTS_PER_LIBRARY, Knobs, LenderProfile

# The simulator's knobs given as a number each, with what they mean.
MEAN_KNOBS = {
    "copy_share": "share of requests for a copy rather than a loan",
    "holders": "mean number of members holding a title",
    "supply": "mean chance a lender will supply",
    "unfilled": "mean chance a lender says unfilled; the rest never answer",
    "answer_hours": "mean working hours a lender takes to answer",
    "spread": "how much lenders differ from the means (0: alike)",
}


class _Parser(argparse.ArgumentParser):
    """Bad options are one line on standard error (and exit 2), not usage and a line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _simulate_options(commands: Any) -> None:
    sim = commands.add_parser(
        "simulate", help="compare routing policies over a simulated year of requests",
        description="Replays a generated year of requests through the real rota and state "
        "machine on a virtual clock, once per routing policy, and reports fill rate, "
        "turnaround, cost to patrons and load per lender. The consortium is --consortium "
        "(the demo by default), or a generated one with --libraries.")
    sim.add_argument("--libraries", type=int, metavar="N", help="generate a consortium of N")
    sim.add_argument("--regions", type=int, metavar="N",
                     help="regions of the generated consortium (default N/25, at least 1)")
    sim.add_argument("--requests", type=int, metavar="N",
                     help=f"requests in the period (default {REQUESTS_PER_LIBRARY} per member)")
    sim.add_argument("--days", type=int, default=365, help="length of the period (365)")
    sim.add_argument("--start", default="2026-01-05", help="first day, YYYY-MM-DD")
    sim.add_argument("--seed", type=int, default=8)
    for name, helptext in MEAN_KNOBS.items():
        default = getattr(Knobs(), name)
        # A consortium of fewer members has each title held by all members but one.
        sim.add_argument("--" + name.replace("_", "-"), type=float,
                         default=None if name == "holders" else default,
                         help=f"{helptext} ({default:g})")
    sim.add_argument("--lender", action="append", default=[], metavar="CODE=S,U,H",
                     help="one lender's supply and unfilled chances and mean answer hours")
    sim.add_argument("--policies", default="all",
                     help=f"comma-separated, of {', '.join(POLICIES)} (default all)")
    sim.add_argument("--order", action="append", default=[], metavar="NAME=C,C,...",
                     help="a policy of your own: an order of the criteria "
                     f"{', '.join(Criterion)}")
    sim.add_argument("--json", action="store_true", help="JSON on standard output")
    sim.add_argument("--chart", type=Path, metavar="FILE.svg", help="write the SVG chart")
    sim.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                     help="policies simulated at once (default: the cores)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="illbroker", description="Consortium interlibrary-loan broker")
    parser.add_argument("--consortium", type=Path, help="consortium file (TOML); "
                        "default $ILLBROKER_CONSORTIUM or the demo consortium")
    parser.add_argument("--data", type=Path, help="data folder; default $ILLBROKER_DATA or ./data")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, helptext in (("serve", "run the web process"),
                           ("demo", "run everything with the demo consortium")):
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("--host", default="127.0.0.1")
        sub.add_argument("--port", type=int, default=8080)
    commands.choices["serve"].add_argument(
        "--processes", type=int, default=1, metavar="N",
        help="web processes sharing the port (default 1; one per core is usual)")
    worker = commands.add_parser("worker", help="run an rq worker")
    worker.add_argument("--burst", action="store_true", help="stop when the queue is empty")
    commands.add_parser("scheduler", help="run the scheduler and the outbox dispatcher")
    harvest = commands.add_parser("harvest", help="harvest member catalogs into the index")
    harvest.add_argument("libraries", nargs="*", metavar="LIBRARY",
                         help="library codes (default: every member)")
    add = commands.add_parser("add-account", help="add a staff or coordinator account "
                              "(the password is read from standard input)")
    add.add_argument("--role", choices=["staff", "coordinator"], required=True)
    add.add_argument("--library", help="the member library (staff only)")
    add.add_argument("--email", required=True)
    add.add_argument("--name", required=True, help='"Given Surname"')
    check = commands.add_parser("check", help="check a consortium file and report every problem")
    check.add_argument("file", type=Path)
    _simulate_options(commands)
    return parser


def _lender_profiles(raw: Sequence[str]) -> dict[str, LenderProfile]:
    profiles = {}
    for item in raw:
        code, _, values = item.partition("=")
        try:
            supply, unfilled, hours = (float(v) for v in values.split(","))
        except ValueError:
            raise ValidationFailed({"lender": f"{item!r}: CODE=SUPPLY,UNFILLED,HOURS such as "
                                              "SI-LJMK=0.9,0.05,4"}) from None
        profiles[code.strip()] = LenderProfile(supply, unfilled, hours)
    return profiles


def simulate(args: argparse.Namespace, settings: Settings) -> None:
    """``illbroker simulate``: the table (or JSON) on standard output, the chart to
    ``--chart``."""
    from broker.services.consortium_file import load
    from broker.simulation import report
    from broker.simulation.metrics import compare
    from broker.simulation.policies import parse_policies
    from broker.simulation.scenario import generated_consortium, make_scenario

    problems = {}
    try:
        start = date.fromisoformat(args.start)
    except ValueError:
        problems["start"] = "a date such as 2026-01-05"
        start = date(2026, 1, 5)
    if args.jobs < 1:
        problems["jobs"] = "at least 1"
    if args.regions is not None and args.libraries is None:
        problems["regions"] = "only with --libraries (a generated consortium)"
    if problems:
        raise ValidationFailed(problems)
    policies = parse_policies(args.policies, args.order)
    if args.libraries is not None:
        regions = args.regions if args.regions is not None else max(1, args.libraries // 25)
        consortium = generated_consortium(args.libraries, regions, random.Random(args.seed))
    else:
        consortium = load(settings.consortium_path)
    means = {name: getattr(args, name) for name in MEAN_KNOBS}
    if means["holders"] is None:
        means["holders"] = min(Knobs().holders, max(1, len(consortium.libraries) - 1))
    knobs = Knobs(seed=args.seed, requests=args.requests, days=args.days, start=start,
                  lenders=_lender_profiles(args.lender), **means)
    scenario = make_scenario(consortium, knobs, generated=args.libraries is not None)
    results = compare(scenario, policies, args.jobs)
    if args.chart is not None:
        try:
            args.chart.write_text(report.chart(scenario, results), encoding="utf-8")
        except OSError as exc:
            raise ValidationFailed({"chart": f"cannot write {args.chart}: "
                                             f"{exc.strerror or exc}"}) from None
    if args.json:
        print(json.dumps(report.as_json(scenario, results), indent=2))
    else:
        print(report.table(scenario, results))
        if args.chart is not None:
            print(f"chart: {args.chart}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = Settings.from_env(consortium_path=args.consortium,
                                 data_dir=args.data.resolve() if args.data else None,
                                 host=getattr(args, "host", None), port=getattr(args, "port", None))
    # Imported here so that `illbroker check` and `--help` stay fast.
    from broker import processes
    from broker.services.consortium_file import load

    try:
        if args.command == "check":
            consortium = load(args.file)
            print(f"{args.file}: ok, {len(consortium.libraries)} libraries in "
                  f"{len(consortium.regions)} regions")
        elif args.command == "serve":
            if args.processes < 1:
                raise ValidationFailed({"--processes": "at least 1"})
            processes.serve(settings, args.processes)
        elif args.command == "demo":
            processes.demo(settings)
        elif args.command == "harvest":
            return 0 if processes.harvest(settings, args.libraries) else 1
        elif args.command == "add-account":
            password = getpass.getpass("Password: ") if sys.stdin.isatty() \
                else sys.stdin.readline().rstrip("\n")
            given, _, surname = args.name.partition(" ")
            processes.add_account(settings, Role(args.role), args.library, args.email, given,
                                  surname, password)
            print(f"added {args.role} {args.email}")
        elif args.command == "worker":
            processes.worker(settings, burst=args.burst)
        elif args.command == "scheduler":
            processes.scheduler(settings)
        elif args.command == "simulate":
            simulate(args, settings)
    except ConsortiumInvalid as exc:
        print(exc.report(), file=sys.stderr)
        return 2
    except ValidationFailed as exc:
        print("illbroker: " + "; ".join(f"--{k}: {v}" for k, v in exc.problems.items()),
              file=sys.stderr)
        return 2
    except BrokerError as exc:
        print(f"illbroker: {exc.detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
