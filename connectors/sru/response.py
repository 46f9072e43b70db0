"""searchRetrieve responses of SRU 1.1/1.2 and 2.0 into pages of ``BibRecord``s. Pure.

Implements the response side of searchRetrieve:
- SRU 1.2 (LoC, namespace http://www.loc.gov/zing/srw/): ``version``,
  ``numberOfRecords``, ``records/record`` with ``recordSchema``, ``recordPacking``
  (xml|string), ``recordData`` and ``recordPosition``, ``nextRecordPosition``,
  ``diagnostics`` (namespace http://www.loc.gov/zing/srw/diagnostic/);
- SRU 2.0 (OASIS searchRetrieve Part 3, namespace
  http://docs.oasis-open.org/ns/search-ws/sruResponse): the same elements, where
  ``recordXMLEscaping`` (xml|string) takes the place of 1.2's ``recordPacking``
  and diagnostics are in http://docs.oasis-open.org/ns/search-ws/diagnostic.

Records are expected in the MARCXML schema (``recordSchema`` "marcxml" or
"info:srw/schema/1/marcxml-v1.1"). A per-record ("surrogate") diagnostic, or a
record that is not usable MARCXML, becomes a ``RecordError`` of the page, not a
failure of the search.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from broker.domain.consortium import HoldingsMapping
from broker.domain.holdings import BibRecord
from connectors.errors import BadResponse
from connectors.marc.records import (
    MARC_NS,
    BadRecord,
    Problem,
    RecordError,
    parse_record_with_warnings,
)
from connectors.sru.diagnostics import Diagnostic, error_for, whole_number

SRU12_NS = "http://www.loc.gov/zing/srw/"
SRU20_NS = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
DIAGNOSTIC_SCHEMAS = frozenset(
    {
        "info:srw/schema/1/diagnostics-v1.1",
        "http://www.loc.gov/zing/srw/diagnostic/",
        "http://docs.oasis-open.org/ns/search-ws/diagnostic",
    }
)


@dataclass(frozen=True, slots=True)
class SruPage:
    """One searchRetrieve response: its records and what is known of the rest.

    ``next_position`` is where the next page starts, or None at the end of the
    result set. ``diagnostics`` are the non-fatal ones sent alongside records;
    ``raw`` is the response as received, for the audit log.
    """

    version: str
    total: int
    records: tuple[BibRecord, ...]
    next_position: int | None
    errors: tuple[RecordError, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    raw: bytes = field(default=b"", repr=False)


def hardened_parser() -> etree.XMLParser:
    """The parser for anything a peer sends: no entities, no network, no DTD, and
    libxml2's default limits on depth and text size (no ``huge_tree``)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse_xml(body: bytes, *, peer: str | None = None) -> etree._Element:
    """``body`` as an element tree, refusing malformed XML and entity declarations."""
    try:
        root = etree.fromstring(body, hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise BadResponse(f"not well-formed XML: {exc}", peer=peer) from exc
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise BadResponse("the response's DOCTYPE declares entities; refused", peer=peer)
    return root


def parse_search_response(
    body: bytes,
    mapping: HoldingsMapping,
    library: str,
    *,
    start: int = 1,
    peer: str | None = None,
) -> SruPage:
    """The page in a searchRetrieve response, or the ``SruError`` of its fatal
    diagnostic.

    A response with diagnostics and no records is fatal (the first diagnostic is
    raised); diagnostics beside records are kept as warnings. ``start`` is the
    startRecord asked for, used when the server leaves out recordPosition.
    """
    root = parse_xml(body, peer=peer)
    qname = etree.QName(root)
    if qname.namespace not in (SRU12_NS, SRU20_NS) or qname.localname != "searchRetrieveResponse":
        raise BadResponse(f"not an SRU searchRetrieveResponse: {root.tag}", peer=peer)
    ns = qname.namespace
    version = _text(root, ns, "version") or ("2.0" if ns == SRU20_NS else "1.1")

    diagnostics = tuple(_diagnostics(root, ns))
    record_elements = root.findall(f"{{{ns}}}records/{{{ns}}}record")
    if diagnostics and not record_elements:
        raise error_for(diagnostics[0], peer=peer)
    total_text = _text(root, ns, "numberOfRecords")
    total = whole_number(total_text)
    if total is None:
        raise BadResponse(
            f"numberOfRecords missing or not a number: {(total_text or '')[:40]!r}", peer=peer)

    records: list[BibRecord] = []
    errors: list[RecordError] = []
    position = start - 1
    for offset, element in enumerate(record_elements):
        given = whole_number(_text(element, ns, "recordPosition"))
        position = given if given is not None else start + offset
        outcome = _record(element, ns, mapping, library, position)
        if isinstance(outcome, RecordError):
            errors.append(outcome)
        else:
            record, warnings = outcome
            records.append(record)
            errors.extend(warnings)

    next_given = whole_number(_text(root, ns, "nextRecordPosition"))
    if next_given is not None:
        next_position: int | None = next_given
    elif record_elements and position < total:
        # SRU makes nextRecordPosition optional and some servers (Zebra among
        # them) never send it: the next page then starts after the last record.
        next_position = position + 1
    else:
        next_position = None
    return SruPage(
        version=version,
        total=total,
        records=tuple(records),
        next_position=next_position,
        errors=tuple(errors),
        diagnostics=diagnostics,
        raw=body,
    )


def _text(element: etree._Element, ns: str, name: str) -> str | None:
    child = element.find(f"{{{ns}}}{name}")
    return child.text.strip() if child is not None and child.text is not None else None


def _diagnostics(root: etree._Element, ns: str) -> list[Diagnostic]:
    container = root.find(f"{{{ns}}}diagnostics")
    if container is None:
        return []
    return [_diagnostic(d) for d in container if etree.QName(d).localname == "diagnostic"]


def _diagnostic(element: etree._Element) -> Diagnostic:
    # The diagnostic namespace differs between versions (and some servers get it
    # wrong), so its children are found by local name.
    values: dict[str, str] = {}
    for child in element:
        if isinstance(child.tag, str) and child.text:
            values.setdefault(etree.QName(child).localname, child.text.strip())
    return Diagnostic(
        uri=values.get("uri", ""), message=values.get("message"), details=values.get("details")
    )


def _record(
    element: etree._Element, ns: str, mapping: HoldingsMapping, library: str, position: int
) -> tuple[BibRecord, tuple[RecordError, ...]] | RecordError:
    schema = _text(element, ns, "recordSchema") or ""
    # SRU 2.0 renamed 1.2's recordPacking (xml|string) to recordXMLEscaping.
    escaping = _text(element, ns, "recordXMLEscaping") or _text(element, ns, "recordPacking")
    data = element.find(f"{{{ns}}}recordData")
    if data is None:
        return RecordError(position, None, Problem.NOT_MARCXML, "record without recordData")

    if escaping == "string":
        try:
            payload = parse_xml((data.text or "").strip().encode())
        except BadResponse as exc:
            return RecordError(position, None, Problem.BROKEN_XML, exc.message)
    else:
        children = [child for child in data if isinstance(child.tag, str)]
        if not children:
            return RecordError(position, None, Problem.NOT_MARCXML, "empty recordData")
        payload = children[0]

    payload_name = etree.QName(payload)
    if schema in DIAGNOSTIC_SCHEMAS or payload_name.localname == "diagnostic":
        diagnostic = _diagnostic(payload)
        text = f"{diagnostic.message or 'diagnostic'} ({diagnostic.uri})"
        if diagnostic.details:
            text = f"{text}: {diagnostic.details}"
        return RecordError(position, None, Problem.SURROGATE_DIAGNOSTIC, text)
    if payload_name.localname == "collection" and payload_name.namespace == MARC_NS:
        inner = payload.find(f"{{{MARC_NS}}}record")
        if inner is not None:
            payload = inner
    try:
        return parse_record_with_warnings(payload, mapping, library, position)
    except BadRecord as exc:
        return RecordError(position, exc.record_id, exc.code, exc.message)
