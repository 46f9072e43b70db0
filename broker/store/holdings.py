"""The union holdings index: who holds what, by match key, in Redis.

Each library's records live under a generation. A full harvest writes a new
generation and then switches the library's entry in one HSET, so readers see
either the old records or the new ones, never half of each; the old generation
is removed afterwards. Incremental harvests (OAI-PMH) change records of the
current generation one by one.

Layout: ``match:<key>`` is a hash whose fields are ``<library>|<generation>|<record id>``
and whose values are the record with its holdings; ``word:<w>`` is a set of match
keys for title/author search; ``records:<library>:<generation>`` remembers each
record's match keys and words so it can be removed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import hiredis
import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from broker.domain.holdings import BibRecord
from broker.store.codec import record_from_json, text
from broker.store.keys import Keys
from broker.store.reads import Pending, Reads, read_one

# Pipelines of this many records keep memory flat and round trips few.
BATCH = 500


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """A record as one member library holds it, under one match key."""

    library: str
    record: BibRecord


@dataclass(frozen=True, slots=True)
class Indexable:
    """A record ready for the index: its match keys and search words computed."""

    record: BibRecord
    match_keys: tuple[str, ...]
    words: tuple[str, ...]

    def row(self) -> IndexRow:
        return IndexRow(self.record.record_id, record_document(self.record), self.match_keys,
                        self.words)


class IndexRow(NamedTuple):
    """An ``Indexable`` as the index stores it, its record as JSON (``record_document``).

    Plain strings and bytes in a tuple, not the record's objects: a harvest keeps a few
    batches of these while Redis answers, and the garbage collector soon stops
    tracking such a tuple, where it would track every record and holding, promote
    them and walk them again and again.
    """

    record_id: str
    value: bytes
    match_keys: tuple[str, ...]
    words: tuple[str, ...]


def record_document(record: BibRecord) -> bytes:
    """``codec.record_json(record)`` in UTF-8, byte for byte (a test holds them equal),
    made by orjson: a harvest writes one per record, and this takes half the time."""
    return orjson.dumps({
        "id": record.record_id, "title": record.title, "material": record.material.value,
        "author": record.author, "year": record.year, "edition": record.edition,
        "isbns": record.isbns, "issns": record.issns,
        "holdings": [{"library": h.library, "status": h.status.value, "branch": h.branch,
                      "call_number": h.call_number, "barcode": h.barcode,
                      "due_date": h.due_date.isoformat() if h.due_date else None}
                     for h in record.holdings],
    })


def _field(library: str, generation: int, record_id: str) -> str:
    return f"{library}|{generation}|{record_id}"


def _pairs(mapping: Mapping[str, str | bytes]) -> list[str | bytes]:
    return [part for pair in mapping.items() for part in pair]


# hiredis's stub declares a one-element tuple; it packs a command of any length.
_pack = cast(Callable[[tuple[str | bytes, ...]], bytes], hiredis.pack_command)


class UnionIndex:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def generations(self) -> dict[str, int]:
        raw = await self.redis.hgetall(self.keys.index_generations())
        return {text(k): int(v) for k, v in raw.items()}

    async def new_generation(self, library: str) -> int:
        return int(await self.redis.hincrby(self.keys.index_generation_counter(), library, 1))

    async def write(self, library: str, generation: int, items: Sequence[Indexable]) -> None:
        """Write records under ``generation`` (invisible until it is made current)."""
        await self.write_rows(library, generation, [item.row() for item in items])

    async def write_rows(self, library: str, generation: int, rows: Sequence[IndexRow]) -> None:
        """``write`` for records already made rows.

        Commands are grouped per key for the whole batch (one SADD per word, one HSET
        per match key), since the round trips, not Redis, are what a harvest waits on.
        """
        if not rows:
            return
        by_key: dict[str, dict[str, bytes]] = {}
        by_word: dict[str, set[str]] = {}
        records: dict[str, str] = {}
        prefix = _field(library, generation, "")
        for rid, value, keys, words in rows:
            field = prefix + rid
            for key in keys:
                fields = by_key.get(key)
                if fields is None:
                    by_key[key] = {field: value}
                else:
                    fields[field] = value
            for word in words:
                members = by_word.get(word)
                if members is None:
                    by_word[word] = set(keys)
                else:
                    members.update(keys)
            records[rid] = json.dumps([keys, words])
        index_match, index_word = self.keys.index_match, self.keys.index_word
        commands = [("HSET", index_match(key), *_pairs(fields)) for key, fields in by_key.items()]
        commands += [("SADD", index_word(word), *members) for word, members in by_word.items()]
        commands.append(("HSET", self.keys.index_records(library, generation), *_pairs(records)))
        await self._pipelined(commands)

    async def _pipelined(self, commands: Sequence[tuple[str | bytes, ...]]) -> None:
        """Send ``commands`` in one round trip and check every reply; raises the first
        error after reading them all.

        What a pipeline's ``execute`` does, for the index's bulk writes, at a fraction
        of the cost: the asyncio client packs every argument in Python and arms a
        timer for every reply, where hiredis packs a whole command in C and one
        timeout covers all the replies. A harvest sends a command or two per record.
        """
        pool = self.redis.connection_pool
        connection = await pool.get_connection()
        error: ResponseError | None = None
        try:
            await connection.send_packed_command([_pack(c) for c in commands],
                                                 check_health=False)
            async with asyncio.timeout(connection.socket_timeout):
                for _ in commands:
                    try:
                        await connection.read_response(timeout=math.inf)
                    except ResponseError as exc:
                        error = error or exc
        except BaseException as exc:
            # Replies may be left unread: the connection cannot be used again.
            await connection.disconnect()
            if isinstance(exc, TimeoutError):
                raise RedisTimeoutError("Timeout reading the replies of a write") from exc
            raise
        finally:
            await pool.release(connection)
        if error is not None:
            raise error

    async def switch(self, library: str, generation: int) -> int | None:
        """Make ``generation`` the library's visible one; returns the one it replaced."""
        old = await self.generations()
        await self.redis.hset(self.keys.index_generations(), library, generation)
        return old.get(library)

    async def drop_generation(self, library: str, generation: int) -> None:
        """Remove an invisible generation's records (after a switch or a failed harvest)."""
        records_key = self.keys.index_records(library, generation)
        index_match, prefix = self.keys.index_match, _field(library, generation, "")
        cursor = 0
        while True:
            cursor, page = await self.redis.hscan(records_key, cursor, count=BATCH)
            commands = []
            for rid, meta in cast(Mapping[Any, Any], page).items():
                match_keys, _ = json.loads(meta)
                field = prefix + text(rid)
                commands += [("HDEL", index_match(key), field) for key in match_keys]
            if commands:
                await self._pipelined(commands)
            if cursor == 0:
                break
        await self.redis.delete(records_key)

    async def replace(self, library: str, items: AsyncIterable[Indexable]) -> int:
        """A full re-import: new generation, write, switch, drop the old. Returns count.

        One batch is written while the next is read: the round trip to Redis (and its
        fsync) overlaps with parsing instead of adding to it. If reading or writing
        fails, or the caller cancels, the new generation is dropped and the library
        keeps what it had.
        """
        generation = await self.new_generation(library)
        count = 0
        writing: asyncio.Future[None] | None = None
        try:
            batch: list[IndexRow] = []
            async for item in items:
                batch.append(item.row())
                if len(batch) == BATCH:
                    if writing is not None:
                        # Shielded: a cancelled harvest still lets the batch land
                        # whole, so that dropping the generation finds all of it.
                        await asyncio.shield(writing)
                    writing = asyncio.ensure_future(self.write_rows(library, generation, batch))
                    count += len(batch)
                    batch = []
                    # Let the write go out now, not when the reading next waits.
                    await asyncio.sleep(0)
            if writing is not None:
                await asyncio.shield(writing)
            writing = None
            await self.write_rows(library, generation, batch)
            count += len(batch)
        except BaseException:
            if writing is not None:
                # The batch in flight must land (or fail) before its generation is
                # dropped, or some of its entries would outlive the drop.
                with contextlib.suppress(Exception):
                    await asyncio.shield(writing)
            await self.drop_generation(library, generation)
            raise
        old = await self.switch(library, generation)
        if old is not None:
            await self.drop_generation(library, old)
        return count

    async def upsert(self, library: str, item: Indexable) -> None:
        """Change one record in the current generation (incremental harvests)."""
        generation = await self._current(library)
        await self.delete(library, item.record.record_id)
        await self.write(library, generation, [item])

    async def delete(self, library: str, record_id: str) -> bool:
        generation = await self._current(library)
        records_key = self.keys.index_records(library, generation)
        meta = await self.redis.hget(records_key, record_id)
        if meta is None:
            return False
        match_keys, _ = json.loads(meta)
        pipe = self.redis.pipeline(transaction=False)
        for key in match_keys:
            pipe.hdel(self.keys.index_match(key), _field(library, generation, record_id))
        pipe.hdel(records_key, record_id)
        await pipe.execute()
        return True

    async def _current(self, library: str) -> int:
        current = await self.redis.hget(self.keys.index_generations(), library)
        if current is None:
            generation = await self.new_generation(library)
            await self.switch(library, generation)
            return generation
        return int(current)

    async def lookup(self, match_keys: Sequence[str]) -> dict[str, list[IndexEntry]]:
        """The visible records under each match key, one entry per holding library."""
        return await read_one(self.redis, lambda reads: self.read_lookup(reads, match_keys))

    def read_lookup(self, reads: Reads, match_keys: Sequence[str]
                    ) -> Pending[dict[str, list[IndexEntry]]]:
        """``lookup``, as part of a batch of reads."""
        reads.pipe.hgetall(self.keys.index_generations())
        for key in match_keys:
            reads.pipe.hgetall(self.keys.index_match(key))

        def decode(results: list[Any]) -> dict[str, list[IndexEntry]]:
            generations_raw, *pages = results
            current = {text(k): text(v) for k, v in generations_raw.items()}
            found: dict[str, list[IndexEntry]] = {}
            for key, page in zip(match_keys, pages, strict=True):
                entries = _visible(page, current)
                if entries:
                    found[key] = entries
            return found

        return reads.add(1 + len(match_keys), decode)

    async def match_keys_for_words(self, words: Sequence[str], limit: int = 50) -> list[str]:
        """Match keys whose title or author has every one of ``words``."""
        if not words:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for word in words:
            pipe.smembers(self.keys.index_word(word))
        sets = [{text(m) for m in members} for members in await pipe.execute()]
        common = set.intersection(*sets)
        return sorted(common)[:limit]

    async def record_count(self, library: str) -> int:
        generation = await self.redis.hget(self.keys.index_generations(), library)
        if generation is None:
            return 0
        return int(await self.redis.hlen(self.keys.index_records(library, int(generation))))


def _visible(page: Mapping[str | bytes, str | bytes], current: Mapping[str, str]
             ) -> list[IndexEntry]:
    entries = []
    for field, value in page.items():
        library, generation, _ = text(field).split("|", 2)
        if current.get(library) == generation:
            entries.append(IndexEntry(library, record_from_json(text(value))))
    return entries
