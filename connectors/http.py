"""What every HTTP connector does the same way: read a peer's answer, but never more
of it than a sane message can be."""

from __future__ import annotations

import aiohttp

from connectors.errors import BadResponse


async def read_limited(response: aiohttp.ClientResponse, max_bytes: int, *, peer: str,
                       error: type[BadResponse] = BadResponse) -> bytes:
    """The body, or ``error`` as soon as it (declared or as read) passes ``max_bytes``."""
    if response.content_length is not None and response.content_length > max_bytes:
        raise error(f"response of {response.content_length} bytes is over {max_bytes}",
                    peer=peer)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > max_bytes:
            raise error(f"response over {max_bytes} bytes", peer=peer)
        chunks.append(chunk)
    return b"".join(chunks)
