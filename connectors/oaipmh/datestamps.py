"""OAI-PMH datestamps: read from headers, written into ``from`` at the repository's
granularity.

Implements OAI-PMH 2.0 §3.3 "UTCdatetime": datestamps are UTC, either ``YYYY-MM-DD``
or ``YYYY-MM-DDThh:mm:ssZ``; a repository declares which in its Identify response
(§4.2 ``granularity``), and a harvester must not send a ``from`` finer than that
(§3.3.1, otherwise the answer is ``badArgument``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from enum import StrEnum


class Granularity(StrEnum):
    """The two granularities of §3.3.1, as Identify spells them."""

    DAY = "YYYY-MM-DD"
    SECOND = "YYYY-MM-DDThh:mm:ssZ"


# Some repositories (DSpace among them) add fractions of a second, which §3.3 does
# not allow; they are read and dropped rather than failing the record.
_DATESTAMP = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:T(?P<time>\d{2}:\d{2}:\d{2})(?:\.\d+)?Z)?"
)


def parse_datestamp(text: str) -> datetime:
    """The moment a response datestamp (§3.3.2) names, as an aware UTC ``datetime``.

    A day-granular datestamp is the start of that day. Raises ``ValueError`` for
    anything else.
    """
    match = _DATESTAMP.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an OAI-PMH datestamp: {text!r}")
    day = date.fromisoformat(match["date"])
    moment = time.fromisoformat(match["time"]) if match["time"] else time()
    return datetime.combine(day, moment, tzinfo=UTC)


def format_datestamp(moment: datetime, granularity: Granularity) -> str:
    """``moment`` as a ``from``/``until`` argument at ``granularity`` (§3.3.1).

    ``moment`` must be aware: the protocol is in UTC, and a naive time could be any
    zone's. Truncating to the day moves ``from`` earlier, which re-harvests part of
    a day (harmless: upserts are idempotent) rather than missing any of it.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an OAI-PMH datestamp needs an aware datetime (UTC)")
    utc = moment.astimezone(UTC)
    if granularity is Granularity.DAY:
        return utc.date().isoformat()
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_granularity(text: str | None) -> Granularity:
    """The Identify ``granularity`` (§4.2); a repository that leaves it out or writes
    something else is asked by the day, the granularity every repository supports."""
    try:
        return Granularity((text or "").strip())
    except ValueError:
        return Granularity.DAY
