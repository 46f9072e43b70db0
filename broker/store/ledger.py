"""What libraries owe each other: fees recorded per (borrowing, lending) library pair.

Amounts are kept in cents, as integers, so sums are exact. Each request is charged
once: a marker per request makes recording idempotent, whatever retries a job has.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from redis.asyncio import Redis

from broker.store.codec import texts
from broker.store.keys import Keys

CENT = Decimal("0.01")

# KEYS: marker, ledger; ARGV: pair, cents
_RECORD = """
if redis.call('SET', KEYS[1], '1', 'NX') then
  redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
  return 1
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Balance:
    borrower: str
    lender: str
    amount: Decimal


class Ledger:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._record = redis.register_script(_RECORD)

    async def record(self, request_id: str, borrower: str, lender: str,
                     amount: Decimal, kind: str = "service") -> bool:
        """Charge ``borrower`` ``amount`` for ``lender``'s service on a request, once
        for each ``kind`` of charge (the service; a lost item's replacement)."""
        cents = int((amount * 100).to_integral_value())
        charged = self.keys.ledger_charged(request_id) + ("" if kind == "service" else f":{kind}")
        return bool(await self._record(
            keys=[charged, self.keys.ledger()],
            args=[f"{borrower}>{lender}", cents]))

    async def balances(self) -> list[Balance]:
        raw = texts(await self.redis.hgetall(self.keys.ledger()))
        out = []
        for pair, cents in sorted(raw.items()):
            borrower, lender = pair.split(">", 1)
            out.append(Balance(borrower, lender, (Decimal(int(cents)) / 100).quantize(CENT)))
        return out
