"""The borrower check: the patron's account against the home library's register, and
what their membership allows. Answers are cached for a short, configured time."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from redis.asyncio import Redis

from broker.domain.accounts import Account
from broker.domain.consortium import Consortium
from broker.domain.errors import BorrowerMismatch, MembershipRestricted, Unavailable
from broker.domain.messages import N_
from broker.domain.register import (
    Borrower,
    BorrowerCheck,
    Outcome,
    RegisterEntry,
    Restriction,
    compare,
    restrictions,
)
from broker.domain.states import Service
from broker.store.codec import text, text_or_none
from broker.store.keys import Keys
from broker.store.reads import Pending, Reads
from connectors.errors import ConnectorError
from connectors.register import RegisterConnector

DEFAULT_CACHE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Eligibility:
    check: BorrowerCheck
    restrictions: tuple[Restriction, ...] = ()
    digital_only: bool = False

    def allows(self, service: Service) -> bool:
        return (self.check.outcome is Outcome.MATCH and not self.restrictions
                and not (self.digital_only and service is Service.LOAN))


def _entry_json(entry: RegisterEntry) -> str:
    return json.dumps(asdict(entry), default=str)


def _entry(text: str) -> RegisterEntry:
    raw = json.loads(text)
    for name in ("birth_date", "expires"):
        raw[name] = date.fromisoformat(raw[name]) if raw[name] else None
    raw["fines_due"] = Decimal(raw["fines_due"]) if raw["fines_due"] is not None else None
    return RegisterEntry(**raw)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class BorrowerChecks:
    redis: Redis
    keys: Keys
    consortium: Consortium
    registers: Mapping[str, RegisterConnector]
    clock: Callable[[], datetime] = _now

    def read_cached(self, reads: Reads, account: Account) -> Pending[str | None]:
        """The register's cached answer for ``account``, as part of a batch of reads;
        give it to ``check``."""
        reads.pipe.get(self.keys.register_cache(account.library or "",
                                                account.card_number or ""))
        return reads.add(1, lambda results: None if results[0] is None else text(results[0]))

    async def _lookup(self, library: str, card_number: str,
                      cached: Pending[str | None] | None) -> RegisterEntry | None:
        key = self.keys.register_cache(library, card_number)
        found = cached.value if cached is not None else text_or_none(await self.redis.get(key))
        if found is not None:
            return None if found == "" else _entry(found)
        entry = await self.registers[library].lookup(card_number)
        seconds = int(self.consortium.libraries[library].register.settings.get(
            "cache_seconds", DEFAULT_CACHE_SECONDS))
        if seconds:
            await self.redis.set(key, _entry_json(entry) if entry else "", ex=seconds)
        return entry

    async def check(self, account: Account,
                    cached: Pending[str | None] | None = None) -> Eligibility:
        """Ask the home register (unless ``cached`` from ``read_cached`` has its answer);
        an unreachable register is an answer too, not an error."""
        library = account.library or ""
        if not account.card_number or account.birth_date is None:
            return Eligibility(BorrowerCheck(Outcome.MISMATCH, ("card_number",),
                                             detail="the account has no library card number"))
        borrower = Borrower(account.card_number, account.surname, account.given_name,
                            account.birth_date)
        try:
            entry = await self._lookup(library, account.card_number, cached)
        except ConnectorError as exc:
            return Eligibility(BorrowerCheck(Outcome.UNREACHABLE, detail=str(exc)))
        result = compare(borrower, entry)
        if result.entry is None:
            return Eligibility(result)
        policy = self.consortium.libraries[library].policy
        category = self.consortium.categories.get(result.entry.category or
                                                  account.category or "")
        return Eligibility(result, restrictions(result.entry, self.clock().date(),
                                                policy.fines_limit),
                           digital_only=bool(category and category.digital_only))

    async def require(self, account: Account, service: Service) -> Eligibility:
        """The eligibility, or the refusal the patron can act on."""
        found = await self.check(account)
        if found.check.outcome is Outcome.UNREACHABLE:
            raise Unavailable(N_("your library's register does not answer just now; try "
                                 "again in a few minutes"))
        refuse(found, service)
        return found


def refuse(found: Eligibility, service: Service) -> None:
    """Raise the refusal for a known answer of the register; return when it allows
    ``service``. (An unreachable register is not an answer: the caller decides.)"""
    outcome = found.check.outcome
    if outcome not in (Outcome.MATCH, Outcome.UNREACHABLE):
        raise BorrowerMismatch(found.check.detail or "no match",
                               fields=list(found.check.differing))
    if found.restrictions:
        raise MembershipRestricted(
            N_("your membership is not complete: {advice}",
               advice="; ".join(r.advice for r in found.restrictions)),
            reasons=[r.value for r in found.restrictions])
    if found.digital_only and service is Service.LOAN:
        raise MembershipRestricted(
            N_("an e-book subscription can ask for electronic copies, not for loans of "
               "physical items; ask your library about a full membership"),
            reasons=["digital_only"])
