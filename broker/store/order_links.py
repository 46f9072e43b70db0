"""Answer links of orders sent by e-mail: a random token in the link, only its digest
in Redis (as activation tokens are kept), naming the request and the lender it went to.

A link answers for its lender only while the request is with that lender; the caller
checks that against the request (``Request.lender``) each time, so a link outlives
nothing it should not. The key's expiry only clears links nobody will use again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from redis.asyncio import Redis

from broker.store.accounts import new_token
from broker.store.codec import text
from broker.store.keys import Keys, shard_of

# A loan can run for months after the order (renewals, a late return).
LINK_TTL = 400 * 86400
# new_token: two digits of the shard, then secrets.token_urlsafe(32).
TOKEN_SHAPE = re.compile(r"[0-9]{2}[A-Za-z0-9_-]{43}")


async def put_token(redis: Redis, keys: Keys, kind: str, request_id: str,
                    value: Mapping[str, str], ttl: int | None = None) -> str:
    """A new random token of ``kind`` for ``request_id`` (in its shard), keeping
    ``value`` under the token's digest."""
    token = new_token(shard_of(request_id))
    await redis.set(keys.token(kind, token), json.dumps(dict(value)), ex=ttl)
    return token


async def get_token(redis: Redis, keys: Keys, kind: str, token: str) -> dict[str, str] | None:
    """What ``put_token`` kept for ``token``, or None (also for anything not shaped
    like a token)."""
    if not TOKEN_SHAPE.fullmatch(token):
        return None
    raw = await redis.get(keys.token(kind, token))
    return dict(json.loads(text(raw))) if raw is not None else None


class OrderLinks:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def issue(self, request_id: str, lender: str) -> str:
        """A new token for ``lender`` to answer ``request_id`` without an account."""
        return await put_token(self.redis, self.keys, "order", request_id,
                               {"request": request_id, "lender": lender}, LINK_TTL)

    async def find(self, token: str) -> tuple[str, str] | None:
        """The (request id, lender) a token was issued for, or None."""
        found = await get_token(self.redis, self.keys, "order", token)
        return (found["request"], found["lender"]) if found else None
