"""Freeze windows on their zone's wall clock, with fixed clocks, across daylight saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.freeze import FreezeWindow, check_cron, frozen_at

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# Every weekend, Friday 18:00 to Monday 08:00 on Berlin's wall clock.
WEEKEND = FreezeWindow(
    name="weekend", zone=BERLIN, cron="0 18 * * FRI", duration=timedelta(days=2, hours=14)
)
HOLIDAYS = FreezeWindow(
    name="holidays",
    zone=NEW_YORK,
    start=datetime(2026, 12, 20),
    end=datetime(2027, 1, 5),  # "to: 2027-01-04" includes that whole day
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "until"),
    [
        # Friday 2026-11-27 17:59 CET: not yet.
        (utc(2026, 11, 27, 16, 59), None),
        # Friday 18:00 CET exactly: the window starts.
        (utc(2026, 11, 27, 17, 0), datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN)),
        # Sunday noon.
        (utc(2026, 11, 29, 12, 0), datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN)),
        # Monday 07:59 CET: still frozen; 08:00: open.
        (utc(2026, 11, 30, 6, 59), datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN)),
        (utc(2026, 11, 30, 7, 0), None),
        # A Wednesday.
        (utc(2026, 12, 2, 12, 0), None),
    ],
)
def test_a_cron_window_holds_from_its_start_for_its_duration(now, until):
    assert WEEKEND.ends_after(now) == until


def test_a_weekend_over_the_end_of_summer_time_ends_at_the_same_wall_clock_time():
    # Clocks go back on Sunday 2026-10-25 in Berlin: the weekend lasts 63 hours, not 62, and
    # still ends at 08:00 on Monday (07:00 UTC, where the week before it was 06:00 UTC).
    monday_0730_cet = utc(2026, 10, 26, 6, 30)
    assert WEEKEND.ends_after(monday_0730_cet) == datetime(2026, 10, 26, 8, 0, tzinfo=BERLIN)
    assert WEEKEND.ends_after(utc(2026, 10, 26, 7, 0)) is None
    # The weekend before, in summer time, ended at 06:00 UTC.
    assert WEEKEND.ends_after(utc(2026, 10, 19, 5, 59)) is not None
    assert WEEKEND.ends_after(utc(2026, 10, 19, 6, 0)) is None


def test_a_window_starting_in_the_hour_skipped_in_spring_starts_after_the_gap():
    # 02:30 does not exist in New York on 2026-03-08; the nightly window starts at 03:00 EDT.
    nightly = FreezeWindow(
        name="nightly", zone=NEW_YORK, cron="30 2 * * *", duration=timedelta(hours=1)
    )
    assert nightly.ends_after(utc(2026, 3, 8, 6, 59)) is None  # 01:59 EST
    until = nightly.ends_after(utc(2026, 3, 8, 7, 30))  # 03:30 EDT
    assert until is not None
    assert until.astimezone(UTC) > utc(2026, 3, 8, 7, 30)
    # The day after, it is 02:30 to 03:30 EDT again.
    assert nightly.ends_after(utc(2026, 3, 9, 6, 45)) == datetime(
        2026, 3, 9, 3, 30, tzinfo=NEW_YORK
    )


@pytest.mark.parametrize(
    ("now", "frozen"),
    [
        (utc(2026, 12, 20, 4, 59), False),  # 23:59 on the 19th in New York
        (utc(2026, 12, 20, 5, 0), True),  # midnight in New York
        (utc(2027, 1, 5, 4, 59), True),  # the last minute of the 4th in New York
        (utc(2027, 1, 5, 5, 0), False),
    ],
)
def test_a_date_range_covers_whole_days_in_its_zone(now, frozen):
    assert (HOLIDAYS.ends_after(now) is not None) is frozen


def test_overlapping_starts_extend_the_window():
    # Every hour for 90 minutes: once inside, the windows chain until the cron stops.
    office = FreezeWindow(
        name="office", zone=UTC_ZONE, cron="0 9-11 * * *", duration=timedelta(minutes=90)
    )
    assert office.ends_after(utc(2026, 11, 26, 9, 10)) == utc(2026, 11, 26, 12, 30)


UTC_ZONE = ZoneInfo("UTC")


def test_the_window_that_ends_last_is_named():
    now = utc(2026, 12, 26, 12, 0)  # a Saturday inside the holidays
    frozen = frozen_at([WEEKEND, HOLIDAYS], now)
    assert frozen is not None
    assert frozen.window == "holidays"
    assert str(frozen) == "freeze window holidays until 2027-01-05 00:00 EST (America/New_York)"
    assert frozen_at([WEEKEND, HOLIDAYS], utc(2026, 12, 2, 12, 0)) is None


def test_cron_expressions_are_checked():
    assert check_cron("0 18 * * FRI") is None
    assert check_cron("61 * * * *") == "Bad minute"


@pytest.mark.parametrize(
    ("windows", "now", "text"),
    [
        # The weekend before Christmas runs into the holidays (Sunday 00:00 in New York): no step
        # up on Monday morning either, so the freeze ends with the holidays.
        (
            [WEEKEND, HOLIDAYS],
            utc(2026, 12, 18, 19, 0),
            "freeze window weekend, then holidays until 2027-01-05 00:00 EST (America/New_York)",
        ),
        # A window that starts exactly where the one holding now ends continues it.
        (
            [
                FreezeWindow(
                    name="release",
                    zone=UTC_ZONE,
                    start=datetime(2026, 12, 1, 9),
                    end=datetime(2026, 12, 1, 12),
                ),
                FreezeWindow(
                    name="review",
                    zone=UTC_ZONE,
                    start=datetime(2026, 12, 1, 12),
                    end=datetime(2026, 12, 1, 15),
                ),
                FreezeWindow(
                    name="audit",
                    zone=UTC_ZONE,
                    start=datetime(2026, 12, 1, 14),
                    end=datetime(2026, 12, 2),
                ),
            ],
            utc(2026, 12, 1, 10, 0),
            "freeze window release, then review, then audit until 2026-12-02 00:00 UTC (UTC)",
        ),
        # A cron window whose next start is its end: every day, for a day.
        (
            [FreezeWindow(name="daily", zone=UTC_ZONE, cron="0 0 1-3 12 *", duration=timedelta(1))],
            utc(2026, 12, 1, 10, 0),
            "freeze window daily until 2026-12-04 00:00 UTC (UTC)",
        ),
    ],
)
def test_a_freeze_ends_when_no_window_holds_it_any_more(windows, now, text):
    # The reason says "no step up until then": a window that starts before the one holding now
    # ends carries the freeze on, so the end named is where every window is over.
    assert str(frozen_at(windows, now)) == text
