"""Match keys: how the union index decides that two catalogs' records are one title.

A record is keyed by every ISBN-13 and ISSN it carries ("isbn:9780306406157",
"issn:1392-012X"). A record with neither gets one title/author/year key
("tay:ocean currents primer/marsh/2001"), built so that the same title written with
or without diacritics, in another case, with ISBD punctuation or a leading article
gives the same key. Pure: no I/O and no lxml, so the index and the tests use it
freely.
"""

from __future__ import annotations

import re
import unicodedata

from broker.domain.holdings import BibRecord

TITLE_WORDS = 6

# Leading articles of the consortium's languages and their neighbours (Slovene and
# Latvian have none). Only the first word of a title is ever dropped, so "A" in
# "A is for apple" costs nothing but a slightly shorter key.
LEADING_ARTICLES = frozenset(
    {
        # English
        "the", "a", "an",
        # Dutch
        "de", "het", "een", "t",
        # Swedish, Danish, Norwegian
        "en", "ett", "et", "ei", "den", "det",
        # German
        "der", "die", "das", "ein", "eine",
        # French, Italian, Spanish, Portuguese
        "le", "la", "les", "l", "un", "une", "il", "lo", "gli", "i",
        "el", "los", "las", "o", "os", "as", "uno", "una",
    }
)  # fmt: skip

# Letters that NFKD does not split into base letter + mark, spelt as their
# catalogues' own romanisations do.
_FOLD = str.maketrans(
    {
        "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d", "ł": "l", "þ": "th",
        "ı": "i", "ħ": "h", "ŋ": "n", "ſ": "s",
    }
)  # fmt: skip

_NOT_WORD = re.compile(r"[\W_]+")


class _CombiningMarks(dict[int, int | None]):
    """A ``str.translate`` table that deletes every combining character (nonzero
    canonical combining class, as ``unicodedata.combining`` says) and keeps the rest.

    It fills itself with the characters it meets, so no table of all of Unicode is
    built up front, and a title costs one C-level pass instead of a Python loop over
    its characters.
    """

    def __missing__(self, ordinal: int) -> int | None:
        kept = None if unicodedata.combining(chr(ordinal)) else ordinal
        self[ordinal] = kept
        return kept


_COMBINING_MARKS = _CombiningMarks()
# The two steps above for what Latin-script titles are made of, as single regex
# passes: the letters _FOLD spells out, and the combining marks of the Combining
# Diacritical Marks block (all but U+034F, which does not combine).
_FOLDED_LETTERS = re.compile("[" + "".join(re.escape(chr(c)) for c in _FOLD) + "]")
_LATIN_MARKS = re.compile(
    "[" + "".join(chr(c) for c in range(0x300, 0x370) if unicodedata.combining(chr(c))) + "]+"
)


def match_keys(record: BibRecord) -> tuple[str, ...]:
    """The record's keys in the union index: ISBNs and ISSNs, else one "tay:" key.

    Expects ISBNs already normalised to ISBN-13 and ISSNs to NNNN-NNNN, as
    ``connectors.marc.records`` makes them. A record without ids whose title has no
    letters or digits gets no key at all: it could only collide with others.
    """
    keys = [f"isbn:{number}" for number in record.isbns]
    keys += [f"issn:{number}" for number in record.issns]
    if keys:
        return tuple(dict.fromkeys(keys))
    title = title_words(record.title)
    if not title:
        return ()
    surname = author_surname(record.author)
    year = str(record.year) if record.year is not None else ""
    return (f"tay:{' '.join(title)}/{surname}/{year}",)


def fold(text: str) -> str:
    """Casefolded, without diacritics, with only letters, digits and single spaces."""
    if text.isascii():
        # Nothing to translate, decompose or strip, and casefold() is lower() here.
        return _NOT_WORD.sub(" ", text.lower()).strip()
    text = text.casefold()
    if _FOLDED_LETTERS.search(text):
        text = text.translate(_FOLD)
    bare = _LATIN_MARKS.sub("", unicodedata.normalize("NFKD", text))
    if not bare.isascii():
        bare = bare.translate(_COMBINING_MARKS)
    return _NOT_WORD.sub(" ", bare).strip()


def title_words(title: str) -> list[str]:
    """The first ``TITLE_WORDS`` words of a title, without a leading article, and any
    later word with a digit in it.

    The numbers are kept because they tell the volumes of a set apart ("... coast.
    Volume 2"); a long title's other words add little but spelling variants.
    """
    words = fold(title).split()
    if len(words) > 1 and words[0] in LEADING_ARTICLES:
        words = words[1:]
    return words[:TITLE_WORDS] + [w for w in words[TITLE_WORDS:] if any(c.isdigit() for c in w)]


def author_surname(author: str | None) -> str:
    """The part of a heading that names the family: "Tolkien, J. R. R." and
    "J.R.R. Tolkien" both give "tolkien"."""
    if not author:
        return ""
    name = author.split(",", 1)[0] if "," in author else author
    words = fold(name).split()
    if not words:
        return ""
    return words[0] if "," in author else words[-1]
