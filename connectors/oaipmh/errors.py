"""OAI-PMH error conditions as exceptions, and the one a broken harvest raises.

Implements OAI-PMH 2.0 §3.6 "Error and Exception Conditions": a repository reports
an error with ``<error code="...">`` and a free-text message. ``ERROR_CLASSES`` maps
each of the eight codes of §3.6 to a class explicitly (sickle looks its classes up
by name, so a code it does not know, such as ``noMetadataFormats``, falls through to
a generic error); a code outside the table raises the base ``OaiPmhError`` with the
code kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import ClassVar, Final

from connectors.errors import ConnectorError


class OaiPmhError(ConnectorError):
    """A repository answered a request with an OAI-PMH 2.0 §3.6 error condition."""

    code: ClassVar[str] = ""

    def __init__(self, message: str, *, code: str | None = None, peer: str | None = None) -> None:
        self.error_code = code or type(self).code
        text = f"{message} ({self.error_code})" if message else self.error_code
        super().__init__(text, peer=peer)


class BadArgument(OaiPmhError):
    """badArgument: illegal, missing or repeated arguments, or a bad ``from``/``until``."""

    code = "badArgument"


class BadResumptionToken(OaiPmhError):
    """badResumptionToken: the token is invalid or has expired (§3.5)."""

    code = "badResumptionToken"


class BadVerb(OaiPmhError):
    """badVerb: the verb is missing, repeated or not one of the six."""

    code = "badVerb"


class CannotDisseminateFormat(OaiPmhError):
    """cannotDisseminateFormat: the repository does not offer this ``metadataPrefix``."""

    code = "cannotDisseminateFormat"


class IdDoesNotExist(OaiPmhError):
    """idDoesNotExist: the identifier is unknown or illegal in this repository."""

    code = "idDoesNotExist"


class NoRecordsMatch(OaiPmhError):
    """noRecordsMatch: ``from``, ``until``, ``set`` and ``metadataPrefix`` select nothing.

    For a harvest this is not a failure but an empty list; the harvester catches it.
    """

    code = "noRecordsMatch"


class NoMetadataFormats(OaiPmhError):
    """noMetadataFormats: no metadata formats are available for the item."""

    code = "noMetadataFormats"


class NoSetHierarchy(OaiPmhError):
    """noSetHierarchy: the repository does not support sets, yet a ``set`` was asked for."""

    code = "noSetHierarchy"


ERROR_CLASSES: Final[Mapping[str, type[OaiPmhError]]] = MappingProxyType(
    {
        "badArgument": BadArgument,
        "badResumptionToken": BadResumptionToken,
        "badVerb": BadVerb,
        "cannotDisseminateFormat": CannotDisseminateFormat,
        "idDoesNotExist": IdDoesNotExist,
        "noRecordsMatch": NoRecordsMatch,
        "noMetadataFormats": NoMetadataFormats,
        "noSetHierarchy": NoSetHierarchy,
    }
)


def error_for(code: str, message: str, *, peer: str | None = None) -> OaiPmhError:
    """The exception for one ``<error code="...">`` of a response (§3.6)."""
    cls = ERROR_CLASSES.get(code, OaiPmhError)
    return cls(message, code=code, peer=peer)


class HarvestInterrupted(ConnectorError):
    """A harvest broke off after its list had begun: a later page failed over HTTP,
    timed out, was not OAI-PMH, or the repository refused it (an expired
    resumptionToken, §3.5).

    Everything yielded before the failure is good and may be kept. ``yielded`` counts
    those items; ``last_datestamp`` is the newest datestamp among them (None when
    none had one). A repository that lists in datestamp order can be resumed from
    ``last_datestamp``; OAI-PMH 2.0 does not promise any order within a list, so
    resuming from ``since`` (where this harvest started) is the choice that never
    misses a record. ``cause`` is the ``ConnectorError`` that ended it.
    """

    def __init__(
        self,
        cause: ConnectorError,
        *,
        since: datetime | None,
        last_datestamp: datetime | None,
        yielded: int,
        peer: str | None = None,
    ) -> None:
        super().__init__(f"harvest interrupted after {yielded} item(s): {cause.message}", peer=peer)
        self.cause = cause
        self.since = since
        self.last_datestamp = last_datestamp
        self.yielded = yielded
