"""An ILL request and the events in its history."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from broker.domain.holdings import MaterialType
from broker.domain.states import Event, Service, State

# Crockford's base32: no I, L, O, U, so a number read out over the phone survives.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def request_ids() -> Iterator[str]:
    """Fresh request numbers patrons and staff can read and type: ILL-XXXX-XXXX.

    The first seven characters are random and the last one runs through the whole
    alphabet, so a caller looking for a number with some property (its shard) gets
    32 candidates from one call to the system's random source."""
    # 35 random bits; the alphabet has 32 letters, 5 bits each.
    bits = secrets.randbits(35)
    stem = "".join(_ALPHABET[(bits >> (5 * i)) & 31] for i in range(7))
    start = secrets.randbelow(32)
    for n in range(32):
        chars = stem + _ALPHABET[(start + n) % 32]
        yield f"ILL-{chars[:4]}-{chars[4:]}"


@dataclass(frozen=True, slots=True)
class ItemDescription:
    """What the patron asks for; any identifier, or title with optional author/year."""

    title: str
    author: str | None = None
    year: int | None = None
    isbn: str | None = None
    issn: str | None = None
    edition: str | None = None
    material: MaterialType = MaterialType.BOOK


@dataclass(frozen=True, slots=True)
class Citation:
    """The part of a journal or book a copy request is for."""

    source_title: str
    part_title: str
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None


@dataclass(frozen=True, slots=True)
class Request:
    id: str
    service: Service
    state: State
    version: int
    patron_id: str
    home_library: str
    pickup_location: str
    item: ItemDescription
    created_at: datetime
    updated_at: datetime
    citation: Citation | None = None
    max_cost: Decimal | None = None
    lender: str | None = None
    note: str | None = None
    # JSON kept as text: the lending string with every candidate's reason, the fee
    # estimate, where in the rota the request is, and the last outcome's reason.
    rota: str | None = None
    estimate: str | None = None
    rota_position: str | None = None
    copy_format: str | None = None
    reason: str | None = None
    # A topic request ("books about X"): ``item.title`` is the topic.
    topic: bool = False
    # The loan as it goes: due date (ISO date), the last day to collect it, a copy's
    # link, a lender's condition and the cost it offered.
    due_date: str | None = None
    pickup_by: str | None = None
    delivery_url: str | None = None
    condition: str | None = None
    # An order from an ILL partner for one of our libraries: the partner's code and
    # its own id of the request (ISO 18626 RequestingAgencyRequestId).
    partner: str | None = None
    partner_request_id: str | None = None

    @property
    def rota_lenders(self) -> list[dict[str, Any]]:
        """The rota's lenders in order, each with its library, reason and estimate."""
        return list(json.loads(self.rota or "{}").get("lenders", []))

    @property
    def from_partner(self) -> bool:
        """An order from an ILL partner, not a request of one of our patrons."""
        return self.partner is not None


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """One entry of a request's append-only history; ``seq`` is the version it made."""

    seq: int
    event: Event
    source: State
    target: State
    at: datetime
    actor: str
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
