"""Accounts in Redis: a hash per account, the e-mail index, single-use tokens,
pending registrations, sessions and login rate limits."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from redis.asyncio import Redis

from broker.domain.accounts import Account, AccountStatus, Address, Role, email_key
from broker.domain.errors import NotFound
from broker.store.codec import text, texts
from broker.store.keys import SHARDS, Keys, account_shard, shard_of
from broker.store.requests import OutboxJob

# KEYS: e-mail index, account, pending set, token, outbox
# ARGV: id, expiry score, token ttl seconds, outbox json, then field/value pairs
_CREATE = """
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
if ARGV[2] ~= '' then redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1]) end
if ARGV[3] ~= '' then redis.call('SET', KEYS[4], ARGV[1], 'EX', ARGV[3]) end
for _, job in ipairs(cjson.decode(ARGV[4])) do redis.call('RPUSH', KEYS[5], job) end
return ''
"""

# KEYS: account, pending set; ARGV: id, now score, activated_at, password hash or ""
_ACTIVATE = """
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then return 0 end
local expires = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not expires or tonumber(expires) < tonumber(ARGV[2]) then return -1 end
redis.call('HSET', KEYS[1], 'status', 'active', 'activated_at', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'password', ARGV[4]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# KEYS: account, e-mail index, pending set, events; ARGV: id, now score
# Removes a registration that was never confirmed in time, and nothing else.
_PURGE = """
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then
  redis.call('ZREM', KEYS[3], ARGV[1]); return 0
end
local expires = redis.call('ZSCORE', KEYS[3], ARGV[1])
if expires and tonumber(expires) > tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1], KEYS[4])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""


def _fields(account: Account) -> dict[str, str]:
    out = {"id": account.id, "email": account.email, "role": account.role.value,
           "status": account.status.value, "created_at": account.created_at.isoformat(),
           "given_name": account.given_name, "surname": account.surname}
    optional: dict[str, str | None] = {
        "library": account.library,
        "birth_date": account.birth_date.isoformat() if account.birth_date else None,
        "category": account.category,
        "address": json.dumps(asdict(account.address), ensure_ascii=False)
        if account.address else None,
        "card_number": account.card_number,
        "consent_at": account.consent_at.isoformat() if account.consent_at else None,
        "activated_at": account.activated_at.isoformat() if account.activated_at else None,
        "language": account.language,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def _account(fields: Mapping[str, str]) -> Account:
    def when(name: str) -> datetime | None:
        return datetime.fromisoformat(fields[name]) if name in fields else None

    return Account(
        id=fields["id"], email=fields["email"], role=Role(fields["role"]),
        status=AccountStatus(fields["status"]),
        created_at=datetime.fromisoformat(fields["created_at"]),
        library=fields.get("library"), given_name=fields.get("given_name", ""),
        surname=fields.get("surname", ""),
        birth_date=date.fromisoformat(fields["birth_date"]) if "birth_date" in fields else None,
        category=fields.get("category"),
        address=Address(**json.loads(fields["address"])) if "address" in fields else None,
        card_number=fields.get("card_number"), consent_at=when("consent_at"),
        activated_at=when("activated_at"), language=fields.get("language"),
    )


def new_token(shard: int) -> str:
    """A token for a link: its first two digits name the shard of its account."""
    return f"{shard:02d}{secrets.token_urlsafe(32)}"


class AccountStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._create = redis.register_script(_CREATE)
        self._activate = redis.register_script(_ACTIVATE)
        self._purge = redis.register_script(_PURGE)

    @staticmethod
    def new_id(email: str) -> str:
        return f"A{shard_of(email_key(email)):02d}-{secrets.token_hex(6)}"

    async def create(self, account: Account, password_hash: str | None, *,
                     expires: datetime | None, token: str | None, token_ttl: int,
                     jobs: Sequence[OutboxJob] = ()) -> str | None:
        """Store a new account with its unique e-mail, in one step; when the e-mail is
        taken, store nothing and return the id of the account that has it."""
        fields = _fields(account)
        if password_hash:
            fields["password"] = password_hash
        shard = account_shard(account.id)
        k = self.keys
        existing = await self._create(
            keys=[k.account_email(email_key(account.email)), k.account(account.id),
                  k.pending_accounts(shard), k.token("activate", token) if token else
                  k.account(account.id), k.outbox(shard)],
            args=[account.id, str(expires.timestamp()) if expires else "",
                  str(token_ttl) if token else "",
                  json.dumps([j.encode(0, i) for i, j in enumerate(jobs)]),
                  *[x for pair in fields.items() for x in pair]])
        return text(existing) if existing else None

    async def get(self, account_id: str) -> Account:
        fields = texts(await self.redis.hgetall(self.keys.account(account_id)))
        if not fields:
            raise NotFound("no such account")
        return _account(fields)

    async def find(self, email: str) -> Account | None:
        account_id = await self.redis.get(self.keys.account_email(email_key(email)))
        if account_id is None:
            return None
        try:
            return await self.get(text(account_id))
        except NotFound:
            return None

    async def password_hash(self, account_id: str) -> str | None:
        value = await self.redis.hget(self.keys.account(account_id), "password")
        return text(value) if value is not None else None

    async def set_password(self, account_id: str, password_hash: str) -> None:
        await self.redis.hset(self.keys.account(account_id), "password", password_hash)

    async def issue_token(self, kind: str, account_id: str, ttl: int,
                          mail: Callable[[str], OutboxJob]) -> str:
        """A new single-use token, and the mail carrying it queued in the same step."""
        shard = account_shard(account_id)
        token = new_token(shard)
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self.keys.token(kind, token), account_id, ex=ttl)
        pipe.rpush(self.keys.outbox(shard), mail(token).encode(0, 0))
        await pipe.execute()
        return token

    async def take_token(self, kind: str, token: str) -> str | None:
        """The account a token was for, once: the token is gone after this."""
        # ASCII digits only: isdigit() alone takes "²" and "٣", and the key reads them
        # with int() (a 500 where a bad link is a 400).
        if len(token) < 10 or not (token[:2].isascii() and token[:2].isdigit()) \
                or len(token) > 200:
            return None
        value = await self.redis.getdel(self.keys.token(kind, token))
        return text(value) if value is not None else None

    async def activate(self, account_id: str, now: datetime,
                       password_hash: str | None = None) -> bool:
        shard = account_shard(account_id)
        result = await self._activate(
            keys=[self.keys.account(account_id), self.keys.pending_accounts(shard)],
            args=[account_id, str(now.timestamp()), now.isoformat(), password_hash or ""])
        return int(result) == 1

    async def purge_expired(self, now: datetime) -> int:
        """Delete every registration not confirmed in time; returns how many."""
        purged = 0
        for shard in range(SHARDS):
            pending = self.keys.pending_accounts(shard)
            for raw in await self.redis.zrangebyscore(pending, "-inf", now.timestamp()):
                purged += await self.purge(text(raw), now)
        return purged

    async def purge(self, account_id: str, now: datetime) -> int:
        fields = texts(await self.redis.hgetall(self.keys.account(account_id)))
        email = fields.get("email", "")
        return int(await self._purge(
            keys=[self.keys.account(account_id), self.keys.account_email(email_key(email)),
                  self.keys.pending_accounts(account_shard(account_id)),
                  self.keys.account_events(account_id)],
            args=[account_id, str(now.timestamp())]))

    async def update(self, account_id: str, changes: Mapping[str, str], event: str,
                     actor: str, data: Mapping[str, Any]) -> None:
        """Change account fields and log why, together."""
        pipe = self.redis.pipeline(transaction=True)
        fields: dict[Any, Any] = dict(changes)
        pipe.hset(self.keys.account(account_id), mapping=fields)
        pipe.xadd(self.keys.account_events(account_id), {
            "event": event, "actor": actor, "at": datetime.now(UTC).isoformat(),
            "data": json.dumps(dict(data), ensure_ascii=False)})
        await pipe.execute()

    async def events(self, account_id: str) -> list[dict[str, str]]:
        entries = await self.redis.xrange(self.keys.account_events(account_id))
        return [texts(fields) for _, fields in entries or []]

    async def delete(self, account: Account) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self.keys.account(account.id), self.keys.account_events(account.id))
        pipe.delete(self.keys.account_email(email_key(account.email)))
        pipe.zrem(self.keys.pending_accounts(account_shard(account.id)), account.id)
        await pipe.execute()


SESSION_SECONDS = 12 * 3600
_ACCOUNT_ID = re.compile(r"A[0-9]{2}-[0-9A-Za-z_-]{1,64}")


@dataclass(frozen=True, slots=True)
class LoggedIn:
    """A live session and its account (None when the account has since been deleted)."""

    session: Mapping[str, str]
    account: Account | None


class SessionStore:
    """Logged-in sessions: an opaque cookie token, kept in Redis only as a digest.

    The token starts with the account id, so the session and its account are read in
    one round trip; the id is checked against the session's own record, so a token
    with someone else's id in front finds no session."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def start(self, account: Account) -> tuple[str, str]:
        """A new session for ``account``: its cookie token and its CSRF token."""
        token, csrf = f"{account.id}.{secrets.token_urlsafe(32)}", secrets.token_urlsafe(24)
        key = self.keys.session(token)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, mapping={"account": account.id, "role": account.role.value,
                                "csrf": csrf})
        pipe.expire(key, SESSION_SECONDS)
        await pipe.execute()
        return token, csrf

    async def get(self, token: str) -> LoggedIn | None:
        account_id, dot, _secret = token.partition(".")
        if not dot or len(token) > 120 or not _ACCOUNT_ID.fullmatch(account_id):
            return None
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.session(token))
        pipe.hgetall(self.keys.account(account_id))
        session, account = (texts(fields) for fields in await pipe.execute())
        if session.get("account") != account_id:
            return None
        return LoggedIn(session, _account(account) if account else None)

    async def end(self, token: str) -> None:
        await self.redis.delete(self.keys.session(token))
