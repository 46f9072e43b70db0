"""SRU diagnostics as exceptions: one class per diagnostic the broker reacts to.

Implements the SRU diagnostics list (SRU 1.2 "Diagnostics" appendix; OASIS
searchRetrieve 2.0 Part 3 Annex "Diagnostics list"): a diagnostic is identified by
its URI ``info:srw/diagnostic/1/N``, carries a human-readable message and optional
details. ``DIAGNOSTICS`` maps N to a class explicitly; a URI not in the table (or
from another diagnostic set) raises the base ``SruError`` with the URI and message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connectors.errors import CatalogUnavailable, ConnectorError

SRU_DIAGNOSTIC_PREFIX = "info:srw/diagnostic/1/"
# ASCII digits, as xs:nonNegativeInteger has them, and few enough for int(): str.isdigit
# also takes "²" (which int() refuses) and any length (int() stops at 4300 digits).
_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")


def whole_number(text: str | None) -> int | None:
    """``text`` (white space around it aside) as a non-negative integer, or None."""
    if text is None or not _WHOLE_NUMBER.fullmatch(stripped := text.strip()):
        return None
    return int(stripped)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One ``diagnostic`` element of a response, as the server wrote it."""

    uri: str
    message: str | None = None
    details: str | None = None

    @property
    def number(self) -> int | None:
        """N of ``info:srw/diagnostic/1/N``; None for other diagnostic sets."""
        if self.uri.startswith(SRU_DIAGNOSTIC_PREFIX):
            return whole_number(self.uri.removeprefix(SRU_DIAGNOSTIC_PREFIX))
        return None


class SruError(ConnectorError):
    """An SRU server answered with a fatal diagnostic."""

    def __init__(self, diagnostic: Diagnostic, *, peer: str | None = None) -> None:
        text = diagnostic.message or "SRU diagnostic"
        if diagnostic.details:
            text = f"{text}: {diagnostic.details}"
        super().__init__(f"{text} ({diagnostic.uri})", peer=peer)
        self.diagnostic = diagnostic

    @property
    def uri(self) -> str:
        return self.diagnostic.uri


class GeneralSystemError(SruError):
    """1: general system error, the server's own failure."""


class SystemTemporarilyUnavailable(SruError, CatalogUnavailable):
    """2: the server is up but cannot search now; a federated search shows the
    catalog as not answered, as for a timeout."""


class AuthenticationError(SruError):
    """3: the catalog wants credentials we did not give or it did not accept."""


class UnsupportedOperation(SruError):
    """4: the server does not do this operation (searchRetrieve, scan, explain)."""


class UnsupportedVersion(SruError):
    """5: the server does not speak the SRU version we asked for."""


class UnsupportedParameterValue(SruError):
    """6: a parameter value the server does not accept (e.g. maximumRecords)."""


class MandatoryParameterMissing(SruError):
    """7: the request lacks a parameter the server requires."""


class UnsupportedParameter(SruError):
    """8: a parameter the server does not know."""


class QueryError(SruError):
    """10-48: the server could not run the query as written."""


class QuerySyntaxError(QueryError):
    """10 (and 13, 14: parentheses, quotes): the CQL does not parse."""


class UnsupportedContextSet(QueryError):
    """15: a context set prefix (``bath.``, ``dc.``) the server does not know."""


class UnsupportedIndex(QueryError):
    """16: an index the server does not have (a catalog configured without it)."""


class UnsupportedRelation(QueryError):
    """19: a relation (``all``, ``any``, ``<``) the server does not support."""


class UnsupportedRelationModifier(QueryError):
    """20: a relation modifier the server does not support."""


class TooManyMatches(QueryError):
    """Too many terms matched by a masked word (38) or a truncated term (39...)."""


class FirstRecordOutOfRange(SruError):
    """61: startRecord is beyond the end of the result set."""


class UnknownSchema(SruError):
    """66: the server cannot give records in the requested schema (marcxml)."""


class UnsupportedRecordPacking(SruError):
    """71: the server cannot pack records as asked (xml or string)."""


# Diagnostic number -> exception class. Explicit, as sickle's table should be: a
# number we have no class for is still raised, as the base SruError.
DIAGNOSTICS: dict[int, type[SruError]] = {
    1: GeneralSystemError,
    2: SystemTemporarilyUnavailable,
    3: AuthenticationError,
    4: UnsupportedOperation,
    5: UnsupportedVersion,
    6: UnsupportedParameterValue,
    7: MandatoryParameterMissing,
    8: UnsupportedParameter,
    10: QuerySyntaxError,
    11: QueryError,  # unsupported query type
    12: QueryError,  # too many characters in query
    13: QuerySyntaxError,  # invalid or unsupported use of parentheses
    14: QuerySyntaxError,  # invalid or unsupported use of quotes
    15: UnsupportedContextSet,
    16: UnsupportedIndex,
    18: UnsupportedIndex,  # unsupported combination of indexes
    19: UnsupportedRelation,
    20: UnsupportedRelationModifier,
    21: UnsupportedRelationModifier,  # unsupported combination of relation modifiers
    22: UnsupportedRelation,  # unsupported combination of relation and index
    23: QueryError,  # too many characters in term
    24: UnsupportedRelation,  # unsupported combination of relation and term
    26: QueryError,  # non special character escaped in term
    27: QueryError,  # empty term unsupported
    28: QueryError,  # masking character not supported
    29: QueryError,  # masked words too short
    30: QueryError,  # too many masking characters in term
    31: QueryError,  # anchoring character not supported
    32: QueryError,  # anchoring character in unsupported position
    35: QueryError,  # term contains only stopwords
    36: QueryError,  # term in invalid format for index or relation
    37: QueryError,  # unsupported boolean operator
    38: TooManyMatches,  # too many boolean operators in query
    39: QueryError,  # proximity not supported
    46: QueryError,  # unsupported boolean modifier
    47: QueryError,  # cannot process query; reason unknown
    48: QueryError,  # query feature unsupported
    61: FirstRecordOutOfRange,
    66: UnknownSchema,
    71: UnsupportedRecordPacking,
}


def error_for(diagnostic: Diagnostic, *, peer: str | None = None) -> SruError:
    """The exception for a fatal diagnostic, by the ``DIAGNOSTICS`` table."""
    number = diagnostic.number
    cls = DIAGNOSTICS.get(number, SruError) if number is not None else SruError
    return cls(diagnostic, peer=peer)
