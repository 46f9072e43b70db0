"""Harvesting member catalogs into the union holdings index.

A MARC file export replaces the library's records in one visible step. Bad records
are counted by their problem code and skipped; a harvest that breaks off leaves
what the index already held untouched.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from redis.asyncio import Redis

from broker.domain.consortium import HoldingsMapping, Library
from broker.domain.holdings import BibRecord
from broker.store.codec import text
from broker.store.holdings import Indexable, UnionIndex
from broker.store.keys import Keys
from connectors.errors import ConnectorError
from connectors.marc.matchkey import fold, match_keys
from connectors.marc.records import RecordError
from connectors.marcfile import MarcFileCatalog
from connectors.oaipmh import Deletion, HarvestRun, OaiHarvester, Upsert

NO_MATCH_KEY = "no-match-key"
# Long enough for a large export; a crashed harvest frees the library after it.
LOCK_SECONDS = 3600
SAMPLES = 5
T = TypeVar("T")


@dataclass
class HarvestReport:
    library: str
    indexed: int = 0
    deleted: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[RecordError] = field(default_factory=list)
    failed: str | None = None
    skipped: str | None = None
    seconds: float = 0.0

    def add_error(self, error: RecordError) -> None:
        self.errors[error.code] += 1
        if len(self.samples) < SAMPLES:
            self.samples.append(error)

    def summary(self) -> str:
        if self.skipped:
            return f"{self.library}: {self.skipped}"
        errors = ", ".join(f"{n} {code}" for code, n in sorted(self.errors.items()))
        text = f"{self.library}: {self.indexed} records indexed in {self.seconds:.2f} s"
        if self.deleted:
            text += f", {self.deleted} deleted"
        if errors:
            text += f"; skipped: {errors}"
        if self.failed:
            text += f"; FAILED: {self.failed} (the index keeps what it had)"
        return text


def search_words(record: BibRecord) -> tuple[str, ...]:
    text = f"{record.title} {record.author or ''}"
    return tuple(dict.fromkeys(w for w in fold(text).split() if len(w) > 1))


def indexable(record: BibRecord) -> Indexable | None:
    keys = match_keys(record)
    return Indexable(record, keys, search_words(record)) if keys else None


async def each(items: Iterable[T]) -> AsyncIterator[T]:
    """A file export read in the harvesting process itself, as an async stream."""
    for item in items:
        yield item


async def harvest_items(items: AsyncIterable[BibRecord | RecordError], report: HarvestReport,
                        progress: Callable[[int], None] | None) -> AsyncIterator[Indexable]:
    async for item in items:
        if progress:
            progress(1)
        if isinstance(item, RecordError):
            report.add_error(item)
            continue
        ready = indexable(item)
        if ready is None:
            report.add_error(RecordError(0, item.record_id, NO_MATCH_KEY,
                                         "no ISBN, ISSN or usable title"))
            continue
        report.indexed += 1
        yield ready


class Harvester:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self.index = UnionIndex(redis, keys)

    async def harvest(self, library: Library,
                      progress: Callable[[int], None] | None = None) -> HarvestReport:
        report = HarvestReport(library.code)
        started = time.perf_counter()
        lock = self.keys.index_harvest(library.code) + ":lock"
        if not await self.redis.set(lock, "1", nx=True, ex=LOCK_SECONDS):
            report.skipped = "a harvest of this library is already running"
            return report
        try:
            await self._harvest(library, report, progress)
        finally:
            await self.redis.delete(lock)
            report.seconds = time.perf_counter() - started
        await self.redis.hset(self.keys.index_harvest(library.code), mapping={
            "finished": time.time(), "indexed": report.indexed,
            "errors": sum(report.errors.values()), "failed": report.failed or ""})
        return report

    async def _harvest(self, library: Library, report: HarvestReport,
                       progress: Callable[[int], None] | None) -> None:
        catalog = library.catalog
        if catalog.connector == "marcfile":
            await self._harvest_file(library, report, progress)
        elif catalog.connector == "oaipmh":
            await self._harvest_oai(library, report, progress)
        else:
            report.skipped = f"{catalog.connector} catalog: searched live, not harvested"

    async def _harvest_file(self, library: Library, report: HarvestReport,
                            progress: Callable[[int], None] | None) -> None:
        mapping = library.catalog.holdings or HoldingsMapping()
        source = MarcFileCatalog(library.catalog.settings["path"], mapping, library.code)
        try:
            await self.index.replace(library.code, harvest_items(each(source.records()),
                                                                 report, progress))
        except OSError as exc:
            report.indexed = 0
            report.failed = f"cannot read {source.path}: {exc.strerror or exc}"

    async def _harvest_oai(self, library: Library, report: HarvestReport,
                           progress: Callable[[int], None] | None) -> None:
        """OAI-PMH 2.0: the first harvest replaces the library's records; later ones
        ask only for what changed since the last complete one (``from``) and apply
        upserts and deletions. An interrupted harvest keeps what it applied and starts
        again from the same ``from`` next time, so nothing is missed."""
        code = library.code
        state_key = self.keys.index_harvest(code)
        since_text = await self.redis.hget(state_key, "since")
        since = datetime.fromisoformat(text(since_text)) if since_text else None
        run = OaiHarvester.from_config(code, library.catalog).harvest(since)
        try:
            if since is None:
                await self.index.replace(code, harvest_items(self._oai_upserts(code, run),
                                                             report, progress))
            else:
                await self._apply_changes(code, run, report, progress)
        except ConnectorError as exc:
            report.failed = str(exc)
            return
        if run.next_since is not None:
            await self.redis.hset(state_key, "since", run.next_since.isoformat())

    async def _oai_upserts(self, code: str, run: HarvestRun
                           ) -> AsyncIterator[BibRecord | RecordError]:
        ids = self.keys.index_oai_ids(code)
        async for item in run.items_async():
            if isinstance(item, Upsert):
                await self.redis.hset(ids, item.identifier, item.record.record_id)
                yield item.record
            elif isinstance(item, RecordError):
                yield item

    async def _apply_changes(self, code: str, run: HarvestRun, report: HarvestReport,
                             progress: Callable[[int], None] | None) -> None:
        ids = self.keys.index_oai_ids(code)
        async for item in run.items_async():
            if progress:
                progress(1)
            if isinstance(item, RecordError):
                report.add_error(item)
            elif isinstance(item, Deletion):
                record_id = await self.redis.hget(ids, item.identifier)
                if record_id is not None and await self.index.delete(code, text(record_id)):
                    report.deleted += 1
                await self.redis.hdel(ids, item.identifier)
            else:
                ready = indexable(item.record)
                if ready is None:
                    report.add_error(RecordError(0, item.identifier, NO_MATCH_KEY,
                                                 "no ISBN, ISSN or usable title"))
                    continue
                await self.index.upsert(code, ready)
                await self.redis.hset(ids, item.identifier, item.record.record_id)
                report.indexed += 1
