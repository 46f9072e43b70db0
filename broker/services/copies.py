"""Copies a lender uploads instead of giving a link: the file under the data folder
(``DATA/copies/<request id>/<name>``), served at ``/copies/<token>`` to the patron of
the request and the home library's staff only.

Kept simple and safe: the folder comes from a checked request number and the name is
cut down to a few safe characters, so nothing in the upload chooses a path; the type
is read from the file's first bytes (PDF, JPEG, PNG, TIFF), never from what the
sender claims; a file is at most ``MAX_COPY`` bytes, counted while it streams in.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis

from broker.domain.errors import Forbidden, IllegalTransition, ValidationFailed
from broker.domain.lifecycle import Answer, LenderAnswer, answers_in
from broker.domain.messages import N_
from broker.domain.request import Request
from broker.domain.states import Event
from broker.services.lending import Lending
from broker.store.keys import Keys
from broker.store.order_links import get_token, put_token

MAX_COPY = 20 * 1024 * 1024
# The first bytes of each type we serve, and the extension its file gets.
_MAGIC = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"II*\x00", "image/tiff", ".tif"),
    (b"MM\x00*", "image/tiff", ".tif"),
)
TYPES = frozenset(kind for _, kind, _ in _MAGIC)
_REQUEST_ID = re.compile(r"ILL-[0-9A-Z]{4}-[0-9A-Z]{4}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 80


@dataclass(frozen=True, slots=True)
class StoredCopy:
    request_id: str
    name: str
    content_type: str
    path: Path


def sniff(head: bytes) -> tuple[str, str] | None:
    """The content type and extension of a file starting with ``head``, if allowed."""
    return next(((kind, ext) for magic, kind, ext in _MAGIC if head.startswith(magic)), None)


def safe_name(filename: str, extension: str) -> str:
    """The sender's file name without folders or odd characters, with the extension of
    its real type."""
    base = re.split(r"[\\/]", filename)[-1]
    stem = _UNSAFE.sub("-", base.rsplit(".", 1)[0] if "." in base else base).strip(".-")
    return (stem[:MAX_NAME] or "copy") + extension


class Copies:
    def __init__(self, data_dir: Path, redis: Redis, keys: Keys) -> None:
        self.root = data_dir / "copies"
        self.redis = redis
        self.keys = keys

    async def save(self, request_id: str, filename: str,
                   chunks: AsyncIterator[bytes]) -> str:
        """Store the file streamed in ``chunks`` for ``request_id``; the token of its
        link. ``ValidationFailed`` for a type not allowed, an empty or too large file."""
        if not _REQUEST_ID.fullmatch(request_id):
            raise ValidationFailed({"request": "not a request number"})
        folder = self.root / request_id
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".upload-{secrets.token_hex(8)}"
        size, head, kind = 0, b"", None
        try:
            with partial.open("wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > MAX_COPY:
                        raise ValidationFailed({"file": N_("at most 20 MB")})
                    if kind is None:
                        head += chunk
                        if len(head) >= 8:
                            kind = sniff(head)
                            if kind is None:
                                raise ValidationFailed(
                                    {"file": N_("a PDF, JPEG, PNG or TIFF file")})
                    out.write(chunk)
            if kind is None:
                kind = sniff(head)
            if size == 0 or kind is None:
                raise ValidationFailed({"file": N_("a PDF, JPEG, PNG or TIFF file")})
            target = folder / safe_name(filename, kind[1])
            if target.exists():
                target = target.with_name(f"{target.stem}-{secrets.token_hex(3)}{target.suffix}")
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return await put_token(self.redis, self.keys, "copy", request_id, {
            "request": request_id, "name": target.name, "type": kind[0]})

    async def find(self, token: str) -> StoredCopy | None:
        """The stored copy behind a link's token, or None."""
        found = await get_token(self.redis, self.keys, "copy", token)
        if found is None:
            return None
        path = (self.root / found["request"] / found["name"]).resolve()
        # What was stored was checked on the way in; this only guards a tampered store.
        if not path.is_relative_to(self.root.resolve()) or not path.is_file() \
                or found["type"] not in TYPES:
            return None
        return StoredCopy(found["request"], found["name"], found["type"], path)


async def deliver_copy(copies: Copies, lending: Lending, request_id: str, lender: str,
                       filename: str, chunks: AsyncIterator[bytes], base_url: str,
                       actor: str) -> Request:
    """``lender`` delivers a copy by uploading it: the file is kept only if the order
    is the lender's and takes a copy now, and the answer's link is the file's."""
    request = await lending.requests.get(request_id)
    if request.lender != lender:
        raise Forbidden("this order is not in your library's inbox")
    if LenderAnswer.COPY_DELIVERED not in answers_in(request.state, request.service):
        raise IllegalTransition(request.state, Event.COPY_DELIVERED, request.service)
    token = await copies.save(request_id, filename, chunks)
    return await lending.lender_answers(
        request_id, lender, Answer(LenderAnswer.COPY_DELIVERED,
                                   url=f"{base_url}/copies/{token}"), actor)
