"""The catalog connector of a library that only exports MARCXML files.

Such a library has no live search: its holdings reach the union index by a harvest
of its latest export, which replaces everything the index held for that library.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from broker.domain.consortium import HoldingsMapping
from broker.domain.holdings import BibRecord
from connectors.marc.records import RecordError, iter_records


class MarcFileCatalog:
    """A library's catalog as one MARCXML export file (a ``collection`` of records)."""

    def __init__(self, path: str | Path, mapping: HoldingsMapping, library: str) -> None:
        self.path = Path(path)
        self.mapping = mapping
        self.library = library

    def __repr__(self) -> str:
        return f"MarcFileCatalog({str(self.path)!r}, library={self.library!r})"

    def records(self) -> Iterator[BibRecord | RecordError]:
        """Every record of the export, in file order, with a ``RecordError`` for each
        bad one (see ``connectors.marc.records.iter_records``); the file is read
        afresh on every call, so a harvest always sees the latest export.

        A missing or unreadable file raises ``OSError`` at the first ``next()``.
        """
        return iter_records(self.path, self.mapping, self.library)
