"""Password hashing with argon2 (argon2-cffi), off the event loop: a hash takes
tens of milliseconds of CPU on purpose."""

from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


@cache
def _dummy() -> str:
    """Verified when an e-mail has no account, so a login takes as long either way and
    does not tell which addresses have accounts. Made on first use: every process
    that imports this module (workers too) would otherwise pay for a hash at start."""
    return _HASHER.hash("not a password anyone has")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify_password(stored: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            return _HASHER.verify(stored or _dummy(), password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)
