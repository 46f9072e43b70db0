"""A real SIP2 server (``sip2_server``) per test and a register connector pointed at it.

Test modules get the server and the connector from these fixtures and the data from
the ``sip2_server`` module: ``import conftest`` may find another folder's conftest.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from connectors.sip2.client import Sip2Register

from sip2_server import HOST, INSTITUTION, LOGIN_PASSWORD, LOGIN_USER, Sip2Server

TIMEOUT = 0.5


@pytest.fixture
async def sip2_server() -> AsyncIterator[Sip2Server]:
    server = Sip2Server()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def sip2_register(sip2_server: Sip2Server) -> Sip2Register:
    """The broker's connector for the server, logging in with its SIP2 account."""
    return Sip2Register(HOST, sip2_server.port, library="SI-LJMK",
                        timeout=TIMEOUT, login_user=LOGIN_USER,
                        login_password=LOGIN_PASSWORD, location_code="ILL",
                        institution_id=INSTITUTION)


@pytest.fixture
def dead_port() -> int:
    """A local port where nothing listens."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port
