"""OAI-PMH 2.0 harvesting of member catalogs (MARCXML records) with sickle.

``OaiHarvester.harvest`` yields ``Upsert``, ``Deletion`` and ``RecordError`` items;
``harvest_async`` does the same off the event loop. Errors are ``ConnectorError``s:
one class per §3.6 error code (``ERROR_CLASSES``), ``HarvestInterrupted`` when a list
breaks off half-way.
"""

from __future__ import annotations

from connectors.marc.records import RecordError
from connectors.oaipmh.client import OaiClient
from connectors.oaipmh.datestamps import Granularity, format_datestamp, parse_datestamp
from connectors.oaipmh.errors import (
    ERROR_CLASSES,
    BadArgument,
    BadResumptionToken,
    BadVerb,
    CannotDisseminateFormat,
    HarvestInterrupted,
    IdDoesNotExist,
    NoMetadataFormats,
    NoRecordsMatch,
    NoSetHierarchy,
    OaiPmhError,
)
from connectors.oaipmh.harvester import HarvestRun, OaiHarvester
from connectors.oaipmh.items import Deletion, HarvestItem, HarvestProblem, Upsert

__all__ = [
    "ERROR_CLASSES",
    "BadArgument",
    "BadResumptionToken",
    "BadVerb",
    "CannotDisseminateFormat",
    "Deletion",
    "Granularity",
    "HarvestInterrupted",
    "HarvestItem",
    "HarvestProblem",
    "HarvestRun",
    "IdDoesNotExist",
    "NoMetadataFormats",
    "NoRecordsMatch",
    "NoSetHierarchy",
    "OaiClient",
    "OaiHarvester",
    "OaiPmhError",
    "RecordError",
    "Upsert",
    "format_datestamp",
    "parse_datestamp",
]
