"""MARCXML records into ``BibRecord``s, one element at a time or streamed from a file.

Implements the reading side of MARC 21 in XML (MARCXML, http://www.loc.gov/standards/
marcxml/): ``record`` with ``leader``, ``controlfield`` and ``datafield``/``subfield``,
in the MARC21/slim namespace or in none (some exports leave it out). Which data we take
follows the MARC 21 Format for Bibliographic Data: 245 title, 1XX/700 main and added
entries, 250 edition, 260/264 $c and 008/07-10 dates, 020/022/024/035 identifiers and
leader/06-07 for the type of material. Holdings come from the library's own 852 or 952
layout, described by its ``HoldingsMapping``.

The reader is forgiving in the way pymarc's is: a bad record becomes a ``RecordError``
with a stable code and the iteration goes on; only a document that cannot be read any
further (malformed XML) ends it, with one error.

Reading a record has two halves: copying what we read out of the XML tree
(``copy_record``, the part that needs lxml) and reading the copy as MARC
(``record_from_copy``). A harvest runs them in different processes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from itertools import chain
from pathlib import Path
from typing import BinaryIO, NamedTuple, Protocol

from lxml import etree
from stdnum import isbn as stdnum_isbn
from stdnum import issn as stdnum_issn
from stdnum.exceptions import ValidationError

from broker.domain.consortium import HoldingsMapping
from broker.domain.holdings import BibRecord, Holding, ItemStatus, MaterialType
from connectors.errors import ConnectorError

MARC_NS = "http://www.loc.gov/MARC21/slim"
RECORD_TAGS = (f"{{{MARC_NS}}}record", "record")

# U+FFFD as UTF-8: what the UTF-8 guard puts where a byte could not be read.
_REPLACEMENT = "\ufffd"
_REPLACEMENT_BYTES = _REPLACEMENT.encode()


class Problem(StrEnum):
    """The closed vocabulary of ``RecordError.code``; harvest counts are keyed by it."""

    BROKEN_XML = "broken-xml"
    NOT_UTF8 = "not-utf8"
    ENTITIES = "entities-refused"
    NOT_MARCXML = "not-marcxml"
    MISSING_001 = "missing-001"
    MISSING_245 = "missing-245"
    BAD_ISBN = "bad-isbn"
    BAD_ISSN = "bad-issn"
    # A per-record diagnostic in an SRU response (SRU 1.2 §"Surrogate diagnostics").
    SURROGATE_DIAGNOSTIC = "surrogate-diagnostic"


@dataclass(frozen=True, slots=True)
class RecordError:
    """One bad record (or a broken document) met while reading; the reading went on.

    ``position`` is the 1-based place of the record in its file or response; ``code``
    is a ``Problem`` value.
    """

    position: int
    record_id: str | None
    code: str
    message: str


class BadRecord(ConnectorError):
    """``parse_record`` cannot make a ``BibRecord`` of this element."""

    def __init__(
        self, code: Problem, message: str, *, record_id: str | None = None, peer: str | None = None
    ) -> None:
        super().__init__(message, peer=peer)
        self.code = code
        self.record_id = record_id


# ---------------------------------------------------------------- one record

# A datafield as read: its (code, value) subfields in order.
_Field = list[tuple[str, str]]


def parse_record(element: etree._Element, mapping: HoldingsMapping, library: str) -> BibRecord:
    """The ``BibRecord`` of one MARCXML ``record`` element; raises ``BadRecord``.

    Invalid ISBNs and ISSNs are dropped silently here; ``parse_record_with_warnings``
    also reports them.
    """
    return parse_record_with_warnings(element, mapping, library)[0]


def parse_record_with_warnings(
    element: etree._Element, mapping: HoldingsMapping, library: str, position: int = 0
) -> tuple[BibRecord, tuple[RecordError, ...]]:
    """The record plus what was wrong but not fatal in it (bad ISBNs and ISSNs)."""
    return record_from_copy(copy_record(element, mapping.tag, position, library), mapping, library)


class CopiedRecord(NamedTuple):
    """A MARCXML record copied out of its tree (``copy_record``): its leader, its 001
    and 008, and the datafields ``record_from_copy`` reads, as plain strings.

    Copying is the part of reading a record that needs lxml; the rest works on the
    copy, which packs into one string (``pack``), so the two can run in different
    processes. ``position`` is the record's place in its file or response.
    """

    position: int
    leader: str
    controls: dict[str, str]
    fields: dict[str, list[_Field]]

    def pack(self) -> str:
        """The copy as one string (``unpack`` reverses it), to send to another process:
        one object to pickle and for the garbage collector to track, not dozens.

        An absent 001 or 008 comes back empty, which ``record_from_copy`` reads alike.
        """
        parts = [_PARTS.join((str(self.position), self.leader, self.controls.get("001", ""),
                              self.controls.get("008", "")))]
        for tag, fields in self.fields.items():
            for subfields in fields:
                parts.append(_PARTS.join([tag, *chain.from_iterable(subfields)]))
        return _FIELDS.join(parts)

    @classmethod
    def unpack(cls, packed: str) -> CopiedRecord:
        head, *packed_fields = packed.split(_FIELDS)
        position, leader, f001, f008 = head.split(_PARTS)
        fields: dict[str, list[_Field]] = {}
        for packed_field in packed_fields:
            parts = iter(packed_field.split(_PARTS))
            tag = next(parts)
            subfields = list(zip(parts, parts, strict=False))  # (code, value), ...
            if (same := fields.get(tag)) is None:
                fields[tag] = [subfields]
            else:
                same.append(subfields)
        return cls(int(position), leader, {"001": f001, "008": f008}, fields)


# The separators of a packed copy: control characters that XML (1.0 or 1.1) allows
# nowhere in a document, raw or as character references, so libxml2 never puts one
# in a text or an attribute value.
_PARTS, _FIELDS = "\x1f", "\x1e"


def copy_record(
    element: etree._Element, holdings_tag: str, position: int = 0, library: str | None = None
) -> CopiedRecord:
    """What ``record_from_copy`` needs of a MARCXML ``record`` element, holdings in
    ``holdings_tag`` included; raises ``BadRecord`` for another element."""
    tag = element.tag
    if not isinstance(tag, str):
        raise BadRecord(Problem.NOT_MARCXML, "not an element", peer=library)
    ns = tag[: tag.index("}") + 1] if tag.startswith("{") else ""
    if tag[len(ns) :] != "record":
        raise BadRecord(Problem.NOT_MARCXML, f"expected a MARCXML record, got {tag}", peer=library)
    leader_tag, control_tag, data_tag, subfield_tag = _tags(ns)

    leader = ""
    controls: dict[str, str] = {}
    fields: dict[str, list[_Field]] = {}
    # One pass over the record, copying out only the fields we read as plain
    # tuples: every lxml element touched costs a proxy object and every attribute
    # read a lookup, and a harvest reads millions of records with dozens of fields
    # each. (Attribute names as bytes spare lxml encoding them on every call.)
    for child in element:
        child_tag = child.tag
        if child_tag == data_tag:
            field_tag = child.get(b"tag", "")
            if field_tag in _WANTED or field_tag == holdings_tag:
                subfields = [
                    (sub.get(b"code", ""), sub.text or "")
                    for sub in child
                    if sub.tag == subfield_tag
                ]
                # Only 264 has an indicator we read: the second tells a publication
                # statement from the other dates (see ``_year``).
                if field_tag == "264" != holdings_tag and child.get(b"ind2") != "1":
                    field_tag = _OTHER_264
                if (same := fields.get(field_tag)) is None:
                    fields[field_tag] = [subfields]
                else:
                    same.append(subfields)
        elif child_tag == control_tag:
            field_tag = child.get(b"tag", "")
            if field_tag in ("001", "008") and field_tag not in controls:
                controls[field_tag] = child.text or ""
        elif child_tag == leader_tag:
            leader = child.text or ""
    return CopiedRecord(position, leader, controls, fields)


def record_from_copy(
    copied: CopiedRecord, mapping: HoldingsMapping, library: str
) -> tuple[BibRecord, tuple[RecordError, ...]]:
    """``parse_record_with_warnings`` of the record ``copied`` was copied from; raises
    ``BadRecord``. ``mapping.tag`` must be the holdings tag it was copied with."""
    position, leader, controls, fields = copied
    record_id = controls.get("001", "").strip()
    if not record_id:
        raise BadRecord(Problem.MISSING_001, "record without a 001 control number", peer=library)
    title = _title(fields.get("245"))
    if not title:
        raise BadRecord(
            Problem.MISSING_245, "record without a 245 $a title", record_id=record_id, peer=library
        )

    warnings: list[RecordError] = []
    record = BibRecord(
        record_id=record_id,
        title=title,
        material=_material(leader),
        author=_author(fields),
        year=_year(fields, controls.get("008", "")),
        edition=_first_clean(fields.get("250"), "a", full_stop=False),
        isbns=_isbns(fields.get("020"), record_id, position, warnings),
        issns=_issns(fields.get("022"), record_id, position, warnings),
        other_ids=_other_ids(fields),
        holdings=_holdings(fields.get(mapping.tag), mapping, library),
    )
    return record, tuple(warnings)


_WANTED = frozenset(
    ("020", "022", "024", "035", "100", "110", "111", "245", "250", "260", "264", "700")
)
# Where 264s other than the publication statement (second indicator 1) are kept.
_OTHER_264 = "264 other"


def _qualified_tags(ns: str) -> tuple[str, str, str, str]:
    """The leader, controlfield, datafield and subfield tags in namespace ``ns``."""
    return f"{ns}leader", f"{ns}controlfield", f"{ns}datafield", f"{ns}subfield"


_MARC_TAGS = {ns: _qualified_tags(ns) for ns in (f"{{{MARC_NS}}}", "")}


def _tags(ns: str) -> tuple[str, str, str, str]:
    return _MARC_TAGS.get(ns) or _qualified_tags(ns)


def _first(field: _Field, code: str) -> str | None:
    for sub_code, value in field:
        if sub_code == code:
            return value
    return None


def _every(field: _Field, code: str) -> list[str]:
    return [value for sub_code, value in field if sub_code == code]


# An initial ("J. R. R.") keeps its full stop; any other final stop is ISBD punctuation.
_INITIAL_AT_END = re.compile(r"(?:^|[\s.])\w\.$")


def strip_isbd(text: str, *, full_stop: bool = True) -> str:
    """``text`` without the ISBD punctuation that ends a MARC subfield (" /", " :", ";",
    " =", ",", a final full stop), which belongs to the display, not to the data.

    ``full_stop=False`` keeps a final stop, for fields where it nearly always ends an
    abbreviation ("2nd ed.").
    """
    text = text.strip().rstrip(" /:;=,").rstrip()
    if (
        full_stop
        and text.endswith(".")
        and not text.endswith("...")
        and not _INITIAL_AT_END.search(text)
    ):
        text = text[:-1].rstrip()
    return text


def _first_clean(fields: list[_Field] | None, code: str, *, full_stop: bool = True) -> str | None:
    for field in fields or ():
        value = _first(field, code)
        if value and (clean := strip_isbd(value, full_stop=full_stop)):
            return clean
    return None


def _title(fields: list[_Field] | None) -> str:
    if not fields:
        return ""
    field = fields[0]
    main = _first(field, "a") or ""
    rest = _first(field, "b")
    title = strip_isbd(main)
    if title and rest and (remainder := strip_isbd(rest)):
        # The mark before $b says what $b is: "=" a parallel title, ";" a further
        # title by the same author, anything else other title information.
        ending = main.rstrip()[-1:]
        joiner = " = " if ending == "=" else "; " if ending == ";" else ": "
        title = f"{title}{joiner}{remainder}"
    # $n/$p number and name the part: without them every volume of a set would
    # have the same title, and sets without ISBNs would merge into one match key.
    for code, value in field:
        if code in ("n", "p") and title and (part := strip_isbd(value)):
            title = f"{title}. {part}"
    return title


def _author(fields: dict[str, list[_Field]]) -> str | None:
    for tag in ("100", "110", "111", "700"):
        if author := _first_clean(fields.get(tag), "a"):
            return author
    return None


_YEAR = re.compile(r"(?<!\d)(1[0-9]{3}|20[0-9]{2})(?!\d)")


def _year(fields: dict[str, list[_Field]], f008: str) -> int | None:
    # 264 with second indicator 1 is the publication statement (RDA); other 264s are
    # production, distribution, manufacture or copyright dates, weaker evidence.
    for tag in ("264", _OTHER_264, "260"):
        for field in fields.get(tag) or ():
            for sub_code, value in field:
                if sub_code == "c" and (match := _YEAR.search(value)):
                    return int(match.group(1))
    date1 = f008[7:11]
    if date1.isdigit() and _YEAR.fullmatch(date1):
        return int(date1)
    return None


def _material(leader: str) -> MaterialType:
    """Leader/06 (type of record) and /07 (bibliographic level), MARC 21 Bibliographic."""
    if len(leader) < 8:
        return MaterialType.OTHER
    kind, level = leader[6], leader[7]
    if kind in "at":
        return MaterialType.JOURNAL if kind == "a" and level in "sb" else MaterialType.BOOK
    if kind in "gji":
        return MaterialType.AV
    if kind in "cd":
        return MaterialType.SCORE
    if kind in "ef":
        return MaterialType.MAP
    return MaterialType.OTHER


# The number at the start of 020 $a, before a qualifier such as "(pbk.)" or " :".
_ISBN_START = re.compile(r"\s*([0-9][0-9 \-]{8,}[0-9Xx])(?![0-9Xx])")
_ISSN_START = re.compile(r"\s*([0-9]{4}-?[0-9]{3}[0-9Xx])(?![0-9Xx])")


def _isbns(
    fields: list[_Field] | None, record_id: str, position: int, warnings: list[RecordError]
) -> tuple[str, ...]:
    found: list[str] = []
    for field in fields or ():
        # 020 $z is a cancelled or invalid ISBN by definition: not an identifier.
        for value in _every(field, "a"):
            match = _ISBN_START.match(value)
            try:
                # validate() returns the compact form: one pass of stdnum's
                # cleaning per ISBN instead of three (compact, is_valid, to_isbn13).
                number = stdnum_isbn.validate(match.group(1)) if match else ""
            except ValidationError:
                number = ""
            if number:
                isbn13 = number if len(number) == 13 else stdnum_isbn.to_isbn13(number)
                if isbn13 not in found:
                    found.append(isbn13)
            else:
                warnings.append(
                    RecordError(position, record_id, Problem.BAD_ISBN, f"invalid ISBN {value!r}")
                )
    return tuple(found)


def _issns(
    fields: list[_Field] | None, record_id: str, position: int, warnings: list[RecordError]
) -> tuple[str, ...]:
    found: list[str] = []
    for field in fields or ():
        for value in _every(field, "a"):
            match = _ISSN_START.match(value)
            if match and stdnum_issn.is_valid(match.group(1)):
                formatted = stdnum_issn.format(match.group(1))
                if formatted not in found:
                    found.append(formatted)
            else:
                warnings.append(
                    RecordError(position, record_id, Problem.BAD_ISSN, f"invalid ISSN {value!r}")
                )
    return tuple(found)


def _other_ids(fields: dict[str, list[_Field]]) -> tuple[str, ...]:
    found: list[str] = []
    for tag in ("035", "024"):
        for field in fields.get(tag) or ():
            for value in _every(field, "a"):
                value = value.strip()
                if value and value not in found:
                    found.append(value)
    return tuple(found)


def _holdings(
    fields: list[_Field] | None, mapping: HoldingsMapping, library: str
) -> tuple[Holding, ...]:
    if not fields:
        return ()
    codes = (
        mapping.branch,
        mapping.call_number,
        mapping.barcode,
        mapping.status,
        mapping.due_date,
        mapping.lost,
    )
    status_map, default_status = mapping.status_map, mapping.default_status
    holdings: list[Holding] = []
    for subfields in fields:
        # The first occurrence of a subfield counts, as in every ILS export:
        # reversed, the first one is the last written and so the one kept.
        values = dict(reversed(subfields))
        # An unmapped (None), absent or empty subfield all read as None.
        branch, call_number, barcode, code, due_raw, lost = [
            value.strip() or None if c and (value := values.get(c)) else None
            for c in codes
        ]
        if lost and lost != "0":
            status = ItemStatus.LOST
        elif due_raw:
            # A due date means the copy is out, even when the date itself is
            # unreadable: then it is on loan with no known return.
            status = ItemStatus.ON_LOAN
        elif code is not None:
            status = status_map.get(code, default_status)
        else:
            status = default_status
        due_date = _due_date(due_raw) if status is ItemStatus.ON_LOAN else None
        holdings.append(Holding(library, status, branch, call_number, barcode, due_date))
    return tuple(holdings)


def _due_date(value: str | None) -> date | None:
    """ISO 8601 dates as ILS exports write them: 2031-05-14, 20310514, or with a time."""
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10] if "-" in value[:10] else value[:8])
    except ValueError:
        return None


# ---------------------------------------------------------------- a stream of records


def iter_records(
    source: str | Path | BinaryIO, mapping: HoldingsMapping, library: str
) -> Iterator[BibRecord | RecordError]:
    """Every record of a MARCXML file (a ``collection`` or a lone ``record``) in order.

    Streams with ``iterparse`` and frees each record once read, so memory stays flat
    however large the file. A record that cannot be used yields a ``RecordError`` and
    reading goes on; a record with invalid ISBNs or ISSNs yields the record and then
    one ``RecordError`` per bad number. Bytes that are not UTF-8 (or are control
    characters XML forbids) spoil only the record they are in ("not-utf8"). A DOCTYPE
    that declares entities (XXE, "billion laughs") is refused before any record is
    used; malformed XML yields one "broken-xml" error and ends the iteration.
    ``source`` is a path or a binary file object (which is left open).

    This is ``records_from_copies(iter_copies(source, mapping.tag), ...)``: the XML
    half and the MARC half, which may run in different processes.
    """
    return records_from_copies(iter_copies(source, mapping.tag), mapping, library)


def iter_copies(
    source: str | Path | BinaryIO, holdings_tag: str
) -> Iterator[CopiedRecord | RecordError]:
    """The XML half of ``iter_records``: each record copied out of the stream
    (``copy_record``), and the errors of the XML itself (not-utf8, entities, broken
    XML, no records at all)."""
    if isinstance(source, str | Path):
        with open(source, "rb") as stream:
            yield from _iter_stream(stream, holdings_tag)
    else:
        yield from _iter_stream(source, holdings_tag)


def records_from_copies(
    items: Iterable[CopiedRecord | RecordError], mapping: HoldingsMapping, library: str
) -> Iterator[BibRecord | RecordError]:
    """The MARC half of ``iter_records``: each copy read as a record, followed by its
    warnings, or as the ``RecordError`` that makes it unusable; errors pass through."""
    for item in items:
        if isinstance(item, RecordError):
            yield item
            continue
        try:
            record, warnings = record_from_copy(item, mapping, library)
        except BadRecord as exc:
            yield RecordError(item.position, exc.record_id, exc.code, exc.message)
        else:
            yield record
            yield from warnings


def _iter_stream(stream: BinaryReader, holdings_tag: str) -> Iterator[CopiedRecord | RecordError]:
    guard = Utf8Guard(stream)
    context = etree.iterparse(
        guard,
        events=("end",),
        tag=RECORD_TAGS,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )
    position = 0
    doctype_checked = False
    attributed = 0
    try:
        for _event, element in context:
            position += 1
            if not doctype_checked:
                # The DTD is wholly read before the root element starts, so one look
                # at the first record is enough. Entities are not expanded
                # (resolve_entities=False), so refusing here is still in time.
                doctype_checked = True
                if refusal := _entity_refusal(element.getroottree().docinfo):
                    yield RecordError(position, None, Problem.ENTITIES, refusal)
                    return
            if guard.replaced > attributed and (bad := _count_replacements(element)):
                attributed += bad
                yield RecordError(
                    position,
                    _record_id(element),
                    Problem.NOT_UTF8,
                    f"{bad} byte sequence(s) that are not UTF-8 or not allowed in XML",
                )
            else:
                yield copy_record(element, holdings_tag, position)
            _free(element)
    except etree.XMLSyntaxError as exc:
        if guard.declares_entities and not doctype_checked:
            # libxml2 refused the DTD itself (entity amplification) before any
            # record: the document is refused for its entities, not as broken XML.
            yield RecordError(1, None, Problem.ENTITIES, f"{_ENTITIES_REFUSED} ({exc})")
        else:
            yield RecordError(position + 1, None, Problem.BROKEN_XML, str(exc))
        return
    # A document without a single record may still declare entities, or be some
    # other XML altogether: say so, since a harvest that read nothing would
    # otherwise replace the library's holdings with nothing.
    root = context.root
    if not doctype_checked and root is not None:
        refusal = _entity_refusal(root.getroottree().docinfo)
        if refusal:
            yield RecordError(1, None, Problem.ENTITIES, refusal)
        elif etree.QName(root).localname != "collection":
            yield RecordError(1, None, Problem.NOT_MARCXML, f"no MARCXML records in {root.tag}")


_ENTITIES_REFUSED = "the document's DOCTYPE declares entities; they are refused, not expanded"


def _entity_refusal(docinfo: etree.DocInfo) -> str | None:
    dtd = docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        return _ENTITIES_REFUSED
    return None


def _free(element: etree._Element) -> None:
    # Drop the record and every sibling already read: iterparse still builds the
    # whole tree, so without this a 100 MB file would become a 1 GB tree.
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _record_id(element: etree._Element) -> str | None:
    for child in element:
        tag = child.tag
        if isinstance(tag, str) and tag.endswith("controlfield") and child.get("tag") == "001":
            return (child.text or "").strip() or None
    return None


def _count_replacements(element: etree._Element) -> int:
    count = 0
    for node in element.iter():
        if node.text:
            count += node.text.count(_REPLACEMENT)
        if node is not element and node.tail:
            count += node.tail.count(_REPLACEMENT)
        for value in node.attrib.values():
            count += value.count(_REPLACEMENT)
    return count


# ---------------------------------------------------------------- byte-level guard

# XML 1.0 §2.2 Char: C0 controls other than tab, LF and CR are not allowed, not even
# as raw bytes, and libxml2 stops the whole document at one. MARC-8 leftovers (ESC,
# the MARC delimiters 0x1D-0x1F) are exactly such bytes.
_FORBIDDEN_CONTROL_BYTES = bytes((*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)))
_FORBIDDEN_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._\-]+)")


class BinaryReader(Protocol):
    """What the reader needs of a file: ``read`` of bytes, empty at the end."""

    def read(self, size: int = -1, /) -> bytes: ...


class Utf8Guard:
    """A binary reader that passes UTF-8 through and replaces what is not with U+FFFD.

    libxml2 gives up on a whole document at the first invalid byte. Replacing bad
    bytes before the parser sees them confines the damage to one record, which the
    reader then reports as "not-utf8". MARCXML is UTF-8 by definition; a document
    that declares another encoding (or starts with a UTF-16/32 byte order mark) is
    passed through untouched and left to libxml2.

    The guard also notes whether the prolog declares entities, because libxml2 may
    stop at such a DTD (entity amplification) before the reader sees any record.
    """

    def __init__(self, raw: BinaryReader) -> None:
        self._raw = raw
        self._tail = b""
        self._started = False
        self._passthrough = False
        self._in_prolog = True
        self._prolog_carry = b""
        self.replaced = 0
        self.declares_entities = False

    def read(self, size: int = -1) -> bytes:
        size = size if size and size > 0 else 1 << 16
        while True:
            chunk = self._raw.read(size)
            if not self._started:
                self._started = True
                self._passthrough = _declares_other_encoding(chunk)
            if self._passthrough:
                return chunk
            if self._in_prolog:
                self._scan_prolog(chunk)
            data = self._tail + chunk
            if chunk:
                cut = _char_boundary(data)
                data, self._tail = data[:cut], data[cut:]
            else:
                self._tail = b""
            # An empty result means end of file to the parser: when the whole chunk
            # was the start of a split character, read on instead.
            if data or not chunk:
                return self._clean(data)

    def _clean(self, data: bytes) -> bytes:
        if not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("utf-8", "replace")
                self.replaced += text.count(_REPLACEMENT) - data.count(_REPLACEMENT_BYTES)
                data = text.encode("utf-8")
        # translate() with deletions is several times faster than a regex search,
        # and this runs over every byte of every harvest.
        if len(data.translate(None, _FORBIDDEN_CONTROL_BYTES)) != len(data):
            data, count = _FORBIDDEN_CONTROLS.subn(_REPLACEMENT_BYTES, data)
            self.replaced += count
        return data

    def _scan_prolog(self, chunk: bytes) -> None:
        # The prolog ends where the root element starts: the first "<" followed by
        # a name character ("<?xml", "<!DOCTYPE" and "<!--" are not elements).
        text = self._prolog_carry + chunk
        root = _ROOT_START.search(text)
        prolog = text[: root.start()] if root else text
        if b"<!ENTITY" in prolog:
            self.declares_entities = True
        if root or not chunk:
            self._in_prolog = False
        self._prolog_carry = text[-8:]


_ROOT_START = re.compile(rb"<[A-Za-z_:]")


def _declares_other_encoding(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        return True
    match = _DECLARED_ENCODING.match(head.lstrip(b"\xef\xbb\xbf"))
    if match is None:
        return False
    return match.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8")


def _char_boundary(data: bytes) -> int:
    """Where ``data`` can be cut without splitting a UTF-8 sequence (RFC 3629 §3)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) - back if need > back else len(data)
    return len(data)
