"""The mails' catalogs are complete and keep their placeholders, and a mail is written
in its reader's language."""

from __future__ import annotations

import re
import string
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from broker.domain.accounts import Account, AccountStatus, Role, check_registration
from broker.domain.consortium import Consortium
from broker.domain.errors import ValidationFailed
from broker.domain.fees import Estimate, FeeCode, FeeLine
from broker.services.consortium_file import load
from broker.services.intake import receipt_text
from broker.services.notices import Notice, notice
from broker.services.translations import LOCALE_DIR, catalog_path, mail_language, translator
from broker.store.accounts import _account, _fields

from builders import a_request

DEMO = Path(__file__).resolve().parents[2] / "demo" / "consortium.toml"
LANGUAGES = ("sl", "lv", "nl", "sv")


@pytest.fixture(scope="module")
def demo() -> Consortium:
    return load(DEMO)


def _template() -> list[str | tuple[str, ...]]:
    with (LOCALE_DIR / "broker.pot").open("rb") as stream:
        return [m.id for m in read_po(stream) if m.id]


def _texts(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


# The pages' messages (jinja's newstyle gettext) name their values %(name)s.
_PERCENT = re.compile(r"%\((\w+)\)[sd]")


def _fields_of(text: str) -> list[str]:
    """The ``{placeholders}`` of a mail's message and the ``%(name)s`` of a page's."""
    if _PERCENT.search(text):
        return sorted(_PERCENT.findall(text))
    return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_with_the_same_placeholders(language: str) -> None:
    with catalog_path(language).open("rb") as stream:
        catalog = read_po(stream)
    ids = _template()
    assert ids, "the template is empty: run pybabel extract (see the README)"
    for msgid in ids:
        message = catalog.get(msgid)
        assert message is not None and all(_texts(message.string)), \
            f"{language}: {msgid!r} untranslated"
        assert not message.fuzzy, f"{language}: {msgid!r} is fuzzy"
        expected = _fields_of(_texts(msgid)[-1])
        for text in _texts(message.string):
            assert _fields_of(text) == expected, (language, msgid, text)
    assert {m.id for m in catalog if m.id} == set(ids), f"{language}: obsolete messages"


def _patron(library: str, language: str | None = None) -> Account:
    return Account(id="A01-abc", email="p@example.org", role=Role.PATRON,
                   status=AccountStatus.ACTIVE, created_at=datetime.now(UTC),
                   library=library, given_name="Ana", language=language)


def test_a_slovenian_patron_is_told_in_slovenian_and_an_account_may_choose(
        demo: Consortium) -> None:
    request = replace(a_request(), pickup_by="2027-03-05")
    ana = _patron("SI-LJMK")
    language = mail_language(ana, demo.libraries["SI-LJMK"])
    mail = notice(Notice.READY_FOR_PICKUP, ana, request, "Bežigrad", language=language)
    assert language == "sl"
    assert mail.args["subject"] == "Gradivo »Alamut« je pripravljeno za prevzem"
    assert mail.args["body"].startswith("Pozdravljeni, Ana,\n\nvaša zahteva za "
                                        "medknjižnično izposojo")
    assert "5. marec 2027" in mail.args["body"]

    sven = _patron("SI-LJMK", language="sv")
    language = mail_language(sven, demo.libraries["SI-LJMK"])
    mail = notice(Notice.READY_FOR_PICKUP, sven, request, "Bežigrad", language=language)
    assert language == "sv"
    assert mail.args["subject"] == "”Alamut” finns att hämta"
    assert "5 mars 2027" in mail.args["body"] and "lånekort" in mail.args["body"]


def test_the_receipt_of_a_latvian_librarys_patron_is_in_latvian(demo: Consortium) -> None:
    home = demo.libraries["LV-VAL"]
    language = mail_language(_patron("LV-VAL"), home)
    fee = Estimate("EUR", (FeeLine(FeeCode.ILL_ITEM, "ILL item", Decimal("3.50")),))
    text = receipt_text(replace(a_request(), pickup_location="LV-VAL"), home.name, fee,
                        language)
    assert language == "lv"
    assert text.startswith("Paldies! Esam saņēmuši jūsu pieprasījumu")
    assert "Paredzamā maksa: 3,50\xa0€" in text and "Abonements: Alamut" in text


def test_english_is_the_fallback() -> None:
    assert mail_language(_patron("XX"), None) == "en"
    assert translator("de").gettext("Hello,") == "Hello,"
    assert translator("sl") is translator("sl")  # compiled once


def test_the_language_is_stored_and_read_back_and_may_be_absent() -> None:
    chosen = _patron("SI-LJMK", language="nl")
    assert _account(_fields(chosen)).language == "nl"
    fields = _fields(_patron("SI-LJMK"))
    assert "language" not in fields and _account(fields).language is None


def test_registration_takes_only_a_language_of_the_mails(demo: Consortium) -> None:
    raw = {"email": "ana@example.org", "given_name": "Ana", "surname": "Novak",
           "birth_date": "1990-01-02", "category": next(iter(demo.categories)),
           "address": {"street": "Slovenska 1", "postcode": "1000", "city": "Ljubljana",
                       "country": "SI"},
           "home_library": "SI-LJMK", "password": "correct horse battery", "consent": True}
    assert check_registration(raw, demo, date(2026, 1, 1)).language is None
    assert check_registration({**raw, "language": "lv"}, demo,
                              date(2026, 1, 1)).language == "lv"
    with pytest.raises(ValidationFailed) as refused:
        check_registration({**raw, "language": "fr"}, demo, date(2026, 1, 1))
    assert "language" in refused.value.problems
