"""Password hashing with argon2 (argon2-cffi), off the event loop: a hash takes
tens of milliseconds of CPU on purpose."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
# Verified when an e-mail has no account, so a login takes as long either way and
# does not tell which addresses have accounts.
_DUMMY = _HASHER.hash("not a password anyone has")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify_password(stored: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            return _HASHER.verify(stored or _DUMMY, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)
