"""Business hours as plain data: a schedule text and a moment in, open or closed out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from did_failover.errors import InvalidSchedule
from did_failover.routing.schedule import parse_schedule

OFFICE = (
    "Europe/Paris; mon-fri 09:00-18:00; sat 10:00-13:00; closed 2026-12-25; closed 2026-12-24 14:00-24:00"
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        ("2026-12-01T07:59", False),  # Tuesday 08:59 in Paris (UTC+1)
        ("2026-12-01T08:00", True),  # 09:00
        ("2026-12-01T16:59", True),  # 17:59
        ("2026-12-01T17:00", False),  # 18:00: the end is not included
        ("2026-12-05T09:30", True),  # Saturday 10:30
        ("2026-12-05T12:00", False),  # Saturday 13:00
        ("2026-12-06T10:00", False),  # Sunday
        ("2026-12-24T12:59", True),  # Christmas Eve 13:59
        ("2026-12-24T13:00", False),  # 14:00: closed for the afternoon
        ("2026-12-25T10:00", False),  # Christmas, a Friday
    ],
)
def test_weekly_hours_and_dated_closures(moment: str, is_open: bool) -> None:
    assert parse_schedule(OFFICE).is_open(utc(moment)) is is_open


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        # Europe/Paris goes from UTC+1 to UTC+2 on Sunday 2026-03-29 at 02:00 local.
        ("2026-03-27T16:30", True),  # Friday 17:30 CET
        ("2026-03-30T16:30", False),  # Monday 18:30 CEST: the same UTC time is now after hours
        ("2026-03-30T07:30", True),  # Monday 09:30 CEST
        ("2026-03-27T07:30", False),  # Friday 08:30 CET
        # Back to UTC+1 on Sunday 2026-10-25 at 03:00 local.
        ("2026-10-23T16:30", False),  # Friday 18:30 CEST
        ("2026-10-26T16:30", True),  # Monday 17:30 CET
    ],
)
def test_hours_follow_the_wall_clock_across_dst_changes(moment: str, is_open: bool) -> None:
    assert parse_schedule("Europe/Paris; mon-fri 09:00-18:00").is_open(utc(moment)) is is_open


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        ("2026-03-08T06:30", True),  # New York springs forward at 02:00: 01:30 EST is still open
        ("2026-03-08T07:30", False),  # 03:30 EDT, one UTC hour later: past the 03:00 close
        ("2026-11-01T05:30", True),  # 01:30 EDT, the first of the two 01:30s
        ("2026-11-01T06:30", True),  # 01:30 EST, the second: the same wall-clock time
        ("2026-11-01T08:30", False),  # 03:30 EST
    ],
)
def test_a_night_range_across_a_dst_change(moment: str, is_open: bool) -> None:
    assert parse_schedule("America/New_York; sat 22:00-03:00").is_open(utc(moment)) is is_open


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        ("2026-12-04T20:59", False),  # Friday 21:59 in Paris
        ("2026-12-04T21:00", True),  # Friday 22:00
        ("2026-12-05T00:59", True),  # Saturday 01:59: the range runs past midnight
        ("2026-12-05T01:00", False),  # Saturday 02:00
        ("2026-12-05T21:30", False),  # Saturday 22:30: only Friday nights
    ],
)
def test_a_range_across_midnight(moment: str, is_open: bool) -> None:
    assert parse_schedule("Europe/Paris; fri 22:00-02:00").is_open(utc(moment)) is is_open


def test_day_lists_ranges_that_wrap_and_whole_days() -> None:
    schedule = parse_schedule("UTC; fri-mon 00:00-24:00; wed 12:00-13:00")
    assert [schedule.is_open(utc(f"2026-11-{day}T10:00")) for day in range(23, 30)] == [
        True,  # Monday
        False,
        False,  # Wednesday, but before 12:00
        False,
        True,  # Friday
        True,
        True,
    ]
    assert schedule.is_open(utc("2026-11-25T12:30"))


def test_closures_only_means_open_except_those() -> None:
    schedule = parse_schedule("UTC; closed 2026-12-31..2027-01-02")
    assert schedule.is_open(utc("2026-12-30T23:59"))
    assert not schedule.is_open(utc("2027-01-02T12:00"))
    assert schedule.is_open(utc("2027-01-03T00:00"))


def test_the_text_is_kept_in_one_canonical_form() -> None:
    assert parse_schedule(" Europe/Paris ;MON-FRI   09:00-18:00\nclosed 2026-12-25 ").text == (
        "Europe/Paris; mon-fri 09:00-18:00; closed 2026-12-25"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("Mars/Olympus; mon 09:00-17:00", "not an IANA time zone"),
        ("../../etc/passwd; mon 09:00-17:00", "not an IANA time zone"),
        ("Europe/Paris; mon 9:00-17:00", "'9:00' is not a time HH:MM"),
        ("Europe/Paris; mon 09:00-24:01", "not a time HH:MM"),
        ("Europe/Paris; mon 09:60-10:00", "not a time HH:MM"),
        ("Europe/Paris; mon 09:00-09:00", "the range is empty"),
        ("Europe/Paris; mon 0900", "expected a time range"),
        ("Europe/Paris; moon 09:00-17:00", "'moon' is not a day"),
        ("Europe/Paris; closed 2026-02-30", "not a date YYYY-MM-DD"),
        ("Europe/Paris; closed 2026-12-26..2026-12-24", "the last date is before the first"),
        ("Europe/Paris; closed 2026-12-24 18:00-09:00", "ends after it starts"),
        ("Europe/Paris; always", "is not a rule"),
        ("Europe/Paris" + "; mon 09:00-10:00" * 51, "at most 50"),
    ],
)
def test_bad_schedules_are_refused_with_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=message):
        parse_schedule(text)
