"""The mails' languages: gettext catalogs read from the shipped ``.po`` files, and
dates and amounts in the reader's language.

The catalogs are compiled in memory on first use (one per language, cached), so the
package ships only ``broker/locale/<lang>/LC_MESSAGES/broker.po`` and needs no build
step. Refresh the template with ``pybabel extract`` (see the README).
"""

from __future__ import annotations

import gettext
import io
from datetime import date
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path

from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency

from broker.domain.accounts import MAIL_LANGUAGES, Account
from broker.domain.consortium import Library

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "broker"
FALLBACK = "en"


def N_(message: str) -> str:
    """Marks ``message`` for ``pybabel extract -k N_``; translated where it is used."""
    return message


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translator(language: str) -> gettext.NullTranslations:
    """The translations of ``language``; English (the message ids) when there is no
    catalog for it."""
    path = catalog_path(language)
    if language == FALLBACK or language not in MAIL_LANGUAGES or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def library_language(library: Library | None) -> str:
    """The first of ``library``'s languages that the mails are written in."""
    languages = library.languages if library else ()
    return next((code for code in languages if code in MAIL_LANGUAGES), FALLBACK)


def mail_language(account: Account, home: Library | None) -> str:
    """The language of mails to ``account``: its own choice, else its home library's."""
    if account.language in MAIL_LANGUAGES:
        return str(account.language)
    return library_language(home)


def day_text(day: str | None, language: str) -> str:
    """An ISO date (as requests keep them) written out in ``language``; "" for none."""
    if not day:
        return ""
    try:
        return format_date(date.fromisoformat(day), format="long", locale=language)
    except ValueError:
        return day


@lru_cache(maxsize=4096)
def money_text(amount: Decimal, currency: str, language: str) -> str:
    # Babel reads the locale's pattern on every call (about 25 us); a consortium's
    # fees are a handful of amounts, said again on every receipt.
    return format_currency(amount, currency, locale=language)
