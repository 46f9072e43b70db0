"""Test data builders shared by the test folders (importable as ``builders``)."""

from __future__ import annotations

from datetime import UTC, datetime

from broker.domain.request import ItemDescription, Request, new_request_id
from broker.domain.states import Service, State


def a_request(patron: str = "p1", service: Service = Service.LOAN) -> Request:
    now = datetime.now(UTC)
    return Request(id=new_request_id(), service=service, state=State.NEW, version=0,
                   patron_id=patron, home_library="SI-LJMK", pickup_location="SI-LJMK-BEZ",
                   item=ItemDescription(title="Alamut", author="Bartol, Vladimir", year=1938),
                   created_at=now, updated_at=now)
