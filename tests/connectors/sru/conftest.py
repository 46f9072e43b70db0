"""A real Zebra SRU server over the fixture records, started once per session
(see ``zebra_server``). Without Zebra the tests skip, saying what to install;
under CI they fail instead.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from zebra_server import FIXTURES, ZebraFailed, ZebraServer, ZebraUnavailable, free_port

RECORDS = FIXTURES / "marc" / "catalog.xml"


def unavailable(reason: str) -> None:
    """Skip, or fail under CI, where the SRU tests must run against the real server."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def zebra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The SRU base URL of a Zebra indexing tests/connectors/fixtures/marc/catalog.xml.

    Test modules get what they need from fixtures: without packages in tests/,
    ``import conftest`` may find another folder's conftest.
    """
    try:
        server = ZebraServer(tmp_path_factory.mktemp("zebra"), {"Default": RECORDS})
    except ZebraUnavailable as exc:
        unavailable(str(exc))
    try:
        server.start()
    except ZebraFailed as exc:
        pytest.fail(str(exc))
    try:
        yield server.url("Default")
    finally:
        server.stop()


@pytest.fixture
def dead_url() -> str:
    """An SRU URL on a local port where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/Default"


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """The URL of a server that accepts connections, reads, and never answers."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Read whatever comes until the client gives up and closes.
        while await reader.read(1 << 16):
            pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/Default"
    finally:
        server.close()
        await server.wait_closed()
