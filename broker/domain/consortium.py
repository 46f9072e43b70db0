"""The consortium: regions, member libraries, their policies and the fee schedule.

Built from the consortium file by ``broker.services.consortium_file``; here only data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from broker.domain.holdings import ItemStatus, MaterialType


class LocalHoldings(StrEnum):
    """Which copies at the home library deflect a request to a local reservation."""

    ANY = "any"
    LENDABLE = "lendable"


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    country: str
    free_transfers: bool


@dataclass(frozen=True, slots=True)
class Branch:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    name: str
    digital_only: bool = False


@dataclass(frozen=True, slots=True)
class Policy:
    password_min_length: int
    accepts_patron_requests: bool
    lends: frozenset[MaterialType]
    loan_days: int
    answer_hours: int
    pickup_days: int
    max_open_requests: int
    lender_of_last_resort: bool = False
    generate_card_numbers: bool = False
    card_number_prefix: str = ""
    fines_limit: Decimal = Decimal("10.00")


@dataclass(frozen=True, slots=True)
class HoldingsMapping:
    """Which subfields of a library's holdings field mean what.

    Every library system writes 852/952 its own way, so this comes from the
    consortium file. A copy with a due date is on loan whatever its status code;
    a copy whose ``lost`` subfield is set (and not "0") is lost.
    """

    tag: str = "852"
    branch: str | None = "b"
    call_number: str | None = "h"
    barcode: str | None = "p"
    status: str | None = None
    due_date: str | None = None
    lost: str | None = None
    status_map: Mapping[str, ItemStatus] = field(default_factory=lambda: MappingProxyType({}))
    default_status: ItemStatus = ItemStatus.AVAILABLE


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    """One connector of a library: its kind and the settings that kind needs."""

    connector: str
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    holdings: HoldingsMapping | None = None


@dataclass(frozen=True, slots=True)
class Library:
    code: str
    name: str
    country: str
    region: str
    timezone: str
    policy: Policy
    catalog: ConnectorConfig
    register: ConnectorConfig
    lending: ConnectorConfig
    languages: tuple[str, ...] = ("en",)
    branches: tuple[Branch, ...] = ()
    # How ISO 18626 messages name this library ("TYPE:VALUE"); "ISIL:<code>" if unset.
    agency_id: str = ""

    def __post_init__(self) -> None:
        if not self.agency_id:
            object.__setattr__(self, "agency_id", f"ISIL:{self.code}")

    def has_branch(self, code: str) -> bool:
        return code == self.code or any(b.code == code for b in self.branches)


@dataclass(frozen=True, slots=True)
class Partner:
    """Another ILL system that orders from our libraries over ISO 18626 (and is told
    of their answers at ``url``); ``credential_env`` names the environment variable
    holding the bearer token both directions use."""

    code: str
    name: str
    agency_id: str
    url: str
    schema_version: str = "2021-2"
    credential_env: str | None = None


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    ill_item: Decimal
    postage_domestic: Decimal
    postage_international: Decimal
    copy_minimum: Decimal
    copy_per_page: Mapping[str, Decimal]
    late_per_day: Mapping[MaterialType, Decimal]
    reminders: tuple[Decimal, ...]
    lost_processing: Decimal


@dataclass(frozen=True, slots=True)
class Consortium:
    name: str
    currency: str
    local_holdings: LocalHoldings
    regions: Mapping[str, Region]
    libraries: Mapping[str, Library]
    categories: Mapping[str, Category]
    fees: FeeSchedule
    partners: Mapping[str, Partner] = field(default_factory=lambda: MappingProxyType({}))

    def library(self, code: str) -> Library:
        return self.libraries[code]

    def place_name(self, code: str | None) -> str:
        """A library or branch by its name, as patrons know it."""
        if not code:
            return ""
        for library in self.libraries.values():
            if library.code == code:
                return library.name
            for branch in library.branches:
                if branch.code == code:
                    return f"{branch.name}, {library.name}"
        return code

    def region_of(self, library_code: str) -> Region:
        return self.regions[self.libraries[library_code].region]
