"""Loading the consortium file: TOML, checked by schemas/consortium.schema.json,
then by the rules a schema cannot say (references between sections, time zones,
files that must exist). Every problem is reported with its place, all at once.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from jsonschema import Draft202012Validator

from broker.domain.consortium import (
    Branch,
    Category,
    ConnectorConfig,
    Consortium,
    FeeSchedule,
    HoldingsMapping,
    Library,
    LocalHoldings,
    Partner,
    Policy,
    Region,
)
from broker.domain.errors import ConsortiumInvalid
from broker.domain.holdings import ItemStatus, MaterialType

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "consortium.schema.json"
# A consortium file is a few hundred lines; anything far larger is a mistake or an attack.
MAX_BYTES = 4 * 1024 * 1024

Problems = list[tuple[str, str]]
_HOLIDAY_COUNTRIES = frozenset(holidays.list_supported_countries())


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def place(path: Iterable[str | int]) -> str:
    """``["libraries", 3, "region"]`` -> ``libraries[3].region``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _schema_problems(data: Mapping[str, Any]) -> Problems:
    problems = []
    for error in sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.path))):
        where = place(error.absolute_path)
        if error.validator == "required" or error.validator == "additionalProperties":
            problems.append((where, error.message))
        else:
            problems.append((where, f"{error.message} (rule: {error.validator})"))
    return problems


def _duplicates(items: list[Mapping[str, Any]], section: str) -> Problems:
    seen: dict[str, int] = {}
    problems = []
    for i, item in enumerate(items):
        code = item.get("code")
        if code in seen:
            problems.append((f"{section}[{i}].code",
                             f'duplicate code "{code}" (first at {section}[{seen[code]}])'))
        elif isinstance(code, str):
            seen[code] = i
    return problems


def _reference_problems(data: Mapping[str, Any], base: Path) -> Problems:
    regions = {r["code"]: r for r in data["regions"]}
    problems = _duplicates(data["regions"], "regions") + _duplicates(data["libraries"],
                                                                       "libraries")
    problems += _duplicates(data.get("categories", []), "categories")
    problems += _duplicates(data.get("partners", []), "partners")
    all_codes: dict[str, str] = {}
    for i, lib in enumerate(data["libraries"]):
        at = f"libraries[{i}]"
        region = regions.get(lib["region"])
        if region is None:
            problems.append((f"{at}.region", f'unknown region "{lib["region"]}"'))
        elif region["country"] != lib["country"]:
            problems.append((f"{at}.country", f'"{lib["country"]}" is not the country of region'
                                              f' "{lib["region"]}" ({region["country"]})'))
        if lib["country"] not in _HOLIDAY_COUNTRIES:
            problems.append((f"{at}.country", f'no public-holiday calendar for "{lib["country"]}"'
                                              " (answer times are counted in working days)"))
        try:
            ZoneInfo(lib["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            problems.append((f"{at}.timezone", f'unknown time zone "{lib["timezone"]}"'))
        for j, branch in enumerate(lib.get("branches", [])):
            owner = all_codes.setdefault(branch["code"], at)
            if owner != at or branch["code"] == lib["code"]:
                problems.append((f"{at}.branches[{j}].code",
                                 f'code "{branch["code"]}" is already used'))
        for section in ("catalog", "register"):
            path = lib[section].get("path")
            local = lib[section]["connector"] in ("marcfile", "file")
            if local and path and not (base / path).is_file():
                problems.append((f"{at}.{section}.path", f'no such file "{path}"'))
    return problems


def _money(value: str) -> Decimal:
    return Decimal(value)


def _holdings(raw: Mapping[str, Any] | None) -> HoldingsMapping | None:
    if raw is None:
        return None
    return HoldingsMapping(
        tag=raw["tag"],
        branch=raw.get("branch"),
        call_number=raw.get("call_number"),
        barcode=raw.get("barcode"),
        status=raw.get("status"),
        due_date=raw.get("due_date"),
        lost=raw.get("lost"),
        status_map=MappingProxyType({k: ItemStatus(v)
                                     for k, v in raw.get("status_map", {}).items()}),
        default_status=ItemStatus(raw.get("default_status", ItemStatus.AVAILABLE)),
    )


def _connector(raw: Mapping[str, Any], base: Path) -> ConnectorConfig:
    settings = {k: v for k, v in raw.items() if k not in ("connector", "holdings")}
    if "path" in settings:
        settings["path"] = str((base / settings["path"]).resolve())
    return ConnectorConfig(connector=raw["connector"], settings=MappingProxyType(settings),
                           holdings=_holdings(raw.get("holdings")))


def _library(raw: Mapping[str, Any], base: Path) -> Library:
    p = raw["policy"]
    return Library(
        code=raw["code"],
        name=raw["name"],
        country=raw["country"],
        region=raw["region"],
        timezone=raw["timezone"],
        languages=tuple(raw.get("languages", ["en"])),
        branches=tuple(Branch(b["code"], b["name"]) for b in raw.get("branches", [])),
        policy=Policy(
            password_min_length=p["password_min_length"],
            accepts_patron_requests=p["accepts_patron_requests"],
            lends=frozenset(MaterialType(m) for m in p["lends"]),
            loan_days=p.get("loan_days", 28),
            answer_hours=p.get("answer_hours", 24),
            pickup_days=p.get("pickup_days", 10),
            max_open_requests=p.get("max_open_requests", 10),
            lender_of_last_resort=p.get("lender_of_last_resort", False),
            generate_card_numbers=p.get("generate_card_numbers", False),
            card_number_prefix=p.get("card_number_prefix", ""),
            fines_limit=_money(p.get("fines_limit", "10.00")),
        ),
        catalog=_connector(raw["catalog"], base),
        register=_connector(raw["register"], base),
        lending=_connector(raw["lending"], base),
        agency_id=raw.get("agency_id", ""),
    )


def _fees(raw: Mapping[str, Any]) -> FeeSchedule:
    zero = Decimal("0.00")
    postage = raw.get("postage", {})
    copy = raw.get("copy", {})
    return FeeSchedule(
        ill_item=_money(raw["ill_item"]),
        postage_domestic=_money(postage.get("domestic", "0")),
        postage_international=_money(postage.get("international", "0")),
        copy_minimum=_money(copy.get("minimum", "0")),
        copy_per_page=MappingProxyType({k: _money(v)
                                         for k, v in copy.get("per_page", {}).items()}),
        late_per_day=MappingProxyType({MaterialType(k): _money(v)
                                       for k, v in raw.get("late_per_day", {}).items()}),
        reminders=tuple(_money(v) for v in raw.get("reminders", {}).get("steps", [])),
        lost_processing=_money(raw.get("lost", {}).get("processing", zero)),
    )


def build(data: Mapping[str, Any], base: Path, source: str = "consortium") -> Consortium:
    """A ``Consortium`` from parsed TOML, or ``ConsortiumInvalid`` with every problem."""
    problems = _schema_problems(data)
    if problems:
        raise ConsortiumInvalid(source, problems)
    problems = _reference_problems(data, base)
    if problems:
        raise ConsortiumInvalid(source, problems)
    head = data["consortium"]
    return Consortium(
        name=head["name"],
        currency=head.get("currency", "EUR"),
        local_holdings=LocalHoldings(head.get("local_holdings", LocalHoldings.LENDABLE)),
        regions=MappingProxyType({
            r["code"]: Region(r["code"], r["name"], r["country"], r.get("free_transfers", False))
            for r in data["regions"]}),
        libraries=MappingProxyType({lib["code"]: _library(lib, base)
                                    for lib in data["libraries"]}),
        categories=MappingProxyType({
            c["code"]: Category(c["code"], c["name"], c.get("digital_only", False))
            for c in data.get("categories", [])}),
        fees=_fees(data["fees"]),
        partners=MappingProxyType({
            p["code"]: Partner(p["code"], p["name"], p["agency_id"], p["url"],
                               p.get("schema_version", "2021-2"), p.get("credential_env"))
            for p in data.get("partners", [])}),
    )


def current(path: Path | str) -> Consortium:
    """``load``, kept while the file is unchanged: a worker runs many jobs, and
    checking a consortium file (13 ms for the demo's) was most of a short job's time."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return load(path)  # says what is wrong with it
    return _loaded(path.resolve(), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _loaded(path: Path, _mtime_ns: int, _size: int) -> Consortium:
    return load(path)


def load(path: Path | str) -> Consortium:
    """Read and check a consortium file; paths inside it are relative to the file."""
    path = Path(path)
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConsortiumInvalid(source, [("", f"file is {size} bytes, over {MAX_BYTES}")])
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConsortiumInvalid(source, [("", "no such file")]) from None
    except IsADirectoryError:
        raise ConsortiumInvalid(source, [("", "is a folder, not a file")]) from None
    except UnicodeDecodeError as exc:
        raise ConsortiumInvalid(source, [("", f"not UTF-8 (byte {exc.start})")]) from None
    except OSError as exc:
        raise ConsortiumInvalid(source, [("", exc.strerror or str(exc))]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConsortiumInvalid(source, [("", f"not valid TOML: {exc}")]) from None
    return build(data, path.parent, source)
