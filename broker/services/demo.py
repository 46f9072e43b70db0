"""Accounts the demo starts with, so every role can be tried at once: a coordinator,
staff at every library, and patrons taken from the demo registers (each library's
first patron, who is in good standing, and a patron whose fee is unpaid)."""

from __future__ import annotations

import contextlib
import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from broker.domain.accounts import Account, AccountStatus, Address, Role
from broker.domain.errors import EmailTaken
from broker.services.accounts import Accounts
from broker.services.passwords import hash_password
from broker.store.accounts import AccountStore

PATRON_PASSWORD = "demo-reader-2026"


@dataclass(frozen=True, slots=True)
class DemoLogin:
    role: Role
    library: str | None
    email: str
    password: str
    note: str = ""


def _register_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return list(csv.DictReader(stream))


async def _patron(accounts: Accounts, library: str, row: dict[str, str]) -> None:
    now = datetime.now(UTC)
    account = Account(
        id=AccountStore.new_id(row["email"]), email=row["email"], role=Role.PATRON,
        status=AccountStatus.ACTIVE, created_at=now, library=library,
        given_name=row["given_name"], surname=row["surname"],
        birth_date=date.fromisoformat(row["birth_date"]), category=row["category"],
        address=Address("Demo street 1", "1000", "Demo town", library[:2]),
        card_number=row["card_number"], consent_at=now, activated_at=now)
    # A patron seeded by an earlier demo run is simply kept.
    await accounts.store.create(account, await hash_password(PATRON_PASSWORD),
                                expires=None, token=None, token_ttl=0)


async def seed(accounts: Accounts) -> list[DemoLogin]:
    """Create the demo accounts that do not exist yet; returns every demo login."""
    logins = [DemoLogin(Role.COORDINATOR, None, "coordinator@demo.example.org",
                        "watch-every-request-1")]
    for code, library in accounts.consortium.libraries.items():
        logins.append(DemoLogin(Role.STAFF, code, f"staff.{code.lower()}@demo.example.org",
                                f"ill-desk-{code.lower()}-2026"))
        rows = _register_rows(Path(library.register.settings["path"])) \
            if library.register.connector == "file" else []
        good = [r for r in rows if r["fee_paid"] == "true" and r["statement_signed"] == "true"
                and r["blocked"] == "false"]
        unpaid = [r for r in rows if r["fee_paid"] == "false"]
        if good:
            logins.append(DemoLogin(Role.PATRON, code, good[0]["email"], PATRON_PASSWORD))
            await _patron(accounts, code, good[0])
        if unpaid and code == next(iter(accounts.consortium.libraries)):
            logins.append(DemoLogin(Role.PATRON, code, unpaid[0]["email"], PATRON_PASSWORD,
                                    "membership fee unpaid: refused ILL"))
            await _patron(accounts, code, unpaid[0])
    for login in logins:
        if login.role is not Role.PATRON:
            with contextlib.suppress(EmailTaken):
                await accounts.add_staff(login.email, "Demo", login.role.value.title(),
                                         login.role, login.library, login.password)
    return logins
