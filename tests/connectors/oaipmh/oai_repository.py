"""A real OAI-PMH 2.0 repository over HTTP on 127.0.0.1, for the harvester tests.

The repository is the ``oaipmh`` package's ``Server``: its ``XMLTreeServer`` writes the
protocol and its ``Resumption`` wrapper pages lists with resumptionTokens. We give it
a record store (``RecordStore``, the package's ``IOAI`` interface) over 30 invented
MARCXML records and a metadata writer for ``marc21``, and serve it with the stdlib's
``wsgiref`` in a background thread. A small batch size makes five pages of the 30
records; datestamps are days apart so ``from`` filters; four records are deleted.

Switches on the running server make it misbehave on purpose: ``faults`` fail a page
(HTTP 500, an HTML error page, a body cut in half), ``tamper`` rewrites the XML it
sends (entity declarations, bytes that are not UTF-8), ``delay`` slows every answer.
Every exchange is logged, so tests can check what was asked and that every response
the repository itself wrote is well-formed OAI-PMH.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from socketserver import ThreadingMixIn
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, unquote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from xml.sax.saxutils import escape

from lxml import etree
from oaipmh import common, error
from oaipmh.server import Server
from stdnum import ean, issn

from broker.domain.consortium import HoldingsMapping
from broker.domain.holdings import ItemStatus

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
MARC_NS = "http://www.loc.gov/MARC21/slim"
MARC_SCHEMA = "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd"
REPOSITORY = "oai:tst.example.org"
DAY = "YYYY-MM-DD"
SECOND = "YYYY-MM-DDThh:mm:ssZ"

BATCH_SIZE = 7
RECORD_COUNT = 30
DELETED = frozenset({5, 12, 20, 27})
WITHOUT_TITLE = 9  # no 245: a RecordError "missing-245"
BAD_ISBN = 17  # a second 020 with a wrong check digit: an upsert and a "bad-isbn"
SERIAL = 14  # a journal with an ISSN, the only record in set "serials"
SLOW_SECONDS = 1.0
FIRST_STAMP = datetime(2024, 1, 1, 9, 0, 0, tzinfo=UTC)

# The test library's 852 layout: $b branch, $h call number, $p barcode, $y status
# code, $d due date.
MAPPING = HoldingsMapping(
    tag="852",
    branch="b",
    call_number="h",
    barcode="p",
    status="y",
    due_date="d",
    status_map=MappingProxyType(
        {"a": ItemStatus.AVAILABLE, "o": ItemStatus.ON_LOAN, "r": ItemStatus.READING_ROOM}
    ),
)

TITLES = (
    "Keeper of lights",
    "Salt roads of the Baltic",
    "A grammar of tidal speech",
    "Winter ferries",
    "The cartographer's daughter",
    "Moss and granite",
    "Letters from a lighthouse",
    "The quiet harbour",
    "Untitled draft",
    "Herring years",
    "Stone bridges of the north",
    "The lost almanac",
    "A field guide to fog",
    "Journal of coastal lexicography",
    "The amber merchant",
    "Rivers that run north",
    "Notes on rope",
    "The glass archipelago",
    "Seven islands, seven winters",
    "The lamplighter's ledger",
    "Beacons",
    "Small boats, long voyages",
    "The reed cutter",
    "An atlas of wind",
    "Drift ice",
    "The ferryman's almanac",
    "Tern colonies",
    "Saltmarsh songs",
    "The last pilot",
    "Charts and soundings",
)


def stamp(number: int) -> datetime:
    """The datestamp of record ``number``: five days and 13 minutes after the last."""
    return FIRST_STAMP + timedelta(days=5 * (number - 1), minutes=13 * (number - 1))


def identifier(number: int) -> str:
    return f"{REPOSITORY}:rec-{number:02d}"


def isbn13(number: int) -> str:
    body = f"97891700{number:04d}"
    return body + ean.calc_check_digit(body)


def marc_record(number: int) -> bytes:
    """Record ``number`` as MARCXML, valid against MARC21slim.xsd."""
    title = TITLES[number - 1]
    serial = number == SERIAL
    leader = f"00000n{'as' if serial else 'am'} a2200000 i 4500"
    fields = [
        f'<controlfield tag="001">TST-OAI-{number:02d}</controlfield>',
        f'<controlfield tag="008">240101s{2000 + number}    sw            000 0 eng d'
        "</controlfield>",
    ]
    if serial:
        body = f"0317{number:03d}"
        fields.append(
            _datafield("022", [("a", f"{body[:4]}-{body[4:]}{issn.calc_check_digit(body)}")])
        )
    else:
        fields.append(_datafield("020", [("a", isbn13(number))]))
    if number == BAD_ISBN:
        fields.append(_datafield("020", [("a", "978-91-7000-999-9")]))
    fields.append(_datafield("100", [("a", f"Author{number:02d}, Ada.")], ind1="1"))
    if number != WITHOUT_TITLE:
        fields.append(_datafield("245", [("a", f"{title} /")], ind1="1", ind2="0"))
    fields.append(_datafield("264", [("c", f"{2000 + number}.")], ind2="1"))
    status = ("a", "o", "r")[number % 3]
    holding = [("b", "TST-CEN"), ("h", f"820 TST {number}"), ("p", f"B{number:04d}"), ("y", status)]
    if status == "o":
        holding.append(("d", "2031-05-14"))
    fields.append(_datafield("852", holding))
    return (
        f'<record xmlns="{MARC_NS}"><leader>{leader}</leader>{"".join(fields)}</record>'
    ).encode()


def _datafield(
    tag: str, subfields: Iterable[tuple[str, str]], ind1: str = " ", ind2: str = " "
) -> str:
    inner = "".join(
        f'<subfield code="{code}">{escape(value)}</subfield>' for code, value in subfields
    )
    return f'<datafield tag="{tag}" ind1="{ind1}" ind2="{ind2}">{inner}</datafield>'


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record of the test repository; ``marc`` is None for a deleted record."""

    identifier: str
    datestamp: datetime
    marc: bytes | None
    sets: tuple[str, ...] = ()

    @property
    def deleted(self) -> bool:
        return self.marc is None


def build_records() -> list[StoredRecord]:
    return [
        StoredRecord(
            identifier(n),
            stamp(n),
            None if n in DELETED else marc_record(n),
            ("serials",) if n == SERIAL else ("books",),
        )
        for n in range(1, RECORD_COUNT + 1)
    ]


class RecordStore:
    """The ``oaipmh.interfaces.IOAI`` of the test repository, over ``StoredRecord``s.

    The package hands ``from_`` and ``until`` over as naive UTC datetimes.
    """

    def __init__(self, records: list[StoredRecord], granularity: str, base_url: str) -> None:
        self.records = sorted(records, key=lambda r: r.datestamp)
        self.granularity = granularity
        self.base_url = base_url

    def identify(self) -> common.Identify:
        return common.Identify(
            repositoryName="TST test catalog",
            baseURL=self.base_url,
            protocolVersion="2.0",
            adminEmails=["oai@tst.example.org"],
            earliestDatestamp=self._naive(self.records[0].datestamp),
            deletedRecord="persistent",
            granularity=self.granularity,
            compression=["identity"],
            toolkit_description=False,
        )

    def listMetadataFormats(self, identifier: str | None = None) -> list[tuple[str, str, str]]:
        if identifier is not None:
            self._find(identifier)
        return [("marc21", MARC_SCHEMA, MARC_NS)]

    def listSets(self) -> list[tuple[str, str, None]]:
        return [("books", "Books", None), ("serials", "Serials", None)]

    def listIdentifiers(
        self,
        metadataPrefix: str,
        set: str | None = None,
        from_: datetime | None = None,
        until: datetime | None = None,
    ) -> list[common.Header]:
        return [
            header
            for header, _metadata, _about in self.listRecords(metadataPrefix, set, from_, until)
        ]

    def listRecords(
        self,
        metadataPrefix: str,
        set: str | None = None,
        from_: datetime | None = None,
        until: datetime | None = None,
    ) -> list[tuple[common.Header, common.Metadata | None, None]]:
        self._check_prefix(metadataPrefix)
        if set is not None and set not in ("books", "serials"):
            raise error.BadArgumentError(f"no set {set!r}")
        chosen = [
            r
            for r in self.records
            if (from_ is None or self._naive(r.datestamp) >= from_)
            and (until is None or self._naive(r.datestamp) <= until)
            and (set is None or set in r.sets)
        ]
        return [self._entry(r) for r in chosen]

    def getRecord(
        self, metadataPrefix: str, identifier: str
    ) -> tuple[common.Header, common.Metadata | None, None]:
        self._check_prefix(metadataPrefix)
        return self._entry(self._find(identifier))

    def _entry(self, record: StoredRecord) -> tuple[common.Header, common.Metadata | None, None]:
        header = common.Header(
            None,
            record.identifier,
            self._naive(record.datestamp),
            list(record.sets),
            record.deleted,
        )
        if record.marc is None:
            return header, None, None
        return header, common.Metadata(etree.fromstring(record.marc), {}), None

    def _find(self, wanted: str) -> StoredRecord:
        for record in self.records:
            if record.identifier == wanted:
                return record
        raise error.IdDoesNotExistError(f"no record {wanted!r}")

    def _check_prefix(self, prefix: str) -> None:
        if prefix != "marc21":
            raise error.CannotDisseminateFormatError(
                f"this repository does not disseminate {prefix!r}"
            )

    def _naive(self, moment: datetime) -> datetime:
        utc = moment.astimezone(UTC).replace(tzinfo=None)
        # A day-granular repository has day-granular datestamps (§3.3.1).
        return utc.replace(hour=0, minute=0, second=0) if self.granularity == DAY else utc


def marc21_writer(element: etree._Element, metadata: common.Metadata) -> None:
    """The ``marc21`` metadata writer: the MARCXML record as the one child of
    ``<metadata>`` (OAI-PMH 2.0 §2.5)."""
    element.append(deepcopy(metadata.element()))


class Fault(StrEnum):
    HTTP_500 = "http-500"
    HTML = "html"
    TRUNCATED = "truncated"
    SLOW = "slow"  # answers, but only after SLOW_SECONDS


@dataclass(slots=True)
class Faults:
    """Fail ListRecords pages from ``from_page`` on; ``times`` failures, or every one."""

    kind: Fault | None = None
    from_page: int = 2
    times: int | None = None
    served: int = 0

    def take(self, page: int | None) -> Fault | None:
        if self.kind is None or page is None or page < self.from_page:
            return None
        if self.times is not None and self.served >= self.times:
            return None
        self.served += 1
        return self.kind


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request the repository answered: its arguments and what it sent back."""

    params: dict[str, str]
    status: int
    body: bytes
    page: int | None
    # True when a switch altered the answer: such bodies are not the repository's own.
    altered: bool


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Only socket errors get here (wsgiref answers the app's own errors with a
        # 500): a harvester that timed out has closed its end, as the test wants.
        pass


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class OaiTestServer:
    """The running repository: ``url`` to harvest, switches, and the ``log``."""

    url: str
    store: RecordStore
    server: Server
    batch_size: int
    faults: Faults = field(default_factory=Faults)
    tamper: Callable[[bytes], bytes] | None = None
    delay: float = 0.0
    log: list[Exchange] = field(default_factory=list)

    def list_requests(self) -> list[Exchange]:
        return [e for e in self.log if e.params.get("verb") == "ListRecords"]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        params = {key: values[0] for key, values in query.items()}
        page = self._page(params)
        if self.delay:
            time.sleep(self.delay)
        fault = self.faults.take(page)
        if fault is Fault.SLOW:
            time.sleep(SLOW_SECONDS)
        status, content_type, altered = 200, "text/xml; charset=utf-8", fault is not None
        if fault is Fault.HTTP_500:
            status, content_type, body = 500, "text/plain", b"Internal Server Error"
        elif fault is Fault.HTML:
            content_type, body = "text/html", b"<html><body><h1>Proxy error</h1></body></html>"
        else:
            body = self.server.handleRequest(params)
            if fault is Fault.TRUNCATED:
                body = body[: len(body) // 2]
            elif self.tamper is not None and params.get("verb") == "ListRecords":
                tampered = self.tamper(body)
                altered = tampered != body
                body = tampered
        self.log.append(Exchange(params, status, body, page, altered))
        reason = "OK" if status == 200 else "Internal Server Error"
        start_response(
            f"{status} {reason}",
            [("Content-Type", content_type), ("Content-Length", str(len(body)))],
        )
        return [body]

    def _page(self, params: dict[str, str]) -> int | None:
        """The 1-based page of a ListRecords request: its token's cursor says which."""
        if params.get("verb") != "ListRecords":
            return None
        token = params.get("resumptionToken")
        if token is None:
            return 1
        cursor = parse_qs(unquote(token)).get("cursor", ["0"])[0]
        return int(cursor) // self.batch_size + 1 if cursor.isdigit() else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
