"""Requests in Redis: a hash and an append-only event stream per request.

Every change is one Lua script, so the state, the event, the indexes and any
outbox jobs are written together or not at all, and only if the request is
still at the version the caller read (optimistic concurrency).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, cast

from redis.asyncio import Redis

from broker.domain.errors import Conflict, NotFound, VersionConflict
from broker.domain.intake import duplicate_keys
from broker.domain.request import Request, RequestEvent
from broker.domain.states import Event, State, transition
from broker.store.codec import (
    event_from_fields,
    request_fields,
    request_from_fields,
    text,
    texts,
)
from broker.store.keys import SHARDS, Keys, shard_of
from broker.store.reads import Pending, Reads, read_one

# KEYS: hash, events, outbox, state index, patron index, patron's open requests,
#       their duplicate keys, then (optional) the submit's idempotency key
# ARGV: id, score, event json, outbox json, duplicate keys (separated by \x1e),
#       seconds the idempotency key is kept, then field/value pairs
_CREATE = """
if KEYS[8] and redis.call('EXISTS', KEYS[8]) == 1 then return -1 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if KEYS[8] then redis.call('SET', KEYS[8], ARGV[1], 'EX', ARGV[6]) end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
redis.call('HSET', KEYS[6], ARGV[1], ARGV[5])
for k in string.gmatch(ARGV[5], '[^\\30]+') do redis.call('HSET', KEYS[7], k, ARGV[1]) end
local ev = cjson.decode(ARGV[3])
redis.call('XADD', KEYS[2], '0-1', 'seq', '1', 'event', ev.event, 'source', ev.source,
           'target', ev.target, 'at', ev.at, 'actor', ev.actor, 'data', ev.data)
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
for _, job in ipairs(cjson.decode(ARGV[4])) do redis.call('RPUSH', KEYS[3], job) end
return 1
"""

# KEYS: hash, events, outbox, old state idx, new state idx, old lender idx, new lender idx,
#       the patron's open requests, their duplicate keys, then (optional) a key to keep
# ARGV: id, score, event json, outbox json, expected version,
#       lender index mode ("keep"/"move"/"drop"), the kept value and its seconds,
#       then field/value pairs ("" deletes)
_APPLY = """
local v = redis.call('HGET', KEYS[1], 'version')
if not v then return {-1} end
if v ~= ARGV[5] then return {0, tonumber(v)} end
local nv = tonumber(v) + 1
local ev = cjson.decode(ARGV[3])
local set = {'version', nv, 'state', ev.target, 'updated_at', ev.at}
for i = 9, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i])
  else set[#set + 1] = ARGV[i]; set[#set + 1] = ARGV[i + 1] end
end
redis.call('HSET', KEYS[1], unpack(set))
redis.call('XADD', KEYS[2], '0-' .. nv, 'seq', nv, 'event', ev.event, 'source', ev.source,
           'target', ev.target, 'at', ev.at, 'actor', ev.actor, 'data', ev.data)
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
if ev.terminal then
  local asked = redis.call('HGET', KEYS[8], ARGV[1])
  if asked then
    for k in string.gmatch(asked, '[^\\30]+') do
      if redis.call('HGET', KEYS[9], k) == ARGV[1] then redis.call('HDEL', KEYS[9], k) end
    end
    redis.call('HDEL', KEYS[8], ARGV[1])
  end
end
if ARGV[6] ~= 'keep' then
  redis.call('ZREM', KEYS[6], ARGV[1])
  if ARGV[6] == 'move' then redis.call('ZADD', KEYS[7], ARGV[2], ARGV[1]) end
end
for _, job in ipairs(cjson.decode(ARGV[4])) do redis.call('RPUSH', KEYS[3], job) end
if KEYS[10] then redis.call('SET', KEYS[10], ARGV[7], 'EX', ARGV[8]) end
return {1, nv}
"""


@dataclass(frozen=True, slots=True)
class Kept:
    """A value written in the same step as a transition, under a key in the request's
    slot (the ISO 18626 confirmation of the message that made the transition)."""

    key: str
    value: bytes | str
    seconds: int


class IdempotencyKeyUsed(Conflict):
    """Another submit with the same idempotency key stored its request first."""


@dataclass(frozen=True, slots=True)
class OutboxJob:
    """Work a transition asks for; queued by the dispatcher, run once by a worker."""

    name: str
    request_id: str
    args: Mapping[str, Any] = field(default_factory=dict)
    # Not before this moment (a deadline timer); None runs it as soon as possible.
    at: datetime | None = None

    def encode(self, version: int, position: int | str) -> str:
        entry: dict[str, Any] = {"id": f"{self.request_id}_{version}_{position}",
                                 "name": self.name, "request_id": self.request_id,
                                 "args": dict(self.args)}
        if self.at is not None:
            entry["at"] = self.at.timestamp()
        return json.dumps(entry, separators=(",", ":"))


ANONYMOUS = "anonymised"


def _now() -> datetime:
    return datetime.now(UTC)


def _event_json(event: Event, source: State, target: State, at: datetime, actor: str,
                data: Mapping[str, Any]) -> str:
    return json.dumps({"event": event.value, "source": source.value, "target": target.value,
                       "terminal": target.terminal, "at": at.isoformat(), "actor": actor,
                       "data": json.dumps(dict(data), ensure_ascii=False, default=str)})


def _flatten(fields: Mapping[str, str]) -> list[str]:
    return [x for pair in fields.items() for x in pair]


class RequestStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._create = redis.register_script(_CREATE)
        self._apply = redis.register_script(_APPLY)

    async def create(self, request: Request, actor: str,
                     jobs: Sequence[OutboxJob] = (),
                     idempotency: tuple[str, int] | None = None) -> Request:
        """Store a new request at version 1 with its first event; refuses an existing id.
        The id must come from ``keys.request_id_for`` (the patron's shard).

        ``idempotency`` (the key of ``keys.idempotency``, seconds to keep it) is claimed
        for the request in the same step, or ``IdempotencyKeyUsed`` is raised when an
        earlier submit holds it: claimed with the request, a key never points at a
        request that a dead process did not get to store."""
        if shard_of(request.id) != shard_of(request.patron_id):
            raise ValueError(f"request {request.id} is not in its patron's shard")
        request = replace(request, version=1, state=State.NEW)
        k = self.keys.for_request(request.id)
        ev = _event_json(Event.CREATED, State.NEW, State.NEW, request.created_at, actor, {})
        claim, keep = idempotency or (None, 0)
        created = await self._create(
            keys=[k.request, k.events, k.outbox, k.by_state(State.NEW),
                  k.by_patron(request.patron_id), k.open_for_patron(request.patron_id),
                  k.asked_by_patron(request.patron_id), *([claim] if claim else [])],
            args=[request.id, request.created_at.timestamp(), ev,
                  json.dumps([j.encode(1, i) for i, j in enumerate(jobs)]),
                  "\x1e".join(duplicate_keys(request.service, request.item,
                                              request.citation)),
                  keep, *_flatten(request_fields(request))])
        if created == -1:
            raise IdempotencyKeyUsed("a request was sent with this idempotency key already")
        if not created:
            raise VersionConflict(request.id, 0, 1)
        return request

    async def get(self, request_id: str) -> Request:
        found = await read_one(self.redis, lambda reads: self.read(reads, request_id))
        if found is None:
            raise NotFound(f"no request {request_id}")
        return found

    def read(self, reads: Reads, request_id: str) -> Pending[Request | None]:
        """The request, or None, as part of a batch of reads."""
        reads.pipe.hgetall(self.keys.request(request_id))
        return reads.add(1, lambda results: request_from_fields(texts(results[0]))
                         if results[0] else None)

    async def apply(self, request: Request, event: Event, actor: str, *,
                    changes: Mapping[str, str | None] | None = None,
                    data: Mapping[str, Any] | None = None,
                    jobs: Iterable[OutboxJob] = (),
                    at: datetime | None = None, keep: Kept | None = None) -> Request:
        """Move ``request`` (as read, at its version) by ``event`` in one atomic step.

        ``changes`` sets text attributes of the request (``None`` clears one);
        ``lender`` among them moves the request between lender inboxes; ``keep`` is
        written with the transition or not at all. Raises
        ``IllegalTransition`` for an event the state does not take and
        ``VersionConflict`` if someone else changed the request since it was read.
        """
        target = transition(request.state, event, request.service)
        at = at or _now()
        changes = dict(changes or {})
        k = self.keys.for_request(request.id)
        new_lender = changes.get("lender", request.lender)
        if target.terminal or new_lender is None:
            mode = "drop"
        elif new_lender != request.lender:
            mode = "move"
        else:
            mode = "keep"
        ev = _event_json(event, request.state, target, at, actor, data or {})
        encoded_jobs = [j.encode(request.version + 1, i) for i, j in enumerate(jobs)]
        result = await self._apply(
            keys=[k.request, k.events, k.outbox, k.by_state(request.state), k.by_state(target),
                  k.by_lender(request.lender or "-"), k.by_lender(new_lender or "-"),
                  k.open_for_patron(request.patron_id), k.asked_by_patron(request.patron_id),
                  *([keep.key] if keep else [])],
            args=[request.id, at.timestamp(), ev, json.dumps(encoded_jobs),
                  str(request.version), mode, keep.value if keep else "",
                  keep.seconds if keep else 0,
                  *_flatten({f: v if v is not None else "" for f, v in changes.items()})])
        if result[0] == -1:
            raise NotFound(f"no request {request.id}")
        if result[0] == 0:
            raise VersionConflict(request.id, request.version, int(result[1]))
        # The hash holds what the request holds, so the new request is built here
        # instead of being read back: one round trip a transition.
        return replace(request, state=target, version=int(result[1]), updated_at=at,
                       **cast(dict[str, Any], changes))

    async def enqueue(self, request: Request, jobs: Sequence[OutboxJob]) -> None:
        """Queue work about ``request`` that changes nothing of it (a reminder mail)."""
        if not jobs:
            return
        outbox = self.keys.for_request(request.id).outbox
        # Ids apart from those of the transition that made this version.
        stamp = secrets.token_hex(4)
        await self.redis.rpush(outbox, *(j.encode(request.version, f"{stamp}{i}")
                                         for i, j in enumerate(jobs)))

    async def get_many(self, request_ids: Sequence[str]) -> list[Request]:
        """Several requests in one round trip; ids that no longer exist are left out."""
        pipe = self.redis.pipeline(transaction=False)
        for request_id in request_ids:
            pipe.hgetall(self.keys.request(request_id))
        return [request_from_fields(texts(fields)) for fields in await pipe.execute()
                if fields]

    async def anonymise(self, request: Request) -> None:
        """Cut a finished request loose from its patron, whose account is being deleted."""
        k = self.keys.for_request(request.id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(k.request, "patron_id", ANONYMOUS)
        pipe.zrem(k.by_patron(request.patron_id), request.id)
        await pipe.execute()

    async def history(self, request_id: str) -> list[RequestEvent]:
        entries = await self.redis.xrange(self.keys.events(request_id))
        return [event_from_fields(texts(fields)) for _, fields in entries or []]

    async def _ids(self, index_keys: Iterable[str]) -> list[str]:
        """Ids in the given index shards, oldest change first (stuck ones lead)."""
        pipe = self.redis.pipeline(transaction=False)
        for key in index_keys:
            pipe.zrange(key, 0, -1, withscores=True)
        scored = [(score, text(rid)) for page in await pipe.execute() for rid, score in page]
        return [rid for _, rid in sorted(scored)]

    async def ids_in_state(self, state: State) -> list[str]:
        return await self._ids(self.keys.by_state(s, state) for s in range(SHARDS))

    async def ids_for_lender(self, library: str) -> list[str]:
        return await self._ids(self.keys.by_lender(s, library) for s in range(SHARDS))

    def read_open(self, reads: Reads, patron_id: str, probes: Sequence[str]
                  ) -> Pending[tuple[int, str | None]]:
        """How many of the patron's requests have not ended, and the first of them
        known by one of ``probes`` (``duplicate_probes``), if any."""
        shard = shard_of(patron_id)
        reads.pipe.hlen(self.keys.open_for_patron(shard, patron_id))
        reads.pipe.hmget(self.keys.asked_by_patron(shard, patron_id), list(probes))

        def decode(results: list[Any]) -> tuple[int, str | None]:
            count, found = results
            return int(count), next((text(f) for f in found if f is not None), None)

        return reads.add(2, decode)

    async def ids_for_patron(self, patron_id: str) -> list[str]:
        return await self._ids([self.keys.by_patron(shard_of(patron_id), patron_id)])
