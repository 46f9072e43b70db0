"""CSV downloads that spreadsheets open safely.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return,
which some spreadsheets skip before looking) is read by Excel and LibreOffice as a
formula; a title typed by a patron could then run one on a coordinator's machine. Such
text cells get a leading apostrophe, which spreadsheets show as text. Numbers the
broker computed itself (a negative balance) are written as numbers: they are not
input, and quoting them would make them text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

from aiohttp import web

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
Cell = str | int | float | Decimal | None


def cell(value: Cell) -> str:
    """One cell as text, a formula-looking text defused."""
    if value is None:
        return ""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell(h) for h in header])
    writer.writerows([cell(v) for v in row] for row in rows)
    return out.getvalue()


def csv_response(filename: str, header: Sequence[str],
                 rows: Iterable[Sequence[Cell]]) -> web.Response:
    """An attachment named ``filename``; UTF-8 with a byte order mark, which is how
    Excel knows the letters are UTF-8 (č, ā, å would be garbled without it)."""
    return web.Response(
        body=("\ufeff" + csv_text(header, rows)).encode("utf-8"),
        content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                 "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
