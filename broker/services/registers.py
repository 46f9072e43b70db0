"""Each member library's register connector, as the consortium file names it."""

from __future__ import annotations

import os

import aiohttp

from broker.domain.consortium import Consortium, Library
from connectors.ncip.client import NcipRegister
from connectors.register import RegisterConnector
from connectors.registerfile import RegisterFile
from connectors.sip2.client import Sip2Register

DEFAULT_TIMEOUT = 5.0


def register_for(library: Library, session: aiohttp.ClientSession) -> RegisterConnector:
    config = library.register.settings
    timeout = float(config.get("timeout", DEFAULT_TIMEOUT))
    match library.register.connector:
        case "ncip":
            return NcipRegister(config["url"], session, library=library.code,
                                agency_id=config.get("agency_id", library.code),
                                timeout=timeout)
        case "sip2":
            # Credentials come from the environment, never from the consortium file.
            prefix = f"ILLBROKER_SIP2_{library.code.replace('-', '_').upper()}"
            return Sip2Register(config["host"], int(config["port"]), library=library.code,
                                timeout=timeout,
                                login_user=os.environ.get(f"{prefix}_USER"),
                                login_password=os.environ.get(f"{prefix}_PASSWORD"),
                                institution_id=config.get("agency_id", ""),
                                location_code=config.get("location_code", ""))
        case _:
            return RegisterFile(config["path"], library=library.code)


def registers(consortium: Consortium, session: aiohttp.ClientSession
              ) -> dict[str, RegisterConnector]:
    return {code: register_for(library, session)
            for code, library in consortium.libraries.items()}
