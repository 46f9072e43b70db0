"""Peers that the connector tests run on localhost: one POST endpoint on a free port
of 127.0.0.1, a URL where nothing listens, and a faulty line in front of a peer."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import StrEnum

from aiohttp import web


@contextlib.asynccontextmanager
async def post_endpoint(path: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                        ) -> AsyncIterator[str]:
    """``handler`` answering POSTs to ``path`` for the block's duration; yields its URL."""
    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}{path}"
    finally:
        await runner.cleanup()


def nothing_listens_at(path: str) -> str:
    """A URL with ``path`` on a local port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


class Fault(StrEnum):
    """What ``FaultyLine`` does with a connection."""

    PASS = "pass"  # carry the bytes to the peer behind it and back
    HANG = "hang"  # accept, read, never answer
    RESET = "reset"  # read, start an answer, then RST the connection mid-answer
    GARBAGE = "garbage"  # read, answer bytes of no protocol, close


# An HTTP answer cut off half-way: the status and headers promise more than comes.
HALF_ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 4096"
               b"\r\n\r\n<?xml version='1.0' encoding='UTF-8'?><half")
GARBAGE = bytes(range(256)) * 4


class FaultyLine:
    """A TCP port on 127.0.0.1 in front of a peer (HTTP or SIP2) at ``upstream``
    (host, port): it passes traffic through, or hangs, resets or answers garbage, as
    ``fault`` says when a connection comes in. Works below the protocol, so the same
    line stands in front of a catalog, a register or a lender."""

    def __init__(self, upstream: tuple[str, int] | None = None,
                 fault: Fault = Fault.PASS) -> None:
        self.upstream = upstream
        self.fault = fault
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> FaultyLine:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(self.fault, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.transport.abort()

    async def _serve(self, fault: Fault, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        if fault is Fault.PASS:
            assert self.upstream is not None, "nothing behind the line to pass to"
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            self._writers.add(up_writer)
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                self._writers.discard(up_writer)
                up_writer.transport.abort()
            return
        await reader.read(65536)  # the request (or its first part) has come in
        if fault is Fault.HANG:
            await reader.read()  # until the client gives up and closes
        elif fault is Fault.RESET:
            writer.write(HALF_ANSWER)
            await writer.drain()
            # SO_LINGER with a zero timeout: closing sends RST instead of FIN.
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        else:
            writer.write(GARBAGE)
            await writer.drain()
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()
