"""Registering, activating, logging in, resetting passwords, moving home library,
and purging registrations that were never confirmed."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from broker.domain.accounts import (
    MAIL_LANGUAGES,
    Account,
    AccountStatus,
    Registration,
    Role,
    check_registration,
    normalize_email,
    password_problem,
)
from broker.domain.consortium import Consortium
from broker.domain.errors import (
    Conflict,
    EmailTaken,
    Forbidden,
    InvalidToken,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from broker.domain.messages import N_
from broker.services.passwords import hash_password, verify_password
from broker.store.accounts import AccountStore, new_token
from broker.store.keys import Keys, account_shard
from broker.store.requests import OutboxJob, RequestStore

ACTIVATION = timedelta(hours=24)
RESET = timedelta(hours=1)
# Failed logins allowed per window, per account and per client address.
LOGIN_WINDOW = 15 * 60
LOGIN_TRIES_ACCOUNT = 5
LOGIN_TRIES_ADDRESS = 30


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Accounts:
    store: AccountStore
    requests: RequestStore
    redis: Redis
    keys: Keys
    consortium: Consortium
    base_url: str
    clock: Callable[[], datetime] = _now

    def _mail(self, account_id: str, to: str, subject: str, body: str) -> OutboxJob:
        return OutboxJob("send_mail", account_id, {"to": to, "subject": subject, "body": body})

    def _activation_mail(self, account: Account, token: str, at_desk: bool) -> OutboxJob:
        library = self.consortium.libraries[account.library or ""].name
        link = f"{self.base_url}/activate?token={token}"
        what = ("confirm your e-mail address and choose your password" if at_desk
                else "activate your account")
        return self._mail(account.id, account.email, f"{library}: {what}",
                          f"Hello {account.given_name},\n\n"
                          f"please {what} for interlibrary loan at {library}:\n\n{link}\n\n"
                          f"The link works once, for {int(ACTIVATION.total_seconds() // 3600)} "
                          "hours. If you did not ask for an account, ignore this mail; the "
                          "registration is then deleted.\n")

    async def register(self, raw: Mapping[str, Any]) -> Account:
        """A patron registers themselves; the account waits for the e-mailed link."""
        registration = check_registration(raw, self.consortium, self.today())
        if registration.card_number is None:
            raise ValidationFailed({"card_number": N_("required: the number on your "
                                                       "library card")})
        return await self._create(registration, at_desk=False)

    async def register_at_desk(self, raw: Mapping[str, Any], staff: Account) -> Account:
        """Staff register a patron of their own library; the patron confirms the e-mail
        and chooses a password from the mailed link."""
        registration = check_registration(raw, self.consortium, self.today(),
                                          needs_password=False)
        if registration.home_library != staff.library:
            raise Forbidden("staff register patrons of their own library only")
        if registration.password is not None:
            raise ValidationFailed({"password": "the patron chooses it from the mailed link"})
        if registration.card_number is None:
            policy = self.consortium.libraries[registration.home_library].policy
            if not policy.generate_card_numbers:
                raise ValidationFailed({"card_number": "required: this library issues its "
                                        "own card numbers"})
            registration = replace(registration, card_number=policy.card_number_prefix
                                   + f"{secrets.randbelow(10**10):010d}")
        return await self._create(registration, at_desk=True)

    async def _create(self, registration: Registration, at_desk: bool) -> Account:
        now = self.clock()
        account = Account(
            id=AccountStore.new_id(registration.email), email=registration.email,
            role=Role.PATRON, status=AccountStatus.PENDING, created_at=now,
            library=registration.home_library, given_name=registration.given_name,
            surname=registration.surname, birth_date=registration.birth_date,
            category=registration.category, address=registration.address,
            card_number=registration.card_number, consent_at=now,
            language=registration.language)
        password_hash = await hash_password(registration.password) \
            if registration.password else None
        for _attempt in range(2):
            token = new_token(account_shard(account.id))
            existing = await self.store.create(
                account, password_hash, expires=now + ACTIVATION, token=token,
                token_ttl=int(ACTIVATION.total_seconds()),
                jobs=[self._activation_mail(account, token, at_desk)])
            if existing is None:
                return account
            # A registration never confirmed in time is gone: the person may register again.
            if not await self.store.purge(existing, now):
                break
        raise EmailTaken(N_("an account with this e-mail address exists already; log in, or "
                            "ask for a new password"), errors={"email": "already registered"})

    async def add_staff(self, email: str, given_name: str, surname: str, role: Role,
                        library: str | None, password: str) -> Account:
        """A library staff member or a coordinator, active at once (made by an admin)."""
        problems: dict[str, str] = {}
        try:
            email = normalize_email(email)
        except ValueError as exc:
            problems["email"] = str(exc)
        if role is Role.PATRON:
            problems["role"] = "patrons register themselves or at the desk"
        if (role is Role.STAFF) != (library in self.consortium.libraries):
            problems["library"] = "staff need their member library; coordinators none"
        if problem := password_problem(password, 10, email):
            problems["password"] = problem
        if problems:
            raise ValidationFailed(problems)
        now = self.clock()
        account = Account(id=AccountStore.new_id(email), email=email, role=role,
                          status=AccountStatus.ACTIVE, created_at=now, library=library,
                          given_name=given_name, surname=surname, activated_at=now)
        if await self.store.create(account, await hash_password(password), expires=None,
                                   token=None, token_ttl=0) is not None:
            raise EmailTaken("an account with this e-mail address exists already",
                             errors={"email": "already registered"})
        return account

    async def activate(self, token: str, password: str | None = None) -> Account:
        account_id = await self.store.take_token("activate", token)
        if account_id is None:
            raise InvalidToken(N_("this activation link is not valid: it was used already or "
                                  "is older than 24 hours; register again"))
        try:
            account = await self.store.get(account_id)
        except NotFound:
            raise InvalidToken(N_("this activation link is not valid any more: the "
                                  "registration was not confirmed in time; register again")) \
                from None
        password_hash = None
        if await self.store.password_hash(account_id) is None:
            policy = self.consortium.libraries[account.library or ""].policy
            if problem := password_problem(password, policy.password_min_length, account.email):
                # The link stays usable for another try with a better password.
                await self.store.redis.set(self.keys.token("activate", token), account_id,
                                           ex=int(ACTIVATION.total_seconds()))
                raise ValidationFailed({"password": problem})
            assert password is not None
            password_hash = await hash_password(password)
        if not await self.store.activate(account_id, self.clock(), password_hash):
            raise InvalidToken(N_("this activation link is not valid any more; register again"))
        return await self.store.get(account_id)

    async def _throttled(self, kind: str, who: str, limit: int) -> bool:
        count = await self.redis.get(self.keys.rate_limit(kind, who))
        return count is not None and int(count) >= limit

    async def _failed(self, kind: str, who: str) -> None:
        key = self.keys.rate_limit(kind, who)
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, LOGIN_WINDOW, nx=True)
        await pipe.execute()

    async def login(self, email: object, password: object, address: str) -> Account:
        try:
            address_key = normalize_email(email).casefold()
        except ValueError:
            raise ValidationFailed({"email": N_("a valid e-mail address is required")}) from None
        if not isinstance(password, str) or not password:
            raise ValidationFailed({"password": N_("required")})
        if await self._throttled("login-account", address_key, LOGIN_TRIES_ACCOUNT) or \
                await self._throttled("login-address", address, LOGIN_TRIES_ADDRESS):
            raise RateLimited(N_("too many failed logins; wait 15 minutes or reset your "
                                  "password"))
        account = await self.store.find(address_key)
        stored = await self.store.password_hash(account.id) if account else None
        if not await verify_password(stored, password) or account is None:
            await self._failed("login-account", address_key)
            await self._failed("login-address", address)
            raise Unauthenticated(N_("wrong e-mail address or password"))
        if account.status is not AccountStatus.ACTIVE:
            raise Unauthenticated(N_("activate your account first with the link we e-mailed "
                                     "you"))
        return account

    async def request_reset(self, email: object) -> None:
        """Mail a reset link if the account exists; the answer is the same either way."""
        try:
            account = await self.store.find(normalize_email(email))
        except ValueError:
            raise ValidationFailed({"email": N_("a valid e-mail address is required")}) from None
        if account is None or account.status is not AccountStatus.ACTIVE:
            return
        def mail(token: str) -> OutboxJob:
            return self._mail(account.id, account.email, "Your new password",
                              f"Hello {account.given_name},\n\nchoose a new password here:"
                              f"\n\n{self.base_url}/reset?token={token}\n\nThe link works "
                              "once, for one hour. If you did not ask for it, ignore this "
                              "mail.\n")

        await self.store.issue_token("reset", account.id, int(RESET.total_seconds()), mail)

    async def reset(self, token: str, password: object) -> Account:
        account_id = await self.store.take_token("reset", token)
        if account_id is None:
            raise InvalidToken(N_("this link is not valid: it was used already or is older "
                                  "than an hour; ask for a new one"))
        account = await self.store.get(account_id)
        policy = self.consortium.libraries[account.library or ""].policy \
            if account.library in self.consortium.libraries else None
        problem = password_problem(password, policy.password_min_length if policy else 8,
                                   account.email)
        if problem:
            await self.redis.set(self.keys.token("reset", token), account_id,
                                 ex=int(RESET.total_seconds()))
            raise ValidationFailed({"password": problem})
        assert isinstance(password, str)
        await self.store.set_password(account_id, await hash_password(password))
        return account

    async def change_home_library(self, account_id: str, library: str, card_number: str,
                                  staff: Account) -> Account:
        """A patron who moved keeps their login: staff of the new library take them on."""
        if library != staff.library or library not in self.consortium.libraries:
            raise Forbidden("staff move patrons to their own library only")
        card_number = card_number.strip()
        if not 1 <= len(card_number) <= 40:
            raise ValidationFailed({"card_number": "1 to 40 characters"})
        account = await self.store.get(account_id)
        if account.role is not Role.PATRON:
            raise ValidationFailed({"account": "not a patron account"})
        await self.store.update(account_id, {"library": library, "card_number": card_number},
                                "home_library_changed", f"staff:{staff.id}",
                                {"from": account.library, "to": library})
        return await self.store.get(account_id)

    async def choose_language(self, account: Account, language: str) -> Account:
        """The language of ``account``'s pages and mails, chosen by its owner."""
        if language not in MAIL_LANGUAGES:
            raise ValidationFailed({"language": "one of: " + ", ".join(MAIL_LANGUAGES)})
        if account.language != language:
            await self.store.update(account.id, {"language": language}, "language_chosen",
                                    f"account:{account.id}",
                                    {"from": account.language, "to": language})
        return replace(account, language=language)

    async def export(self, account: Account) -> dict[str, Any]:
        """The account's history and requests, for the person's own download."""
        requests = [await self.requests.get(rid)
                    for rid in await self.requests.ids_for_patron(account.id)]
        return {
            "account_events": await self.store.events(account.id),
            "requests": [{"id": r.id, "service": r.service.value, "state": r.state.value,
                          "item": asdict(r.item), "pickup_location": r.pickup_location,
                          "created_at": r.created_at.isoformat(),
                          "history": [{"event": e.event.value, "at": e.at.isoformat(),
                                       "state": e.target.value}
                                      for e in await self.requests.history(r.id)]}
                         for r in requests],
        }

    async def delete(self, account: Account) -> None:
        """Delete the account; its finished requests stay, anonymised, for the
        libraries' statistics. Refused while a request is still in progress."""
        ids = await self.requests.ids_for_patron(account.id)
        requests = [await self.requests.get(rid) for rid in ids]
        open_ones = [r.id for r in requests if not r.state.terminal]
        if open_ones:
            raise Conflict(N_("requests in progress must end (or be cancelled) before the "
                              "account can be deleted"), requests=open_ones)
        for request in requests:
            await self.requests.anonymise(request)
        await self.store.delete(account)

    def today(self) -> date:
        return self.clock().date()
