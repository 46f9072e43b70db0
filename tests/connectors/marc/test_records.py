"""MARCXML into BibRecords: extraction, match keys and bad input, table-driven."""

from __future__ import annotations

import io
import os
import random
import re
import sys
import time
import tracemalloc
import unicodedata
from datetime import date
from pathlib import Path
from types import MappingProxyType
from xml.sax.saxutils import escape, quoteattr

import pytest
from lxml import etree

from broker.domain.consortium import HoldingsMapping
from broker.domain.holdings import BibRecord, Holding, ItemStatus, MaterialType
from connectors.marc.matchkey import _FOLD, fold, match_keys
from connectors.marc.records import (
    BadRecord,
    CopiedRecord,
    Problem,
    RecordError,
    Utf8Guard,
    iter_copies,
    iter_records,
    parse_record,
    parse_record_with_warnings,
    records_from_copies,
)
from connectors.marcfile import MarcFileCatalog

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "marc"

# The demo's two holdings layouts (demo/consortium.toml): 852 with a status code
# in $y and a due date in $d, and Koha's 952.
MAPPING_852 = HoldingsMapping(
    tag="852",
    branch="b",
    call_number="h",
    barcode="p",
    status="y",
    due_date="d",
    status_map=MappingProxyType(
        {
            "a": ItemStatus.AVAILABLE,
            "o": ItemStatus.ON_LOAN,
            "r": ItemStatus.READING_ROOM,
            "l": ItemStatus.LOST,
            "n": ItemStatus.NOT_LOANABLE,
        }
    ),
)
MAPPING_952 = HoldingsMapping(
    tag="952",
    branch="b",
    call_number="o",
    barcode="p",
    status="7",
    due_date="q",
    lost="1",
    status_map=MappingProxyType(
        {"0": ItemStatus.AVAILABLE, "1": ItemStatus.NOT_LOANABLE, "2": ItemStatus.READING_ROOM}
    ),
)

Field = tuple[str, list[tuple[str, str]]] | tuple[str, list[tuple[str, str]], str, str]


def marcxml(
    *fields: Field,
    leader: str = "00000nam a2200000 a 4500",
    control: dict[str, str] | None = None,
    namespace: bool = True,
) -> str:
    """A MARCXML record: datafields as (tag, [(code, value)...][, ind1, ind2])."""
    control = {"001": "R1"} if control is None else control
    parts = [f"<leader>{leader}</leader>"]
    parts += [f'<controlfield tag="{t}">{escape(v)}</controlfield>' for t, v in control.items()]
    for field in fields:
        tag, subs = field[0], field[1]
        ind1, ind2 = (field[2], field[3]) if len(field) == 4 else (" ", " ")
        inner = "".join(f"<subfield code={quoteattr(c)}>{escape(v)}</subfield>" for c, v in subs)
        parts.append(f'<datafield tag="{tag}" ind1="{ind1}" ind2="{ind2}">{inner}</datafield>')
    xmlns = ' xmlns="http://www.loc.gov/MARC21/slim"' if namespace else ""
    return f"<record{xmlns}>{''.join(parts)}</record>"


def element(xml: str) -> etree._Element:
    return etree.fromstring(xml.encode())


def collection(*records: str) -> bytes:
    body = "".join(records)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<collection xmlns="http://www.loc.gov/MARC21/slim">{body}</collection>'
    ).encode()


def read(data: bytes, mapping: HoldingsMapping = MAPPING_852) -> list[BibRecord | RecordError]:
    return list(iter_records(io.BytesIO(data), mapping, "TST"))


T245 = ("245", [("a", "Title")])

# ---------------------------------------------------------------- parse_record

EXTRACTION = [
    # (name, record xml, attribute, expected)
    (
        "title $a $b without ISBD punctuation",
        marcxml(("245", [("a", "Ocean currents :"), ("b", "a primer /"), ("c", "Ada Marsh.")])),
        "title",
        "Ocean currents: a primer",
    ),
    (
        "parallel title keeps its equals sign",
        marcxml(("245", [("a", "Sonata ="), ("b", "Sonate /")])),
        "title",
        "Sonata = Sonate",
    ),
    (
        "part number and name follow the title",
        marcxml(("245", [("a", "Lighthouses."), ("n", "Volume 2,"), ("p", "The east /")])),
        "title",
        "Lighthouses. Volume 2. The east",
    ),
    (
        "final full stop of a title is punctuation",
        marcxml(("245", [("a", "Baltic journal of library science.")])),
        "title",
        "Baltic journal of library science",
    ),
    ("id from 001, trimmed", marcxml(T245, control={"001": "  ocm123 "}), "record_id", "ocm123"),
    (
        "author from 100, an initial keeps its stop",
        marcxml(T245, ("100", [("a", "Tolkien, J. R. R.")])),
        "author",
        "Tolkien, J. R. R.",
    ),
    (
        "author 100 trailing comma goes",
        marcxml(T245, ("100", [("a", "Mozart, Wolfgang Amadeus,"), ("d", "1756-1791.")])),
        "author",
        "Mozart, Wolfgang Amadeus",
    ),
    (
        "corporate author from 110",
        marcxml(T245, ("110", [("a", "Jāņa sēta (Firm).")])),
        "author",
        "Jāņa sēta (Firm)",
    ),
    (
        "first 700 when no 1XX",
        marcxml(T245, ("700", [("a", "Jansen, Pieter,")]), ("700", [("a", "Other, A.")])),
        "author",
        "Jansen, Pieter",
    ),
    ("no author", marcxml(T245), "author", None),
    (
        "year from 264 _1 before 264 _4",
        marcxml(T245, ("264", [("c", "©2018")], " ", "4"), ("264", [("c", "[2019]")], " ", "1")),
        "year",
        2019,
    ),
    ("year from 260 $c", marcxml(T245, ("260", [("c", "c1999.")])), "year", 1999),
    (
        "year from 008/07-10",
        marcxml(T245, control={"001": "R1", "008": "950101s1995    lv            000 0 lav d"}),
        "year",
        1995,
    ),
    (
        "no year in 008 'uuuu'",
        marcxml(T245, control={"001": "R1", "008": "950101s19uu    lv            000 0 lav d"}),
        "year",
        None,
    ),
    (
        "edition keeps its abbreviation",
        marcxml(T245, ("250", [("a", "2nd ed.")])),
        "edition",
        "2nd ed.",
    ),
    (
        "ISBN-10 with hyphens and qualifier becomes ISBN-13",
        marcxml(T245, ("020", [("a", "0-306-40615-2 (hbk.)")])),
        "isbns",
        ("9780306406157",),
    ),
    (
        "ISBN-13 with hyphens is compacted",
        marcxml(T245, ("020", [("a", "978-9984-01-234-6 :"), ("c", "EUR 12")])),
        "isbns",
        ("9789984012346",),
    ),
    (
        "ISBN-10 and ISBN-13 of one book are one ISBN; 020 $z is ignored",
        marcxml(
            T245,
            ("020", [("a", "9789616241014")]),
            ("020", [("a", "961624101x")]),
            ("020", [("z", "0306406152")]),
        ),
        "isbns",
        ("9789616241014",),
    ),
    (
        "979 ISBN-13 is kept as is",
        marcxml(T245, ("020", [("a", "979-10-554-2001-1")])),
        "isbns",
        ("9791055420011",),
    ),
    (
        "ISSN without hyphen is formatted",
        marcxml(T245, ("022", [("a", "1392012x")])),
        "issns",
        ("1392-012X",),
    ),
    (
        "other ids from 035 and 024",
        marcxml(
            T245,
            ("024", [("a", "9790006525155"), ("2", "ismn")], "2", " "),
            ("035", [("a", "(OCoLC)123456")]),
        ),
        "other_ids",
        ("(OCoLC)123456", "9790006525155"),
    ),
]

MATERIALS = [
    ("00000nam a2200000 a 4500", MaterialType.BOOK),
    ("00000ntm a2200000 a 4500", MaterialType.BOOK),
    ("00000naa a2200000 a 4500", MaterialType.BOOK),
    ("00000cas a2200000 a 4500", MaterialType.JOURNAL),
    ("00000ngm a2200000 a 4500", MaterialType.AV),
    ("00000njm a2200000 a 4500", MaterialType.AV),
    ("00000nim a2200000 a 4500", MaterialType.AV),
    ("00000ncm a2200000 a 4500", MaterialType.SCORE),
    ("00000ndm a2200000 a 4500", MaterialType.SCORE),
    ("00000nem a2200000 a 4500", MaterialType.MAP),
    ("00000nfm a2200000 a 4500", MaterialType.MAP),
    ("00000nmm a2200000 a 4500", MaterialType.OTHER),
    ("00000nkm a2200000 a 4500", MaterialType.OTHER),
    ("short", MaterialType.OTHER),
]

HOLDINGS = [
    # (name, mapping, holdings field subfields, expected Holding fields)
    (
        "852 available",
        MAPPING_852,
        [("b", "TST-CEN"), ("h", "551.46 MAR"), ("p", "B1"), ("y", "a")],
        {"status": ItemStatus.AVAILABLE, "branch": "TST-CEN", "call_number": "551.46 MAR"},
    ),
    (
        "852 due date makes it on loan",
        MAPPING_852,
        [("b", "TST-NOR"), ("y", "a"), ("d", "2031-05-14")],
        {"status": ItemStatus.ON_LOAN, "due_date": date(2031, 5, 14)},
    ),
    ("852 reading room", MAPPING_852, [("y", "r")], {"status": ItemStatus.READING_ROOM}),
    ("852 lost code", MAPPING_852, [("y", "l")], {"status": ItemStatus.LOST}),
    (
        "852 unknown code is the default",
        MAPPING_852,
        [("y", "?")],
        {"status": ItemStatus.AVAILABLE},
    ),
    ("852 no code is the default", MAPPING_852, [("b", "X")], {"status": ItemStatus.AVAILABLE}),
    (
        "952 not for loan 1",
        MAPPING_952,
        [("b", "KR"), ("o", "821 ABC"), ("p", "3001"), ("7", "1")],
        {"status": ItemStatus.NOT_LOANABLE, "call_number": "821 ABC", "barcode": "3001"},
    ),
    (
        "952 not for loan 2 is reading room",
        MAPPING_952,
        [("7", "2")],
        {"status": ItemStatus.READING_ROOM},
    ),
    (
        "952 $q on loan, compact date",
        MAPPING_952,
        [("7", "0"), ("q", "20310601")],
        {"status": ItemStatus.ON_LOAN, "due_date": date(2031, 6, 1)},
    ),
    (
        "952 $q with a time",
        MAPPING_952,
        [("q", "2031-06-01 23:59:00")],
        {"status": ItemStatus.ON_LOAN, "due_date": date(2031, 6, 1)},
    ),
    (
        "952 unreadable due date: on loan, no date, no error",
        MAPPING_952,
        [("q", "next Tuesday")],
        {"status": ItemStatus.ON_LOAN, "due_date": None},
    ),
    (
        "952 $1 lost wins over a due date",
        MAPPING_952,
        [("q", "2031-06-01"), ("1", "2")],
        {"status": ItemStatus.LOST, "due_date": None},
    ),
    (
        "952 $1 '0' is not lost",
        MAPPING_952,
        [("7", "0"), ("1", "0")],
        {"status": ItemStatus.AVAILABLE},
    ),
]


@pytest.mark.parametrize(
    ("xml", "attribute", "expected"),
    [pytest.param(xml, attr, exp, id=name) for name, xml, attr, exp in EXTRACTION],
)
def test_parse_record_extracts(xml: str, attribute: str, expected: object) -> None:
    record = parse_record(element(xml), MAPPING_852, "TST")
    assert getattr(record, attribute) == expected


@pytest.mark.parametrize(("leader", "material"), MATERIALS)
def test_material_from_leader(leader: str, material: MaterialType) -> None:
    assert (
        parse_record(element(marcxml(T245, leader=leader)), MAPPING_852, "T").material is material
    )


@pytest.mark.parametrize(
    ("mapping", "subfields", "expected"),
    [pytest.param(m, s, e, id=name) for name, m, s, e in HOLDINGS],
)
def test_holdings_follow_the_mapping(
    mapping: HoldingsMapping, subfields: list[tuple[str, str]], expected: dict[str, object]
) -> None:
    record = parse_record(element(marcxml(T245, (mapping.tag, subfields))), mapping, "TST")
    (holding,) = record.holdings
    assert holding.library == "TST"
    for name, value in expected.items():
        assert getattr(holding, name) == value, name


def test_holdings_of_another_tag_are_not_read() -> None:
    xml = marcxml(T245, ("852", [("b", "A")]), ("952", [("b", "B")]), ("952", [("b", "C")]))
    record = parse_record(element(xml), MAPPING_952, "KR")
    assert [h.branch for h in record.holdings] == ["B", "C"]


def test_record_without_namespace() -> None:
    record = parse_record(element(marcxml(T245, namespace=False)), MAPPING_852, "T")
    assert record.title == "Title"


@pytest.mark.parametrize(
    ("xml", "code"),
    [
        pytest.param(marcxml(("100", [("a", "Nobody")])), Problem.MISSING_245, id="no 245"),
        pytest.param(
            marcxml(("245", [("b", "only a subtitle")])), Problem.MISSING_245, id="245 no $a"
        ),
        pytest.param(marcxml(("245", [("a", " / ")])), Problem.MISSING_245, id="245 only ISBD"),
        pytest.param(marcxml(T245, control={}), Problem.MISSING_001, id="no 001"),
        pytest.param(
            "<datafield xmlns='http://www.loc.gov/MARC21/slim'/>",
            Problem.NOT_MARCXML,
            id="not a record",
        ),
    ],
)
def test_parse_record_refuses(xml: str, code: Problem) -> None:
    with pytest.raises(BadRecord) as caught:
        parse_record(element(xml), MAPPING_852, "TST")
    assert caught.value.code is code
    assert caught.value.peer == "TST"


@pytest.mark.parametrize(
    ("field", "code"),
    [
        (("020", [("a", "0306406153")]), Problem.BAD_ISBN),
        (("020", [("a", "9780306406158 (pbk.)")]), Problem.BAD_ISBN),
        (("020", [("a", "pbk.")]), Problem.BAD_ISBN),
        (("022", [("a", "1392-0120")]), Problem.BAD_ISSN),
    ],
)
def test_invalid_numbers_are_dropped_and_reported(field: Field, code: Problem) -> None:
    good = ("020", [("a", "9789161200450")])
    record, warnings = parse_record_with_warnings(
        element(marcxml(T245, field, good)), MAPPING_852, "T", 7
    )
    assert record.isbns == ("9789161200450",)
    assert record.issns == ()
    assert [(w.code, w.position, w.record_id) for w in warnings] == [(code, 7, "R1")]


# ---------------------------------------------------------------- match keys


def book(
    title: str,
    author: str | None = None,
    year: int | None = None,
    isbns: tuple[str, ...] = (),
    issns: tuple[str, ...] = (),
) -> BibRecord:
    return BibRecord("x", title, author=author, year=year, isbns=isbns, issns=issns)


SAME_KEY = [
    # Pairs of records that two catalogs could write for one title without ids.
    (
        "diacritics",
        book("Zgodovina Ljubljane: od začetkov do danes", "Kos, Milko", 1955),
        book("ZGODOVINA LJUBLJANE : OD ZACETKOV DO DANES", "Kos, M.", 1955),
    ),
    (
        "ISBD punctuation and leading article",
        book("The lighthouse keeper's daughter /", "Lindqvist, Sofia", 2011),
        book("Lighthouse keeper's daughter", "Sofia Lindqvist", 2011),
    ),
    (
        "Dutch article",
        book("Het verloren licht", "Jansen, Pieter", 2015),
        book("Verloren licht", "Jansen, P.", 2015),
    ),
    (
        "Swedish article",
        book("En fyr vid havet", "Ek, Karin", 2020),
        book("Fyr vid havet", "Ek, Karin", 2020),
    ),
    (
        "French elision",
        book("L'étranger", "Camus, Albert", 1942),
        book("Etranger", "Camus, A.", 1942),
    ),
    (
        "letters NFKD keeps",
        book("Ørsted og æbler", "Ødegård, Øystein", 1990),
        book("Orsted og aebler", "Odegard, O.", 1990),
    ),
    (
        "long titles agree on their first six words",
        book("Latvijas ceļu karte un pilsētu plāni ar rādītāju", None, 2019),
        book("Latvijas celu karte un pilsetu plani", None, 2019),
    ),
]

DIFFERENT_KEY = [
    ("another year", book("Kos", "Kos, M.", 1955), book("Kos", "Kos, M.", 1956)),
    ("another author", book("Poems", "Ek, K.", 2001), book("Poems", "Ok, K.", 2001)),
    (
        "another volume of a long title",
        book("Lighthouses of the Baltic coast and islands. Volume 1", "B, J", 2001),
        book("Lighthouses of the Baltic coast and islands. Volume 2", "B, J", 2001),
    ),
]


@pytest.mark.parametrize(("left", "right"), [pytest.param(a, b, id=n) for n, a, b in SAME_KEY])
def test_same_title_same_key(left: BibRecord, right: BibRecord) -> None:
    assert match_keys(left) == match_keys(right)
    assert match_keys(left)[0].startswith("tay:")


@pytest.mark.parametrize(("left", "right"), [pytest.param(a, b, id=n) for n, a, b in DIFFERENT_KEY])
def test_different_title_different_key(left: BibRecord, right: BibRecord) -> None:
    assert match_keys(left) != match_keys(right)


@pytest.mark.parametrize(
    ("record", "keys"),
    [
        (
            book("Ocean currents: a primer", "Marsh, Ada", 2001),
            ("tay:ocean currents a primer/marsh/2001",),
        ),
        (book("A", None, None), ("tay:a//",)),
        (book("?!", "X", 2000), ()),
        (
            book("T", isbns=("9780306406157", "9789616241014")),
            ("isbn:9780306406157", "isbn:9789616241014"),
        ),
        (book("T", issns=("1392-012X",)), ("issn:1392-012X",)),
        (
            book("T", isbns=("9780306406157",), issns=("1392-012X",)),
            ("isbn:9780306406157", "issn:1392-012X"),
        ),
    ],
)
def test_match_keys(record: BibRecord, keys: tuple[str, ...]) -> None:
    assert match_keys(record) == keys


def test_match_keys_of_parsed_isbn_forms_agree() -> None:
    ten = parse_record(element(marcxml(T245, ("020", [("a", "0-306-40615-2")]))), MAPPING_852, "A")
    thirteen = parse_record(
        element(marcxml(T245, ("020", [("a", "9780306406157")]))), MAPPING_852, "B"
    )
    assert match_keys(ten) == match_keys(thirteen) == ("isbn:9780306406157",)


def test_fold() -> None:
    assert fold("  Sneguljčica — in  sedem «palčkov»! ") == "sneguljcica in sedem palckov"
    assert fold("Straße") == "strasse"


def fold_by_definition(text: str) -> str:
    """``fold`` as its docstring defines it, one character at a time: match keys
    already in the index were made this way, so the fast ``fold`` must agree."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[\W_]+", " ", bare).strip()


def test_fold_agrees_with_its_definition_on_every_character() -> None:
    combining = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.combining(chr(c))]
    every = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF] + combining
    for ch in every:
        for text in (f"a{ch}b", f"Ø{ch}\u0301 x"):
            assert fold(text) == fold_by_definition(text), f"U+{ord(ch):04X}"
    titles = ["Jūra un gaisma", "Čefurji raus!", "Ǿresund, Łódź, Æsir", "Война и мир",
              "ﬁnal ½ Ⅻ", "a\u034fb", "Trädgård — «ljus»", "Ἀριστοτέλης", "", "  "]
    for title in titles:
        assert fold(title) == fold_by_definition(title), title


# ---------------------------------------------------------------- streams and bad input

GOOD_1 = marcxml(("245", [("a", "First")]), control={"001": "R1"})
GOOD_2 = marcxml(("245", [("a", "Second")]), control={"001": "R2"})
GOOD_3 = marcxml(("245", [("a", "Third")]), control={"001": "R3"})


def summary(items: list[BibRecord | RecordError]) -> list[str]:
    return [
        item.record_id if isinstance(item, BibRecord) else f"{item.code}@{item.position}"
        for item in items
    ]


def test_fixture_catalog_reads_whole() -> None:
    items = list(MarcFileCatalog(FIXTURES / "catalog.xml", MAPPING_852, "TST").records())
    records = [i for i in items if isinstance(i, BibRecord)]
    errors = [i for i in items if isinstance(i, RecordError)]
    assert len(records) == 20
    assert [(e.code, e.record_id) for e in errors] == [("bad-isbn", "TST0009")]
    by_id = {r.record_id: r for r in records}
    assert by_id["TST0001"].holdings[1] == Holding(
        "TST", ItemStatus.ON_LOAN, "TST-NOR", "551.46 MAR", "B0002", date(2031, 5, 14)
    )
    assert by_id["TST0003"].material is MaterialType.JOURNAL
    assert by_id["TST0003"].issns == ("1392-012X",)


@pytest.mark.parametrize("kind", ["str", "path", "file"])
def test_sources(kind: str) -> None:
    path = FIXTURES / "catalog.xml"
    if kind == "file":
        with open(path, "rb") as stream:
            items = list(iter_records(stream, MAPPING_852, "TST"))
            assert not stream.closed
    else:
        items = list(iter_records(str(path) if kind == "str" else path, MAPPING_852, "TST"))
    assert sum(isinstance(i, BibRecord) for i in items) == 20


def test_lone_record_document() -> None:
    assert summary(read(GOOD_1.encode())) == ["R1"]


def test_record_without_245_is_an_error_and_reading_goes_on() -> None:
    bad = marcxml(("100", [("a", "Nobody")]), control={"001": "BAD"})
    items = read(collection(GOOD_1, bad, GOOD_2))
    assert summary(items) == ["R1", "missing-245@2", "R2"]
    assert isinstance(items[1], RecordError) and items[1].record_id == "BAD"


def test_invalid_isbn_keeps_the_record_and_counts_the_error() -> None:
    bad = marcxml(("245", [("a", "T")]), ("020", [("a", "0306406153")]), control={"001": "B"})
    assert summary(read(collection(GOOD_1, bad, GOOD_2))) == ["R1", "B", "bad-isbn@2", "R2"]


def test_broken_xml_yields_one_error_and_stops() -> None:
    broken = '<record><leader>x</leader><datafield tag="245"><subfield code="a">A</datafield>'
    items = read(collection(GOOD_1, GOOD_2, broken, GOOD_3))
    assert summary(items) == ["R1", "R2", "broken-xml@3"]
    assert "mismatch" in items[-1].message.lower() or "line" in items[-1].message.lower()  # type: ignore[union-attr]


def test_not_xml_at_all() -> None:
    assert summary(read(b"\x00\x01 this is ISO 2709, not XML")) == ["broken-xml@1"]


def test_empty_document() -> None:
    assert summary(read(b"")) == ["broken-xml@1"]


def test_other_xml_is_not_marcxml_but_an_empty_collection_is_fine() -> None:
    assert summary(read(b"<html><body>Export failed</body></html>")) == ["not-marcxml@1"]
    assert summary(read(collection())) == []


@pytest.mark.parametrize(
    "bad_bytes",
    [
        pytest.param(b"\xe9", id="latin-1 e-acute"),
        pytest.param(b"\xc3", id="truncated sequence"),
        pytest.param(b"\xff\xfe", id="never UTF-8"),
        pytest.param(b"\x1b(B", id="MARC-8 escape"),
        pytest.param(b"\x1f", id="MARC subfield delimiter"),
    ],
)
def test_bytes_that_are_not_utf8_spoil_only_their_record(bad_bytes: bytes) -> None:
    bad = (
        marcxml(("245", [("a", "Caf@")]), control={"001": "LATIN1"})
        .encode()
        .replace(b"@", bad_bytes)
    )
    data = collection(GOOD_1)
    data = data.replace(
        b"</collection>", bad + GOOD_2.encode() + GOOD_3.encode() + b"</collection>"
    )
    items = read(data)
    assert summary(items) == ["R1", "not-utf8@2", "R2", "R3"]
    assert isinstance(items[1], RecordError) and items[1].record_id == "LATIN1"


def test_good_utf8_passes_even_split_across_reads() -> None:
    class Trickle(io.RawIOBase):
        """Hands out at most two bytes per read, splitting every multi-byte letter."""

        def __init__(self, data: bytes) -> None:
            self.data = data

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            chunk, self.data = self.data[:2], self.data[2:]
            return chunk

    text = "Sneguljčica, Bērziņš, Ødegård, 𝄞 – 日本".encode()
    guard = Utf8Guard(Trickle(text))
    out = b"".join(iter(lambda: guard.read(2), b""))
    assert out == text
    assert guard.replaced == 0


def test_declared_latin1_document_is_left_to_libxml2() -> None:
    record = marcxml(("245", [("a", "Café")])).encode("latin-1")
    data = b'<?xml version="1.0" encoding="ISO-8859-1"?>' + record
    (item,) = read(data)
    assert isinstance(item, BibRecord) and item.title == "Café"


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE collection [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<collection xmlns="http://www.loc.gov/MARC21/slim"><record><leader>00000nam a2200000 a 4500</leader>
<controlfield tag="001">X1</controlfield>
<datafield tag="245" ind1=" " ind2=" "><subfield code="a">&xxe;</subfield></datafield>
</record></collection>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE collection [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<collection xmlns="http://www.loc.gov/MARC21/slim"><record><leader>00000nam a2200000 a 4500</leader>
<controlfield tag="001">L1</controlfield>
<datafield tag="245" ind1=" " ind2=" "><subfield code="a">&lol9;</subfield></datafield>
</record></collection>"""


@pytest.mark.parametrize(
    "data", [pytest.param(XXE, id="XXE"), pytest.param(LAUGHS, id="billion laughs")]
)
def test_entity_declarations_are_refused_not_expanded(data: bytes) -> None:
    started = time.monotonic()
    items = read(data)
    assert time.monotonic() - started < 1
    assert summary(items) == ["entities-refused@1"]
    assert "root:" not in repr(items)


def test_entity_declarations_refused_in_a_document_without_records() -> None:
    data = XXE.replace(b"<record>", b"<other>").replace(b"</record>", b"</other>")
    assert summary(read(data)) == ["entities-refused@1"]


def test_doctype_without_entities_is_fine() -> None:
    data = b'<?xml version="1.0"?>\n<!DOCTYPE collection>\n' + collection(GOOD_1).split(b"\n", 1)[1]
    assert summary(read(data)) == ["R1"]


# ---------------------------------------------------------------- memory


def _big_catalog(path: Path, count: int) -> None:
    rng = random.Random(7)
    words = [
        "sea",
        "light",
        "river",
        "town",
        "map",
        "songs",
        "winter",
        "garden",
        "jūra",
        "gaisma",
        "zima",
        "vrt",
    ]
    with open(path, "w", encoding="utf-8") as out:
        out.write('<collection xmlns="http://www.loc.gov/MARC21/slim">\n')
        for n in range(count):
            title = " ".join(rng.choice(words) for _ in range(5))
            out.write(
                marcxml(
                    ("020", [("a", "0-306-40615-2")]),
                    ("245", [("a", f"{title} :"), ("b", "a study /")]),
                    ("520", [("a", "An abstract that makes the record larger. " * 12)]),
                    ("852", [("b", "CEN"), ("h", f"{n}"), ("y", "a")]),
                    ("852", [("b", "NOR"), ("h", f"{n}"), ("y", "o"), ("d", "2031-01-01")]),
                    control={"001": f"B{n}"},
                )
                + "\n"
            )
        out.write("</collection>\n")


def _resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None


def test_streaming_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    count = 20_000
    path = tmp_path / "big.xml"
    _big_catalog(path, count)
    assert path.stat().st_size > 20_000_000

    # tracemalloc sees Python objects (records kept by mistake); the resident size
    # sees libxml2's tree, which tracemalloc cannot: both must stay flat after the
    # first records, while the whole tree would take hundreds of MB.
    tracemalloc.start()
    try:
        seen = 0
        resident_early = None
        for item in iter_records(path, MAPPING_852, "BIG"):
            assert isinstance(item, BibRecord)
            seen += 1
            if seen == 1_000:
                resident_early = _resident_bytes()
                tracemalloc.reset_peak()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    resident_late = _resident_bytes()

    assert seen == count
    assert peak < 2_000_000, f"Python peak {peak} bytes over {count - 1000} records"
    if resident_early is not None and resident_late is not None:
        growth = resident_late - resident_early
        assert growth < 16_000_000, f"resident size grew by {growth} bytes"


def test_marc_file_catalog_reads_afresh_and_reports_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    catalog = MarcFileCatalog(path, MAPPING_852, "TST")
    with pytest.raises(FileNotFoundError):
        next(catalog.records())
    path.write_bytes(collection(GOOD_1))
    assert summary(list(catalog.records())) == ["R1"]
    path.write_bytes(collection(GOOD_2, GOOD_3))
    assert summary(list(catalog.records())) == ["R2", "R3"]


# ---------------------------------------------------------------- the two halves

PACKING = collection(
    marcxml(
        ("020", [("a", "0-306-40615-2 (hbk.)"), ("z", "")]),
        ("100", [("a", "Jansen, Pieter,")]),
        ("245", [("a", "Sonata ="), ("b", "Sonate /"), ("n", "Vol. 2")]),
        ("264", [("c", "©2018")], " ", "4"),
        ("264", [("c", "[2019]")], " ", "1"),
        ("852", [("b", "CEN"), ("h", ""), ("b", "NOR"), ("y", "o"), ("d", "2031-01-01")]),
        ("852", []),
        control={"001": " R1 ", "008": "950101s1995    lv            000 0 lav d"},
    ),
    marcxml(T245, ("020", [("a", "978-0-000-00000-1")]), ("022", [("a", "1234-5678")])),
    marcxml(T245, control={}),
    marcxml(("245", [("a", "")]), ("500", [("a", "Ignored")]), control={"001": "R4"}),
    marcxml(("245", [("a", "Čefurji raus!  ")]), control={"001": "R5", "008": ""}),
)


@pytest.mark.parametrize("data", [PACKING, (FIXTURES / "catalog.xml").read_bytes()])
def test_the_xml_half_and_the_marc_half_read_what_iter_records_reads(data: bytes) -> None:
    expected = read(data)
    copies = list(iter_copies(io.BytesIO(data), MAPPING_852.tag))
    assert list(records_from_copies(copies, MAPPING_852, "TST")) == expected
    # ...also when the copies travel packed, as they do between processes.
    packed = [c.pack() if isinstance(c, CopiedRecord) else c for c in copies]
    unpacked = [CopiedRecord.unpack(c) if isinstance(c, str) else c for c in packed]
    assert list(records_from_copies(unpacked, MAPPING_852, "TST")) == expected
    assert {type(item) for item in expected} == {BibRecord, RecordError}
