"""The ``illbroker`` command."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from broker.domain.accounts import Role
from broker.domain.errors import BrokerError, ConsortiumInvalid, ValidationFailed
from broker.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="illbroker",
                                     description="Consortium interlibrary-loan broker")
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
    return parser


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
