"""An SRU client on aiohttp: searchRetrieve over HTTP GET, one page or many.

Implements the HTTP GET binding of searchRetrieve for SRU 1.1/1.2 (LoC) and SRU 2.0
(OASIS searchRetrieve Part 3): parameters ``query``, ``startRecord``,
``maximumRecords``, ``recordSchema`` and, for the record form, 1.2's
``recordPacking=xml`` or 2.0's ``recordXMLEscaping=xml``. All I/O goes through
``SruClient._get``, which enforces the timeout and the response size limit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from broker.domain.consortium import HoldingsMapping
from broker.domain.holdings import BibRecord
from connectors.errors import BadResponse, CatalogUnavailable
from connectors.http import read_limited
from connectors.marc.records import RecordError
from connectors.sru.diagnostics import Diagnostic
from connectors.sru.response import SruPage, parse_search_response

VERSIONS = ("1.1", "1.2", "2.0")
DEFAULT_TIMEOUT = 10.0
# A page of 100 MARCXML records with holdings is well under 5 MB; anything near
# this limit is a server gone wrong, not a catalog.
DEFAULT_MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SruResult:
    """Several pages of one search put together by ``SruClient.search_all``."""

    total: int
    records: tuple[BibRecord, ...]
    errors: tuple[RecordError, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    pages: int = 0


class SruClient:
    """A member catalog's SRU server.

    ``library`` is the library the holdings belong to (and the ``peer`` of every
    error); ``mapping`` says how that library writes holdings in its records.
    """

    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession,
        *,
        library: str,
        mapping: HoldingsMapping | None = None,
        version: str = "1.2",
        timeout: float = DEFAULT_TIMEOUT,
        record_schema: str = "marcxml",
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if version not in VERSIONS:
            raise ValueError(f"SRU version {version!r} is not one of {', '.join(VERSIONS)}")
        self.base_url = base_url
        self.session = session
        self.library = library
        self.mapping = mapping if mapping is not None else HoldingsMapping()
        self.version = version
        self.timeout = timeout
        self.record_schema = record_schema
        self.max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"SruClient({self.base_url!r}, library={self.library!r}, version={self.version!r})"

    async def search(self, cql: str, start: int = 1, maximum: int = 20) -> SruPage:
        """One page of the records matching ``cql`` from position ``start`` (1-based).

        Raises ``CatalogUnavailable`` when the server does not answer within the
        timeout or cannot be reached, ``BadResponse`` when it answers something
        that is not SRU, and an ``SruError`` subclass for a fatal diagnostic.
        """
        if start < 1 or maximum < 0:
            raise ValueError("startRecord is 1-based and maximumRecords not negative")
        params = {
            # SRU 2.0 drops "operation" and "version" (the endpoint implies them),
            # but servers that speak both versions, YAZ's among them, answer in
            # the version asked for and fall back to their default otherwise.
            "operation": "searchRetrieve",
            "version": self.version,
            "query": cql,
            "startRecord": str(start),
            "maximumRecords": str(maximum),
            "recordSchema": self.record_schema,
        }
        if self.version == "2.0":
            params["recordXMLEscaping"] = "xml"
        else:
            params["recordPacking"] = "xml"
        body = await self._get(params)
        return parse_search_response(
            body, self.mapping, self.library, start=start, peer=self.library
        )

    async def search_all(self, cql: str, limit: int = 100, page_size: int = 20) -> SruResult:
        """Up to ``limit`` records matching ``cql``, fetched page by page.

        Each page has its own timeout; a failure on any page raises as ``search``
        does, since a half-read result would look complete.
        """
        records: list[BibRecord] = []
        errors: list[RecordError] = []
        diagnostics: list[Diagnostic] = []
        total = 0
        pages = 0
        start = 1
        while len(records) < limit:
            page = await self.search(cql, start, min(page_size, limit - len(records)))
            pages += 1
            total = page.total
            records.extend(page.records)
            errors.extend(page.errors)
            diagnostics.extend(page.diagnostics)
            # A server that does not move forward would page for ever.
            if page.next_position is None or page.next_position <= start:
                break
            start = page.next_position
        return SruResult(
            total=total,
            records=tuple(records[:limit]),
            errors=tuple(errors),
            diagnostics=tuple(diagnostics),
            pages=pages,
        )

    async def _get(self, params: dict[str, str]) -> bytes:
        """The one HTTP exchange: GET ``base_url`` with ``params``, the body read up
        to ``max_bytes``, the whole within ``timeout``."""
        try:
            async with (
                asyncio.timeout(self.timeout),
                self.session.get(
                    self.base_url,
                    params=params,
                    headers={"Accept": "application/sru+xml, application/xml, text/xml"},
                    allow_redirects=True,
                ) as response,
            ):
                body = await read_limited(response, self.max_bytes, peer=self.library)
                status = response.status
        except TimeoutError as exc:
            raise CatalogUnavailable(
                f"no answer within {self.timeout:g} s", peer=self.library
            ) from exc
        except aiohttp.ClientError as exc:
            raise CatalogUnavailable(
                f"cannot reach {self.base_url}: {exc.__class__.__name__}: {exc}",
                peer=self.library,
            ) from exc
        if status != 200 and not _looks_like_sru(body):
            # SRU 2.0 lets a server send a diagnostic with a 4xx/5xx status, so a
            # body that is an SRU response is parsed whatever the status.
            cls = CatalogUnavailable if status >= 500 or status == 429 else BadResponse
            raise cls(f"HTTP {status} from {self.base_url}", peer=self.library)
        return body


def _looks_like_sru(body: bytes) -> bool:
    head = body[:2048]
    return b"searchRetrieveResponse" in head
