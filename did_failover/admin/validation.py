"""The checks every value from a user passes before the service stores it, each with its one-line error."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import get_args

from did_failover.conditions import FIELDS
from did_failover.errors import InputError, InvalidDestination, InvalidSchedule
from did_failover.numbers import typed_pstn
from did_failover.routing.destinations import parse_destination
from did_failover.routing.forwards import format_forwards, parse_forwards, ring_seconds
from did_failover.routing.schedule import parse_schedule
from did_failover.storage.records import CallerIdMode, TransferRow

CALLER_ID_MODES: tuple[CallerIdMode, ...] = get_args(CallerIdMode)
FORWARDS = FIELDS
"""Every forward list of a DID, by its field (did_failover/conditions.py)."""
_NAME_MAX = 100


def account_name(text: str) -> str:
    """An account name: 1..100 printable characters, trimmed."""
    name = text.strip()
    if not name or len(name) > _NAME_MAX or not name.isprintable():
        raise InputError(f"must be 1 to {_NAME_MAX} printable characters", "name")
    return name


def seconds(value: int, field: str) -> int:
    """A ring or transfer timeout: 1..300 seconds."""
    if not 1 <= value <= 300:
        raise InputError(f"must be 1..300 seconds, got {value}", field)
    return value


MAX_CHANNELS = 1_000_000
"""The largest channel limit a DID takes (the column is a 32-bit integer)."""


def max_channels(value: int) -> int:
    """A DID's concurrent-call limit: 0 (unlimited) to MAX_CHANNELS."""
    if not 0 <= value <= MAX_CHANNELS:
        raise InputError(f"must be 0 (unlimited) to {MAX_CHANNELS}, got {value}", "max_channels")
    return value


def destination(text: str, field: str) -> str:
    """A primary destination in its canonical text (a pstn: number typed with blanks, dots or dashes
    taken without them); InputError naming `field` otherwise."""
    try:
        dest = parse_destination(typed_pstn(text), field)
    except InvalidDestination as exc:
        raise InputError(exc.reason, exc.field, exc.item) from None
    if dest.kind == "voicemail":
        raise InputError(
            "voicemail is the final step of a forward list, not a primary destination"
            " (to send every call to voicemail, make it the Always list)",
            field,
        )
    return str(dest)


def optional_forwards(text: str, field: str) -> str | None:
    """A forward list in its canonical text, or None for `none` / empty (no transfer for that
    condition)."""
    if text.strip() in ("", "none"):
        return None
    try:
        return format_forwards(parse_forwards(typed_pstn(text), field))
    except InvalidDestination as exc:
        raise InputError(exc.reason, exc.field, exc.item) from None


def optional_schedule(text: str, field: str = "schedule") -> str | None:
    """A schedule in its canonical text, or None for `none` / empty (always open).

    May read a time-zone file: call it off the event loop."""
    if text.strip() in ("", "none"):
        return None
    try:
        return parse_schedule(text).text
    except InvalidSchedule as exc:
        raise InputError(str(exc).removeprefix("schedule: "), field) from None


def transfer_ring_total(ring_timeout: int, transfer: TransferRow, max_ring: int) -> None:
    """`ring_total` of a DID's stored transfer settings."""
    lists = {name: getattr(transfer, name) for name in FORWARDS}
    ring_total(ring_timeout, transfer.transfer_timeout, lists, max_ring)


def ring_total(ring_timeout: int, timeout: int, lists: dict[str, str | None], max_ring: int) -> None:
    """Refuse settings that could keep a caller ringing longer than `max_ring` seconds."""
    seconds_of = {
        name: ring_seconds(parse_forwards(text or "", name), timeout) for name, text in lists.items()
    }
    conditional = max(seconds_of.get(c, 0) for c in ("busy", "no_answer", "unavailable"))
    paths = {
        f"the primary ({ring_timeout} s) and then a forward list ({conditional} s)": ring_timeout
        + conditional,
        "the always list": seconds_of.get("always", 0),
        "the after-hours list": seconds_of.get("after_hours", 0),
    }
    path, worst = max(paths.items(), key=lambda item: item[1])
    if worst > max_ring:
        raise InputError(
            f"a caller could ring {worst} s through {path}, more than DID_FAILOVER_MAX_RING_TOTAL"
            f" ({max_ring} s): shorten the list or its ring timeouts"
        )


def caller_id_mode(text: str, field: str) -> CallerIdMode:
    """The caller-ID mode of forwarded legs: keep or did."""
    if text not in CALLER_ID_MODES:
        raise InputError(f"must be keep or did, got {text[:20]!r}", field)
    return text


_RELATIVE = re.compile(r"([0-9]{1,6})([mhdw])", re.ASCII)
_UNIT = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`--since`: a relative age (30m, 2h, 7d, 1w) or an ISO date/time (UTC unless it says otherwise)."""
    if match := _RELATIVE.fullmatch(text.strip()):
        amount, unit = match.groups()
        try:
            moment = (now or datetime.now(UTC)) - timedelta(**{_UNIT[unit]: int(amount)})
        except OverflowError:
            moment = _EPOCH
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise InputError(
                f"{text[:40]!r} is neither an age (30m, 2h, 7d, 1w) nor a date/time (2026-11-27T08:00)",
                "since",
            ) from None
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return max(moment, _EPOCH)  # nothing is older; earlier years are not every database's dates


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
