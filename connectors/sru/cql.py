"""CQL queries built from what a patron typed: by ISBN, ISSN, title, author, keyword.

Implements the query side of CQL 1.2 (Contextual Query Language, LoC; OASIS
searchRetrieve 2.0 Part 5): every user term is a quoted string, with the
characters CQL gives a meaning to escaped (§"Search Terms": ``\\`` escapes, and the
masking characters ``*``, ``?`` and the anchor ``^`` are taken literally once
escaped), so that user text can never change the structure of the query. Index
names come from context sets a Zebra or Koha CQL mapping knows: ``bath`` (Bath
Profile) for ISBN and ISSN, ``dc`` (Dublin Core) for title and creator, ``cql`` for
the keyword search. A catalog that names them differently gets its own
``CqlIndexes``.
"""

from __future__ import annotations

from dataclasses import dataclass

from stdnum import isbn as stdnum_isbn
from stdnum import issn as stdnum_issn


@dataclass(frozen=True, slots=True)
class CqlIndexes:
    """The CQL index a catalog searches for each kind of user query."""

    isbn: str = "bath.isbn"
    issn: str = "bath.issn"
    title: str = "dc.title"
    author: str = "dc.creator"
    keyword: str = "cql.serverChoice"


DEFAULT_INDEXES = CqlIndexes()

_ESCAPED = {"\\": "\\\\", '"': '\\"', "*": "\\*", "?": "\\?", "^": "\\^"}


def quote(term: str) -> str:
    """``term`` as a CQL quoted string that matches it literally.

    Control characters (which no catalog indexes) become spaces and runs of white
    space one space, so a pasted title with line breaks still searches.
    """
    clean = " ".join("".join(" " if ch < " " else ch for ch in term).split())
    return '"' + "".join(_ESCAPED.get(ch, ch) for ch in clean) + '"'


def _words(text: str, what: str) -> str:
    if not text or not text.strip():
        raise ValueError(f"an empty {what} cannot be searched")
    return text


def isbn(value: str, indexes: CqlIndexes = DEFAULT_INDEXES) -> str:
    """Records with this ISBN in any of the forms catalogs write it.

    Raises ``ValueError`` for a number that is not a valid ISBN. An ISBN-13 of the
    978 range is also searched as its ISBN-10, and each form both compact and
    hyphenated, since a catalog's index keeps what its cataloguers typed.
    """
    number = stdnum_isbn.validate(_words(value, "ISBN"))
    isbn13 = stdnum_isbn.to_isbn13(number)
    forms = [isbn13, stdnum_isbn.format(isbn13)]
    if isbn13.startswith("978"):
        isbn10 = stdnum_isbn.to_isbn10(isbn13)
        forms += [isbn10, stdnum_isbn.format(isbn10)]
    return _any_of(indexes.isbn, forms)


def issn(value: str, indexes: CqlIndexes = DEFAULT_INDEXES) -> str:
    """Records with this ISSN, written with or without its hyphen.

    Raises ``ValueError`` for a number that is not a valid ISSN.
    """
    number = stdnum_issn.validate(_words(value, "ISSN"))
    return _any_of(indexes.issn, [stdnum_issn.format(number), number])


def title(text: str, indexes: CqlIndexes = DEFAULT_INDEXES) -> str:
    """Records whose title has all these words, in any order."""
    return f"{indexes.title} all {quote(_words(text, 'title'))}"


def author(text: str, indexes: CqlIndexes = DEFAULT_INDEXES) -> str:
    """Records whose author has all these words ("tolkien", "J. R. R. Tolkien")."""
    return f"{indexes.author} all {quote(_words(text, 'author'))}"


def keyword(text: str, indexes: CqlIndexes = DEFAULT_INDEXES) -> str:
    """Records with all these words wherever the server looks by default."""
    return f"{indexes.keyword} all {quote(_words(text, 'search'))}"


def all_of(*queries: str) -> str:
    """The queries combined with ``and``; each is parenthesised, so any will do."""
    parts = [q for q in queries if q]
    if not parts:
        raise ValueError("nothing to search for")
    return parts[0] if len(parts) == 1 else " and ".join(f"({q})" for q in parts)


def _any_of(index: str, terms: list[str]) -> str:
    unique = list(dict.fromkeys(terms))
    clauses = [f"{index}={quote(term)}" for term in unique]
    return clauses[0] if len(clauses) == 1 else "(" + " or ".join(clauses) + ")"
