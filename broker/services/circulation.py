"""The loan in the home library's own system, where that system speaks NCIP: the item
accepted when it arrives (a temporary item for the loan), checked out to the patron,
checked in when it goes back, so the patron sees the loan in their library account."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import date

import aiohttp
from redis.asyncio import Redis

from broker.domain.consortium import Consortium
from broker.domain.errors import NotFound
from broker.domain.lifecycle import BorrowerStep
from broker.store.accounts import AccountStore
from broker.store.codec import text_or_none
from broker.store.keys import Keys
from broker.store.requests import RequestStore
from connectors.ncip.circulation import NcipCirculation
from connectors.ncip.errors import ItemNotCheckedOut


@dataclass
class Circulation:
    redis: Redis
    keys: Keys
    consortium: Consortium
    requests: RequestStore
    accounts: AccountStore
    session: aiohttp.ClientSession

    async def record(self, request_id: str, step: BorrowerStep) -> bool:
        """Tell the home library's system about ``step``; False where it has no NCIP
        (nothing to tell) or the request or patron is gone. Raises
        ``CirculationUnavailable`` to be retried, an ``NcipProblem`` when the system
        says no."""
        try:
            request = await self.requests.get(request_id)
            account = await self.accounts.get(request.patron_id)
        except NotFound:
            return False
        home = self.consortium.libraries.get(request.home_library)
        if home is None or home.register.connector != "ncip" or not account.card_number:
            return False
        config = home.register.settings
        system = NcipCirculation(config["url"], self.session, library=home.code,
                                 agency_id=config.get("agency_id", home.code))
        key = self.keys.circulation_item(request_id)
        item_id = text_or_none(await self.redis.get(key)) or f"ILL-{request_id}"
        if step is BorrowerStep.RECEIVED:
            due = date.fromisoformat(request.due_date) if request.due_date else None
            item_id = await system.accept_item(request_id, account.card_number, item_id,
                                               request.item.title, request.item.author, due)
            # The system may name the item itself; later steps use its name.
            await self.redis.set(key, item_id, ex=400 * 24 * 3600)
        elif step is BorrowerStep.CHECKED_OUT:
            await system.check_out(account.card_number, item_id)
        elif step is BorrowerStep.RETURN_SHIPPED:
            # A retry after the first check-in's answer was lost: done already.
            with suppress(ItemNotCheckedOut):
                await system.check_in(item_id)
            await self.redis.delete(key)
        else:
            return False
        return True
