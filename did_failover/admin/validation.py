"""The checks every value from a user passes before the service stores it, each with its one-line error."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import get_args

from did_failover.errors import InputError, InvalidDestination
from did_failover.routing.destinations import parse_destination
from did_failover.storage.base import (
    CallerIdMode,
)

CALLER_ID_MODES: tuple[CallerIdMode, ...] = get_args(CallerIdMode)
CONDITIONS = ("always", "busy", "no_answer", "unavailable")
"""The transfer conditions, as CLI, CSV and database name them."""
_NAME_MAX = 100


def account_name(text: str) -> str:
    """An account name: 1..100 printable characters, trimmed."""
    name = text.strip()
    if not name or len(name) > _NAME_MAX or not name.isprintable():
        raise InputError(f"--name: must be 1 to {_NAME_MAX} printable characters")
    return name


def seconds(value: int, field: str) -> int:
    """A ring or transfer timeout: 1..300 seconds."""
    if not 1 <= value <= 300:
        raise InputError(f"{field}: must be 1..300 seconds, got {value}")
    return value


def max_channels(value: int) -> int:
    """A DID's concurrent-call limit: 0 (unlimited) or more."""
    if value < 0:
        raise InputError(f"--max-channels: must be 0 (unlimited) or more, got {value}")
    return value


def destination(text: str, field: str) -> str:
    """A destination in its canonical text; InputError naming `field` otherwise."""
    try:
        return str(parse_destination(text, field))
    except InvalidDestination as exc:
        raise InputError(str(exc)) from None


def optional_destination(text: str, field: str) -> str | None:
    """A destination or None for `none` / empty (no transfer for that condition)."""
    return None if text.strip() in ("", "none") else destination(text, field)


def caller_id_mode(text: str, field: str) -> CallerIdMode:
    """The caller-ID mode of forwarded legs: keep or did."""
    if text not in CALLER_ID_MODES:
        raise InputError(f"{field}: must be keep or did, got {text!r}")
    return text


_RELATIVE = re.compile(r"([0-9]{1,6})([mhdw])", re.ASCII)
_UNIT = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`--since`: a relative age (30m, 2h, 7d, 1w) or an ISO date/time (UTC unless it says otherwise)."""
    if match := _RELATIVE.fullmatch(text.strip()):
        amount, unit = match.groups()
        return (now or datetime.now(UTC)) - timedelta(**{_UNIT[unit]: int(amount)})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"--since: {text!r} is neither an age (30m, 2h, 7d, 1w) nor a date/time (2026-11-27T08:00)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
