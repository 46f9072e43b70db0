"""The register of a library that has neither NCIP nor SIP2: a CSV export file.

The library replaces the file now and then (a nightly export); the connector reads it
again whenever the file's identity changes (modification time, size or inode, so an
export moved into place within the same second is seen too). The file is read with
the csv module as UTF-8 (a byte-order mark is allowed), header first:

    card_number,surname,given_name,birth_date,email,category,fee_paid,
    statement_signed,blocked,expires,fines_due

``card_number``, ``surname`` and ``given_name`` are required columns; without one of
them the file is unusable and every lookup raises ``RegisterUnavailable`` naming it.
The other columns may be missing, and any cell of them may be empty: the register
then does not say (``None``; ``blocked`` is false). Booleans are ``true``/``false``
(any case), dates YYYY-MM-DD, fines a decimal number. Columns the broker does not
know are ignored.

A row that is not valid is skipped and reported with its line number (``problems``,
and a warning in the log that names the line and the column, never the values: they
are personal data). Its card number is not "unknown", though: a lookup of a card
number whose row was skipped, or that appears on two rows, raises
``RegisterUnavailable`` with the line, because "no such patron" would be a wrong
answer to the patron, and the library can fix its export.

A file that is missing, empty (no header) or not UTF-8 is unusable as a whole: a
half-written or mis-encoded export must not turn patrons into strangers.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from broker.domain.register import RegisterEntry
from connectors.errors import RegisterUnavailable

log = logging.getLogger(__name__)

COLUMNS = (
    "card_number", "surname", "given_name", "birth_date", "email", "category",
    "fee_paid", "statement_signed", "blocked", "expires", "fines_due",
)  # fmt: skip
REQUIRED = ("card_number", "surname", "given_name")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_MONEY = re.compile(r"-?\d+(?:\.\d+)?")
_BOOLEANS = {"true": True, "false": False}

# (inode, size, modification time in ns): what tells us the export was replaced.
_Signature = tuple[int, int, int]
_T = TypeVar("_T")
# Enough to find the pattern in a broken export without flooding the log.
_LOGGED_PROBLEMS = 20


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row of the export that was skipped: its first line in the file, the column
    at fault (``None`` for the row as a whole) and why."""

    line: int
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """One reading of the file."""

    signature: _Signature
    entries: Mapping[str, RegisterEntry]
    # Card numbers we cannot answer for, with the line that says why.
    unreadable: Mapping[str, RowProblem]
    problems: tuple[RowProblem, ...]
    # Why the whole file is unusable, or None.
    error: str | None = None


def _key(card_number: str) -> str:
    return card_number.strip().casefold()


class _RowError(Exception):
    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


def _text(value: str) -> str | None:
    return value.strip() or None


def _date(value: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    if not _DATE.fullmatch(value):
        raise ValueError("not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("not a date in the calendar") from None


def _boolean(value: str) -> bool | None:
    value = value.strip().lower()
    if not value:
        return None
    if value not in _BOOLEANS:
        raise ValueError("not true or false")
    return _BOOLEANS[value]


def _email(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if not _EMAIL.fullmatch(value):
        raise ValueError("not an e-mail address")
    return value


def _money(value: str) -> Decimal | None:
    value = value.strip()
    if not value:
        return None
    if not _MONEY.fullmatch(value):
        raise ValueError("not an amount (a decimal number like 12.40)")
    return Decimal(value)


def _cell(row: Mapping[str, str], column: str, parse: Callable[[str], _T]) -> _T | None:
    """The parsed cell of an optional column; ``None`` when the export has no such
    column."""
    if column not in row:
        return None
    try:
        return parse(row[column])
    except ValueError as exc:
        raise _RowError(column, str(exc)) from None


def _entry(row: Mapping[str, str]) -> RegisterEntry:
    """The entry of one row (column name -> cell); ``_RowError`` for the first bad cell."""
    card_number = row["card_number"].strip()
    if not card_number:
        raise _RowError("card_number", "empty")
    surname = row["surname"].strip()
    if not surname:
        raise _RowError("surname", "empty")
    return RegisterEntry(
        card_number=card_number,
        surname=surname,
        # A person may have one name only: an empty given name is what the register says.
        given_name=row["given_name"].strip(),
        birth_date=_cell(row, "birth_date", _date),
        email=_cell(row, "email", _email),
        category=_cell(row, "category", _text),
        fee_paid=_cell(row, "fee_paid", _boolean),
        statement_signed=_cell(row, "statement_signed", _boolean),
        blocked=_cell(row, "blocked", _boolean) is True,
        expires=_cell(row, "expires", _date),
        fines_due=_cell(row, "fines_due", _money),
    )


def _parse(text: str, signature: _Signature) -> _Snapshot:
    """Read a whole export (already decoded) into a snapshot; never raises."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    card_column = 0
    entries: dict[str, RegisterEntry] = {}
    first_line: dict[str, int] = {}
    unreadable: dict[str, RowProblem] = {}
    problems: list[RowProblem] = []
    last_line = 0
    while True:
        line = last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            last_line = reader.line_num
            problems.append(RowProblem(line, None, f"not CSV: {exc}"))
            continue
        last_line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if header is None:
            header = [name.strip().lower() for name in row]
            duplicated = sorted({n for n in header if n and header.count(n) > 1})
            if duplicated:
                return _Snapshot(signature, {}, {}, (), "the header names "
                                 + ", ".join(duplicated) + " twice")
            missing = [name for name in REQUIRED if name not in header]
            if missing:
                return _Snapshot(signature, {}, {}, (), "the register export has no column "
                                 + ", ".join(missing))
            card_column = header.index("card_number")
            continue
        card = _key(row[card_column]) if card_column < len(row) else ""
        try:
            if len(row) != len(header):
                raise _RowError(None, f"{len(row)} fields, the header has {len(header)}")
            entry = _entry(dict(zip(header, row, strict=True)))
        except _RowError as exc:
            problem = RowProblem(line, exc.column, exc.reason)
            problems.append(problem)
            if card:
                unreadable.setdefault(card, problem)
            continue
        if card in first_line:
            problem = RowProblem(line, "card_number",
                                 f"the same card number as line {first_line[card]}")
            problems.append(problem)
            unreadable.setdefault(card, problem)
            continue
        first_line[card] = line
        entries[card] = entry
    if header is None:
        return _Snapshot(signature, {}, {}, (), "the register export is empty (no header)")
    for card in unreadable:
        entries.pop(card, None)
    return _Snapshot(signature, MappingProxyType(entries), MappingProxyType(unreadable),
                     tuple(problems))


class RegisterFile:
    """A library's register as a CSV export file (see the module docstring)."""

    def __init__(self, path: str | Path, *, library: str) -> None:
        self.path = Path(path)
        self.library = library
        self._snapshot: _Snapshot | None = None

    def __repr__(self) -> str:
        return f"RegisterFile({str(self.path)!r}, library={self.library!r})"

    @property
    def problems(self) -> tuple[RowProblem, ...]:
        """The rows skipped at the last reading of the file."""
        return self._snapshot.problems if self._snapshot is not None else ()

    async def lookup(self, card_number: str) -> RegisterEntry | None:
        """The entry for ``card_number`` (trimmed, any letter case), ``None`` when the
        export has no such card, ``RegisterUnavailable`` when the file is unusable
        or the card's row could not be read."""
        snapshot = await self._current()
        if snapshot.error is not None:
            raise RegisterUnavailable(f"{self.path.name}: {snapshot.error}", peer=self.library)
        key = _key(card_number)
        problem = snapshot.unreadable.get(key)
        if problem is not None:
            raise RegisterUnavailable(f"{self.path.name}: the row of this card number was "
                                      f"skipped ({problem})", peer=self.library)
        return snapshot.entries.get(key)

    async def _current(self) -> _Snapshot:
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise RegisterUnavailable(f"{self.path.name}: cannot read the register export: "
                                      f"{exc.strerror or exc}", peer=self.library) from None
        snapshot = self._snapshot
        if snapshot is None or snapshot.signature != _signature(stat):
            # A big export takes a moment to parse: keep the event loop free meanwhile.
            snapshot = await asyncio.to_thread(self._read)
            self._snapshot = snapshot
        return snapshot

    def _read(self) -> _Snapshot:
        try:
            with self.path.open("rb") as stream:
                signature = _signature(os.fstat(stream.fileno()))
                data = stream.read()
        except OSError as exc:
            raise RegisterUnavailable(f"{self.path.name}: cannot read the register export: "
                                      f"{exc.strerror or exc}", peer=self.library) from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            return _Snapshot(signature, {}, {}, (), f"not UTF-8 (line {line})")
        snapshot = _parse(text, signature)
        if snapshot.error is not None:
            log.warning("register export of %s (%s) is unusable: %s", self.library,
                        self.path.name, snapshot.error)
        for problem in snapshot.problems[:_LOGGED_PROBLEMS]:
            log.warning("register export of %s (%s): row skipped at %s", self.library,
                        self.path.name, problem)
        if len(snapshot.problems) > _LOGGED_PROBLEMS:
            log.warning("register export of %s (%s): %d more rows skipped", self.library,
                        self.path.name, len(snapshot.problems) - _LOGGED_PROBLEMS)
        return snapshot


def _signature(stat: os.stat_result) -> _Signature:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)
