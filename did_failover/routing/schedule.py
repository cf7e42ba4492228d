"""Business hours: when a DID is open, from weekly ranges in an IANA time zone and dated closures.

The text form, as the CLI, CSV, the web page, the API and the database hold it (rules apart by `;`):

    Europe/Paris; mon-fri 09:00-18:00; sat 10:00-13:00; closed 2026-12-25; closed 2026-12-24 14:00-24:00

- The first part is the time zone. The rules are read in that zone's wall-clock time, so a DST
  change moves nothing: 09:00 stays 09:00.
- `DAYS HH:MM-HH:MM` is open; DAYS is `mon`, `mon-fri`, `sat,sun` or `fri-mon`. A range that ends
  at or before it starts runs past midnight (`fri 22:00-02:00` ends on Saturday at 02:00);
  `00:00-24:00` is a whole day. With no such rule the DID is open whenever it is not closed.
- `closed DATE`, `closed DATE..DATE` and `closed DATE HH:MM-HH:MM` are closed, whatever the week says.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime

from did_failover.errors import InvalidSchedule
from did_failover.numbers import is_digits

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_RULES = 50
MAX_LENGTH = 2000
"""Longest schedule text (the database column width)."""
_CACHED = 4096


@dataclass(frozen=True, slots=True)
class Weekly:
    """Open on `days` (0 = Monday) from `start` to `end`, in minutes since midnight."""

    days: frozenset[int]
    start: int
    end: int

    def covers(self, weekday: int, minute: int) -> bool:
        """True when this range is open at that local weekday and minute."""
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        return (weekday in self.days and minute >= self.start) or (
            (weekday - 1) % 7 in self.days and minute < self.end
        )


@dataclass(frozen=True, slots=True)
class Closed:
    """Closed from `first` to `last` (dates, inclusive), all day or from `start` to `end` minutes."""

    first: date
    last: date
    start: int = 0
    end: int = 24 * 60

    def covers(self, day: date, minute: int) -> bool:
        """True when this closure applies at that local date and minute."""
        return self.first <= day <= self.last and self.start <= minute < self.end


@dataclass(frozen=True, slots=True)
class Schedule:
    """A DID's business hours, parsed and checked."""

    zone: zoneinfo.ZoneInfo
    weekly: tuple[Weekly, ...]
    closed: tuple[Closed, ...]
    text: str
    """The canonical text."""

    def is_open(self, moment: datetime) -> bool:
        """True when a call at `moment` (aware) is inside business hours."""
        local = moment.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        day = local.date()
        if any(rule.covers(day, minute) for rule in self.closed):
            return False
        weekday = local.weekday()
        return not self.weekly or any(rule.covers(weekday, minute) for rule in self.weekly)


def _minutes(text: str, rule: str, end: bool) -> int:
    hours, colon, minutes = text.partition(":")
    if colon and len(hours) == 2 and len(minutes) == 2 and is_digits(hours + minutes):
        value = int(hours) * 60 + int(minutes)
        if int(minutes) < 60 and (value < 24 * 60 or (end and value == 24 * 60)):
            return value
    raise InvalidSchedule(f"schedule: {rule!r}: {text!r} is not a time HH:MM (00:00 to 24:00)")


def _range(text: str, rule: str) -> tuple[int, int]:
    start, dash, end = text.partition("-")
    if not dash:
        raise InvalidSchedule(f"schedule: {rule!r}: expected a time range HH:MM-HH:MM")
    first, last = _minutes(start, rule, False), _minutes(end, rule, True)
    if first == last:
        raise InvalidSchedule(f"schedule: {rule!r}: the range is empty (for a whole day use 00:00-24:00)")
    return first, last


def _days(text: str, rule: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.partition("-")
        if first not in DAYS or (dash and last not in DAYS):
            raise InvalidSchedule(
                f"schedule: {rule!r}: {part!r} is not a day or day range (mon, mon-fri, sat,sun)"
            )
        start, stop = DAYS.index(first), DAYS.index(last if dash else first)
        days.update((start + i) % 7 for i in range((stop - start) % 7 + 1))
    return frozenset(days)


def _date(text: str, rule: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidSchedule(f"schedule: {rule!r}: {text!r} is not a date YYYY-MM-DD") from None


def _closed(rule: str, rest: str) -> Closed:
    when, _, hours = rest.partition(" ")
    first_text, dots, last_text = when.partition("..")
    first = _date(first_text, rule)
    last = _date(last_text, rule) if dots else first
    if last < first:
        raise InvalidSchedule(f"schedule: {rule!r}: the last date is before the first")
    if not hours:
        return Closed(first, last)
    start, end = _range(hours.strip(), rule)
    if end <= start:
        raise InvalidSchedule(f"schedule: {rule!r}: a dated closure ends after it starts, on the same day")
    return Closed(first, last, start, end)


def _zone(text: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(
            f"schedule: {text[:60]!r} is not an IANA time zone (such as Europe/Paris or America/New_York);"
            " give the zone first, then the rules, apart by ;"
        ) from None


def parse_schedule(text: str) -> Schedule:
    """Parse and check a schedule text; InvalidSchedule names the rule that is wrong.

    Reads the time zone's file on first use of a zone: call it off the event loop."""
    if len(text) > MAX_LENGTH:
        raise InvalidSchedule(f"schedule: longer than {MAX_LENGTH} characters")
    parts = [" ".join(part.split()) for part in text.replace("\n", ";").split(";")]
    parts = [part for part in parts if part]
    if not parts:
        raise InvalidSchedule("schedule: empty: give a time zone, then the rules")
    if len(parts) > MAX_RULES + 1:
        raise InvalidSchedule(f"schedule: {len(parts) - 1} rules, at most {MAX_RULES}")
    zone = _zone(parts[0])
    weekly: list[Weekly] = []
    closed: list[Closed] = []
    canonical = [zone.key]
    for part in parts[1:]:
        rule = part.lower()
        head, _, rest = rule.partition(" ")
        if head == "closed":
            closed.append(_closed(rule, rest))
        elif rest:
            start, end = _range(rest, rule)
            weekly.append(Weekly(_days(head, rule), start, end))
        else:
            raise InvalidSchedule(
                f"schedule: {part[:60]!r} is not a rule:"
                " use DAYS HH:MM-HH:MM or closed DATE[..DATE] [HH:MM-HH:MM]"
            )
        canonical.append(rule)
    return Schedule(zone, tuple(weekly), tuple(closed), "; ".join(canonical))


_schedules: dict[str, Schedule] = {}


def cached_schedule(text: str) -> Schedule | None:
    """The schedule already parsed from `text`, None when it has not been (see `remember_schedule`)."""
    return _schedules.get(text)


def remember_schedule(text: str) -> Schedule:
    """Parse `text` (off the event loop: it may read a zone file) and keep it for the next calls."""
    schedule = parse_schedule(text)
    if len(_schedules) >= _CACHED:
        _schedules.clear()
    _schedules[text] = schedule
    return schedule
