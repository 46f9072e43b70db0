"""Federated search results: records from the union index and from live catalogs,
merged into titles with each library's holdings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from broker.domain.consortium import Consortium
from broker.domain.holdings import BibRecord, Holding, ItemStatus


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What to look for; free text, or fields. ISBN and ISSN are already normalised."""

    text: str | None = None
    title: str | None = None
    author: str | None = None
    isbn: str | None = None
    issn: str | None = None
    match_key: str | None = None


class Answer(StrEnum):
    INDEX = "index"  # no live connector: the union index answered for it
    ANSWERED = "answered"
    NOT_ANSWERED = "not answered"  # timed out
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class CatalogAnswer:
    library: str
    answer: Answer
    detail: str | None = None
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class TitleHit:
    """One title, as every library that holds it has it."""

    match_keys: tuple[str, ...]
    record: BibRecord
    holdings: Mapping[str, tuple[Holding, ...]]
    live: frozenset[str]


@dataclass(frozen=True, slots=True)
class Found:
    """A record as one library holds it, and where the broker learned it."""

    library: str
    record: BibRecord
    live: bool


def merge(found: Iterable[Found], keys_of: Callable[[BibRecord], tuple[str, ...]]
          ) -> list[TitleHit]:
    """Group records into titles: records sharing any match key are one title.

    A library's live answer replaces what the index says of it, since the live
    status is newer than the last harvest.
    """
    found = list(found)
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    keyed = []
    for item in found:
        keys = keys_of(item.record) or (f"record:{item.library}:{item.record.record_id}",)
        for other in keys[1:]:
            parent[root(other)] = root(keys[0])
        keyed.append((keys, item))

    groups: dict[str, list[tuple[tuple[str, ...], Found]]] = {}
    for keys, item in keyed:
        groups.setdefault(root(keys[0]), []).append((keys, item))

    hits = []
    for members in groups.values():
        live_libraries = {item.library for _, item in members if item.live}
        holdings: dict[str, list[Holding]] = {}
        for _, item in members:
            if item.library in live_libraries and not item.live:
                continue
            holdings.setdefault(item.library, []).extend(
                h for h in item.record.holdings if h.library == item.library)
        all_keys = tuple(dict.fromkeys(k for keys, _ in members for k in keys))
        best = max((item.record for _, item in members), key=_completeness)
        hits.append(TitleHit(all_keys, best, {lib: tuple(h) for lib, h in holdings.items()},
                             frozenset(live_libraries)))
    return sorted(hits, key=lambda h: (-len(h.holdings), h.record.title.casefold()))


def _completeness(record: BibRecord) -> tuple[int, int]:
    filled = sum(x is not None for x in (record.author, record.year, record.edition))
    return (filled + len(record.isbns) + len(record.issns), -len(record.title))


def lendable_now(hit: TitleHit, consortium: Consortium) -> dict[str, list[Holding]]:
    """Copies that could leave their library today: available, of a material it lends."""
    out: dict[str, list[Holding]] = {}
    for library, holdings in hit.holdings.items():
        member = consortium.libraries.get(library)
        if member is None or hit.record.material not in member.policy.lends:
            continue
        ready = [h for h in holdings if h.status is ItemStatus.AVAILABLE]
        if ready:
            out[library] = ready
    return out
