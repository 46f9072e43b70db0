"""Peers that the connector tests run on localhost: one POST endpoint on a free port
of 127.0.0.1, and a URL where nothing listens."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

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
