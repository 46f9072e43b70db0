"""What a harvest yields, one item per OAI-PMH record: an upsert, a deletion, or the
named error of a record that could not be used.

Implements the record side of OAI-PMH 2.0 §2.5 ("Record": header, metadata) and §2.5.1
("Deleted records": a header with ``status="deleted"`` and no metadata).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from broker.domain.holdings import BibRecord
from connectors.marc.records import RecordError


class HarvestProblem(StrEnum):
    """``RecordError.code`` values a harvest adds to ``connectors.marc.records.Problem``:
    what is wrong with the OAI-PMH envelope of a record rather than with its MARC."""

    BAD_HEADER = "bad-oai-header"
    NO_METADATA = "no-metadata"


@dataclass(frozen=True, slots=True)
class Upsert:
    """A record to add to the index or replace in it (§2.5).

    ``identifier`` is the repository's OAI identifier (§2.4), the only key a later
    deletion of the same record will carry; ``record.record_id`` is the MARC 001.
    ``raw`` is the ``<record>`` element as the repository sent it, for the audit log.
    """

    record: BibRecord
    datestamp: datetime
    identifier: str
    raw: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class Deletion:
    """A record the repository has withdrawn (§2.5.1): remove it from the index."""

    identifier: str
    datestamp: datetime


# A RecordError from a harvest names the record by its OAI identifier (record_id),
# so that the caller can relate it to earlier upserts and deletions; its position is
# the record's 1-based place in the whole harvest.
HarvestItem = Upsert | Deletion | RecordError
