"""OpenURL links read into the request form: OpenURL 1.0 (ANSI/NISO Z39.88-2004) in its
Key/Encoded-Value format, and the OpenURL 0.1 keys many databases still send.

A database or discovery system links to the broker with the citation the patron was
looking at; ``read_openurl`` turns that link into the raw request that
``broker.domain.intake.check_request_input`` takes, so the patron only has to check and
send. A link is third-party input of any quality, so reading it never fails: what can
be read is used, and every value that was dropped or changed is named in a note.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from broker.domain.intake import MAX_NOTE, MAX_TEXT

# The intake's limits per field (broker.domain.intake): a value cut here passes there.
LIMITS = {"title": MAX_TEXT, "author": MAX_TEXT, "edition": 50, "isbn": 30, "issn": 20,
          "source_title": MAX_TEXT, "part_title": MAX_TEXT, "volume": 30, "issue": 30,
          "pages": 30, "note": MAX_NOTE}
# Real links carry 10 to 40 pairs; past this a query is junk and is not read further.
MAX_PAIRS = 500
MAX_NOTES = 20

# Z39.88-2004 Registry, KEV Matrix formats info:ofi/fmt:kev:mtx:journal and :book: the
# genres that name one part of a publication (an article, a chapter, a paper), which a
# library supplies as a copy. "chapter" is not registered but some databases send it.
PART_GENRES = frozenset({"article", "bookitem", "proceeding", "preprint", "chapter"})
# A whole journal or issue is never lent between libraries: it becomes a copy request
# whose article the patron still has to name.
SERIAL_GENRES = frozenset({"journal", "issue"})
BOOK_PART_GENRES = frozenset({"bookitem", "chapter"})

# A year alone or leading YYYYMM / YYYYMMDD, as 0.1 links write dates ("20050101").
_YEAR = re.compile(r"(?<!\d)(\d{4})(?:\d{2}){0,2}(?!\d)")
_ISBN = re.compile(r"97[89]\d{10}|\d{9}[\dX]")
_ISSN = re.compile(r"(\d{4})-?(\d{3}[\dX])")
_PAGE_PREFIX = re.compile(r"^(?:pp?\.?|pages?)\s*", re.IGNORECASE)
_DASHES = re.compile(r"\s*[-‐‑‒–—−]+\s*")
_RANGE = re.compile(r"^(\d{1,5})-(\d{1,5})$")
_DOI = re.compile(r"^(?:info:doi/|doi:|https?://(?:dx\.)?doi\.org/)(10\.\S+)$", re.IGNORECASE)
_PMID = re.compile(r"^(?:info:pmid/|pmid:)(\d{1,9})$", re.IGNORECASE)
_ID_ISBN = re.compile(r"^(?:info:isbn/|urn:isbn:)(.+)$", re.IGNORECASE)
_ID_ISSN = re.compile(r"^(?:info:issn/|urn:issn:)(.+)$", re.IGNORECASE)
# ISO-8859-1 as the WHATWG Encoding Standard reads it: browsers send windows-1252.
_LATIN = "cp1252"


@dataclass(frozen=True, slots=True)
class Prefill:
    """A pre-filled request form: the raw request (the shape ``check_request_input``
    takes, without a pickup location) and notes on what the link had that was dropped
    or changed."""

    request: dict[str, Any]
    notes: tuple[str, ...]


def _shown(value: str, limit: int = 40) -> str:
    """A value quoted in a note, short enough to read."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _pairs(query: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The query's key/value pairs as bytes, with ``urllib.parse.parse_qsl`` semantics:
    ``&`` separates pairs, ``+`` is a space, pairs with a blank value are left out.
    Z39.88-2004 KEV ContextObject Format (Registry entry info:ofi/fmt:kev:mtx:ctx): the
    values are percent-encoded, in the character encoding ``ctx_enc`` names."""
    for part in query.split(b"&"):
        key, _, value = part.partition(b"=")
        value = unquote_to_bytes(value.replace(b"+", b" "))
        if key and value.strip():
            yield unquote_to_bytes(key.replace(b"+", b" ")), value


def _isbn_checks(digits: str) -> bool:
    if len(digits) == 10:
        total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(digits))
        return total % 11 == 0
    return sum((3 if i % 2 else 1) * int(c) for i, c in enumerate(digits)) % 10 == 0


def isbn_of(value: str) -> str | None:
    """The ISBN-10 or ISBN-13 in ``value`` (hyphens, spaces and qualifiers such as
    "(pbk.)" allowed) if its check digit is right, without hyphens."""
    compact = re.sub(r"[\s-]", "", value).upper()
    match = _ISBN.search(compact)
    if match is None or not _isbn_checks(match[0]):
        return None
    return match[0]


def issn_of(value: str) -> str | None:
    """The ISSN in ``value`` as NNNN-NNNC if its check digit is right (ISO 3297)."""
    match = _ISSN.search(value.upper())
    if match is None:
        return None
    digits = match[1] + match[2]
    total = sum((8 - i) * int(c) for i, c in enumerate(digits[:7]))
    check = (11 - total % 11) % 11
    if digits[7] != ("X" if check == 10 else str(check)):
        return None
    return f"{match[1]}-{match[2]}"


def year_of(value: str) -> int | None:
    """The year in a date such as 2003, 2003-05-12, 20030512, 2003 Spring or c1998 (the
    intake takes 1000 to 2100)."""
    for found in _YEAR.findall(value):
        if 1000 <= int(found) <= 2100:
            return int(found)
    return None


def page_range(value: str) -> str:
    """A page or a range as the intake reads it ("23-56"): without "pp.", with a hyphen
    for any dash, and an abbreviated end page written out ("1234-9" is 1234-1239, as
    PubMed and many citation styles abbreviate)."""
    text = _DASHES.sub("-", _PAGE_PREFIX.sub("", value)).strip("-")
    match = _RANGE.match(text)
    if match and len(match[2]) < len(match[1]) and int(match[2]) < int(match[1]):
        start, end = match[1], match[2]
        text = f"{start}-{start[:len(start) - len(end)]}{end}"
    return text


class _Link:
    """The values of one link by key, decoded and cleaned, and the notes on reading it."""

    def __init__(self, query: str | bytes) -> None:
        self.notes: list[str] = []
        self.values: dict[str, list[str]] = {}
        if isinstance(query, str):
            try:
                # surrogateescape gives back the bytes a server decoded that way.
                data = query.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                data = query.encode("utf-8", "replace")
        else:
            data = bytes(query)
        data = data.removeprefix(b"?")
        raw: dict[str, list[bytes]] = {}
        count = 0
        for key, value in _pairs(data):
            count += 1
            if count > MAX_PAIRS:
                continue
            # KEV keys are case-sensitive, but links in the wild write rft.ISSN or
            # Title; no two registered keys differ only in case.
            raw.setdefault(key.decode("utf-8", "replace").strip().lower(), []).append(value)
        if count > MAX_PAIRS:
            self.note(f"the link has {count} pairs; only the first {MAX_PAIRS} were read")
        # Z39.88-2004 KEV ContextObject Format: ctx_enc names the encoding, UTF-8 if
        # absent; only ISO-8859-1 is met besides UTF-8.
        enc = b" ".join(raw.get("ctx_enc", [])).lower()
        latin = b"8859-1" in enc or b"latin" in enc
        for name, encoded in raw.items():
            for one in encoded:
                if text := self._decode(name, one, latin):
                    self.values.setdefault(name, []).append(text)

    def note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES and text not in self.notes:
            self.notes.append(text)

    def _decode(self, key: str, value: bytes, latin: bool) -> str:
        if latin:
            text = value.decode(_LATIN, "replace")
        else:
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                # Old 0.1 links often escape Latin-1 bytes; reading them as windows-1252
                # keeps "Müller" where replacement characters would lose it.
                text = value.decode(_LATIN, "replace")
                self.note(f"{key}: not UTF-8, read as Windows-1252")
        spaced = "".join(" " if unicodedata.category(ch) == "Cc" and not ch.isspace()
                         else ch for ch in text)
        if spaced != text:
            # The intake refuses control characters; a form should not start refused.
            self.note(f"{key}: control characters removed")
        return unicodedata.normalize("NFC", " ".join(spaced.split()))

    def first(self, *keys: str, repeatable: bool = False) -> tuple[str, str] | None:
        """The first value of the first of ``keys`` that has one, and its key; a key
        that the format allows once, given again with another value, is noted, since
        only one can be used."""
        for key in keys:
            values = self.values.get(key)
            if values:
                if not repeatable and len({v.casefold() for v in values}) > 1:
                    self.note(f"{key}: given {len(values)} times; the first, "
                              f"{_shown(values[0])}, is used")
                return key, values[0]
        return None

    def text(self, field: str, *keys: str) -> str | None:
        """The value for the form's ``field``, cut at the intake's limit for it."""
        found = self.first(*keys)
        if found is None:
            return None
        key, value = found
        return self.fit(field, key, value)

    def fit(self, field: str, key: str, value: str) -> str:
        limit = LIMITS[field]
        if len(value) > limit:
            self.note(f"{key}: cut to {limit} characters")
            return value[:limit].rstrip()
        return value

    def all(self, *keys: str) -> list[tuple[str, str]]:
        return [(key, value) for key in keys for value in self.values.get(key, [])]


def _identifiers(link: _Link) -> tuple[list[tuple[str, str]], list[tuple[str, str]],
                                       list[str]]:
    """ISBNs, ISSNs (as (key, value)) and DOIs/PMIDs from the referent's identifiers:
    Z39.88-2004 Part 1, Section 7 (rft_id, any number of URIs such as info:doi/...,
    info:pmid/..., info:isbn/...) and OpenURL 0.1's id=doi:... and id=pmid:..."""
    isbns: list[tuple[str, str]] = []
    issns: list[tuple[str, str]] = []
    others: list[str] = []
    for key, value in link.all("rft_id", "id"):
        compact = value.replace(" ", "")
        if doi := _DOI.match(compact):
            others.append(f"doi:{doi[1]}")
        elif pmid := _PMID.match(compact):
            others.append(f"pmid:{pmid[1]}")
        elif isbn := _ID_ISBN.match(compact):
            isbns.append((key, isbn[1]))
        elif issn := _ID_ISSN.match(compact):
            issns.append((key, issn[1]))
    return isbns, issns, list(dict.fromkeys(others))


def _valid(link: _Link, kind: str, found: list[tuple[str, str]], check: Any) -> str | None:
    """The first identifier that checks; those that do not are noted and left out."""
    chosen = None
    for key, value in found:
        good = check(value)
        if good is None:
            link.note(f"{key}: {_shown(value)} is not a valid {kind}; left out")
        elif chosen is None:
            chosen = good
    return chosen


def _author(link: _Link) -> str | None:
    """The first author: aulast with aufirst (or initials), else the first rft.au, else
    the corporate author (KEV Matrix journal and book formats; 0.1 aulast, aufirst)."""
    last = link.first("rft.aulast", "aulast")
    if last is not None:
        first = link.first("rft.aufirst", "aufirst", "rft.auinit", "auinit",
                           "rft.auinit1", "auinit1")
        name = f"{last[1]}, {first[1]}" if first else last[1]
        return link.fit("author", last[0], name)
    # rft.au is repeatable (one per author); the first is the one catalogs file under.
    found = link.first("rft.au", "au", "rft.aucorp", "aucorp", repeatable=True)
    return link.fit("author", *found) if found else None


def _pages(link: _Link) -> tuple[str, str] | None:
    """The page range from spage and epage, else from pages (KEV Matrix: rft.spage,
    rft.epage, rft.pages; 0.1 spage, epage, pages)."""
    start = link.first("rft.spage", "spage")
    if start is not None:
        end = link.first("rft.epage", "epage")
        value = page_range(start[1])
        if end is not None and page_range(end[1]) != value:
            value = page_range(f"{value}-{page_range(end[1])}")
        return start[0], value
    pages = link.first("rft.pages", "pages")
    return (pages[0], page_range(pages[1])) if pages else None


def _format(link: _Link) -> str | None:
    """The referent's KEV Matrix format, "journal" or "book" (rft_val_fmt,
    info:ofi/fmt:kev:mtx:<format>); dissertation counts as a book."""
    found = link.first("rft_val_fmt")
    if found is None:
        return None
    name = found[1].lower().rsplit(":", 1)[-1]
    return {"journal": "journal", "book": "book", "dissertation": "book"}.get(name)


def read_openurl(query: str | bytes) -> Prefill:
    """The request form pre-filled from an OpenURL query string (without the "?").

    Reads OpenURL 1.0 (Z39.88-2004, KEV ContextObject Format with the KEV Matrix journal
    and book formats for the referent, ``rft``) and the OpenURL 0.1 keys; where both
    give a value the 1.0 key wins. An article, a book chapter or a conference paper
    becomes a copy with its citation; a book (or anything else) becomes a loan. Never
    raises: an unreadable link gives an empty form and notes saying why.
    """
    link = _Link(query)
    fmt = _format(link)
    genre_found = link.first("rft.genre", "genre")
    genre = genre_found[1].lower() if genre_found else ""

    book_first = fmt == "book" or genre in BOOK_PART_GENRES or genre == "book"
    source_keys = (("rft.btitle", "rft.title", "rft.jtitle", "title", "btitle", "jtitle",
                    "rft.stitle", "stitle") if book_first else
                   ("rft.jtitle", "rft.title", "rft.btitle", "title", "jtitle", "btitle",
                    "rft.stitle", "stitle"))
    source = link.text("source_title", *source_keys)
    part = link.text("part_title", "rft.atitle", "atitle")
    if part is not None and source is not None and part.casefold() == source.casefold():
        part = None  # some links repeat the book's title as atitle: not a part

    id_isbns, id_issns, others = _identifiers(link)
    isbn = _valid(link, "ISBN", [*link.all("rft.isbn", "isbn"), *id_isbns], isbn_of)
    issn = _valid(link, "ISSN", [*link.all("rft.issn", "issn"), *id_issns,
                                 *link.all("rft.eissn", "eissn")], issn_of)
    author = _author(link)
    edition = link.text("edition", "rft.edition", "edition")
    date = link.first("rft.date", "date")
    year = year_of(date[1]) if date else None
    if date is not None and year is None:
        link.note(f"{date[0]}: no year in {_shown(date[1])}")
    volume = link.text("volume", "rft.volume", "volume")
    issue = link.text("issue", "rft.issue", "issue")
    pages_found = _pages(link)
    pages = link.fit("pages", *pages_found) if pages_found and pages_found[1] else None

    if part is not None or genre in PART_GENRES:
        service = "copy"
        # A chapter or a paper in a book (proceedings with an ISBN) is copied from a
        # book; anything else from a journal.
        serial = not (book_first or (isbn is not None and issn is None)
                      or (genre in {"proceeding", "conference"} and isbn is not None))
    elif genre in SERIAL_GENRES or (not genre and (fmt == "journal"
                                                   or (fmt is None and issn and not isbn))):
        service, serial = "copy", True
        link.note("the link names a journal or an issue, not an article: add the "
                  "article's title and pages")
    else:
        service, serial = "loan", False

    item = {"title": source, "author": author, "year": year, "isbn": isbn, "issn": issn,
            "edition": edition, "material": "journal" if serial else "book"}
    request: dict[str, Any] = {"service": service,
                               "item": {k: v for k, v in item.items() if v is not None}}
    extra = list(others)
    if service == "copy":
        citation = {"source_title": source, "part_title": part, "volume": volume,
                    "issue": issue, "pages": pages}
        request["citation"] = {k: v for k, v in citation.items() if v is not None}
    else:
        # A loan is the whole book: a volume of a multi-volume work goes to the lender
        # in the note; pages and an issue mean nothing for it.
        if volume is not None:
            extra.insert(0, f"volume {volume}")
        for name, value in (("issue", issue), ("pages", pages)):
            if value is not None:
                link.note(f"{name} {_shown(value)} left out: a loan is the whole book")
    if extra:
        request["note"] = link.fit("note", "note", "; ".join(extra))

    if link.values.get("rft_ref") and not (source or part or isbn or issn):
        # By-reference metadata (rft_ref_fmt and rft_ref) would need a fetch, and the
        # pure core fetches nothing.
        link.note("rft_ref: the item is described at another address, which is not read")
    if not (source or part or isbn or issn):
        link.note("the link names no title, ISBN or ISSN")
    return Prefill(request=request, notes=tuple(link.notes))
