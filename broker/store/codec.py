"""Requests and events to and from the flat string maps Redis hashes and streams hold."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from broker.domain.holdings import BibRecord, Holding, ItemStatus, MaterialType
from broker.domain.request import Citation, ItemDescription, Request, RequestEvent
from broker.domain.states import Event, Service, State


def _compact(d: Mapping[str, object]) -> str:
    return json.dumps({k: v for k, v in d.items() if v is not None},
                      ensure_ascii=False, separators=(",", ":"))


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def text_or_none(value: Any) -> str | None:
    return None if value is None else text(value)


def texts(fields: Mapping[Any, Any] | None) -> dict[str, str]:
    """A Redis reply as ``str`` to ``str``, whether or not the client decodes."""
    return {text(k): text(v) for k, v in (fields or {}).items()}


# Optional text attributes of a request, stored as they are.
TEXT_FIELDS = ("note", "rota", "estimate", "rota_position", "copy_format", "reason",
               "due_date", "pickup_by", "delivery_url", "condition", "partner",
               "partner_request_id")


def request_fields(request: Request) -> dict[str, str]:
    """The hash of a request; absent optional values are absent fields."""
    fields = {
        "id": request.id,
        "service": request.service.value,
        "state": request.state.value,
        "version": str(request.version),
        "patron_id": request.patron_id,
        "home_library": request.home_library,
        "pickup_location": request.pickup_location,
        "item": _compact(asdict(request.item)),
        "created_at": request.created_at.isoformat(),
        "updated_at": request.updated_at.isoformat(),
    }
    if request.citation is not None:
        fields["citation"] = _compact(asdict(request.citation))
    if request.max_cost is not None:
        fields["max_cost"] = str(request.max_cost)
    if request.lender is not None:
        fields["lender"] = request.lender
    for name in TEXT_FIELDS:
        value = getattr(request, name)
        if value is not None:
            fields[name] = value
    if request.topic:
        fields["topic"] = "1"
    return fields


def request_from_fields(fields: Mapping[str, str]) -> Request:
    item = json.loads(fields["item"])
    item["material"] = MaterialType(item.get("material", MaterialType.BOOK))
    citation = json.loads(fields["citation"]) if "citation" in fields else None
    return Request(
        id=fields["id"],
        service=Service(fields["service"]),
        state=State(fields["state"]),
        version=int(fields["version"]),
        patron_id=fields["patron_id"],
        home_library=fields["home_library"],
        pickup_location=fields["pickup_location"],
        item=ItemDescription(**item),
        created_at=datetime.fromisoformat(fields["created_at"]),
        updated_at=datetime.fromisoformat(fields["updated_at"]),
        citation=Citation(**citation) if citation else None,
        max_cost=Decimal(fields["max_cost"]) if "max_cost" in fields else None,
        lender=fields.get("lender"),
        topic=fields.get("topic") == "1",
        **{name: fields.get(name) for name in TEXT_FIELDS},
    )


def event_from_fields(fields: Mapping[str, str]) -> RequestEvent:
    return RequestEvent(
        seq=int(fields["seq"]),
        event=Event(fields["event"]),
        source=State(fields["source"]),
        target=State(fields["target"]),
        at=datetime.fromisoformat(fields["at"]),
        actor=fields["actor"],
        data=MappingProxyType(json.loads(fields.get("data", "{}"))),
    )


def record_json(record: BibRecord) -> str:
    """A catalog record for the union index: compact, with its holdings."""
    return json.dumps({
        "id": record.record_id, "title": record.title, "material": record.material.value,
        "author": record.author, "year": record.year, "edition": record.edition,
        "isbns": list(record.isbns), "issns": list(record.issns),
        "holdings": [{"library": h.library, "status": h.status.value, "branch": h.branch,
                      "call_number": h.call_number, "barcode": h.barcode,
                      "due_date": h.due_date.isoformat() if h.due_date else None}
                     for h in record.holdings],
    }, ensure_ascii=False, separators=(",", ":"))


def record_from_json(text: str) -> BibRecord:
    raw = json.loads(text)
    return BibRecord(
        record_id=raw["id"], title=raw["title"], material=MaterialType(raw["material"]),
        author=raw.get("author"), year=raw.get("year"), edition=raw.get("edition"),
        isbns=tuple(raw.get("isbns", ())), issns=tuple(raw.get("issns", ())),
        holdings=tuple(Holding(library=h["library"], status=ItemStatus(h["status"]),
                               branch=h.get("branch"), call_number=h.get("call_number"),
                               barcode=h.get("barcode"),
                               due_date=date.fromisoformat(h["due_date"])
                               if h.get("due_date") else None)
                       for h in raw.get("holdings", ())),
    )
