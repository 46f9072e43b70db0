from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from broker.domain.consortium import Library, LocalHoldings
from broker.domain.errors import ValidationFailed
from broker.domain.holdings import Holding, ItemStatus
from broker.domain.intake import (
    check_request_input,
    duplicate_keys,
    duplicate_probes,
    local_copies,
)
from broker.domain.request import Citation, ItemDescription
from broker.domain.states import Service
from broker.services.consortium_file import load

from builders import write_consortium


@pytest.fixture
def home(tmp_path: Path) -> Library:
    return load(write_consortium(tmp_path)).library("A")


LOAN = {"service": "loan", "item": {"title": "Alamut", "author": "Bartol", "year": 1938}}
COPY = {"service": "copy", "item": {"title": "Jezik in slovstvo", "issn": "0021-6933"},
        "citation": {"source_title": "Jezik in slovstvo", "part_title": "O pridevniku",
                     "volume": "55", "issue": "3", "pages": "12-30"}}


def test_a_loan_by_title_without_author_or_year(home: Library) -> None:
    checked = check_request_input({"service": "loan", "item": {"title": "Alamut"}}, home)
    assert checked.service is Service.LOAN and checked.item.author is None
    assert checked.pickup_location == "A"


def test_a_copy_with_its_citation(home: Library) -> None:
    checked = check_request_input({**COPY, "pickup_location": "A-1", "max_cost": "5.5"}, home)
    assert checked.citation is not None and checked.pages == 19
    assert checked.copy_format == "pdf" and checked.max_cost == Decimal("5.5")
    assert checked.item.issn == "0021-6933"


def test_isbns_are_normalised(home: Library) -> None:
    checked = check_request_input({"service": "loan", "item": {"isbn": "86-11-16401-6"}},
                                  home)
    assert checked.item.isbn == "9788611164014"


@pytest.mark.parametrize(("raw", "field"), [
    ({**LOAN, "service": "steal"}, "service"),
    ({"service": "loan"}, "item"),
    ({"service": "loan", "item": {"author": "Bartol"}}, "item.title"),
    ({"service": "loan", "item": {"isbn": "123"}}, "item.isbn"),
    ({"service": "loan", "item": {"issn": "1234-5678"}}, "item.issn"),
    ({"service": "loan", "item": {"title": "x" * 301}}, "item.title"),
    ({"service": "loan", "item": {"title": "A", "year": "1938"}}, "item.year"),
    ({"service": "loan", "item": {"title": "A", "year": True}}, "item.year"),
    ({"service": "loan", "item": {"title": "A", "material": "vinyl"}}, "item.material"),
    ({"service": "loan", "item": {"title": "A", "colour": "red"}}, "item.colour"),
    ({**LOAN, "pickup_location": "B"}, "pickup_location"),
    ({**LOAN, "max_cost": "-1"}, "max_cost"),
    ({**LOAN, "max_cost": "NaN"}, "max_cost"),
    ({**LOAN, "max_cost": "lots"}, "max_cost"),
    ({**LOAN, "note": "x" * 1001}, "note"),
    ({**LOAN, "citation": COPY["citation"]}, "citation"),
    ({**COPY, "citation": None}, "citation"),
    ({**COPY, "citation": {**COPY["citation"], "pages": "a few"}}, "citation.pages"),
    ({**COPY, "citation": {**COPY["citation"], "part_title": ""}}, "citation.part_title"),
    ({**COPY, "copy_format": "fax"}, "copy_format"),
    ({**LOAN, "urgent": True}, "urgent"),
])
def test_each_bad_field_is_named(home: Library, raw: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_request_input(raw, home)
    assert field in refused.value.problems


@pytest.mark.parametrize(("rule", "statuses", "deflects"), [
    (LocalHoldings.ANY, (ItemStatus.READING_ROOM,), True),
    (LocalHoldings.ANY, (ItemStatus.LOST,), False),
    (LocalHoldings.LENDABLE, (ItemStatus.READING_ROOM,), False),
    (LocalHoldings.LENDABLE, (ItemStatus.ON_LOAN,), True),
    (LocalHoldings.LENDABLE, (ItemStatus.AVAILABLE,), True),
    (LocalHoldings.LENDABLE, (), False),
])
def test_local_holdings_rule(tmp_path: Path, rule: LocalHoldings,
                             statuses: tuple[ItemStatus, ...], deflects: bool) -> None:
    consortium = replace(load(write_consortium(tmp_path)), local_holdings=rule)
    holdings = {"A": tuple(Holding("A", s) for s in statuses),
                "B": (Holding("B", ItemStatus.AVAILABLE),)}
    assert bool(local_copies(consortium, "A", holdings)) is deflects


@pytest.mark.parametrize(("earlier", "later", "same"), [
    (ItemDescription("Alamut", isbn="9788611165093"),
     ItemDescription("Alamut (2nd ed.)", isbn="9788611165093"), True),
    (ItemDescription("Alamut"), ItemDescription("ALAMUT"), True),
    # A title typed without its ISBN is the same as an open request that has one.
    (ItemDescription("Alamut", isbn="9788611165093"), ItemDescription("alamut"), True),
    (ItemDescription("Alamut", isbn="9788611165093"),
     ItemDescription("Alamut", isbn="9780000000002"), False),
    (ItemDescription("Alamut"), ItemDescription("Alamut in Slovenian"), False),
])
def test_duplicates_are_found_by_isbn_or_by_title(earlier: ItemDescription,
                                                   later: ItemDescription, same: bool) -> None:
    known = set(duplicate_keys(Service.LOAN, earlier, None))
    assert bool(known & set(duplicate_probes(Service.LOAN, later, None))) is same


def test_a_copy_of_another_article_is_not_a_duplicate() -> None:
    journal = ItemDescription("Knjižnica", issn="0023-2424")
    first = Citation("Knjižnica", "On lending", pages="1-10")
    other = Citation("Knjižnica", "On borrowing", pages="11-20")
    known = set(duplicate_keys(Service.COPY, journal, first))
    assert known & set(duplicate_probes(Service.COPY, journal, first))
    assert not known & set(duplicate_probes(Service.COPY, journal, other))
    assert not known & set(duplicate_probes(Service.LOAN, journal, None))
