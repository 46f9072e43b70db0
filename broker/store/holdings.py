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

import json
from collections.abc import AsyncIterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis

from broker.domain.holdings import BibRecord
from broker.store.codec import record_from_json, record_json, text, texts
from broker.store.keys import Keys

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


def _field(library: str, generation: int, record_id: str) -> str:
    return f"{library}|{generation}|{record_id}"


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
        """Write records under ``generation`` (invisible until it is made current).

        Commands are grouped per key for the whole batch (one SADD per word, one HSET
        per match key), since the round trips, not Redis, are what a harvest waits on.
        """
        if not items:
            return
        by_key: dict[str, dict[Any, Any]] = {}
        by_word: dict[str, set[str]] = {}
        records: dict[Any, Any] = {}
        for item in items:
            rid = item.record.record_id
            value = record_json(item.record)
            for key in item.match_keys:
                by_key.setdefault(key, {})[_field(library, generation, rid)] = value
            for word in item.words:
                by_word.setdefault(word, set()).update(item.match_keys)
            records[rid] = json.dumps([item.match_keys, item.words])
        pipe = self.redis.pipeline(transaction=False)
        for key, fields in by_key.items():
            pipe.hset(self.keys.index_match(key), mapping=fields)
        for word, keys in by_word.items():
            pipe.sadd(self.keys.index_word(word), *keys)
        pipe.hset(self.keys.index_records(library, generation), mapping=records)
        await pipe.execute()

    async def switch(self, library: str, generation: int) -> int | None:
        """Make ``generation`` the library's visible one; returns the one it replaced."""
        old = await self.generations()
        await self.redis.hset(self.keys.index_generations(), library, generation)
        return old.get(library)

    async def drop_generation(self, library: str, generation: int) -> None:
        """Remove an invisible generation's records (after a switch or a failed harvest)."""
        records_key = self.keys.index_records(library, generation)
        cursor = 0
        while True:
            cursor, page = await self.redis.hscan(records_key, cursor, count=BATCH)
            pipe = self.redis.pipeline(transaction=False)
            for rid, meta in texts(cast(Mapping[Any, Any], page)).items():
                match_keys, _ = json.loads(meta)
                for key in match_keys:
                    pipe.hdel(self.keys.index_match(key), _field(library, generation, rid))
            await pipe.execute()
            if cursor == 0:
                break
        await self.redis.delete(records_key)

    async def replace(self, library: str, items: AsyncIterable[Indexable]) -> int:
        """A full re-import: new generation, write, switch, drop the old. Returns count."""
        generation = await self.new_generation(library)
        count = 0
        try:
            batch: list[Indexable] = []
            async for item in items:
                batch.append(item)
                if len(batch) == BATCH:
                    await self.write(library, generation, batch)
                    count += len(batch)
                    batch = []
            await self.write(library, generation, batch)
            count += len(batch)
        except BaseException:
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
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.index_generations())
        for key in match_keys:
            pipe.hgetall(self.keys.index_match(key))
        generations_raw, *pages = await pipe.execute()
        current = {text(k): text(v) for k, v in generations_raw.items()}
        found: dict[str, list[IndexEntry]] = {}
        for key, page in zip(match_keys, pages, strict=True):
            entries = _visible(page, current)
            if entries:
                found[key] = entries
        return found

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
