"""Harvesting member catalogs into the union holdings index.

A MARC file export replaces the library's records in one visible step. Bad records
are counted by their problem code and skipped; a harvest that breaks off leaves
what the index already held untouched.

The XML of a large export is parsed in a process of its own (``ParseProcess``),
which sends copies of the records here to be read, keyed and written to Redis: two
stages, each on a core of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import io
import multiprocessing
import os
import pickle
import signal
import struct
import threading
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.context import ForkProcess, SpawnProcess
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

from redis.asyncio import Redis

from broker.domain.consortium import HoldingsMapping, Library
from broker.domain.holdings import BibRecord
from broker.store.codec import text
from broker.store.holdings import Indexable, UnionIndex
from broker.store.keys import Keys
from connectors.errors import ConnectorError
from connectors.marc.matchkey import fold, match_keys
from connectors.marc.records import CopiedRecord, RecordError, iter_copies, records_from_copies
from connectors.marcfile import MarcFileCatalog
from connectors.oaipmh import Deletion, HarvestRun, OaiHarvester, Upsert

NO_MATCH_KEY = "no-match-key"
# Long enough for a large export; a crashed harvest frees the library after it.
LOCK_SECONDS = 3600
SAMPLES = 5
# An export at least this large (some 10,000 records) is parsed in a process of its own:
# below it, starting the process (up to 0.3 s when it has to be spawned) costs about as
# much as it saves.
PARSE_PROCESS_BYTES = 16_000_000
# Items per message from the parse process: large enough that a message costs little,
# small enough that memory stays flat.
PARSE_BATCH = 100
# Room in the pipe from the parse process, and in this process's buffer behind it.
PIPE_BYTES = 1 << 20
T = TypeVar("T")
StartMethod = Literal["spawn", "fork"]


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
    return tuple(dict.fromkeys([w for w in fold(text).split() if len(w) > 1]))


def indexable(record: BibRecord) -> Indexable | None:
    keys = match_keys(record)
    return Indexable(record, keys, search_words(record)) if keys else None


async def each(items: Iterable[T]) -> AsyncIterator[T]:
    """A file export read in the harvesting process itself, as an async stream.

    Reading never waits, so every hundred items it lets the event loop run: the Redis
    write in flight goes on meanwhile instead of when the reading ends.
    """
    for count, item in enumerate(items, 1):
        yield item
        if count % 100 == 0:
            await asyncio.sleep(0)


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


class ParseProcessFailed(ConnectorError):
    """The process parsing a library's export stopped before its end: it crashed, was
    killed, or met an error that is not about one record."""


# ---------------------------------------------------------------- the parse process

# A frame: the length of a pickled message, then the message: ("items", [packed
# CopiedRecord | RecordError, ...]), ("done",), ("unreadable", OSError) or ("crashed",
# traceback).
_FRAME = struct.Struct("!Q")


def _frame(message: tuple[Any, ...]) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _FRAME.pack(len(body)) + body


def _messages(path: str, holdings_tag: str) -> Iterator[tuple[Any, ...]]:
    # Whatever was read before a failure is sent first, as iter_copies yields it.
    batch: list[str | RecordError] = []
    try:
        for item in iter_copies(path, holdings_tag):
            batch.append(item.pack() if isinstance(item, CopiedRecord) else item)
            if len(batch) == PARSE_BATCH:
                yield ("items", batch)
                batch = []
        yield ("items", batch)
        yield ("done",)
    except OSError as exc:
        yield ("items", batch)
        yield ("unreadable", exc)
    except Exception:  # a bug: reported with its traceback, not lost with the process
        yield ("items", batch)
        yield ("crashed", traceback.format_exc())


def _parse_export(path: str, holdings_tag: str, out: Connection) -> None:
    """The parse process: ``iter_copies`` over the export, sent in batches to ``out``.

    A full pipe blocks the process, so it never runs more than a few batches ahead of
    the harvest.
    """
    # A forked process inherits the harvest's signal handling: an asyncio loop's
    # wakeup fd there would hear this process's signals, and its handlers would
    # outlive SIGTERM. The harvest stops this process (SIGTERM) and handles Ctrl-C.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # What this process inherited or imported lives as long as it does: kept out of
    # the garbage collector's full collections, which would otherwise walk all of it.
    gc.freeze()
    with open(out.fileno(), "wb", closefd=False) as stream:
        try:
            for message in _messages(path, holdings_tag):
                stream.write(_frame(message))
                stream.flush()
        except BrokenPipeError:
            pass  # the harvest stopped reading: there is no one left to tell


_PROCESS_CLASSES: dict[StartMethod, type[BaseProcess]] = {
    "spawn": SpawnProcess, "fork": ForkProcess}


def _start_method() -> StartMethod:
    """fork when this process runs no other thread: the parse process then starts at
    once, with everything already imported. With other threads about, a fork could
    copy a lock one of them holds, so then spawn (a fresh interpreter, ~0.3 s)."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


def _widen(pipe: Connection) -> None:
    """Give the pipe room for several batches (Linux; 64 KiB otherwise), so that the
    parse process seldom waits for the harvest to read."""
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


class ParseProcess:
    """A MARCXML export read as ``iter_records`` reads it, as an async stream of the
    same items in the same order, the work shared with a process of its own: there
    the XML is parsed and the records copied out of it (``iter_copies``), here the
    copies are read as records (``records_from_copies``).

    Use as an async context manager: leaving it stops the process, whether the stream
    was read to its end, reading it failed or the caller was cancelled. A file that
    cannot be read raises ``OSError`` from the stream, as ``iter_records`` would; a
    process that crashes or dies raises ``ParseProcessFailed``.
    """

    def __init__(self, path: str | Path, mapping: HoldingsMapping, library: str,
                 *, start_method: StartMethod | None = None) -> None:
        self.path = Path(path)
        self.mapping = mapping
        self.library = library
        self.start_method = start_method
        self._process: BaseProcess | None = None
        self._reader: Connection | None = None
        self._pipe: io.FileIO | None = None
        self._transport: asyncio.ReadTransport | None = None
        self._finished = False

    async def __aenter__(self) -> AsyncIterator[BibRecord | RecordError]:
        self._reader, writer = multiprocessing.Pipe(duplex=False)
        try:
            _widen(self._reader)
            self._process = _PROCESS_CLASSES[self.start_method or _start_method()](
                target=_parse_export, args=(str(self.path), self.mapping.tag, writer),
                name=f"harvest-parse-{self.library}", daemon=True)
            try:
                self._process.start()
            finally:
                writer.close()
            stream = asyncio.StreamReader(limit=PIPE_BYTES)
            # The descriptor stays the reader's: it is closed once, with the reader.
            self._pipe = io.FileIO(self._reader.fileno(), "rb", closefd=False)
            self._transport, _ = await asyncio.get_running_loop().connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(stream), self._pipe)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self._items(stream)

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        process, self._process = self._process, None
        try:
            if process is not None and process.pid is not None:
                await _stop(process, finished=self._finished)
        finally:
            if self._transport is not None:
                self._transport.close()
            if self._pipe is not None:
                self._pipe.close()
            if self._reader is not None:
                self._reader.close()

    async def _items(self, stream: asyncio.StreamReader
                     ) -> AsyncIterator[BibRecord | RecordError]:
        while True:
            try:
                (size,) = _FRAME.unpack(await stream.readexactly(_FRAME.size))
                kind, *rest = pickle.loads(await stream.readexactly(size))
            except asyncio.IncompleteReadError:
                raise ParseProcessFailed(
                    f"the parse process of {self.path} ended before the end of the file "
                    f"({await self._exit_status()})", peer=self.library) from None
            if kind == "items":
                for item in records_from_copies(map(_unpacked, rest[0]), self.mapping,
                                                self.library):
                    yield item
                # Reading records never waits, so without this the Redis write in
                # flight would only make progress when this stream runs dry.
                await asyncio.sleep(0)
            elif kind == "done":
                self._finished = True
                return
            elif kind == "unreadable":
                raise rest[0]
            else:
                raise ParseProcessFailed(f"the parse process of {self.path} crashed:\n"
                                         f"{rest[0]}", peer=self.library)

    async def _exit_status(self) -> str:
        process = self._process
        if process is None:
            return "stopped"
        await _exited(process, 1.0)
        code = process.exitcode
        if code is None:
            return "it stopped answering"
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


def _unpacked(item: str | RecordError) -> CopiedRecord | RecordError:
    return CopiedRecord.unpack(item) if isinstance(item, str) else item


async def _exited(process: BaseProcess, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``process`` to end, without blocking the loop."""
    deadline = time.monotonic() + seconds
    while process.is_alive():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.005)
    return True


async def _stop(process: BaseProcess, *, finished: bool) -> None:
    """End the parse process: let it exit by itself after its last message, else
    SIGTERM, and SIGKILL if that is not enough."""
    try:
        if not (finished and await _exited(process, 1.0)):
            process.terminate()
            if not await _exited(process, 5.0):
                process.kill()
    finally:
        if process.is_alive():  # cancelled while waiting: no waiting any more
            process.kill()
        process.join()
        process.close()


class Harvester:
    def __init__(self, redis: Redis, keys: Keys,
                 parse_process_bytes: int | None = PARSE_PROCESS_BYTES) -> None:
        """``parse_process_bytes``: exports at least this large are parsed in a process
        of their own (``ParseProcess``); None parses every export in this process."""
        self.redis = redis
        self.keys = keys
        self.index = UnionIndex(redis, keys)
        self.parse_process_bytes = parse_process_bytes

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
            if self._parse_elsewhere(source.path):
                async with ParseProcess(source.path, mapping, library.code) as records:
                    await self.index.replace(library.code,
                                             harvest_items(records, report, progress))
            else:
                await self.index.replace(library.code, harvest_items(each(source.records()),
                                                                     report, progress))
        except OSError as exc:
            report.indexed = 0
            report.failed = f"cannot read {source.path}: {exc.strerror or exc}"
        except ParseProcessFailed as exc:
            report.indexed = 0
            report.failed = str(exc)

    def _parse_elsewhere(self, path: Path) -> bool:
        if self.parse_process_bytes is None:
            return False
        try:
            return os.stat(path).st_size >= self.parse_process_bytes
        except OSError:
            return False  # reading it says why, the same way as for any file

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
