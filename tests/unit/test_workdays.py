"""Answer deadlines in a lender's working hours: 08:00-16:00 local, Monday to Friday,
not on its country's public holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broker.domain.workdays import CLOSES, OPENS, answer_deadline, is_working_day

ZONES = {"SI": "Europe/Ljubljana", "LV": "Europe/Riga", "SE": "Europe/Stockholm",
         "NL": "Europe/Amsterdam"}


def local(country: str, wall: str) -> datetime:
    return datetime.fromisoformat(wall).replace(tzinfo=ZoneInfo(ZONES[country]))


# (why, country, sent at (local wall clock), working hours, deadline (local wall clock))
CASES = [
    ("within one day", "SI", "2025-06-02 10:00", 3, "2025-06-02 13:00"),
    ("ends at closing the same day", "SI", "2025-06-02 10:00", 6, "2025-06-02 16:00"),
    ("24 hours are three working days", "SI", "2025-06-02 10:00", 24, "2025-06-05 10:00"),
    ("ends at closing, not the next opening", "SI", "2025-06-02 08:00", 24,
     "2025-06-04 16:00"),
    ("over a weekend", "SI", "2025-06-06 10:00", 24, "2025-06-11 10:00"),
    ("sent on a Saturday", "SI", "2025-06-07 11:00", 24, "2025-06-11 16:00"),
    ("sent on a Friday evening", "SI", "2025-06-13 18:30", 8, "2025-06-16 16:00"),
    ("sent before opening", "SI", "2025-06-03 06:15", 2, "2025-06-03 10:00"),
    ("sent at closing", "SI", "2025-06-03 16:00", 1, "2025-06-04 09:00"),
    ("minutes count", "SI", "2025-06-03 15:45", 1, "2025-06-04 08:45"),
    ("SI Statehood Day, 25 June", "SI", "2025-06-24 10:00", 24, "2025-06-30 10:00"),
    ("sent on a holiday", "SI", "2025-06-25 09:00", 8, "2025-06-26 16:00"),
    ("SI 31 October and 1 November on weekdays", "SI", "2024-10-30 10:00", 24,
     "2024-11-06 10:00"),
    ("SI 31 October on a Friday, 1 November on a Saturday", "SI", "2025-10-30 12:00", 8,
     "2025-11-03 12:00"),
    ("SI Christmas, Independence Day and both New Year's days, into the next year", "SI",
     "2025-12-24 10:00", 40, "2026-01-06 10:00"),
    ("LV Proclamation Day, 18 November, with its bridge day", "LV", "2025-11-14 10:00", 24,
     "2025-11-21 10:00"),
    ("SE National Day, 6 June", "SE", "2025-06-05 10:00", 24, "2025-06-11 10:00"),
    ("the same order in SI, where 6 June is a working day", "SI", "2025-06-05 10:00", 24,
     "2025-06-10 10:00"),
    ("NL King's Day, 27 April", "NL", "2026-04-24 14:00", 8, "2026-04-28 14:00"),
    ("NL King's Day on a Saturday changes nothing", "NL", "2025-04-25 14:00", 8,
     "2025-04-28 14:00"),
]


@pytest.mark.parametrize(("country", "sent", "hours", "deadline"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_answer_deadline(country: str, sent: str, hours: int, deadline: str) -> None:
    due = answer_deadline(local(country, sent), hours, country, ZONES[country])
    assert due.tzinfo is UTC
    assert due == local(country, deadline)


# Across a change of summer time the library's wall clock decides: 10:00 stays 10:00,
# so the deadline moves by an hour in UTC.
DST = [
    ("into summer time (30 March)", "2025-03-28 09:00", "2025-04-02 08:00"),
    ("out of summer time (26 October)", "2025-10-24 08:00", "2025-10-29 09:00"),
]


@pytest.mark.parametrize(("sent_utc", "deadline_utc"), [c[1:] for c in DST],
                         ids=[c[0] for c in DST])
def test_summer_time_keeps_the_wall_clock(sent_utc: str, deadline_utc: str) -> None:
    sent = datetime.fromisoformat(sent_utc).replace(tzinfo=UTC)
    due = answer_deadline(sent, 24, "SI", "Europe/Ljubljana")
    assert due == datetime.fromisoformat(deadline_utc).replace(tzinfo=UTC)
    assert due.astimezone(ZoneInfo("Europe/Ljubljana")).hour == 10


def test_sent_at_may_be_in_any_zone() -> None:
    # 06:00 UTC is 08:00 in Riga in November: the whole day counts.
    sent = datetime(2025, 11, 13, 6, 0, tzinfo=UTC)
    assert answer_deadline(sent, 8, "LV", "Europe/Riga") == datetime(2025, 11, 13, 14, 0,
                                                                      tzinfo=UTC)


@pytest.mark.parametrize("sent", ["2025-06-07 11:00", "2025-06-03 10:30"],
                         ids=["on a Saturday", "on a working day"])
def test_zero_hours_is_the_moment_sent(sent: str) -> None:
    at = local("SI", sent)
    assert answer_deadline(at, 0, "SI", ZONES["SI"]) == at


@pytest.mark.parametrize("hours", range(1, 50))
def test_every_deadline_is_inside_working_hours(hours: int) -> None:
    zone = ZoneInfo(ZONES["LV"])
    sent = local("LV", "2025-11-14 13:27")
    due = answer_deadline(sent, hours, "LV", ZONES["LV"]).astimezone(zone)
    assert is_working_day(due.date(), "LV")
    assert OPENS < due.time() <= CLOSES
    assert answer_deadline(sent, hours + 1, "LV", ZONES["LV"]) > due
    assert due - sent >= timedelta(hours=hours)


def test_working_days() -> None:
    assert is_working_day(datetime(2025, 6, 5).date(), "SE")
    assert not is_working_day(datetime(2025, 6, 6).date(), "SE")
    assert is_working_day(datetime(2025, 6, 6).date(), "SI")
    assert not is_working_day(datetime(2025, 6, 7).date(), "SI")


@pytest.mark.parametrize(("sent", "hours", "country", "message"), [
    (datetime(2025, 6, 2, 10, 0), 8, "SI", "time zone"),
    (datetime(2025, 6, 2, 10, 0, tzinfo=UTC), -1, "SI", "negative"),
    (datetime(2025, 6, 2, 10, 0, tzinfo=UTC), 8, "XX", "no public holiday calendar"),
], ids=["naive time", "negative hours", "unknown country"])
def test_refuses_what_it_cannot_count(sent: datetime, hours: int, country: str,
                                      message: str) -> None:
    with pytest.raises(ValueError, match=message):
        answer_deadline(sent, hours, country, "Europe/Ljubljana")
