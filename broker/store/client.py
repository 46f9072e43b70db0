"""The asyncio Redis client every broker process uses: strings in and out, commands
packed by hiredis.

redis-py packs commands in pure Python even when hiredis parses the answers; that
packing was a third of redis-py's time on the intake's hot path (bench/intake.py), and
hiredis does the same RESP encoding in C."""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection


class PackedConnection(Connection):
    """A TCP connection whose commands hiredis packs."""

    def pack_command(self, *args: Any) -> list[bytes]:
        # redis-py's command names may be two words ("SCRIPT LOAD"); RESP wants each
        # word as its own argument.
        name = args[0]
        if isinstance(name, str) and " " in name:
            args = (*name.split(), *args[1:])
        return [hiredis.pack_command(args)]

    def pack_commands(self, commands: Any) -> list[bytes]:
        return [b"".join(self.pack_command(*command)[0] for command in commands)]


def connect(url: str, **options: Any) -> Redis:
    """A client for ``url`` that decodes answers to strings. Plain TCP connections
    (redis://) pack with hiredis; TLS and Unix sockets keep redis-py's own."""
    if not url.startswith("redis://"):
        return Redis.from_url(url, decode_responses=True, **options)
    return Redis.from_pool(ConnectionPool.from_url(
        url, decode_responses=True, connection_class=PackedConnection, **options))
