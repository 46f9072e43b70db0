"""sickle's OAI-PMH client with one hardened HTTP choke point.

sickle does the protocol's paging (its iterator follows resumptionTokens, OAI-PMH 2.0
§3.5), but its own ``Sickle.harvest`` is not fit for a union index, so ``OaiClient``
replaces it:

- sickle parses every response with ``XMLParser(recover=True)``. Entities are not
  resolved there (``resolve_entities=False``, and lxml's defaults keep the network
  and the DTD off), but ``recover`` turns a page cut off in transit, or an HTML error
  page sent with status 200, into a tree that looks like a normal last page: the
  harvest would end early "successfully", and a full re-harvest would then replace a
  library's holdings with a fraction of them. Here a response must be well-formed
  and rooted in ``OAI-PMH`` (§3.2), or it is a ``BadResponse``.
- sickle's parser has no size limit and re-parses the document on every access to
  ``OAIResponse.xml``; here the body is read up to ``max_bytes`` and parsed once.
- a network failure is a ``CatalogUnavailable`` (retried first: a request with a
  resumptionToken is idempotent, §3.5.1), and a §3.6 error element raises the class
  ``errors.ERROR_CLASSES`` names, before sickle's name-based lookup could see it.
- bytes that are not UTF-8 are replaced (``connectors.marc.records.Utf8Guard``) so
  that one bad record spoils that record, not its whole page: otherwise a harvest
  would stop at the same page on every resume, forever.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import requests
from lxml import etree
from sickle import Sickle
from sickle.app import DEFAULT_CLASS_MAP
from urllib3.exceptions import ConnectTimeoutError

from connectors.errors import BadResponse, CatalogUnavailable
from connectors.marc.records import Utf8Guard
from connectors.oaipmh.datestamps import parse_datestamp
from connectors.oaipmh.errors import error_for

OAI_NS: Final = "http://www.openarchives.org/OAI/2.0/"
OAI: Final = f"{{{OAI_NS}}}"

# However long a repository asks us to wait (HTTP 503/429 Retry-After, which §3.1.2.2
# allows for flow control), a harvest job does not sleep longer than this per retry.
MAX_RETRY_AFTER: Final = 60.0


def _keep_element(element: etree._Element) -> etree._Element:
    # The harvester reads header and metadata itself; sickle's Record model would
    # build a dict of the metadata and fail on a record without it, inside sickle's
    # iterator, where the error would end the harvest instead of naming the record.
    return element


_CLASS_MAP: Final = {**DEFAULT_CLASS_MAP, "ListRecords": _keep_element}


@dataclass(frozen=True, slots=True)
class OaiPage:
    """One OAI-PMH response, parsed once (§3.2 "XML Response Format").

    ``xml`` is the ``OAI-PMH`` root element (sickle's iterator reads it under this
    name); ``content`` is the body as received, for the audit log; ``replaced`` counts
    bytes that were not UTF-8; ``declares_entities`` says the document's DOCTYPE
    declares entities, whose references were left unexpanded.
    """

    params: Mapping[str, str]
    content: bytes = field(repr=False)
    xml: etree._Element = field(repr=False)
    response_date: datetime | None
    replaced: int = 0
    declares_entities: bool = False


def hardened_parser() -> etree.XMLParser:
    """The parser for everything a repository sends: entities not expanded, no DTD
    loaded, no network, lxml's size limits on, no error recovery.

    A new one per document: lxml parsers must not be used by two threads at once.
    """
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=False,
        remove_blank_text=True,
    )


def parse_page(params: Mapping[str, str], content: bytes, *, peer: str | None) -> OaiPage:
    """Parse one response body; raises ``BadResponse`` unless it is a well-formed
    ``OAI-PMH`` document (§3.2). §3.6 errors in it are left to ``raise_for_errors``."""
    defused, declares_entities = defuse_doctype(content)
    guard = Utf8Guard(io.BytesIO(defused))
    try:
        tree = etree.parse(guard, hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise BadResponse(f"response is not well-formed XML: {exc}", peer=peer) from exc
    root = tree.getroot()
    if root.tag != f"{OAI}OAI-PMH":
        raise BadResponse(f"response is not OAI-PMH 2.0: root element {root.tag!r}", peer=peer)
    return OaiPage(
        params=dict(params),
        content=content,
        xml=root,
        response_date=_response_date(root),
        replaced=guard.replaced,
        declares_entities=declares_entities,
    )


# An XML Name (ASCII only: a name we cannot read leaves its reference undeclared,
# and the parser refuses the page).
_NAME = rb"[A-Za-z_:][A-Za-z0-9_.:\-]*"
# The prolog up to a DOCTYPE's internal subset: XML declaration, comments and
# processing instructions, then "<!DOCTYPE name" and an optional external id.
_DOCTYPE_START = re.compile(
    rb"\A(?:\xef\xbb\xbf)?(?:\s|<\?.*?\?>|<!--.*?-->)*"
    rb"<!DOCTYPE\s+(?P<name>" + _NAME + rb")[^\[>]*\[",
    re.DOTALL,
)
_GENERAL_ENTITY = re.compile(rb"<!ENTITY\s+(?P<name>" + _NAME + rb")\s")


def defuse_doctype(content: bytes) -> tuple[bytes, bool]:
    """``content`` with the entities its DOCTYPE declares emptied, and whether it
    declared any.

    OAI-PMH responses have no DOCTYPE (§3.2 defines them by XML Schema), so one that
    declares entities is hostile or broken. The parser never expands entities, but
    libxml2 still checks a referenced entity's replacement text, and a "billion
    laughs" chain fails the whole page there: a page that would fail on every resume.
    Re-declaring each general entity as empty keeps the references in the tree,
    unexpanded, where the harvester refuses just the records that use them. External
    ids and parameter entities are dropped with the rest of the internal subset.
    """
    start = _DOCTYPE_START.match(content)
    if start is None:
        return content, False
    end = _subset_end(content, start.end())
    if end is None:
        return content, False  # not a DOCTYPE we can read: the parser will refuse it
    subset = content[start.end() : end]
    if b"<!ENTITY" not in subset:
        return content, False
    names = dict.fromkeys(m["name"] for m in _GENERAL_ENTITY.finditer(subset))
    declarations = b"".join(b"<!ENTITY " + name + b' "">' for name in names)
    doctype_at = content.rindex(b"<!DOCTYPE", 0, start.start("name"))
    close = content.index(b">", end) + 1
    doctype = b"<!DOCTYPE " + start["name"] + b" [" + declarations + b"]>"
    return content[:doctype_at] + doctype + content[close:], True


def _subset_end(content: bytes, position: int) -> int | None:
    """Where the internal subset that starts at ``position`` ends (its "]"), skipping
    quoted literals and comments, which may contain "]"; None if it never does."""
    length = len(content)
    while position < length:
        byte = content[position : position + 1]
        if byte in (b'"', b"'"):
            close = content.find(byte, position + 1)
            if close < 0:
                return None
            position = close + 1
        elif content.startswith(b"<!--", position):
            close = content.find(b"-->", position + 4)
            if close < 0:
                return None
            position = close + 3
        elif byte == b"]":
            after = content[position + 1 :].lstrip()
            return position if after.startswith(b">") else None
        else:
            position += 1
    return None


def raise_for_errors(page: OaiPage, *, peer: str | None) -> None:
    """Raise the mapped ``OaiPmhError`` if the page reports a §3.6 error condition.

    §3.6 allows several errors in one response; the first names the class, the
    message keeps all of them.
    """
    errors = page.xml.findall(f"{OAI}error")
    if not errors:
        return
    first = errors[0]
    message = "; ".join(
        (e.text or "").strip() if e is first else f"{e.get('code', '?')}: {(e.text or '').strip()}"
        for e in errors
    )
    raise error_for(first.get("code", ""), message, peer=peer)


def _response_date(root: etree._Element) -> datetime | None:
    text = root.findtext(f"{OAI}responseDate")
    if not text:
        return None
    try:
        return parse_datestamp(text)
    except ValueError:
        return None


class _Transient(Exception):
    """A failure worth one more try of the same request."""

    def __init__(self, error: CatalogUnavailable, wait: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait


class OaiClient(Sickle):
    """A sickle client whose ``harvest`` (sickle's single point of HTTP) is hardened.

    ``timeout`` bounds connecting and every wait for data; ``page_deadline`` bounds
    the whole of one response, so that a repository trickling bytes cannot hold a
    worker forever. Once connected, ``retries`` more attempts are made after a read
    timeout, a broken connection or an HTTP 5xx/429, ``retry_wait`` seconds apart
    (longer if the repository sends Retry-After, up to ``MAX_RETRY_AFTER``): the same
    request again is safe (§3.5.1, resumptionTokens are idempotent) and saves a harvest
    that is half-way through. A repository that cannot be connected to is not retried.
    """

    def __init__(
        self,
        base_url: str,
        *,
        peer: str | None = None,
        timeout: float = 30.0,
        page_deadline: float = 300.0,
        max_bytes: int = 64 * 1024 * 1024,
        retries: int = 2,
        retry_wait: float = 2.0,
    ) -> None:
        super().__init__(base_url, class_mapping=_CLASS_MAP)
        self.peer = peer
        self.timeout = timeout
        self.page_deadline = page_deadline
        self.max_bytes = max_bytes
        self.retries = retries
        self.retry_wait = retry_wait
        # The responseDate of the latest response, errors included.
        self.last_response_date: datetime | None = None
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "illbroker-oaipmh (sickle)"

    def close(self) -> None:
        self.session.close()

    def harvest(self, **kwargs: str) -> OaiPage:
        """Send one OAI-PMH request (§3.1.1, HTTP GET) and return its parsed page."""
        attempt = 0
        while True:
            try:
                return self._request_page(kwargs)
            except _Transient as transient:
                if attempt >= self.retries:
                    raise transient.error from transient.__cause__
                attempt += 1
                wait = transient.wait if transient.wait is not None else self.retry_wait * attempt
                time.sleep(wait)

    def identify(self) -> OaiPage:
        """The Identify response (§4.2)."""
        return self.harvest(verb="Identify")

    def _request_page(self, params: dict[str, str]) -> OaiPage:
        try:
            response = self.session.get(
                self.endpoint, params=params, timeout=self.timeout, stream=True
            )
        except requests.ConnectionError as exc:
            if _never_connected(exc):
                # Down or refused: not retried here, so that a dead catalog fails
                # fast; the harvest job retries later with its own back-off.
                raise self._unavailable(f"cannot connect to {self.endpoint}: {exc}") from exc
            raise _Transient(self._unavailable(f"connection to {self.endpoint} failed")) from exc
        except requests.Timeout as exc:
            raise _Transient(self._unavailable(f"no answer within {self.timeout:g} s")) from exc
        except requests.RequestException as exc:
            raise self._unavailable(f"cannot send the request: {exc}") from exc
        with response:
            status = response.status_code
            if status == 429 or status >= 500:
                raise _Transient(
                    self._unavailable(f"HTTP {status} {response.reason or ''}".rstrip()),
                    wait=_retry_after(response.headers),
                )
            content = self._read(response)
        try:
            page = parse_page(params, content, peer=self.peer)
        except BadResponse:
            if status >= 400:
                # Not an OAI-PMH document either: the HTTP status says more.
                raise self._unavailable(f"HTTP {status} {response.reason or ''}".rstrip()) from None
            raise
        # Kept before errors are raised: an empty harvest (noRecordsMatch) still
        # tells the next one where to start.
        self.last_response_date = page.response_date or self.last_response_date
        raise_for_errors(page, peer=self.peer)
        if status >= 400:
            raise self._unavailable(f"HTTP {status} with an OAI-PMH body but no error")
        return page

    def _read(self, response: requests.Response) -> bytes:
        started = time.monotonic()
        chunks: list[bytes] = []
        size = 0
        try:
            # iter_content decodes gzip/deflate, so the limit is on what we parse,
            # which is what a compression bomb would inflate.
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > self.max_bytes:
                    raise BadResponse(
                        f"response larger than {self.max_bytes} bytes", peer=self.peer
                    )
                if time.monotonic() - started > self.page_deadline:
                    raise _Transient(
                        self._unavailable(f"response not complete within {self.page_deadline:g} s")
                    )
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise _Transient(self._unavailable(f"connection broken while reading: {exc}")) from exc
        return b"".join(chunks)

    def _unavailable(self, message: str) -> CatalogUnavailable:
        return CatalogUnavailable(message, peer=self.peer)


def _never_connected(exc: requests.ConnectionError) -> bool:
    # requests wraps urllib3's MaxRetryError, whose reason says whether the TCP
    # connection was ever made (NewConnectionError is also a ConnectTimeoutError).
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, ConnectTimeoutError)


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    """Retry-After as seconds (RFC 9110 §10.2.3: seconds or an HTTP-date), capped."""
    value = headers.get("Retry-After")
    if not value:
        return None
    value = str(value).strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
