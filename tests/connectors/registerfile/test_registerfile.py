"""The register export connector: rows read and validated, bad rows skipped with their
line, unusable files refused as a whole, an export replaced while the broker runs,
and every demo register."""

from __future__ import annotations

import csv
import logging
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from broker.domain.register import RegisterEntry, restrictions
from broker.services.consortium_file import load
from connectors.errors import RegisterUnavailable
from connectors.registerfile import COLUMNS, RegisterFile, RowProblem

DEMO = Path(__file__).resolve().parents[3] / "demo"
# The demo's today and the fines a patron may owe and still borrow (tests/unit/test_demo_data).
DEMO_TODAY = date(2026, 11, 23)
FINES_LIMIT = Decimal("10.00")

HEADER = ",".join(COLUMNS)
GOOD = ("61043950,Krajnc,Primož,1966-12-03,primoz.krajnc@example.org,adult,true,true,false,"
        "2027-01-23,1.20")


def register(tmp_path: Path, *lines: str, name: str = "SI-KAM.csv",
             encoding: str = "utf-8", newline: str = "\n") -> RegisterFile:
    path = tmp_path / name
    path.write_bytes(newline.join(lines).encode(encoding) + newline.encode())
    return RegisterFile(path, library="SI-KAM")


# ----------------------------------------------------------------------- good rows


@pytest.mark.parametrize(("row", "card", "expected"), [
    (GOOD, "61043950", RegisterEntry(
        "61043950", "Krajnc", "Primož", date(1966, 12, 3), "primoz.krajnc@example.org",
        "adult", True, True, False, date(2027, 1, 23), Decimal("1.20"))),
    # The register does not say: empty cells.
    ("CES1,Ķuze,Baiba,,,,,,,,", "CES1", RegisterEntry("CES1", "Ķuze", "Baiba")),
    # Booleans in any case; spaces around cells.
    (" ENK1 , Åkesson , Karin ,1968-11-26, karin@example.org ,adult,TRUE,False,True,"
     "2028-04-20, 0.00 ", "ENK1",
     RegisterEntry("ENK1", "Åkesson", "Karin", date(1968, 11, 26), "karin@example.org",
                   "adult", True, False, True, date(2028, 4, 20), Decimal("0.00"))),
    # Quoted cells with the delimiter and a quote inside.
    ('DEL1,"van der Meer, Jr.","Femke ""Fem""",1993-05-26,,adult,true,true,false,,', "DEL1",
     RegisterEntry("DEL1", "van der Meer, Jr.", 'Femke "Fem"', date(1993, 5, 26), None,
                   "adult", True, True, False)),
    # A credit is a negative amount; a person may have one name only.
    ("RCB1,Dzene,,2014-06-06,,child,true,true,false,2028-05-09,-2.60", "RCB1",
     RegisterEntry("RCB1", "Dzene", "", date(2014, 6, 6), None, "child", True, True, False,
                   date(2028, 5, 9), Decimal("-2.60"))),
])
async def test_rows(tmp_path: Path, row: str, card: str, expected: RegisterEntry) -> None:
    file = register(tmp_path, HEADER, row)
    assert await file.lookup(card) == expected
    assert file.problems == ()


@pytest.mark.parametrize("query", ["ces9465586", " CES9465586 ", "Ces9465586\t", "CES9465586"])
async def test_card_numbers_are_trimmed_and_caseless(tmp_path: Path, query: str) -> None:
    file = register(tmp_path, HEADER, "CES9465586,Ķuze,Baiba,,,,,,,,")
    entry = await file.lookup(query)
    assert entry is not None
    assert entry.card_number == "CES9465586"


@pytest.mark.parametrize("query", ["00000000", "", "6104395", "610439500"])
async def test_unknown_card_is_none(tmp_path: Path, query: str) -> None:
    assert await register(tmp_path, HEADER, GOOD).lookup(query) is None


async def test_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    file = register(tmp_path, HEADER, GOOD, encoding="utf-8-sig", newline="\r\n")
    entry = await file.lookup("61043950")
    assert entry is not None
    assert entry.fines_due == Decimal("1.20")


async def test_header_names_are_trimmed_caseless_and_in_any_order(tmp_path: Path) -> None:
    file = register(tmp_path, " Surname ,CARD_NUMBER,given_name,Notes", "Krajnc,61043950,Primož,x")
    assert await file.lookup("61043950") == RegisterEntry("61043950", "Krajnc", "Primož")


async def test_optional_columns_may_be_missing(tmp_path: Path) -> None:
    file = register(tmp_path, "card_number,surname,given_name,birth_date,blocked",
                    "61043950,Krajnc,Primož,1966-12-03,true")
    assert await file.lookup("61043950") == RegisterEntry(
        "61043950", "Krajnc", "Primož", date(1966, 12, 3), blocked=True)


# ------------------------------------------------------------------------ bad rows


@pytest.mark.parametrize(("row", "column", "reason"), [
    ("X1,Krajnc,Primož,03.12.1966,,,,,,,", "birth_date", "not a date (YYYY-MM-DD)"),
    ("X1,Krajnc,Primož,1966-13-03,,,,,,,", "birth_date", "not a date in the calendar"),
    ("X1,Krajnc,Primož,19661203,,,,,,,", "birth_date", "not a date (YYYY-MM-DD)"),
    ("X1,Krajnc,Primož,,,,yes,,,,", "fee_paid", "not true or false"),
    ("X1,Krajnc,Primož,,,,,1,,,", "statement_signed", "not true or false"),
    ("X1,Krajnc,Primož,,,,,,no,,", "blocked", "not true or false"),
    ("X1,Krajnc,Primož,,,,,,,2027-02-30,", "expires", "not a date in the calendar"),
    ("X1,Krajnc,Primož,,,,,,,,\"12,40\"", "fines_due", "not an amount"),
    ("X1,Krajnc,Primož,,,,,,,,EUR 3", "fines_due", "not an amount"),
    ("X1,Krajnc,Primož,,primoz.example.org,,,,,,", "email", "not an e-mail address"),
    ("X1,,Primož,,,,,,,,", "surname", "empty"),
    ("X1,Krajnc,Primož,,,,,,,", None, "10 fields, the header has 11"),
    ("X1,Krajnc,Primož,,,,,,,,,", None, "12 fields, the header has 11"),
    ("X1", None, "1 fields, the header has 11"),
])
async def test_bad_rows_are_skipped_with_their_line(tmp_path: Path, row: str,
                                                    column: str | None, reason: str) -> None:
    file = register(tmp_path, HEADER, GOOD, row, "CES1,Ķuze,Baiba,,,,,,,,")
    # The good rows around it are served.
    assert await file.lookup("61043950") is not None
    assert await file.lookup("CES1") is not None
    [problem] = file.problems
    assert (problem.line, problem.column) == (3, column)
    assert reason in problem.reason
    # The skipped card is not "unknown": the register cannot say.
    with pytest.raises(RegisterUnavailable, match="line 3") as caught:
        await file.lookup("x1")
    assert caught.value.peer == "SI-KAM"


async def test_a_row_without_a_card_number(tmp_path: Path) -> None:
    file = register(tmp_path, HEADER, GOOD, "  ,Krajnc,Primož,,,,,,,,")
    assert await file.lookup("61043950") is not None
    assert file.problems == (RowProblem(3, "card_number", "empty"),)


async def test_line_numbers_count_blank_lines_and_quoted_line_breaks(tmp_path: Path) -> None:
    file = register(tmp_path, HEADER, "", GOOD, '"X1","Krajnc","Primož',
                    'Janez",,,,,,,,', "", "X2,Krajnc,Primož,never,,,,,,,")
    assert await file.lookup("X1") == RegisterEntry("X1", "Krajnc", "Primož\nJanez")
    assert [(p.line, p.column) for p in file.problems] == [(7, "birth_date")]


async def test_a_card_number_on_two_rows_is_ambiguous(tmp_path: Path) -> None:
    file = register(tmp_path, HEADER, GOOD, "CES1,Ķuze,Baiba,,,,,,,,",
                    GOOD.replace("Krajnc", "Novak").replace("61043950", " 61043950 "))
    assert file.problems == ()  # not read yet
    with pytest.raises(RegisterUnavailable, match="the same card number as line 2"):
        await file.lookup("61043950")
    assert file.problems == (RowProblem(4, "card_number", "the same card number as line 2"),)
    assert await file.lookup("CES1") is not None


async def test_a_bad_row_makes_its_good_twin_ambiguous(tmp_path: Path) -> None:
    file = register(tmp_path, HEADER, "61043950,Krajnc,Primož,soon,,,,,,,", GOOD)
    with pytest.raises(RegisterUnavailable, match="line 2"):
        await file.lookup("61043950")


async def test_the_log_names_lines_and_columns_never_values(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    file = register(tmp_path, HEADER, GOOD, "X1,Krajnc,Primož,03.12.1966,,,,,,,")
    with caplog.at_level(logging.WARNING, logger="connectors.registerfile"):
        await file.lookup("61043950")
    assert "line 3, birth_date: not a date" in caplog.text
    for personal in ("X1", "Krajnc", "Primož", "03.12.1966"):
        assert personal not in caplog.text


async def test_many_bad_rows_log_a_summary(tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    rows = [f"X{i},Krajnc,Primož,never,,,,,,," for i in range(50)]
    file = register(tmp_path, HEADER, *rows, GOOD)
    with caplog.at_level(logging.WARNING, logger="connectors.registerfile"):
        assert await file.lookup("61043950") is not None
    assert len(file.problems) == 50
    assert len(caplog.records) == 21
    assert "30 more rows skipped" in caplog.text


# ------------------------------------------------------------------- unusable files


@pytest.mark.parametrize("missing", ["card_number", "surname", "given_name"])
async def test_a_missing_required_column_makes_the_file_unusable(tmp_path: Path,
                                                                 missing: str) -> None:
    columns = [c for c in COLUMNS if c != missing]
    row = dict(zip(COLUMNS, GOOD.split(","), strict=True))
    file = register(tmp_path, ",".join(columns), ",".join(row[c] for c in columns))
    with pytest.raises(RegisterUnavailable, match=f"has no column {missing}"):
        await file.lookup("61043950")


async def test_a_column_named_twice_makes_the_file_unusable(tmp_path: Path) -> None:
    file = register(tmp_path, HEADER + ",surname", GOOD + ",Novak")
    with pytest.raises(RegisterUnavailable, match="names surname twice"):
        await file.lookup("61043950")


async def test_not_utf8(tmp_path: Path) -> None:
    file = register(tmp_path, HEADER, "CES1,Ķuze,Baiba,,,,,,,,",
                    "ENK1,Åkesson,Karin,,,,,,,,", encoding="cp1257")
    with pytest.raises(RegisterUnavailable, match=r"not UTF-8 \(line 2\)") as caught:
        await file.lookup("ENK1")
    assert caught.value.peer == "SI-KAM"


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\xef\xbb\xbf", b" , ,\n"])
async def test_an_empty_file_is_unusable(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(RegisterUnavailable, match="empty"):
        await RegisterFile(path, library="SI-KAM").lookup("61043950")


async def test_a_header_alone_knows_nobody(tmp_path: Path) -> None:
    assert await register(tmp_path, HEADER).lookup("61043950") is None


async def test_a_missing_file(tmp_path: Path) -> None:
    file = RegisterFile(tmp_path / "nowhere.csv", library="SI-KAM")
    with pytest.raises(RegisterUnavailable, match="cannot read the register export"):
        await file.lookup("61043950")


# ------------------------------------------------------------ replaced while running


async def test_an_export_replaced_while_the_broker_runs(tmp_path: Path) -> None:
    file = register(tmp_path, HEADER, GOOD)
    first = await file.lookup("61043950")
    assert first is not None
    assert not first.blocked

    # The library's nightly export: written aside, then moved into place.
    new = tmp_path / "SI-KAM.csv.new"
    new.write_text(HEADER + "\n" + GOOD.replace("false,2027", "true,2027") + "\n"
                   + "17553672,Kovačič,Katja,,,,,,,,\n", encoding="utf-8")
    os.replace(new, file.path)
    again = await file.lookup("61043950")
    assert again is not None
    assert again.blocked
    assert await file.lookup("17553672") is not None

    # Replaced by a broken export: unavailable, not the old data.
    file.path.write_text("card_number;surname;given_name\n", encoding="utf-8")
    with pytest.raises(RegisterUnavailable, match="has no column"):
        await file.lookup("61043950")

    # Fixed in place, same size as before, one second later.
    file.path.write_text("card_number,surname,given_name\n", encoding="utf-8")
    stat = file.path.stat()
    os.utime(file.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert await file.lookup("61043950") is None

    # Gone: unavailable.
    file.path.unlink()
    with pytest.raises(RegisterUnavailable):
        await file.lookup("61043950")


async def test_an_unchanged_file_is_read_once(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    file = register(tmp_path, HEADER, GOOD)
    reads = 0
    read = file._read

    def counting() -> object:
        nonlocal reads
        reads += 1
        return read()

    monkeypatch.setattr(file, "_read", counting)
    for _ in range(5):
        assert await file.lookup("61043950") is not None
    assert reads == 1


# ----------------------------------------------------------------- demo registers


def demo_registers() -> list[tuple[str, str]]:
    consortium = load(DEMO / "consortium.toml")
    return [(code, str(lib.register.settings["path"]))
            for code, lib in consortium.libraries.items() if lib.register.connector == "file"]


@pytest.mark.parametrize(("code", "path"), demo_registers())
async def test_every_demo_register(code: str, path: str) -> None:
    with open(path, encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    file = RegisterFile(path, library=code)
    first = await file.lookup(rows[0]["card_number"])
    assert first is not None
    assert first.surname == rows[0]["surname"]
    # The first patron of each demo register is in good standing.
    assert restrictions(first, DEMO_TODAY, FINES_LIMIT) == ()
    for row in rows:
        assert await file.lookup(row["card_number"]) is not None
    assert file.problems == ()
