"""The live catalogs of a consortium: each member whose catalog connector can search now."""

from __future__ import annotations

import aiohttp

from broker.domain.consortium import Consortium
from broker.services.search import LiveCatalog
from connectors.sru.catalog import SruCatalog
from connectors.sru.client import SruClient

DEFAULT_TIMEOUT = 5.0


def live_catalogs(consortium: Consortium, session: aiohttp.ClientSession
                  ) -> dict[str, LiveCatalog]:
    catalogs: dict[str, LiveCatalog] = {}
    for library in consortium.libraries.values():
        config = library.catalog
        if config.connector == "sru":
            client = SruClient(config.settings["url"], session, library=library.code,
                               mapping=config.holdings,
                               version=config.settings.get("version", "1.2"),
                               timeout=float(config.settings.get("timeout", DEFAULT_TIMEOUT)))
            catalogs[library.code] = SruCatalog(client)
    return catalogs
