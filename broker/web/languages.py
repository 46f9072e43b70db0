"""The pages' language: the account's choice, else the switcher's cookie, else the
browser's Accept-Language, else English; and the gettext callables and Babel filters
the templates use to write in it.

The language is a context variable set by the ``page_state`` middleware, so each
request (each its own asyncio task, with its own context) renders in its own language
while the jinja environment, shared by all, holds one set of callables that read it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import jinja2
from aiohttp import web
from babel import dates, numbers
from babel.core import negotiate_locale

from broker.domain.accounts import MAIL_LANGUAGES, Account
from broker.domain.holdings import MATERIAL_WORDS
from broker.domain.messages import Text
from broker.services.translations import FALLBACK, translator

LANGUAGES = MAIL_LANGUAGES
# Each language named in itself, for the switcher.
NAMES = {"en": "English", "sl": "Slovenščina", "lv": "Latviešu", "nl": "Nederlands",
         "sv": "Svenska"}
COOKIE = "lang"
COOKIE_AGE = 365 * 24 * 3600
K = TypeVar("K")
_LANGUAGE: ContextVar[str] = ContextVar("language", default=FALLBACK)


def browser_languages(header: str) -> list[str]:
    """The tags of an Accept-Language header, most wanted first (RFC 9110 §12.5.4);
    those with q=0 are refused, so left out."""
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag.strip() and tag.strip() != "*" and quality > 0:
            weighted.append((-quality, index, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def choose(account: Account | None, cookie: str | None, accept: str | None) -> str:
    """The language of a page: the account's, the cookie's, the browser's, English."""
    if account is not None and account.language in LANGUAGES:
        return str(account.language)
    if cookie in LANGUAGES:
        return str(cookie)
    found = negotiate_locale(browser_languages(accept or ""), list(LANGUAGES), sep="-",
                             aliases={})
    return found.lower() if found and found.lower() in LANGUAGES else FALLBACK


def request_language(request: web.Request, account: Account | None) -> str:
    return choose(account, request.cookies.get(COOKIE), request.headers.get("Accept-Language"))


def use(language: str) -> Any:
    """Make ``language`` the current request's; returns the token to ``reset`` with."""
    return _LANGUAGE.set(language)


def reset(token: Any) -> None:
    _LANGUAGE.reset(token)


def current() -> str:
    return _LANGUAGE.get()


def gettext(message: str) -> str:
    """``message`` in the current request's language."""
    return translator(_LANGUAGE.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translator(_LANGUAGE.get()).ngettext(singular, plural, n)


_ = gettext


def translated(words: Mapping[K, str]) -> dict[K, str]:
    """``words`` (marked with ``N_``) in the current request's language."""
    return {key: gettext(text) for key, text in words.items()}


def say(text: object) -> Any:
    """A message of the core (a ``Text``) in the current request's language, its values
    (themselves translated when they are ``Text``) filled in again; anything else, such
    as data, as it is."""
    if not isinstance(text, Text):
        return text
    words = gettext(text.msgid)
    if not text.values:
        return words
    values = {name: say(value) for name, value in text.values.items()}
    try:
        return words.format(**values)
    except (KeyError, IndexError, ValueError):
        # A catalog whose placeholders went wrong: the English is better than nothing.
        return text.msgid.format(**values)


def said(problems: Mapping[K, str]) -> dict[K, str]:
    """A refusal's ``{field: problem}`` in the current request's language."""
    return {key: say(text) for key, text in problems.items()}


def materials(codes: Iterable[str]) -> str:
    """What a library lends ("book", "journal") as words of the page's language, in
    the vocabulary's order: "books, journals and magazines"."""
    given = set(codes)
    return ", ".join(gettext(words) for kind, words in MATERIAL_WORDS.items()
                     if kind in given)


def local_path(target: str | None) -> str:
    """``target`` if it is a path of this site; else "/". Refuses scheme-relative
    ("//host"), backslash and absolute addresses, so the switcher redirects nowhere
    else."""
    if (not target or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 32 for c in target)):
        return "/"
    return target


# -- Babel filters: dates, numbers and amounts in the page's language ---------------


def _day(value: date | str | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return None
    return value


# The English pages write days as ISO dates, as they always have: the consortium's
# lingua franca is read in many countries, and 2027-03-05 means the same in all of them
# (unlike 3/5/27). The other languages write them as their readers do.
_ISO_DAY = {"short": "yyyy-MM-dd", "medium": "yyyy-MM-dd", "long": "d MMMM yyyy"}
_ISO_MOMENT = {"short": "yyyy-MM-dd HH:mm", "medium": "yyyy-MM-dd HH:mm"}


def format_date(value: date | str | None, style: str = "medium") -> str:
    """A day (a ``date`` or the ISO text requests keep) in the page's language."""
    day = _day(value)
    if day is None:
        return value if isinstance(value, str) else ""
    language = _LANGUAGE.get()
    pattern = _ISO_DAY.get(style, style) if language == FALLBACK else style
    return dates.format_date(day, format=pattern, locale=language)


def format_datetime(value: datetime | str | None, style: str = "medium") -> str:
    """A moment in the page's language; the pages say its zone (UTC) themselves."""
    moment = _day(value)
    if not isinstance(moment, datetime):
        return format_date(value, style)
    language = _LANGUAGE.get()
    pattern = _ISO_MOMENT.get(style, style) if language == FALLBACK else style
    return dates.format_datetime(moment, format=pattern, tzinfo=UTC, locale=language)


def format_number(value: int | float | Decimal | str) -> str:
    try:
        return numbers.format_decimal(Decimal(str(value)), locale=_LANGUAGE.get())
    except ArithmeticError:
        return str(value)


def format_percent(value: float) -> str:
    """A share (0.75) as a whole percentage in the page's language ("75 %")."""
    return numbers.format_percent(value, locale=_LANGUAGE.get())


# Amounts keep the ISO code after the number ("7.00 EUR", "7,00 EUR"): the consortium's
# members may count in different currencies, and a code is never ambiguous.
_MONEY = "#,##0.00 \xa4\xa4"


def format_currency(value: Decimal | int | float | str, currency: str = "EUR") -> str:
    """``value`` with the language's separators and the ISO code of ``currency``."""
    try:
        return numbers.format_currency(Decimal(str(value)), currency, format=_MONEY,
                                       locale=_LANGUAGE.get())
    except ArithmeticError:
        return str(value)


def format_amount(value: Decimal | int | float | str) -> str:
    """An amount of money without its currency (a fee table's cells), two decimals."""
    try:
        return numbers.format_decimal(Decimal(str(value)), format="#,##0.00",
                                      locale=_LANGUAGE.get())
    except ArithmeticError:
        return str(value)


def install(env: jinja2.Environment) -> None:
    """The i18n extension with callables reading the request's language, the Babel
    filters, and the switcher's names."""
    env.add_extension("jinja2.ext.i18n")
    # {% trans %} blocks are wrapped like prose; their messages are one line each.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    # Whatever a page prints that the core said (a refusal, a field's problem, why a
    # request is stuck) is written in the page's language, wherever the page prints it.
    env.finalize = say
    env.filters.update(format_date=format_date, format_datetime=format_datetime,
                       format_number=format_number, format_percent=format_percent,
                       format_currency=format_currency, materials=materials,
                       format_amount=format_amount)
    env.globals.update(language=current, language_names=NAMES)
