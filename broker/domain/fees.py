"""What a request costs the patron, from the consortium's fee schedule.

Pure: the same function gives the estimate shown before the patron sends and the
final charge once the lender is known (and, for a copy, the real page count).
Money is ``Decimal`` in the consortium's currency, each line rounded to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from broker.domain.consortium import Consortium
from broker.domain.errors import ValidationFailed
from broker.domain.holdings import MaterialType
from broker.domain.messages import N_
from broker.domain.states import Service

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# A copy request whose page range is missing or unreadable is priced as this many
# pages and flagged, so the patron sees an estimate (and that it is one) instead of
# nothing; the final charge uses the pages the lender actually copied.
DEFAULT_COPY_PAGES = 10
# The intake's default too: a pdf is the cheapest format and needs no postage.
DEFAULT_COPY_FORMAT = "pdf"


class CopyFormat(StrEnum):
    PDF = "pdf"
    PAPER = "paper"


class FeeCode(StrEnum):
    """The closed vocabulary of fee lines, stable for receipts and the ledger."""

    ILL_ITEM = "ill_item"
    POSTAGE = "postage"
    COPY_PAGES = "copy_pages"
    COPY_MINIMUM = "copy_minimum"


def money(amount: Decimal) -> Decimal:
    """``amount`` rounded to the cent, halves up.

    Decimal's default is banker's rounding (half to even); a receipt reader
    expects 0.125 to become 0.13, as on a till.
    """
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class FeeLine:
    code: FeeCode
    description: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Estimate:
    """The fee lines of one request from one lender.

    ``lines`` hold only what is charged: a waived ILL fee or postage has no line,
    ``free_transfer`` says why. ``pages`` is the page count a copy was priced for,
    ``pages_assumed`` that it is ``DEFAULT_COPY_PAGES`` because the real one is unknown.
    """

    currency: str
    lines: tuple[FeeLine, ...]
    free_transfer: bool = False
    pages: int | None = None
    pages_assumed: bool = False

    @property
    def total(self) -> Decimal:
        # The lines are already rounded: the total is their sum, so a receipt adds up.
        return sum((line.amount for line in self.lines), ZERO)

    def amount(self, code: FeeCode) -> Decimal:
        """What the lines of ``code`` come to (zero when there is none)."""
        return sum((line.amount for line in self.lines if line.code is code), ZERO)


def _fmt(amount: Decimal, currency: str) -> str:
    return f"{amount} {currency}"


def estimate(consortium: Consortium, *, borrower: str, lender: str, service: Service,
             pages: int | None = None, copy_format: str | None = None) -> Estimate:
    """The fees for ``borrower``'s patron getting ``service`` from ``lender``.

    - ILL fee per item, unless both libraries are in the same region and that region
      has free transfers; then there is no postage either (the region's courier).
    - Postage: a loan, or a copy on paper, pays domestic postage between libraries of
      one country and international postage otherwise; a pdf travels free.
    - A copy pays the format's price per page for ``pages`` pages, and at least the
      schedule's copy minimum. The copy is always one line: ``copy_pages`` when the
      pages come to the minimum or more, else ``copy_minimum`` carrying the minimum
      (its description shows what the pages alone would have cost).
    - ``pages`` missing or not positive: priced as ``DEFAULT_COPY_PAGES``, flagged
      with ``pages_assumed``. ``copy_format`` missing: ``DEFAULT_COPY_FORMAT``; a
      format the schedule has no price for costs nothing per page.

    Raises ``ValidationFailed`` for a copy format other than pdf or paper.
    """
    fees, currency = consortium.fees, consortium.currency
    home, source = consortium.library(borrower), consortium.library(lender)
    free = home.region == source.region and consortium.regions[home.region].free_transfers
    lines: list[FeeLine] = []

    if not free and fees.ill_item > 0:
        lines.append(FeeLine(FeeCode.ILL_ITEM, "interlibrary loan fee, per item",
                             money(fees.ill_item)))

    fmt: CopyFormat | None = None
    priced_pages: int | None = None
    assumed = False
    if service is Service.COPY:
        try:
            fmt = CopyFormat(copy_format or DEFAULT_COPY_FORMAT)
        except ValueError:
            raise ValidationFailed(
                {"copy_format": N_("one of {choices}", choices=", ".join(CopyFormat))}) from None
        if pages is not None and pages >= 1:
            priced_pages = pages
        else:
            priced_pages, assumed = DEFAULT_COPY_PAGES, True
        rate = fees.copy_per_page.get(fmt, ZERO)
        by_pages = money(rate * priced_pages)
        counted = (f"{priced_pages} pages{' (assumed)' if assumed else ''} × "
                   f"{_fmt(rate, currency)}, {fmt}")
        if by_pages >= fees.copy_minimum:
            if by_pages > 0:
                lines.append(FeeLine(FeeCode.COPY_PAGES, f"copy: {counted}", by_pages))
        else:
            lines.append(FeeLine(FeeCode.COPY_MINIMUM,
                                 f"copy minimum ({counted} = {_fmt(by_pages, currency)})",
                                 money(fees.copy_minimum)))

    if not free and (service is Service.LOAN or fmt is CopyFormat.PAPER):
        domestic = home.country == source.country
        postage = fees.postage_domestic if domestic else fees.postage_international
        if postage > 0:
            where = "domestic" if domestic else f"international, {source.country} to {home.country}"
            lines.append(FeeLine(FeeCode.POSTAGE, f"postage ({where})", money(postage)))

    return Estimate(currency, tuple(lines), free_transfer=free, pages=priced_pages,
                    pages_assumed=assumed)


def late_fee(consortium: Consortium, material: MaterialType, days_late: int) -> Decimal:
    """The late fee for ``days_late`` days, at the schedule's daily rate for ``material``.

    Not late (zero or fewer days) costs nothing; a material type the schedule sets no
    rate for costs nothing either, since the consortium chose not to charge for it.
    """
    if days_late <= 0:
        return ZERO
    return money(consortium.fees.late_per_day.get(material, ZERO) * days_late)


def reminder_fee(consortium: Consortium, reminder_number: int) -> Decimal:
    """The fee for the ``reminder_number``-th reminder (the first is 1).

    The schedule's steps in order; every reminder past the last step costs the last
    step. A schedule without steps charges nothing for reminders.
    """
    if reminder_number < 1:
        raise ValueError(f"reminders are counted from 1, not {reminder_number}")
    steps = consortium.fees.reminders
    if not steps:
        return ZERO
    return money(steps[min(reminder_number, len(steps)) - 1])
