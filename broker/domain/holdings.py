"""Bibliographic records and the copies libraries hold of them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from broker.domain.messages import N_


class ItemStatus(StrEnum):
    AVAILABLE = "available"
    ON_LOAN = "on_loan"
    READING_ROOM = "reading_room"
    LOST = "lost"
    NOT_LOANABLE = "not_loanable"

    @property
    def lendable(self) -> bool:
        """A copy on loan can still be requested: the lender queues the order."""
        return self in (ItemStatus.AVAILABLE, ItemStatus.ON_LOAN)


class MaterialType(StrEnum):
    BOOK = "book"
    JOURNAL = "journal"
    AV = "av"
    SCORE = "score"
    MAP = "map"
    OTHER = "other"


# What a library lends, in words for people ("books, journals"); marked N_, so a page
# translates them.
MATERIAL_WORDS: Mapping[MaterialType, str] = MappingProxyType({
    MaterialType.BOOK: N_("books"), MaterialType.JOURNAL: N_("journals and magazines"),
    MaterialType.AV: N_("films and recordings"), MaterialType.SCORE: N_("music scores"),
    MaterialType.MAP: N_("maps"), MaterialType.OTHER: N_("other material"),
})


@dataclass(frozen=True, slots=True)
class Holding:
    """One copy of a title at one library (and branch)."""

    library: str
    status: ItemStatus
    branch: str | None = None
    call_number: str | None = None
    barcode: str | None = None
    due_date: date | None = None


@dataclass(frozen=True, slots=True)
class BibRecord:
    """A catalog record reduced to what matching and routing need.

    ISBNs are normalised to ISBN-13 and ISSNs to the hyphenated form, so that two
    catalogs that wrote the same number differently agree.
    """

    record_id: str
    title: str
    material: MaterialType = MaterialType.BOOK
    author: str | None = None
    year: int | None = None
    edition: str | None = None
    isbns: tuple[str, ...] = ()
    issns: tuple[str, ...] = ()
    other_ids: tuple[str, ...] = ()
    holdings: tuple[Holding, ...] = field(default=())
