"""Forward lists: a condition's ordered steps, each with its own ring timeout, as one text.

`pstn:+15551230001/20/confirm,endpoint:desk&pstn:+15551230002,voicemail:100` dials the mobile for
20 s and bridges it only once its callee presses 1, then rings the desk phone and a second mobile at
once for the transfer timeout, then leaves the call in mailbox 100. The same text is what the CLI,
CSV, the web page, the API and the database hold. No destination holds a comma, a slash or an `&`.

A step is MEMBER[&MEMBER...][/SECONDS][/confirm]:
- 2 to 5 members joined by `&` ring at once (ring all); the first to answer takes the call;
- `/SECONDS` (1..300) is how long it rings, else the DID's transfer timeout;
- `/confirm`: a callee who answers hears which DID is called and must press 1 before the caller is
  bridged, so that a mobile's own voicemail cannot take the call.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from did_failover.errors import InvalidDestination
from did_failover.numbers import whole_number
from did_failover.routing.destinations import MAX_LENGTH, parse_destination

MAX_STEPS = 5
"""Steps a forward list holds at most."""
MAX_MEMBERS = 5
"""Destinations a ring-all step rings at once at most."""
SEPARATOR = ","
MEMBER_SEPARATOR = "&"
TIMEOUT_MARK = "/"
CONFIRM = "confirm"
"""The mark of a step whose callee must press 1 (`/confirm`)."""
MAX_LIST_LENGTH = MAX_STEPS * (MAX_LENGTH + len("/300")) + (MAX_STEPS - 1)
"""Longest forward-list text (the database column width); members and marks count in it."""
_TIMEOUT_RULE = "a ring timeout is /SECONDS, 1..300"


class Step(NamedTuple):
    """One step of a forward list: canonical destination text (ring-all members joined by `&`),
    its ring timeout, and whether its callee must confirm."""

    destination: str
    timeout: int | None = None
    """Seconds it rings; None: the DID's transfer timeout."""
    confirm: bool = False
    """The callee must press 1 before the call is bridged."""

    @property
    def voicemail(self) -> bool:
        """True for a voicemail box: run with VoiceMail(), never dialled, and always the last step."""
        return self.destination.startswith("voicemail:")

    @property
    def members(self) -> tuple[str, ...]:
        """The destinations the step rings at once (one for a plain step)."""
        return tuple(self.destination.split(MEMBER_SEPARATOR))

    def __str__(self) -> str:
        text = self.destination if self.timeout is None else f"{self.destination}{TIMEOUT_MARK}{self.timeout}"
        return f"{text}{TIMEOUT_MARK}{CONFIRM}" if self.confirm else text


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
        step = _parse_step(item, field, step_of)
        if step.voicemail and position != len(items):
            raise InvalidDestination("voicemail is a final step: nothing can follow it", field, step_of)
        steps.append(step)
    return tuple(steps)


def _parse_step(item: str, field: str, step_of: int | None) -> Step:
    """One step's text: its members, then its /SECONDS and /confirm marks, in either order."""
    destinations, *marks = item.split(TIMEOUT_MARK)
    timeout, confirm = None, False
    for mark in marks:
        if mark.strip().lower() == CONFIRM and not confirm:
            confirm = True
            continue
        seconds = ring_timeout(mark)
        if seconds is None or timeout is not None:
            raise InvalidDestination(
                f"{mark[:20]!r} is not a ring timeout: {_TIMEOUT_RULE}, and /confirm marks a step to confirm",
                field,
                step_of,
            )
        timeout = seconds
    members = [member.strip() for member in destinations.split(MEMBER_SEPARATOR)]
    if len(members) > MAX_MEMBERS:
        raise InvalidDestination(
            f"{len(members)} destinations ring at once, a step rings at most {MAX_MEMBERS}", field, step_of
        )
    parsed = [str(parse_destination(member, field, step_of)) for member in members]
    if len(parsed) > 1 and any(member.startswith("voicemail:") for member in parsed):
        raise InvalidDestination("voicemail answers the call: it cannot ring with others (&)", field, step_of)
    if len(set(parsed)) != len(parsed):
        raise InvalidDestination("a step rings each destination once: one is there twice", field, step_of)
    step = Step(MEMBER_SEPARATOR.join(parsed), timeout, confirm)
    if step.voicemail and timeout is not None:
        raise InvalidDestination("voicemail answers the call, it takes no ring timeout", field, step_of)
    if step.voicemail and confirm:
        raise InvalidDestination("voicemail answers the call, there is no callee to confirm", field, step_of)
    return step


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
