"""A member catalog searched live over SRU, as federated search asks it."""

from __future__ import annotations

from broker.domain.holdings import BibRecord
from broker.domain.search import SearchQuery
from connectors.sru import cql
from connectors.sru.client import SruClient


def query_to_cql(query: SearchQuery, indexes: cql.CqlIndexes = cql.DEFAULT_INDEXES) -> str:
    """All parts of the query, AND-ed; every user term quoted so it stays a term."""
    parts = []
    if query.isbn:
        parts.append(cql.isbn(query.isbn, indexes))
    if query.issn:
        parts.append(cql.issn(query.issn, indexes))
    if query.title:
        parts.append(cql.title(query.title, indexes))
    if query.author:
        parts.append(cql.author(query.author, indexes))
    if query.text:
        parts.append(cql.keyword(query.text, indexes))
    if not parts:
        raise ValueError("an empty query cannot be searched")
    return cql.all_of(*parts)


class SruCatalog:
    def __init__(self, client: SruClient) -> None:
        self.client = client
        self.library = client.library
        # The search's own deadline; the client's is only a backstop for one request.
        self.timeout = client.timeout

    async def search(self, query: SearchQuery, limit: int) -> list[BibRecord]:
        if query.match_key and not (query.isbn or query.issn or query.title or query.author
                                    or query.text):
            return []  # a bare match key means nothing to a library's own catalog
        page = await self.client.search(query_to_cql(query), maximum=limit)
        return list(page.records)
