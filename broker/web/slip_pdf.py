"""Pull slips as a PDF: three slips to an A4 page, cut apart along the dashed lines.

Each slip names the order in large type and as a Code 39 barcode (request numbers are
upper-case letters, digits and hyphens, all in Code 39's alphabet, so a desk scanner
reads them without configuration), then what to pull and where it stands, who borrows
it and by when to answer. Titles and names are in the consortium's languages, so the
text is set in a TrueType font with their letters (fpdf2 embeds the glyphs used).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from broker.domain.consortium import Consortium
from broker.domain.holdings import Holding
from broker.domain.states import Service
from broker.services.pull_slips import Slip

# Regular and bold faces, the first pair found is used. Debian: fonts-liberation
# (which .ci/bootstrap installs with Chromium), else fonts-dejavu-core.
FONTS = (
    (Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
     Path("/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf")),
    (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
     Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")),
)
PAGE_W, PAGE_H, MARGIN = 210.0, 297.0, 10.0
PER_PAGE = 3
SLIP_H = (PAGE_H - 2 * MARGIN) / PER_PAGE
WIDTH = PAGE_W - 2 * MARGIN
MAX_COPIES = 4
MAX_TEXT = 300


class FontMissing(RuntimeError):
    """No TrueType font to set the slips in."""

    def __init__(self) -> None:
        super().__init__("pull slips need a TrueType font with Central European letters: "
                         f"install Debian's fonts-liberation ({FONTS[0][0]}) "
                         "or fonts-dejavu-core")


def font_files() -> tuple[Path, Path]:
    for regular, bold in FONTS:
        if regular.is_file() and bold.is_file():
            return regular, bold
    raise FontMissing


@dataclass(frozen=True, slots=True)
class SlipPage:
    """What the whole document is about: whose slips, printed when, for which day."""

    library: str
    printed: datetime
    heading: str


def _cut(value: str | None) -> str:
    text = " ".join((value or "").split())
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def _local(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _copy_line(consortium: Consortium, copy: Holding) -> str:
    parts = [consortium.place_name(copy.branch or copy.library), copy.call_number or
             "no call number", f"barcode {copy.barcode}" if copy.barcode else "",
             copy.status.value.replace("_", " ")]
    return " · ".join(p for p in parts if p)


def pull_slips_pdf(slips: Sequence[Slip], consortium: Consortium, page: SlipPage) -> bytes:
    """The slips as a PDF document; one page saying so when there are none."""
    regular, bold = font_files()
    zone = ZoneInfo(consortium.library(page.library).timezone)
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_title(page.heading)
    pdf.set_creator(consortium.name)
    pdf.set_lang("en")
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.add_font("Sans", "", str(regular))
    pdf.add_font("Sans", "B", str(bold))
    if not slips:
        pdf.add_page()
        pdf.set_font("Sans", "B", 16)
        pdf.cell(WIDTH, 10, page.heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Sans", "", 12)
        pdf.cell(WIDTH, 8, "No orders to pull.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for number, slip in enumerate(slips):
        if number % PER_PAGE == 0:
            pdf.add_page()
        top = MARGIN + (number % PER_PAGE) * SLIP_H
        _slip(pdf, slip, consortium, page, zone, top)
        if number % PER_PAGE < PER_PAGE - 1 and number < len(slips) - 1:
            pdf.set_draw_color(150)
            pdf.set_dash_pattern(dash=2, gap=1.5)
            pdf.line(MARGIN, top + SLIP_H, PAGE_W - MARGIN, top + SLIP_H)
            pdf.set_dash_pattern()
    return bytes(pdf.output())


def _slip(pdf: FPDF, slip: Slip, consortium: Consortium, page: SlipPage, zone: ZoneInfo,
          top: float) -> None:
    request = slip.request
    lender = consortium.place_name(page.library)
    pdf.set_text_color(90)
    pdf.set_font("Sans", "", 8.5)
    pdf.set_xy(MARGIN, top + 3)
    service = "Copy" if request.service is Service.COPY else "Loan"
    pdf.cell(WIDTH / 2, 4, f"Pull slip · {lender} · {service}")
    pdf.cell(WIDTH / 2, 4, f"printed {_local(page.printed, zone)}", align=Align.R)
    pdf.set_text_color(0)
    pdf.set_font("Sans", "B", 24)
    pdf.set_xy(MARGIN, top + 9)
    pdf.cell(95, 12, request.id)
    # fpdf2's ``w`` is the wide bar; a narrow one is a third of it. Fifteen characters
    # of sixteen narrow widths each: 80 mm, with 0.33 mm narrow bars any scanner reads.
    pdf.set_fill_color(0)
    pdf.code39(f"*{request.id}*", x=PAGE_W - MARGIN - 82, y=top + 8, w=1.0, h=13)
    pdf.set_font("Sans", "", 7)
    pdf.set_xy(PAGE_W - MARGIN - 82, top + 21.5)
    pdf.cell(82, 3, request.id, align=Align.C)

    item = request.item
    pdf.set_xy(MARGIN, top + 27)
    pdf.set_font("Sans", "B", 12.5)
    pdf.multi_cell(WIDTH, 5.6, _cut(item.title) or "(no title given)", align=Align.L,
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    details = [_cut(item.author), str(item.year) if item.year else "",
               f"ISBN {item.isbn}" if item.isbn else "", f"ISSN {item.issn}" if item.issn else "",
               _cut(item.edition)]
    pdf.set_font("Sans", "", 10)
    line = " · ".join(d for d in details if d)
    if line:
        pdf.multi_cell(WIDTH, 4.8, line, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if request.citation is not None:
        c = request.citation
        parts = [_cut(c.part_title), f"vol. {c.volume}" if c.volume else "",
                 f"no. {c.issue}" if c.issue else "", f"pp. {c.pages}" if c.pages else "",
                 request.copy_format or ""]
        pdf.multi_cell(WIDTH, 4.8, "Copy of: " + ", ".join(p for p in parts if p),
                       align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_y(pdf.get_y() + 1.5)
    pdf.set_font("Sans", "B", 10)
    pdf.cell(28, 5, "On the shelf")
    pdf.set_font("Sans", "", 10)
    if slip.copies:
        lines = [_copy_line(consortium, c) for c in slip.copies[:MAX_COPIES]]
        if len(slip.copies) > MAX_COPIES:
            lines.append(f"and {len(slip.copies) - MAX_COPIES} more copies in the catalog")
    else:
        lines = ["not in the union index: look the title up in the catalog"]
    for text in lines:
        pdf.set_x(MARGIN + 28)
        pdf.multi_cell(WIDTH - 28, 5, text, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_y(pdf.get_y() + 1.5)
    rows = [("Borrower", consortium.place_name(request.home_library)),
            ("Pickup", consortium.place_name(request.pickup_location)),
            ("Answer by", f"{_local(slip.answer_by, zone)} ({zone.key})"
             if slip.answer_by else "no deadline recorded"),
            ("Arrived", _local(slip.arrived, zone))]
    if request.note:
        rows.append(("Note", _cut(request.note)))
    for label, value in rows:
        if pdf.get_y() > top + SLIP_H - 6:
            break  # a slip never runs into the next one
        pdf.set_font("Sans", "B", 10)
        pdf.cell(28, 5, label)
        pdf.set_font("Sans", "", 10)
        pdf.multi_cell(WIDTH - 28, 5, value, align=Align.L, new_x=XPos.LMARGIN,
                       new_y=YPos.NEXT)
