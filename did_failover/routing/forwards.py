"""Forward lists: a condition's ordered destinations, each with its own ring timeout, as one text.

`pstn:+15551230001/20,sip:desk@pbx.example.com,voicemail:100` dials the mobile for 20 s, then the
desk phone for the transfer timeout, then leaves the call in mailbox 100. The same text is what the
CLI, CSV, the web page, the API and the database hold. A comma and a slash occur in no destination.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from did_failover.errors import InvalidDestination
from did_failover.numbers import whole_number
from did_failover.routing.destinations import MAX_LENGTH, parse_destination

MAX_STEPS = 5
"""Destinations a forward list holds at most."""
SEPARATOR = ","
TIMEOUT_MARK = "/"
MAX_LIST_LENGTH = MAX_STEPS * (MAX_LENGTH + len("/300")) + (MAX_STEPS - 1)
"""Longest forward-list text (the database column width)."""
_TIMEOUT_RULE = "a ring timeout is /SECONDS, 1..300"


class Step(NamedTuple):
    """One destination of a forward list: canonical `kind:value` text and its ring timeout."""

    destination: str
    timeout: int | None = None
    """Seconds it rings; None: the DID's transfer timeout."""

    @property
    def voicemail(self) -> bool:
        """True for a voicemail box: run with VoiceMail(), never dialled, and always the last step."""
        return self.destination.startswith("voicemail:")

    def __str__(self) -> str:
        return self.destination if self.timeout is None else f"{self.destination}{TIMEOUT_MARK}{self.timeout}"


def parse_forwards(text: str, field: str) -> tuple[Step, ...]:
    """Parse a forward list (empty text: no list); InvalidDestination naming `field` and the item."""
    if len(text) > MAX_LIST_LENGTH:
        raise InvalidDestination(f"forward list is longer than {MAX_LIST_LENGTH} characters", field)
    if not text.strip():
        return ()
    items = [item.strip() for item in text.split(SEPARATOR)]
    if len(items) > MAX_STEPS:
        raise InvalidDestination(
            f"{len(items)} destinations, a forward list holds at most {MAX_STEPS}", field
        )
    steps = []
    for position, item in enumerate(items, 1):
        # One destination names no item, so single-destination messages stay as they were.
        step_of = None if len(items) == 1 else position
        if not item:
            raise InvalidDestination("empty destination (two commas, or a comma at an end)", field, step_of)
        destination, mark, seconds = item.partition(TIMEOUT_MARK)
        timeout = None
        if mark:
            timeout = ring_timeout(seconds)
            if timeout is None:
                raise InvalidDestination(
                    f"{seconds[:20]!r} is not a ring timeout: {_TIMEOUT_RULE}", field, step_of
                )
        step = Step(str(parse_destination(destination, field, step_of)), timeout)
        if step.voicemail and position != len(items):
            raise InvalidDestination("voicemail is a final step: nothing can follow it", field, step_of)
        if step.voicemail and timeout is not None:
            raise InvalidDestination("voicemail answers the call, it takes no ring timeout", field, step_of)
        steps.append(step)
    return tuple(steps)


def ring_timeout(text: str) -> int | None:
    """A step's ring seconds, 1..300, from its text; None when it is no such number."""
    seconds = whole_number(text, 10)
    return seconds if seconds is not None and 1 <= seconds <= 300 else None


def format_forwards(steps: tuple[Step, ...]) -> str:
    """The canonical text of a forward list."""
    return SEPARATOR.join(str(step) for step in steps)


@lru_cache(maxsize=4096)
def forwards(text: str | None, field: str) -> tuple[Step, ...]:
    """The forward list stored as `text` (None: none), checked; remembered, since a DID's calls
    all read the same text. Text edited by hand into something invalid raises on every call."""
    return parse_forwards(text, field) if text else ()


def ring_seconds(steps: tuple[Step, ...], transfer_timeout: int) -> int:
    """How long a caller can ring through a list: each step's timeout; voicemail answers."""
    return sum(step.timeout or transfer_timeout for step in steps if not step.voicemail)
