"""What coordinators watch: fees owed between libraries."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from aiohttp import web

from broker.domain.accounts import Role
from broker.store.ledger import Ledger
from broker.web import appkeys
from broker.web.auth import require


async def ledger(request: web.Request) -> web.Response:
    """Who owes whom: per library pair, and each library's net (owed to it minus owing)."""
    await require(request, Role.COORDINATOR)
    balances = await Ledger(request.app[appkeys.REDIS], request.app[appkeys.KEYS]).balances()
    net: dict[str, Decimal] = defaultdict(Decimal)
    for b in balances:
        net[b.lender] += b.amount
        net[b.borrower] -= b.amount
    return web.json_response({
        "currency": request.app[appkeys.CONSORTIUM].currency,
        "pairs": [{"borrower": b.borrower, "lender": b.lender, "amount": str(b.amount)}
                  for b in balances],
        "net": {library: str(amount) for library, amount in sorted(net.items())},
    })


def setup(app: web.Application) -> None:
    app.router.add_get("/api/ledger", ledger)
