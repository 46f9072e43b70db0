"""Working hours of a library: how long a lender has to answer an order.

A lender's answer time is counted in its own working hours, in its own country and
time zone, so an order sent on a Friday afternoon, or before a public holiday, does
not run out while nobody is at the desk. The rules:

- a working day is Monday to Friday, unless it is a public holiday of the library's
  country (the ``holidays`` package, which also knows bridge days a government
  declares, such as Latvia's substituted days off);
- a working day runs from 08:00 to 16:00 local time: 8 working hours, so "24 working
  hours" is three working days;
- the clock is the library's wall clock, so a change to or from summer time moves the
  deadline in UTC, never the hour the library sees.

Pure: no I/O, only the calendar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

OPENS = time(8)
CLOSES = time(16)
WORKDAY = timedelta(hours=8)
SATURDAY = 5
# answer_hours is at most 720 (90 working days); a year without a working day means
# a broken calendar, not a long wait.
MAX_DAYS = 3 * 366


@lru_cache(maxsize=256)
def _public_holidays(country: str, year: int) -> frozenset[date]:
    try:
        calendar = holidays.country_holidays(country, years=year)
    except NotImplementedError:
        raise ValueError(f"no public holiday calendar for country {country!r}") from None
    return frozenset(calendar)


def is_public_holiday(day: date, country: str) -> bool:
    return day in _public_holidays(country, day.year)


def is_working_day(day: date, country: str) -> bool:
    """Monday to Friday and not a public holiday of ``country`` (ISO 3166-1 alpha-2)."""
    return day.weekday() < SATURDAY and day not in _public_holidays(country, day.year)


def answer_deadline(sent_at: datetime, hours: int, country: str, timezone: str) -> datetime:
    """The moment (in UTC) when ``hours`` working hours have passed since ``sent_at``
    at a library in ``country`` whose clocks show ``timezone``.

    Time outside working hours does not count: an order sent in the evening, at a
    weekend or on a holiday starts counting at the next opening. A deadline that falls
    exactly at closing time stays there rather than moving to the next opening. Zero
    hours is ``sent_at`` itself.
    """
    if sent_at.tzinfo is None:
        raise ValueError("sent_at must carry its time zone")
    if hours < 0:
        raise ValueError("hours must not be negative")
    if hours == 0:
        return sent_at.astimezone(UTC)
    zone = ZoneInfo(timezone)
    # Wall-clock arithmetic on naive local times: working hours are what the clock on
    # the library's wall says, whatever the UTC offset is that day.
    local = sent_at.astimezone(zone).replace(tzinfo=None)
    left = timedelta(hours=hours)
    day = local.date()
    for _ in range(MAX_DAYS):
        if is_working_day(day, country):
            opens = max(local, datetime.combine(day, OPENS))
            closes = datetime.combine(day, CLOSES)
            if opens < closes:
                if left <= closes - opens:
                    # Working hours lie away from the 02:00-03:00 summer-time switch of
                    # the zones we serve, so the wall time exists and is unambiguous.
                    return (opens + left).replace(tzinfo=zone).astimezone(UTC)
                left -= closes - opens
        day += timedelta(days=1)
    raise ValueError(f"no working day within {MAX_DAYS} days in {country!r}")
