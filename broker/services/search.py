"""Federated search: the union index for every library, and each live catalog at
once, each with its own timeout. A slow or dead catalog shows as not answered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from broker.domain.consortium import Consortium
from broker.domain.errors import ValidationFailed
from broker.domain.holdings import BibRecord
from broker.domain.messages import N_
from broker.domain.search import Answer, CatalogAnswer, Found, SearchQuery, TitleHit, merge
from broker.store.holdings import IndexEntry, UnionIndex
from broker.store.reads import Pending
from connectors.errors import CatalogUnavailable, ConnectorError
from connectors.marc.matchkey import fold, match_keys

MAX_WORDS = 8
DEFAULT_TIMEOUT = 5.0


class LiveCatalog(Protocol):
    """A member catalog that can be searched now (SRU)."""

    library: str
    timeout: float

    async def search(self, query: SearchQuery, limit: int) -> list[BibRecord]: ...


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: SearchQuery
    titles: list[TitleHit]
    catalogs: list[CatalogAnswer]


def index_keys(query: SearchQuery) -> list[str]:
    keys = []
    if query.isbn:
        keys.append(f"isbn:{query.isbn}")
    if query.issn:
        keys.append(f"issn:{query.issn}")
    if query.match_key:
        keys.append(query.match_key)
    return keys


def query_words(query: SearchQuery) -> list[str]:
    text = " ".join(t for t in (query.text, query.title, query.author) if t)
    words = list(dict.fromkeys(w for w in fold(text).split() if len(w) > 1))
    if len(words) > MAX_WORDS:
        raise ValidationFailed({"q": N_("at most {count} words", count=MAX_WORDS)})
    return words


async def _from_index(index: UnionIndex, keys: list[str], words: list[str],
                      limit: int) -> list[Found]:
    if words:
        by_words = await index.match_keys_for_words(words, limit=limit)
        keys = [k for k in by_words if k in keys] if keys else by_words
    return found_in(await index.lookup(keys) if keys else {})


async def _ask(catalog: LiveCatalog, query: SearchQuery, limit: int
               ) -> tuple[CatalogAnswer, list[BibRecord]]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(catalog.timeout):
            records = await catalog.search(query, limit)
    except TimeoutError:
        return CatalogAnswer(catalog.library, Answer.NOT_ANSWERED,
                             f"no answer within {catalog.timeout:g} s"), []
    except CatalogUnavailable as exc:
        return CatalogAnswer(catalog.library, Answer.NOT_ANSWERED, str(exc),
                             time.perf_counter() - started), []
    except ConnectorError as exc:
        return CatalogAnswer(catalog.library, Answer.FAILED, str(exc),
                             time.perf_counter() - started), []
    return CatalogAnswer(catalog.library, Answer.ANSWERED, None,
                         time.perf_counter() - started), records


def found_in(entries: Mapping[str, list[IndexEntry]]) -> list[Found]:
    return [Found(e.library, e.record, live=False) for page in entries.values() for e in page]


async def search(query: SearchQuery, consortium: Consortium, index: UnionIndex,
                 live: Mapping[str, LiveCatalog], limit: int = 20,
                 indexed: Pending[dict[str, list[IndexEntry]]] | None = None) -> SearchResult:
    """Titles matching ``query`` with every member's holdings, best-held first.
    ``indexed``: the index entries for ``index_keys(query)``, read already (a query
    without words needs nothing else from the index)."""
    keys, words = index_keys(query), query_words(query)
    if indexed is not None and not words:
        found = found_in(indexed.value)
        answers = await asyncio.gather(*(_ask(c, query, limit) for c in live.values()))
    else:
        from_index = asyncio.create_task(_from_index(index, keys, words, limit))
        answers = await asyncio.gather(*(_ask(c, query, limit) for c in live.values()))
        found = await from_index
    catalogs = []
    for answer, records in answers:
        catalogs.append(answer)
        found += [Found(answer.library, r, live=True) for r in records]
    catalogs += [CatalogAnswer(code, Answer.INDEX) for code in consortium.libraries
                 if code not in live]
    titles = merge(found, match_keys)[:limit]
    return SearchResult(query, titles, sorted(catalogs, key=lambda c: c.library))
