"""OpenURL 1.0 (Z39.88-2004 KEV) and 0.1 links read into the request form: links as
databases and discovery systems really send them, and links no one should send."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path
from typing import Any

import pytest
from stdnum import isbn as stdisbn
from stdnum import issn as stdissn

from broker.domain.consortium import Library
from broker.domain.errors import ValidationFailed
from broker.domain.intake import check_request_input
from broker.domain.openurl import (
    LIMITS,
    MAX_PAIRS,
    isbn_of,
    issn_of,
    page_range,
    read_openurl,
    year_of,
)
from broker.services.consortium_file import load

from builders import write_consortium

# PubMed's LinkOut link for an article: 1.0, journal format, abbreviated end page, the
# PMID and the DOI as rft_id.
PUBMED = (
    "url_ver=Z39.88-2004&url_ctx_fmt=info%3Aofi%2Ffmt%3Akev%3Amtx%3Actx"
    "&rfr_id=info%3Asid%2Fncbi.nlm.nih.gov%3Apubmed"
    "&rft_val_fmt=info%3Aofi%2Ffmt%3Akev%3Amtx%3Ajournal&rft.genre=article"
    "&rft.atitle=Molecular+structure+of+nucleic+acids%3B+a+structure+for+deoxyribose"
    "+nucleic+acid.&rft.jtitle=Nature&rft.date=1953-04-25&rft.volume=171&rft.issue=4356"
    "&rft.spage=737&rft.epage=8&rft.issn=0028-0836&rft.aulast=Watson&rft.aufirst=J+D"
    "&rft_id=info%3Apmid%2F13054692&rft_id=info%3Adoi%2F10.1038%2F171737a0")
# An EBSCO-style OpenURL 0.1 link: bare keys, sid, YYYYMMDD date, a compact ISSN.
EBSCO = (
    "sid=EBSCO%3ALibrary%2C+Information+Science+%26+Technology+Abstracts&genre=article"
    "&title=Journal+of+Documentation&atitle=Information+seeking+in+context&date=20050301"
    "&volume=61&issue=2&spage=170&pages=170-193&issn=00220418&aulast=Case"
    "&aufirst=Donald+O.&id=doi%3A10.1108%2F00220410510585205")
# A discovery system's link for a whole book, by ISBN.
BOOK = (
    "ctx_ver=Z39.88-2004&ctx_enc=info%3Aofi%2Fenc%3AUTF-8"
    "&rfr_id=info%3Asid%2Fprimo.exlibrisgroup.com&rft_val_fmt=info%3Aofi%2Ffmt%3Akev%3Amtx"
    "%3Abook&rft.genre=book&rft.btitle=Alamut&rft.au=Bartol%2C+Vladimir&rft.date=1938"
    "&rft.isbn=86-11-16401-6&rft.pub=Sanje&rft.place=Ljubljana&rft.edition=3.+izd.")
# A chapter in an edited book.
CHAPTER = (
    "url_ver=Z39.88-2004&rft_val_fmt=info:ofi/fmt:kev:mtx:book&rft.genre=bookitem"
    "&rft.btitle=The+Description+Logic+Handbook&rft.atitle=Basic+description+logics"
    "&rft.aulast=Baader&rft.aufirst=Franz&rft.au=Nutt%2C+Werner&rft.isbn=0-306-40615-2"
    "&rft.spage=43&rft.epage=95&rft.date=2003")


def expect(service: str, item: dict[str, Any], citation: dict[str, Any] | None = None,
           **more: Any) -> dict[str, Any]:
    body = {"service": service, "item": item, **more}
    if citation is not None:
        body["citation"] = citation
    return body


CASES: list[tuple[str, str, dict[str, Any], list[str]]] = [
    ("pubmed-article", PUBMED, expect(
        "copy", {"title": "Nature", "author": "Watson, J D", "year": 1953,
                 "issn": "0028-0836", "material": "journal"},
        {"source_title": "Nature", "part_title": "Molecular structure of nucleic acids; a "
         "structure for deoxyribose nucleic acid.", "volume": "171", "issue": "4356",
         "pages": "737-738"},
        note="pmid:13054692; doi:10.1038/171737a0"), []),
    ("ebsco-0.1-article", EBSCO, expect(
        "copy", {"title": "Journal of Documentation", "author": "Case, Donald O.",
                 "year": 2005, "issn": "0022-0418", "material": "journal"},
        {"source_title": "Journal of Documentation", "part_title":
         "Information seeking in context", "volume": "61", "issue": "2", "pages": "170"},
        note="doi:10.1108/00220410510585205"), []),
    ("book-by-isbn", BOOK, expect(
        "loan", {"title": "Alamut", "author": "Bartol, Vladimir", "year": 1938,
                 "isbn": "8611164016", "edition": "3. izd.", "material": "book"}), []),
    ("book-chapter", CHAPTER, expect(
        "copy", {"title": "The Description Logic Handbook", "author": "Baader, Franz",
                 "year": 2003, "isbn": "0306406152", "material": "book"},
        {"source_title": "The Description Logic Handbook",
         "part_title": "Basic description logics", "pages": "43-95"}), []),
    ("isbn-only-by-rft_id", "rft_id=info:isbn/9780306406157",
     expect("loan", {"isbn": "9780306406157", "material": "book"}), []),
    ("google-scholar-doi-url",
     "genre=article&atitle=A+paper&title=Some+Journal&issn=1476-4687"
     "&rft_id=https%3A%2F%2Fdoi.org%2F10.1000%2Fxyz&pages=pp.+12%E2%80%9330",
     expect("copy", {"title": "Some Journal", "issn": "1476-4687", "material": "journal"},
            {"source_title": "Some Journal", "part_title": "A paper", "pages": "12-30"},
            note="doi:10.1000/xyz"), []),
    ("conference-paper-in-proceedings",
     "rft_val_fmt=info:ofi/fmt:kev:mtx:book&rft.genre=proceeding&rft.atitle=A+talk"
     "&rft.btitle=Proceedings+of+JCDL&rft.isbn=9780306406157&rft.spage=1&rft.epage=10",
     expect("copy", {"title": "Proceedings of JCDL", "isbn": "9780306406157",
                     "material": "book"},
            {"source_title": "Proceedings of JCDL", "part_title": "A talk",
             "pages": "1-10"}), []),
    ("a-whole-issue-asks-for-the-article",
     "rft_val_fmt=info:ofi/fmt:kev:mtx:journal&rft.genre=issue&rft.jtitle=Nature"
     "&rft.volume=500&rft.issue=7460",
     expect("copy", {"title": "Nature", "material": "journal"},
            {"source_title": "Nature", "volume": "500", "issue": "7460"}),
     ["names a journal or an issue"]),
    ("1.0-keys-win-over-0.1", "title=Old&rft.btitle=New&rft.genre=book&genre=article",
     expect("loan", {"title": "New", "material": "book"}), []),
    ("the-book-title-repeated-as-atitle-is-no-part",
     "rft.genre=book&rft.btitle=Alamut&rft.atitle=ALAMUT",
     expect("loan", {"title": "Alamut", "material": "book"}), []),
    ("a-loan-of-one-volume-keeps-it-in-the-note",
     "genre=book&title=Zbrana+dela&volume=2&spage=5&epage=9",
     expect("loan", {"title": "Zbrana dela", "material": "book"}, note="volume 2"),
     ["pages '5-9' left out"]),
    ("duplicated-keys", "rft.genre=article&rft.atitle=First&rft.atitle=Second"
     "&rft.jtitle=J&rft.au=Kos%2C+A.&rft.au=Novak%2C+B.&rft.issn=0028-0836&rft.issn=0028-0836",
     expect("copy", {"title": "J", "author": "Kos, A.", "issn": "0028-0836",
                     "material": "journal"}, {"source_title": "J", "part_title": "First"}),
     ["rft.atitle: given 2 times; the first, 'First', is used"]),
    ("bad-identifiers-left-out-good-one-used",
     "rft.genre=article&rft.atitle=X&rft.jtitle=J&rft.issn=1234-5678&rft.eissn=1476-4687"
     "&rft.isbn=12345",
     expect("copy", {"title": "J", "issn": "1476-4687", "material": "journal"},
            {"source_title": "J", "part_title": "X"}),
     ["rft.issn: '1234-5678' is not a valid ISSN", "rft.isbn: '12345' is not a valid ISBN"]),
    ("non-utf8-escapes-read-as-windows-1252",
     "genre=book&title=M%FCllers+Buch&aulast=M%FCller&aufirst=J%C3%BCrgen",
     expect("loan", {"title": "Müllers Buch", "author": "Müller, Jürgen",
                     "material": "book"}),
     ["title: not UTF-8", "aulast: not UTF-8"]),
    ("ctx_enc-iso-8859-1", "ctx_enc=info:ofi/enc:ISO-8859-1&rft.btitle=Fj%E4rrl%E5n",
     expect("loan", {"title": "Fjärrlån", "material": "book"}), []),
    ("control-characters-removed", "rft.btitle=A%00B%1Bc%0Ad",
     expect("loan", {"title": "A B c d", "material": "book"}),
     ["rft.btitle: control characters removed"]),
    ("date-without-a-year", "rft.btitle=T&rft.date=Spring",
     expect("loan", {"title": "T", "material": "book"}), ["rft.date: no year in 'Spring'"]),
    ("keys-in-upper-case", "rft.BTITLE=T&RFT.ISBN=9780306406157&Genre=BOOK",
     expect("loan", {"title": "T", "isbn": "9780306406157", "material": "book"}), []),
    ("only-a-reference", "rft_ref_fmt=info:ofi/fmt:xml:xsd:book&rft_ref=http%3A%2F%2Fx.org%2F1",
     expect("loan", {"material": "book"}), ["rft_ref: the item is described at another"]),
    ("junk", "hello&&=&==x&%ZZ&rft.genre&%E2%82&;;;",
     expect("loan", {"material": "book"}), ["names no title, ISBN or ISSN"]),
    ("empty", "", expect("loan", {"material": "book"}), ["names no title, ISBN or ISSN"]),
]


@pytest.mark.parametrize(("query", "request_", "notes"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_links_fill_the_form(query: str, request_: dict[str, Any], notes: list[str]) -> None:
    prefill = read_openurl(query)
    assert prefill.request == request_
    for expected in notes:
        assert any(expected in note for note in prefill.notes), prefill.notes
    if not notes:
        assert prefill.notes == ()


@pytest.fixture
def home(tmp_path: Path) -> Library:
    return load(write_consortium(tmp_path)).library("A")


@pytest.mark.parametrize("query", [PUBMED, EBSCO, BOOK, CHAPTER],
                         ids=["pubmed", "ebsco", "book", "chapter"])
def test_a_complete_link_is_a_request_the_intake_takes(query: str, home: Library) -> None:
    checked = check_request_input(read_openurl(query).request, home)
    assert checked.pickup_location == "A"


def test_bytes_and_a_leading_question_mark_read_the_same() -> None:
    assert read_openurl("?" + PUBMED) == read_openurl(PUBMED.encode("ascii"))


def test_a_50_kb_value_is_cut_at_the_intakes_limit() -> None:
    prefill = read_openurl("rft.genre=article&rft.jtitle=J&rft.atitle=" + "x" * 50_000
                           + "&rft.spage=" + "9" * 2000)
    assert prefill.request["citation"]["part_title"] == "x" * LIMITS["part_title"]
    assert "rft.atitle: cut to 300 characters" in prefill.notes
    assert len(prefill.request["citation"]["pages"]) == LIMITS["pages"]


def test_a_50_kb_query_of_many_pairs_is_read_only_so_far() -> None:
    query = "rft.btitle=First&" + "&".join(f"k{i}=v" for i in range(8000))
    assert len(query) > 50_000
    prefill = read_openurl(query)
    assert prefill.request["item"]["title"] == "First"
    assert any(f"only the first {MAX_PAIRS} were read" in n for n in prefill.notes)


def test_notes_are_few_however_bad_the_link() -> None:
    query = "&".join(f"rft.isbn=bad{i}" for i in range(400))
    assert len(read_openurl(query).notes) <= 20


KEYS = ["rft.atitle", "rft.jtitle", "rft.btitle", "title", "atitle", "rft.au", "aulast",
        "rft.date", "date", "rft.spage", "rft.epage", "pages", "rft.isbn", "issn",
        "rft_id", "rft.genre", "genre", "ctx_enc", "rft_val_fmt", "rft.volume", "id"]
PIECES = ["%", "%E9", "%C3", "%ZZ", "&", "=", "+", "-", "978", "info:doi/", "X", "é",
          "\ud800", "\x00", "article", "bookitem", "journal", "20050101", "–", "?", ";"]


def test_no_link_makes_it_raise_or_overflow_the_form(home: Library) -> None:
    rng = random.Random(18626)
    for _ in range(3000):
        if rng.random() < 0.3:
            query: str | bytes = rng.randbytes(rng.randrange(200))
        else:
            query = "&".join(
                rng.choice(KEYS) + "=" + "".join(rng.choices(PIECES, k=rng.randrange(12)))
                for _ in range(rng.randrange(10)))
        prefill = read_openurl(query)
        assert prefill.request["service"] in ("loan", "copy")
        fields = {**prefill.request["item"], **prefill.request.get("citation", {})}
        for name, value in fields.items():
            if isinstance(value, str) and name != "material":
                assert 0 < len(value) <= LIMITS[name], (query, name)
        # What the web layer does next: the intake names problems, it does not fail.
        with contextlib.suppress(ValidationFailed):
            check_request_input(prefill.request, home)


@pytest.mark.parametrize("value", ["9780306406157", "978-0-306-40615-7", "0306406152",
                                   "0-306-40615-2 (pbk.)", "9780306406158", "030640615X",
                                   "86-11-16401-6", "123"])
def test_isbn_check_digits_agree_with_stdnum(value: str) -> None:
    token = value.split(" ")[0]
    assert (isbn_of(value) is not None) == stdisbn.is_valid(token)


@pytest.mark.parametrize("value", ["0028-0836", "00280836", "1476-4687", "0021-6933",
                                   "1234-5678", "2049-3630", "0000-006X"])
def test_issn_check_digits_agree_with_stdnum(value: str) -> None:
    assert (issn_of(value) is not None) == stdissn.is_valid(value)


@pytest.mark.parametrize(("date", "year"), [
    ("1953", 1953), ("1953-04-25", 1953), ("20050301", 2005), ("200503", 2005),
    ("2003 Spring", 2003), ("c1998", 1998), ("Spring", None), ("0999", None),
    ("12345", None), ("", None)])
def test_year_of(date: str, year: int | None) -> None:
    assert year_of(date) == year


@pytest.mark.parametrize(("pages", "expected"), [
    ("23-56", "23-56"), ("pp. 23–56", "23-56"), ("p. 7", "7"), ("737-8", "737-738"),
    ("1234-39", "1234-1239"), ("99-101", "99-101"), ("12 — 30", "12-30"),
    ("S12-S19", "S12-S19"), ("e0123", "e0123")])
def test_page_range(pages: str, expected: str) -> None:
    assert page_range(pages) == expected
