"""Accounts: patrons (one home library each) and library staff and coordinators.

Registration input is checked here, all fields at once, so the caller gets every
problem with its field named; the password policy is the home library's.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from email_validator import EmailNotValidError, validate_email

from broker.domain.consortium import Consortium
from broker.domain.errors import ValidationFailed
from broker.domain.messages import N_

MAX_NAME = 100
MAX_ADDRESS = 200
MAX_PASSWORD = 256
OLDEST = 130
# The languages the broker's mails are written in (catalogs in broker/locale).
MAIL_LANGUAGES = ("en", "sl", "lv", "nl", "sv")


class Role(StrEnum):
    PATRON = "patron"
    STAFF = "staff"
    COORDINATOR = "coordinator"


class AccountStatus(StrEnum):
    PENDING = "pending"  # registered, e-mail not confirmed yet
    ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class Address:
    street: str
    postcode: str
    city: str
    country: str


@dataclass(frozen=True, slots=True)
class Account:
    """Anyone who logs in. A patron's ``library`` is their home library; a staff
    member's is the library they work for; a coordinator has none."""

    id: str
    email: str
    role: Role
    status: AccountStatus
    created_at: datetime
    library: str | None = None
    given_name: str = ""
    surname: str = ""
    birth_date: date | None = None
    category: str | None = None
    address: Address | None = None
    card_number: str | None = None
    consent_at: datetime | None = None
    activated_at: datetime | None = None
    language: str | None = None  # of the mails; None: the home library's first language


@dataclass(frozen=True, slots=True)
class Registration:
    """Checked registration data; ``password`` is None when staff register a patron
    at the desk (the patron chooses it when confirming the e-mail)."""

    email: str
    given_name: str
    surname: str
    birth_date: date
    category: str
    address: Address
    home_library: str
    password: str | None
    card_number: str | None = None
    language: str | None = None


def email_key(email: str) -> str:
    """The e-mail as the consortium-wide unique username: case does not matter."""
    return email.casefold()


def normalize_email(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(N_("an e-mail address is required"))
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        # email_validator explains in English; the page says it in the reader's words.
        raise ValueError(N_("not a valid e-mail address")) from None


def _text(raw: Mapping[str, Any], field: str, problems: dict[str, str],
          limit: int = MAX_NAME) -> str:
    value = raw.get(field)
    if not isinstance(value, str) or not value.strip():
        problems[field] = N_("required")
        return ""
    value = unicodedata.normalize("NFC", " ".join(value.split()))
    if len(value) > limit:
        problems[field] = N_("at most {limit} characters", limit=limit)
    elif any(unicodedata.category(ch).startswith("C") for ch in value):
        problems[field] = N_("control characters are not allowed")
    return value


def _birth_date(raw: Mapping[str, Any], today: date, problems: dict[str, str]) -> date:
    value = raw.get("birth_date")
    try:
        born = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        born = None
    if born is None:
        problems["birth_date"] = N_("required, as YYYY-MM-DD")
        return today
    if born > today:
        problems["birth_date"] = N_("cannot be in the future")
    elif born.year < today.year - OLDEST:
        problems["birth_date"] = N_("more than {years} years ago", years=OLDEST)
    return born


def password_problem(password: object, min_length: int, email: str) -> str | None:
    """Why ``password`` does not meet the home library's policy, or None."""
    if not isinstance(password, str) or not password:
        return N_("required")
    if len(password) < min_length:
        return N_("at least {count} characters (the home library's rule)", count=min_length)
    if len(password) > MAX_PASSWORD:
        return N_("at most {limit} characters", limit=MAX_PASSWORD)
    if len(set(password)) < 3:
        return N_("use more than two different characters")
    local = email.split("@", 1)[0].casefold()
    if len(local) >= 3 and local in password.casefold():
        return N_("must not contain your e-mail address")
    return None


def check_registration(raw: Mapping[str, Any], consortium: Consortium, today: date, *,
                       needs_password: bool = True) -> Registration:
    """A ``Registration`` from raw input, or ``ValidationFailed`` naming every bad field."""
    problems: dict[str, str] = {}
    unknown = sorted(set(raw) - {"email", "given_name", "surname", "birth_date", "category",
                                 "address", "home_library", "password", "consent",
                                 "card_number", "language"})
    for field in unknown:
        problems[field] = N_("unknown field")
    try:
        email = normalize_email(raw.get("email"))
    except ValueError as exc:
        problems["email"] = exc.args[0]
        email = ""
    given_name = _text(raw, "given_name", problems)
    surname = _text(raw, "surname", problems)
    birth_date = _birth_date(raw, today, problems)

    library_code = raw.get("home_library")
    library = consortium.libraries.get(library_code) if isinstance(library_code, str) else None
    if library is None:
        problems["home_library"] = N_("required: the code of a member library")
    category = raw.get("category")
    if not isinstance(category, str) or category not in consortium.categories:
        problems["category"] = N_("required, one of: {choices}",
                                   choices=", ".join(sorted(consortium.categories)))

    address_raw = raw.get("address")
    if not isinstance(address_raw, Mapping):
        problems["address"] = N_("required: street, postcode, city, country")
        address = Address("", "", "", "")
    else:
        parts = {}
        for part in ("street", "postcode", "city", "country"):
            sub: dict[str, str] = {}
            parts[part] = _text(address_raw, part, sub, MAX_ADDRESS)
            if part in sub:
                problems[f"address.{part}"] = sub[part]
        address = Address(**parts)

    if raw.get("consent") is not True:
        problems["consent"] = N_("you must accept the terms of use (true)")

    password = raw.get("password")
    if needs_password or password is not None:
        min_length = library.policy.password_min_length if library else 8
        if problem := password_problem(password, min_length, email):
            problems["password"] = problem
    card_number = raw.get("card_number")
    if card_number is not None and (not isinstance(card_number, str)
                                    or not 1 <= len(card_number.strip()) <= 40):
        problems["card_number"] = N_("1 to 40 characters")
    language = raw.get("language")
    if language is not None and language not in MAIL_LANGUAGES:
        problems["language"] = N_("one of: {choices}", choices=", ".join(MAIL_LANGUAGES))
    if problems:
        raise ValidationFailed(problems)
    return Registration(email=email, given_name=given_name, surname=surname,
                        birth_date=birth_date, category=str(category), address=address,
                        home_library=str(library_code),
                        password=password if isinstance(password, str) else None,
                        card_number=card_number.strip() if isinstance(card_number, str)
                        else None, language=str(language) if language else None)
