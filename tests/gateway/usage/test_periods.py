"""The UTC day and month a unix time falls in (the ledger's day and the budget's month) agree with the calendar at
every boundary, including the instant before and after midnight, a month's end and a leap day."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.usage.records import day_of, month_of

INSTANTS = [
    dt.datetime(2026, 12, 31, 23, 59, 59, 999_000, tzinfo=dt.UTC),
    dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2028, 2, 29, 12, tzinfo=dt.UTC),
    dt.datetime(2028, 3, 1, tzinfo=dt.UTC),
    dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
]


@pytest.mark.parametrize("instant", INSTANTS, ids=[i.isoformat() for i in INSTANTS])
def test_day_and_month_follow_the_utc_calendar(instant: dt.datetime) -> None:
    """Each instant, and the one a millisecond before it, lands on its own UTC day and month."""
    for at in (instant, instant - dt.timedelta(milliseconds=1)):
        ts = at.timestamp()
        assert day_of(ts) == at.strftime("%Y-%m-%d")
        assert month_of(ts) == at.strftime("%Y-%m")
