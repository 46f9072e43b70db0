"""Each member library's lending connector, as the consortium file names it."""

from __future__ import annotations

import aiohttp

from broker.domain.consortium import Consortium, Library
from broker.services.consortium_file import current
from broker.services.translations import library_language
from broker.settings import Settings
from connectors.email_lending import EmailLending
from connectors.iso18626.lending import Iso18626Lending
from connectors.lending import InboxLending, LendingConnector


def lender_for(library: Library, session: aiohttp.ClientSession,
               settings: Settings, *, consortium: Consortium | None = None
               ) -> LendingConnector:
    match library.lending.connector:
        case "iso18626":
            # The home library's agency id and address go into every message.
            return Iso18626Lending(library, consortium or current(settings.consortium_path),
                                   session)
        case "email":
            return EmailLending(library.code, library.lending.settings["address"], settings,
                                library_language(library))
        case _:
            return InboxLending(library.code)
