"""Harvest one library's catalog over OAI-PMH into upserts, deletions and named errors.

Implements the harvester side of OAI-PMH 2.0: selective harvesting by date (§2.7.1;
``from`` at the granularity Identify declares, §3.3.1 and §4.2) and by set (§2.7.2),
flow control by resumptionToken (§3.5, paged by sickle's iterator), ListRecords
(§4.5) and deleted records (§2.5.1).
sickle is synchronous; ``harvest_async`` runs it in a worker thread, in batches, so
the event loop never waits on the network.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncGenerator, Generator, Iterator
from contextlib import aclosing
from dataclasses import replace
from datetime import datetime
from typing import Any, Self

from lxml import etree

from broker.domain.consortium import ConnectorConfig, HoldingsMapping
from connectors.errors import ConnectorError
from connectors.marc.records import BadRecord, Problem, RecordError, parse_record_with_warnings
from connectors.oaipmh.client import OAI, OaiClient, OaiPage
from connectors.oaipmh.datestamps import (
    Granularity,
    format_datestamp,
    parse_datestamp,
    parse_granularity,
)
from connectors.oaipmh.errors import HarvestInterrupted, NoRecordsMatch
from connectors.oaipmh.items import Deletion, HarvestItem, HarvestProblem, Upsert

MARC_NS = "http://www.loc.gov/MARC21/slim"
_MARC_RECORD = (f"{{{MARC_NS}}}record", "record")
_MARC_COLLECTION = (f"{{{MARC_NS}}}collection", "collection")


class OaiHarvester:
    """Harvests one library's repository at ``base_url`` in ``metadata_prefix``
    (MARCXML, whatever the repository calls it), optionally one set (§2.7.2).

    Holdings in the records are read with the library's ``mapping``. Network
    settings (``timeout``, ``retries``...) are passed on to ``OaiClient``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        mapping: HoldingsMapping,
        library: str,
        metadata_prefix: str = "marc21",
        set_spec: str | None = None,
        timeout: float = 30.0,
        **client_options: Any,
    ) -> None:
        self.base_url = base_url
        self.mapping = mapping
        self.library = library
        self.metadata_prefix = metadata_prefix
        self.set_spec = set_spec
        self.timeout = timeout
        self.client_options = client_options

    @classmethod
    def from_config(cls, library: str, config: ConnectorConfig, **client_options: Any) -> Self:
        """The harvester a library's ``[libraries.catalog]`` describes (connector
        ``oaipmh``: ``url``, ``metadata_prefix``, ``set``, ``timeout``)."""
        settings = config.settings
        return cls(
            str(settings["url"]),
            mapping=config.holdings or HoldingsMapping(),
            library=library,
            metadata_prefix=str(settings.get("metadata_prefix", "marc21")),
            set_spec=settings.get("set"),
            timeout=float(settings.get("timeout", 30.0)),
            **client_options,
        )

    def client(self) -> OaiClient:
        """A new client (and HTTP session) for one harvest run."""
        return OaiClient(
            self.base_url, peer=self.library, timeout=self.timeout, **self.client_options
        )

    def harvest(self, since: datetime | None) -> HarvestRun:
        """Every record changed since ``since`` (all of them for None), in the order
        the repository lists them. Nothing is fetched until the first item is asked
        for, so this may be called on the event loop; iterating may not.

        Raises ``ConnectorError`` (``CatalogUnavailable``, ``BadResponse``, an
        ``OaiPmhError`` such as ``CannotDisseminateFormat``) if the list cannot be
        begun, and ``HarvestInterrupted`` if it breaks off after it has begun.
        """
        return HarvestRun(self, since)

    async def harvest_async(
        self, since: datetime | None, *, batch: int = 100
    ) -> AsyncGenerator[HarvestItem, None]:
        """``harvest`` off the event loop: sickle runs in a worker thread, ``batch``
        items per hop. For the run's counts and ``next_since``, iterate
        ``harvest(since).items_async()`` instead and keep the run."""
        async with aclosing(self.harvest(since).items_async(batch=batch)) as items:
            async for item in items:
                yield item


class HarvestRun(Iterator[HarvestItem]):
    """One harvest, item by item, with its counts.

    ``counts`` has "upserts", "deletions" and one entry per ``RecordError`` code;
    ``yielded`` is the number of items handed out; ``last_datestamp`` the newest
    datestamp among them; ``next_since`` is where the next incremental harvest starts.
    """

    def __init__(self, harvester: OaiHarvester, since: datetime | None) -> None:
        if since is not None and since.utcoffset() is None:
            raise ValueError("since must be an aware datetime (OAI-PMH datestamps are UTC)")
        self.harvester = harvester
        self.since = since
        self.counts: Counter[str] = Counter()
        self.yielded = 0
        self.last_datestamp: datetime | None = None
        self.response_date: datetime | None = None
        self.complete = False
        self._position = 0
        self._items = self._generate()
        # One thread at a time may drive the run: items_async hands batches to worker
        # threads, and closing must wait for a batch still in flight.
        self._lock = threading.Lock()

    @property
    def next_since(self) -> datetime | None:
        """The ``from`` for the next incremental harvest, once this one is complete.

        The responseDate of the first ListRecords response, as the OAI-PMH
        implementation guidelines for harvesters advise: a record changed while this
        harvest was paging has a later datestamp and comes next time, which the newest
        datestamp seen would not guarantee. Falls back to ``last_datestamp`` for a
        repository without a readable responseDate.
        """
        if not self.complete:
            return None
        return self.response_date or self.last_datestamp or self.since

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> HarvestItem:
        with self._lock:
            item = next(self._items)
        self.yielded += 1
        datestamp = item.datestamp if isinstance(item, Upsert | Deletion) else None
        if datestamp is not None and (
            self.last_datestamp is None or datestamp > self.last_datestamp
        ):
            self.last_datestamp = datestamp
        return item

    def close(self) -> None:
        """Stop the harvest and release its HTTP session (waits for a batch in flight)."""
        with self._lock:
            self._items.close()

    async def items_async(self, *, batch: int = 100) -> AsyncGenerator[HarvestItem, None]:
        """The items of this run, fetched ``batch`` at a time in a worker thread.

        Items already fetched when the harvest fails are handed out before the error
        is raised, so a ``HarvestInterrupted`` means exactly what it says about them.
        """
        if batch < 1:
            raise ValueError("batch must be at least 1")
        try:
            while True:
                items, error, done = await asyncio.to_thread(self._take, batch)
                for item in items:
                    yield item
                if error is not None:
                    raise error
                if done:
                    return
        finally:
            # In a thread too: closing waits for a batch a cancelled caller left running.
            await asyncio.to_thread(self.close)

    def _take(self, batch: int) -> tuple[list[HarvestItem], ConnectorError | None, bool]:
        items: list[HarvestItem] = []
        try:
            while len(items) < batch:
                items.append(next(self))
        except StopIteration:
            return items, None, True
        except ConnectorError as exc:
            return items, exc, True
        return items, None, False

    # ------------------------------------------------------------ the harvest itself

    def _generate(self) -> Generator[HarvestItem, None, None]:
        harvester = self.harvester
        client = harvester.client()
        try:
            params = {"metadataPrefix": harvester.metadata_prefix}
            if harvester.set_spec:
                params["set"] = harvester.set_spec
            if self.since is not None:
                params["from"] = format_datestamp(self.since, _granularity(client))
            try:
                records = client.ListRecords(**params)
            except NoRecordsMatch:
                # §3.6: noRecordsMatch is the empty list, not a failure.
                self.response_date = client.last_response_date
                self.complete = True
                return
            self.response_date = client.last_response_date
            while True:
                try:
                    element = next(records)
                except StopIteration:
                    break
                except ConnectorError as exc:
                    raise HarvestInterrupted(
                        exc,
                        since=self.since,
                        last_datestamp=self.last_datestamp,
                        yielded=self.yielded,
                        peer=harvester.library,
                    ) from exc
                self._position += 1
                # sickle fetches the next page only once this one is used up, so the
                # page it holds now is the page of this record.
                yield from self._record_items(element, records.oai_response)
            self.complete = True
        finally:
            client.close()

    def _record_items(self, element: etree._Element, page: OaiPage) -> Iterator[HarvestItem]:
        """The item(s) of one ``<record>`` (§2.5): an upsert (and a RecordError per bad
        ISBN or ISSN in it), a deletion, or one RecordError."""
        position = self._position
        header = element.find(f"{OAI}header")
        if header is None:
            yield self._error(position, None, HarvestProblem.BAD_HEADER, "record without header")
            return
        identifier = (header.findtext(f"{OAI}identifier") or "").strip()
        if not identifier:
            yield self._error(position, None, HarvestProblem.BAD_HEADER, "header lacks identifier")
            return
        try:
            datestamp = parse_datestamp(header.findtext(f"{OAI}datestamp") or "")
        except ValueError as exc:
            yield self._error(position, identifier, HarvestProblem.BAD_HEADER, str(exc))
            return
        if header.get("status") == "deleted":
            self.counts["deletions"] += 1
            yield Deletion(identifier, datestamp)
            return
        if page.declares_entities and any(True for _ in element.iter(etree.Entity)):
            # The reference was left unexpanded, so the text around it is incomplete;
            # a record with holes in it is not indexed.
            yield self._error(
                position,
                identifier,
                Problem.ENTITIES,
                "record uses entities the response declares; they are refused, not expanded",
            )
            return
        if page.replaced and (bad := _replacements(element)):
            yield self._error(
                position,
                identifier,
                Problem.NOT_UTF8,
                f"{bad} byte sequence(s) that are not UTF-8 or not allowed in XML",
            )
            return
        marc = _marc_record(element)
        if marc is None:
            yield self._error(
                position,
                identifier,
                HarvestProblem.NO_METADATA,
                f"no MARCXML record in the {self.harvester.metadata_prefix!r} metadata",
            )
            return
        try:
            record, warnings = parse_record_with_warnings(
                marc, self.harvester.mapping, self.harvester.library, position
            )
        except BadRecord as exc:
            detail = f" (001 {exc.record_id})" if exc.record_id else ""
            yield self._error(position, identifier, exc.code, f"{exc.message}{detail}")
            return
        self.counts["upserts"] += 1
        yield Upsert(record, datestamp, identifier, etree.tostring(element))
        for warning in warnings:
            self.counts[str(warning.code)] += 1
            yield replace(warning, record_id=identifier)

    def _error(self, position: int, identifier: str | None, code: str, message: str) -> RecordError:
        self.counts[str(code)] += 1
        return RecordError(position, identifier, str(code), message)


def _granularity(client: OaiClient) -> Granularity:
    """The repository's datestamp granularity, from Identify (§4.2)."""
    page = client.identify()
    return parse_granularity(page.xml.findtext(f"{OAI}Identify/{OAI}granularity"))


def _marc_record(element: etree._Element) -> etree._Element | None:
    """The MARCXML ``record`` in a record's ``metadata`` (§2.5: exactly one child);
    some repositories wrap it in a ``collection``."""
    metadata = element.find(f"{OAI}metadata")
    if metadata is None or len(metadata) == 0:
        return None
    child = metadata[0]
    if child.tag in _MARC_COLLECTION and len(child):
        child = child[0]
    return child if child.tag in _MARC_RECORD else None


def _replacements(element: etree._Element) -> int:
    # Only looked for on a page where the UTF-8 guard replaced something, so a
    # genuine U+FFFD in a record is not mistaken for damage on clean pages.
    count = 0
    for node in element.iter():
        for text in (node.text, node.tail, *node.attrib.values()):
            if text:
                count += text.count("\ufffd")
    return count
