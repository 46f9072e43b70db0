"""The orders a lending library has to pull from its shelves, each with what a slip
needs: the title, where the library's copies stand (from its catalog in the union
index), who borrows it, and by when to answer.

An order is in the library's inbox from the moment it is sent there; it needs pulling
while the library has not shipped it (sent, a condition asked, or will supply).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from broker.domain.consortium import Consortium
from broker.domain.figures import orders_of
from broker.domain.holdings import BibRecord, Holding
from broker.domain.request import Request
from broker.domain.states import State
from broker.store.codec import event_from_fields, text, texts
from broker.store.holdings import UnionIndex
from broker.store.keys import SHARDS, Keys
from broker.store.requests import RequestStore
from connectors.marc.matchkey import match_keys

TO_PULL = frozenset({State.SENT, State.CONDITIONAL, State.WILL_SUPPLY})


@dataclass(frozen=True, slots=True)
class Slip:
    """One order as its pull slip shows it."""

    request: Request
    arrived: datetime
    answer_by: datetime | None
    # The lender's copies of the title as its catalog has them; empty when unknown.
    copies: tuple[Holding, ...]


def item_keys(request: Request) -> list[str]:
    """The union index's match keys for what the request asks for."""
    item = request.item
    keys = [f"isbn:{item.isbn}"] if item.isbn else []
    keys += [f"issn:{item.issn}"] if item.issn else []
    if keys or not item.title:
        return keys
    return list(match_keys(BibRecord(record_id="", title=item.title, author=item.author,
                                     year=item.year)))


@dataclass
class PullSlips:
    redis: Redis
    keys: Keys
    store: RequestStore
    index: UnionIndex
    consortium: Consortium

    async def for_library(self, library: str, day: date | None) -> list[Slip]:
        """The orders at ``library`` still to be pulled, oldest first: those that
        arrived on ``day`` (in the library's own time zone), or all when ``day`` is None."""
        zone = ZoneInfo(self.consortium.library(library).timezone)
        arrivals = await self._arrivals(library)
        wanted = [rid for rid, at in arrivals.items()
                  if day is None or at.astimezone(zone).date() == day]
        found = [r for r in await self.store.get_many(wanted) if r.state in TO_PULL
                 and r.lender == library]
        pipe = self.redis.pipeline(transaction=False)
        for request in found:
            pipe.xrange(self.keys.events(request.id))
        histories: list[Any] = await pipe.execute()
        wanted_keys = {request.id: item_keys(request) for request in found}
        held = await self.index.lookup(sorted({k for ks in wanted_keys.values() for k in ks}))
        slips = []
        for request, entries in zip(found, histories, strict=True):
            orders = orders_of(request, [event_from_fields(texts(f)) for _, f in entries])
            copies: dict[tuple[str | None, str | None, str | None], Holding] = {}
            for key in wanted_keys[request.id]:
                for entry in held.get(key, []):
                    if entry.library != library:
                        continue
                    for copy in entry.record.holdings:
                        copies.setdefault((copy.branch, copy.call_number, copy.barcode), copy)
            slips.append(Slip(request, arrivals[request.id],
                              orders[-1].answer_by if orders else None,
                              tuple(copies.values())))
        slips.sort(key=lambda s: (s.arrived, s.request.id))
        return slips

    async def _arrivals(self, library: str) -> dict[str, datetime]:
        """The ids in the library's inbox, each with when it arrived there."""
        pipe = self.redis.pipeline(transaction=False)
        for shard in range(SHARDS):
            pipe.zrange(self.keys.by_lender(shard, library), 0, -1, withscores=True)
        return {text(rid): datetime.fromtimestamp(float(score), UTC)
                for page in await pipe.execute() for rid, score in page}
