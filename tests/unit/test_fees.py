from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import pytest

from broker.domain.consortium import (
    ConnectorConfig,
    Consortium,
    FeeSchedule,
    Library,
    LocalHoldings,
    Policy,
    Region,
)
from broker.domain.errors import ValidationFailed
from broker.domain.fees import (
    DEFAULT_COPY_PAGES,
    Estimate,
    FeeCode,
    estimate,
    late_fee,
    money,
    reminder_fee,
)
from broker.domain.holdings import MaterialType
from broker.domain.states import Service
from broker.services.consortium_file import load

D = Decimal
ILL, POST, PAGES, MINIMUM = (FeeCode.ILL_ITEM, FeeCode.POSTAGE, FeeCode.COPY_PAGES,
                             FeeCode.COPY_MINIMUM)

# The demo's schedule.
SCHEDULE = FeeSchedule(
    ill_item=D("7.00"), postage_domestic=D("3.00"), postage_international=D("9.50"),
    copy_minimum=D("2.00"), copy_per_page=MappingProxyType({"paper": D("0.25"),
                                                            "pdf": D("0.15")}),
    late_per_day=MappingProxyType({MaterialType.BOOK: D("0.20"), MaterialType.JOURNAL: D("0.30"),
                                   MaterialType.AV: D("0.50")}),
    reminders=(D("1.50"), D("2.50"), D("4.00")), lost_processing=D("5.00"))

# Two Slovenian regions (one with free transfers), one Latvian with free transfers.
REGIONS = {"FREE": ("SI", True), "PAID": ("SI", False), "ABROAD": ("LV", True)}
LIBRARIES = {"F1": "FREE", "F2": "FREE", "P1": "PAID", "P2": "PAID", "A1": "ABROAD"}


def a_library(code: str, region: str, country: str) -> Library:
    inbox = ConnectorConfig("inbox")
    policy = Policy(password_min_length=8, accepts_patron_requests=True,
                    lends=frozenset(MaterialType), loan_days=21, answer_hours=24,
                    pickup_days=10, max_open_requests=10)
    return Library(code, code, country, region, "UTC", policy, inbox, inbox, inbox)


def a_consortium(fees: FeeSchedule = SCHEDULE, currency: str = "EUR") -> Consortium:
    return Consortium(
        name="Fees", currency=currency, local_holdings=LocalHoldings.LENDABLE,
        regions=MappingProxyType({c: Region(c, c, country, free)
                                  for c, (country, free) in REGIONS.items()}),
        libraries=MappingProxyType({c: a_library(c, r, REGIONS[r][0])
                                    for c, r in LIBRARIES.items()}),
        categories=MappingProxyType({}), fees=fees)


CONSORTIUM = a_consortium()


def amounts(result: Estimate) -> dict[FeeCode, Decimal]:
    return {line.code: line.amount for line in result.lines}


@pytest.mark.parametrize(("borrower", "lender", "service", "pages", "fmt", "expected"), [
    # Same region with free transfers: no ILL fee, no postage.
    ("F1", "F2", Service.LOAN, None, None, {}),
    # Same region without free transfers: the fee and domestic postage.
    ("P1", "P2", Service.LOAN, None, None, {ILL: D("7.00"), POST: D("3.00")}),
    # Another region of the same country; the lender's free region does not count.
    ("F1", "P1", Service.LOAN, None, None, {ILL: D("7.00"), POST: D("3.00")}),
    ("P1", "F1", Service.LOAN, None, None, {ILL: D("7.00"), POST: D("3.00")}),
    # Another country: international postage.
    ("F1", "A1", Service.LOAN, None, None, {ILL: D("7.00"), POST: D("9.50")}),
    ("A1", "P1", Service.LOAN, None, None, {ILL: D("7.00"), POST: D("9.50")}),
    # Copies in a free region pay the pages only; a paper copy travels free there too.
    ("F1", "F2", Service.COPY, 20, "pdf", {PAGES: D("3.00")}),
    ("F1", "F2", Service.COPY, 20, "paper", {PAGES: D("5.00")}),
    # A pdf has no postage; paper pays domestic or international postage.
    ("F1", "P1", Service.COPY, 20, "pdf", {ILL: D("7.00"), PAGES: D("3.00")}),
    ("F1", "P1", Service.COPY, 20, "paper", {ILL: D("7.00"), PAGES: D("5.00"),
                                              POST: D("3.00")}),
    ("F1", "A1", Service.COPY, 20, "pdf", {ILL: D("7.00"), PAGES: D("3.00")}),
    ("F1", "A1", Service.COPY, 20, "paper", {ILL: D("7.00"), PAGES: D("5.00"),
                                              POST: D("9.50")}),
    # Below the minimum, the copy line is the minimum: 5 × 0.15 = 0.75 < 2.00.
    ("F1", "F2", Service.COPY, 5, "pdf", {MINIMUM: D("2.00")}),
    ("F1", "P1", Service.COPY, 5, "paper", {ILL: D("7.00"), MINIMUM: D("2.00"),
                                             POST: D("3.00")}),
    # Exactly the minimum is priced by the pages: 8 × 0.25 = 2.00.
    ("F1", "F2", Service.COPY, 8, "paper", {PAGES: D("2.00")}),
    ("F1", "F2", Service.COPY, 14, "pdf", {PAGES: D("2.10")}),
    # No format: pdf.
    ("F1", "F2", Service.COPY, 20, None, {PAGES: D("3.00")}),
    # A loan ignores pages and format.
    ("F1", "P1", Service.LOAN, 20, "paper", {ILL: D("7.00"), POST: D("3.00")}),
], ids=lambda x: str(x))
def test_estimate(borrower: str, lender: str, service: Service, pages: int | None,
                  fmt: str | None, expected: dict[FeeCode, Decimal]) -> None:
    result = estimate(CONSORTIUM, borrower=borrower, lender=lender, service=service,
                      pages=pages, copy_format=fmt)
    assert amounts(result) == expected
    assert result.total == sum(expected.values(), D("0.00"))
    assert result.currency == "EUR"
    assert result.free_transfer is (LIBRARIES[borrower] == LIBRARIES[lender] == "FREE")
    assert not result.pages_assumed
    for line in result.lines:
        assert line.amount.as_tuple().exponent == -2
        assert line.description


@pytest.mark.parametrize(("pages", "fmt", "expected"), [
    # 10 assumed pages of paper: 2.50, above the minimum.
    (None, "paper", {PAGES: D("2.50")}),
    # 10 assumed pages of pdf: 1.50, so the minimum.
    (None, "pdf", {MINIMUM: D("2.00")}),
    # A page range the intake read backwards (30-12) is no page count.
    (-17, "paper", {PAGES: D("2.50")}),
    (0, "paper", {PAGES: D("2.50")}),
])
def test_unknown_page_count_is_assumed_and_flagged(pages: int | None, fmt: str,
                                                    expected: dict[FeeCode, Decimal]) -> None:
    result = estimate(CONSORTIUM, borrower="F1", lender="F2", service=Service.COPY,
                      pages=pages, copy_format=fmt)
    assert DEFAULT_COPY_PAGES == 10
    assert (amounts(result), result.pages, result.pages_assumed) == (expected, 10, True)
    assert "assumed" in result.lines[0].description


def test_known_page_count_is_reported() -> None:
    result = estimate(CONSORTIUM, borrower="F1", lender="F2", service=Service.COPY, pages=12,
                      copy_format="pdf")
    assert (result.pages, result.pages_assumed) == (12, False)
    loan = estimate(CONSORTIUM, borrower="F1", lender="F2", service=Service.LOAN)
    assert (loan.pages, loan.pages_assumed) == (None, False)


def test_the_minimum_line_says_what_the_pages_came_to() -> None:
    result = estimate(CONSORTIUM, borrower="F1", lender="F2", service=Service.COPY, pages=5,
                      copy_format="pdf")
    (line,) = result.lines
    assert line.code is FeeCode.COPY_MINIMUM
    assert "0.75" in line.description and "5 pages" in line.description


@pytest.mark.parametrize(("rate", "pages", "expected"), [
    # Half a cent rounds up (a till, not banker's rounding).
    ("0.125", 1, "0.13"),
    ("0.125", 3, "0.38"),
    ("0.125", 2, "0.25"),
    ("0.0333", 3, "0.10"),
    ("0.0049", 1, "0.00"),
])
def test_page_prices_are_rounded_to_the_cent_half_up(rate: str, pages: int,
                                                      expected: str) -> None:
    fees = dataclasses.replace(SCHEDULE, copy_minimum=D("0"),
                               copy_per_page=MappingProxyType({"pdf": D(rate)}))
    result = estimate(a_consortium(fees), borrower="F1", lender="F2", service=Service.COPY,
                      pages=pages, copy_format="pdf")
    assert result.total == D(expected)
    assert str(result.total) == expected


@pytest.mark.parametrize(("amount", "expected"), [
    ("0.125", "0.13"), ("0.135", "0.14"), ("0.124999", "0.12"), ("7", "7.00"), ("2.5", "2.50"),
])
def test_money(amount: str, expected: str) -> None:
    assert str(money(D(amount))) == expected


def test_fees_of_the_schedule_are_rounded_on_their_line() -> None:
    fees = dataclasses.replace(SCHEDULE, ill_item=D("7.005"), postage_domestic=D("2.999"))
    result = estimate(a_consortium(fees), borrower="F1", lender="P1", service=Service.LOAN)
    assert amounts(result) == {ILL: D("7.01"), POST: D("3.00")}
    assert result.total == D("10.01")


def test_a_format_without_a_price_costs_the_minimum() -> None:
    fees = dataclasses.replace(SCHEDULE, copy_per_page=MappingProxyType({"pdf": D("0.15")}))
    result = estimate(a_consortium(fees), borrower="F1", lender="F2", service=Service.COPY,
                      pages=40, copy_format="paper")
    assert amounts(result) == {MINIMUM: D("2.00")}


def test_zero_fees_leave_no_lines() -> None:
    fees = dataclasses.replace(SCHEDULE, ill_item=D("0"), postage_domestic=D("0"),
                               copy_minimum=D("0"), copy_per_page=MappingProxyType({}))
    consortium = a_consortium(fees)
    for service in Service:
        result = estimate(consortium, borrower="F1", lender="P1", service=service, pages=3,
                          copy_format="paper")
        assert (result.lines, result.total) == ((), D("0.00"))


def test_an_unknown_copy_format_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        estimate(CONSORTIUM, borrower="F1", lender="F2", service=Service.COPY, pages=3,
                 copy_format="fax")
    assert "copy_format" in refused.value.problems


def test_currency_comes_from_the_consortium() -> None:
    result = estimate(a_consortium(currency="SEK"), borrower="F1", lender="P1",
                      service=Service.LOAN)
    assert result.currency == "SEK"
    assert all("EUR" not in line.description for line in result.lines)


def test_amount_by_code() -> None:
    result = estimate(CONSORTIUM, borrower="F1", lender="A1", service=Service.COPY, pages=20,
                      copy_format="paper")
    assert result.amount(FeeCode.POSTAGE) == D("9.50")
    assert result.amount(FeeCode.COPY_MINIMUM) == D("0.00")


@pytest.mark.parametrize(("material", "days", "expected"), [
    (MaterialType.BOOK, 1, "0.20"),
    (MaterialType.BOOK, 3, "0.60"),
    (MaterialType.JOURNAL, 3, "0.90"),
    (MaterialType.AV, 3, "1.50"),
    (MaterialType.AV, 30, "15.00"),
    # Not late: nothing.
    (MaterialType.BOOK, 0, "0.00"),
    (MaterialType.BOOK, -4, "0.00"),
    # The schedule sets no rate for maps: the consortium does not charge for them.
    (MaterialType.MAP, 10, "0.00"),
])
def test_late_fee(material: MaterialType, days: int, expected: str) -> None:
    assert str(late_fee(CONSORTIUM, material, days)) == expected


def test_late_fee_is_rounded_to_the_cent() -> None:
    fees = dataclasses.replace(SCHEDULE, late_per_day=MappingProxyType(
        {MaterialType.BOOK: D("0.125")}))
    assert late_fee(a_consortium(fees), MaterialType.BOOK, 3) == D("0.38")


@pytest.mark.parametrize(("number", "expected"), [
    (1, "1.50"), (2, "2.50"), (3, "4.00"),
    # Past the last step: the last step.
    (4, "4.00"), (12, "4.00"),
])
def test_reminder_fee(number: int, expected: str) -> None:
    assert str(reminder_fee(CONSORTIUM, number)) == expected


def test_reminders_are_counted_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        reminder_fee(CONSORTIUM, 0)


def test_a_schedule_without_reminder_steps_charges_nothing() -> None:
    fees = dataclasses.replace(SCHEDULE, reminders=())
    assert reminder_fee(a_consortium(fees), 3) == D("0.00")


DEMO = Path(__file__).resolve().parents[2] / "demo" / "consortium.toml"


@pytest.mark.parametrize(("borrower", "lender", "service", "pages", "fmt", "total"), [
    # Both in Osrednjeslovenska, a free-transfer region.
    ("SI-LJMK", "SI-KAM", Service.LOAN, None, None, "0.00"),
    # Gorenjska to Osrednjeslovenska: 7.00 + 3.00 domestic postage.
    ("SI-KR", "SI-LJMK", Service.LOAN, None, None, "10.00"),
    # Rīga to Ljubljana: 7.00 + 9.50 international postage.
    ("LV-RCB", "SI-LJMK", Service.LOAN, None, None, "16.50"),
    # A 12-page pdf from Uppsala to Delft: 7.00 + 12 × 0.15 = 1.80, so the 2.00 minimum.
    ("NL-DEL", "SE-UPS", Service.COPY, 12, "pdf", "9.00"),
])
def test_the_demo_schedule(borrower: str, lender: str, service: Service, pages: int | None,
                           fmt: str | None, total: str) -> None:
    result = estimate(load(DEMO), borrower=borrower, lender=lender, service=service,
                      pages=pages, copy_format=fmt)
    assert (str(result.total), result.currency) == (total, "EUR")
