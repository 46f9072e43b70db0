"""Harvesting member catalogs into the union holdings index.

A MARC file export replaces the library's records in one visible step. Bad records
are counted by their problem code and skipped; a harvest that breaks off leaves
what the index already held untouched.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from redis.asyncio import Redis

from broker.domain.consortium import HoldingsMapping, Library
from broker.domain.holdings import BibRecord
from broker.store.holdings import Indexable, UnionIndex
from broker.store.keys import Keys
from connectors.marc.matchkey import fold, match_keys
from connectors.marc.records import RecordError
from connectors.marcfile import MarcFileCatalog

NO_MATCH_KEY = "no-match-key"
# Long enough for a large export; a crashed harvest frees the library after it.
LOCK_SECONDS = 3600
SAMPLES = 5


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
        text = f"{self.library}: {self.indexed} records indexed in {self.seconds:.1f} s"
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


def harvest_items(items: Iterable[BibRecord | RecordError], report: HarvestReport,
                progress: Callable[[int], None] | None) -> Iterator[Indexable]:
    for item in items:
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
        mapping = catalog.holdings or HoldingsMapping()
        if catalog.connector != "marcfile":
            report.skipped = f"{catalog.connector} catalog: searched live, not harvested"
            return
        source = MarcFileCatalog(catalog.settings["path"], mapping, library.code)
        try:
            await self.index.replace(library.code,
                                     harvest_items(source.records(), report, progress))
        except OSError as exc:
            report.indexed = 0
            report.failed = f"cannot read {source.path}: {exc.strerror or exc}"
