"""Each member library's lending connector, as the consortium file names it."""

from __future__ import annotations

import aiohttp

from broker.domain.consortium import Library
from broker.settings import Settings
from connectors.lending import InboxLending, LendingConnector


def lender_for(library: Library, session: aiohttp.ClientSession,
               settings: Settings) -> LendingConnector:
    match library.lending.connector:
        case _:
            return InboxLending(library.code)
