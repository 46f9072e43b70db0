from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from broker.domain.consortium import LocalHoldings
from broker.domain.errors import ConsortiumInvalid
from broker.domain.holdings import ItemStatus, MaterialType
from broker.services.consortium_file import current, load, place

from builders import VALID_CONSORTIUM as VALID
from builders import write_consortium as write


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConsortiumInvalid) as caught:
        load(write(tmp_path, text))
    return [f"{p}: {m}" for p, m in caught.value.problems]


def test_a_valid_file_loads_into_the_model(tmp_path: Path) -> None:
    consortium = load(write(tmp_path, VALID))
    assert consortium.local_holdings is LocalHoldings.ANY
    assert consortium.fees.ill_item == Decimal("7.00")
    assert consortium.fees.late_per_day[MaterialType.BOOK] == Decimal("0.20")
    a = consortium.library("A")
    assert a.policy.pickup_days == 10 and a.policy.answer_hours == 24
    assert a.has_branch("A-1") and not a.has_branch("B")
    assert a.catalog.holdings is not None
    assert a.catalog.holdings.status_map["r"] is ItemStatus.READING_ROOM
    assert Path(a.catalog.settings["path"]).is_absolute()
    assert consortium.region_of("A").free_transfers
    assert not consortium.region_of("B").free_transfers


@pytest.mark.parametrize(("old", "new", "expected"), [
    ('region = "R2"', 'region = "X"', 'libraries[1].region: unknown region "X"'),
    ('timezone = "Europe/Riga"', 'timezone = "Mars/Olympus"',
     'libraries[1].timezone: unknown time zone "Mars/Olympus"'),
    ('ill_item = "7.00"', 'ill_item = 7.0', "fees.ill_item: 7.0 is not of type 'string'"),
    ('ill_item = "7.00"', 'ill_item = "7,00"', "fees.ill_item: '7,00' does not match"),
    ("password_min_length = 6", "password_min_length = 3",
     "libraries[1].policy.password_min_length: 3 is less than the minimum of 6"),
    ('lends = ["book", "journal"]', 'lends = ["book", "vinyl"]',
     "libraries[1].policy.lends[1]: 'vinyl' is not one of"),
    ('code = "B"', 'code = "A"', 'libraries[1].code: duplicate code "A"'),
    ('country = "LV"\nregion = "R2"', 'country = "SI"\nregion = "R2"',
     'libraries[1].country: "SI" is not the country of region "R2"'),
    ('url = "http://127.0.0.1:9999/b"', 'path = "b.xml"',
     "libraries[1].catalog: 'url' is a required property"),
    ('agency_id = "B"', "", "libraries[1].lending: 'agency_id' is a required property"),
    ('{ code = "A-1", name = "Branch" }', '{ code = "A", name = "Branch" }',
     'libraries[0].branches[0].code: code "A" is already used'),
    ('path = "a.csv"', 'path = "missing.csv"',
     'libraries[0].register.path: no such file "missing.csv"'),
    ('tag = "852"', 'tag = "999"', "libraries[0].catalog.holdings.tag: '999' is not one of"),
    ('status_map = { a = "available", r = "reading_room" }', 'status_map = { a = "gone" }',
     "libraries[0].catalog.holdings.status_map.a: 'gone' is not one of"),
    ('name = "Test"', 'name = "Test"\ncolour = "red"',
     "consortium: Additional properties are not allowed ('colour' was unexpected)"),
])
def test_each_problem_is_reported_with_its_place(tmp_path: Path, old: str, new: str,
                                                 expected: str) -> None:
    assert old in VALID
    found = problems(tmp_path, VALID.replace(old, new, 1))
    assert any(p.startswith(expected) for p in found), found


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = VALID.replace('region = "R2"', 'region = "X"').replace(
        'timezone = "Europe/Ljubljana"', 'timezone = "Nowhere"')
    found = problems(tmp_path, text)
    assert len(found) == 2


def test_a_missing_section_is_named(tmp_path: Path) -> None:
    start = VALID.index("[fees]")
    end = VALID.index("[[libraries]]")
    found = problems(tmp_path, VALID[:start] + VALID[end:])
    assert found == [": 'fees' is a required property"]


@pytest.mark.parametrize(("content", "expected"), [
    (b"[consortium\nname = 1", "not valid TOML"),
    (b"\xff\xfe[consortium]", "not UTF-8"),
    (b"", "'consortium' is a required property"),
])
def test_unreadable_files_give_one_clear_line(tmp_path: Path, content: bytes,
                                              expected: str) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(content)
    with pytest.raises(ConsortiumInvalid) as caught:
        load(path)
    assert expected in caught.value.report()
    assert str(path) in caught.value.report()


def test_missing_file_folder_and_oversized_file(tmp_path: Path) -> None:
    for path, expected in [(tmp_path / "nope.toml", "no such file"),
                           (tmp_path, "is a folder")]:
        with pytest.raises(ConsortiumInvalid, match=expected):
            load(path)
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (5 * 1024 * 1024))
    with pytest.raises(ConsortiumInvalid, match="bytes, over"):
        load(big)


def test_current_keeps_the_file_until_it_changes(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    first = current(path)
    assert current(path) is first
    path.write_text(VALID.replace('ill_item = "7.00"', 'ill_item = "8.00"'), encoding="utf-8")
    changed = current(path)
    assert changed is not first and changed.fees.ill_item == Decimal("8.00")
    path.write_text("not = [toml", encoding="utf-8")
    with pytest.raises(ConsortiumInvalid):
        current(path)


def test_place_formats_paths() -> None:
    assert place(["libraries", 3, "region"]) == "libraries[3].region"
    assert place([]) == ""


def test_a_country_without_a_holiday_calendar_is_refused(tmp_path: Path) -> None:
    # Answer times are counted in working days, which need the country's holidays.
    text = VALID.replace('country = "LV"', 'country = "XQ"')
    assert 'libraries[1].country: no public-holiday calendar for "XQ" (answer times are ' \
           'counted in working days)' in problems(tmp_path, text)
