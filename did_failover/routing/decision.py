"""What happens to a DID call, as plain functions of the DID's settings and Asterisk's DIALSTATUS.

Read top to bottom: `first_leg` decides what to dial first (or why nothing), `after_primary` what to do
when the primary leg has ended, `after_step` when a step of a forward list has, `after_voicemail`
when the voicemail step has, and `result_of` what a leg's DIALSTATUS means for the call.

A forward list is walked in order: a step that ends BUSY, NOANSWER or UNAVAILABLE hands the call
to the next; when the list is exhausted the call ends with the last leg's result. The time spent
ringing never exceeds `max_ring`: a step that would pass it rings only for what is left, and once
nothing is left the remaining steps are skipped, except a final voicemail step (it rings nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

from did_failover.conditions import Condition
from did_failover.routing.forwards import MEMBER_SEPARATOR, Step, forwards
from did_failover.storage.records import DIDRoute


class Result(StrEnum):
    """DID_FAILOVER_RESULT: how the call ended, as the dialplan reads it."""

    ANSWERED = "ANSWERED"
    VOICEMAIL = "VOICEMAIL"
    BUSY = "BUSY"
    NO_ANSWER = "NOANSWER"  # DIALSTATUS spells it so, and the dialplan reads this value
    UNAVAILABLE = "UNAVAILABLE"
    CALLER_HANGUP = "CALLER_HANGUP"
    NOT_FOUND = "NOT_FOUND"
    INACTIVE = "INACTIVE"
    LOOP = "LOOP"
    ERROR = "ERROR"


class Leg(StrEnum):
    """DID_FAILOVER_LEG: the destination that handled the call last."""

    PRIMARY = "PRIMARY"
    ALWAYS = "ALWAYS"
    BUSY = "BUSY"
    NO_ANSWER = "NO_ANSWER"
    UNAVAILABLE = "UNAVAILABLE"
    AFTER_HOURS = "AFTER_HOURS"


REASONS = {
    Leg.ALWAYS: "unconditional",
    Leg.AFTER_HOURS: "unconditional",
    Leg.BUSY: "user-busy",
    Leg.NO_ANSWER: "no-answer",
    Leg.UNAVAILABLE: "unavailable",
}
"""REDIRECTING(reason) for each forwarded leg: what a Diversion header says."""

BUSY_CAUSES = frozenset({"17", "21"})
"""HANGUPCAUSE user busy and call rejected: phones and trunks report busy this way too."""


UNCONFIRMED = "UNCONFIRMED"
"""The status of a confirmed step whose callee answered but did not press 1: it counts as NOANSWER."""

VOICEMAIL_OK = frozenset({"SUCCESS", "USEREXIT"})
"""VMSTATUS values that mean the caller reached the mailbox."""


class Dial(NamedTuple):
    """Dial this destination (ring-all members joined by `&`) as this leg, ringing for `timeout`
    seconds; `step` is its 1-based position in the leg's forward list (0 for the primary), and
    `confirm` whether its callee must press 1 before the call is bridged."""

    leg: Leg
    destination: str
    timeout: int
    step: int = 0
    confirm: bool = False

    @property
    def members(self) -> list[str]:
        """The destinations the leg rings at once (one unless it is a ring-all step)."""
        return self.destination.split(MEMBER_SEPARATOR)


class Voicemail(NamedTuple):
    """Leave the call in this mailbox (`voicemail:` destination), with the busy greeting or not."""

    leg: Leg
    destination: str
    step: int
    busy_greeting: bool


class Finish(NamedTuple):
    """Dial nothing more: the call's result is decided."""

    result: Result
    leg: Leg | None = None


Next = Dial | Voicemail | Finish


def first_leg(
    route: DIDRoute | None, hops: int, max_hops: int, after_hours: bool = False, max_ring: int = 0
) -> Next:
    """Decide what to dial first: the ALWAYS list, the AFTER_HOURS list (when the DID's schedule
    says it is closed), the primary, or nothing (and why)."""
    if route is None:
        return Finish(Result.NOT_FOUND)
    if not route.did_active or not route.account_active:
        return Finish(Result.INACTIVE)
    if hops >= max_hops:
        return Finish(Result.LOOP)
    if transfer_on(route):
        if route.always:
            return _step(route, Leg.ALWAYS, 1, 0, max_ring, Result.UNAVAILABLE)
        if after_hours and route.after_hours:
            return _step(route, Leg.AFTER_HOURS, 1, 0, max_ring, Result.UNAVAILABLE)
    return Dial(Leg.PRIMARY, route.primary, route.ring_timeout)


def transfer_on(route: DIDRoute) -> bool:
    """Call transfer applies only when it is on for the DID and for its account."""
    return route.transfer_enabled and route.account_transfer


def after_primary(route: DIDRoute, dialstatus: str, hangupcause: str, max_ring: int = 0) -> Next:
    """Given how the primary leg ended, transfer to the matching list's first step or finish."""
    result = result_of(dialstatus, hangupcause)
    if result in (Result.ANSWERED, Result.CALLER_HANGUP) or not transfer_on(route):
        return Finish(result, Leg.PRIMARY)
    rung = route.ring_timeout
    if result is Result.BUSY and route.busy:
        return _step(route, Leg.BUSY, 1, rung, max_ring, result)
    if result is Result.UNAVAILABLE and route.unavailable:
        return _step(route, Leg.UNAVAILABLE, 1, rung, max_ring, result)
    if result in (Result.NO_ANSWER, Result.UNAVAILABLE) and route.no_answer:
        return _step(route, Leg.NO_ANSWER, 1, rung, max_ring, result)
    return Finish(result, Leg.PRIMARY)


def after_step(
    route: DIDRoute, done: Dial, dialstatus: str, hangupcause: str, rung: int, max_ring: int = 0
) -> Next:
    """Given how step `done` of a forward list ended, after `rung` seconds of ringing in all, dial
    the list's next step or finish with this leg's result."""
    result = result_of(dialstatus, hangupcause)
    if result in (Result.ANSWERED, Result.CALLER_HANGUP):
        return Finish(result, done.leg)
    return _step(route, done.leg, done.step + 1, rung, max_ring, result)


def after_voicemail(done: Voicemail, vmstatus: str, before: Result) -> Finish:
    """VOICEMAIL when the caller reached the mailbox, else the result that led there."""
    return Finish(Result.VOICEMAIL if vmstatus in VOICEMAIL_OK else before, done.leg)


def _step(route: DIDRoute, leg: Leg, position: int, rung: int, max_ring: int, before: Result) -> Next:
    """Step `position` of `leg`'s list, its timeout cut to what `max_ring` leaves (0: no bound);
    Finish(before) once the list, or the ringing time, is used up."""
    steps = leg_steps(route, leg)
    if max_ring and rung >= max_ring and position <= len(steps):
        # No ringing time left: only a final voicemail step (it rings nothing) still runs.
        position = len(steps) if steps[-1].voicemail else len(steps) + 1
    if position > len(steps):
        return Finish(before, leg)
    step = steps[position - 1]
    if step.voicemail:
        return Voicemail(leg, step.destination, position, busy_greeting=leg is Leg.BUSY)
    timeout = step.timeout or route.transfer_timeout
    if max_ring:
        timeout = min(timeout, max_ring - rung)
    return Dial(leg, step.destination, timeout, position, step.confirm)


_LIST_OF = {Leg(condition.leg): condition.field for condition in Condition}


def leg_steps(route: DIDRoute, leg: Leg) -> tuple[Step, ...]:
    """The forward list a leg walks, checked (InvalidDestination when edited into nonsense)."""
    name = _LIST_OF[leg]
    return forwards(getattr(route, name), f"{name} destination")


def result_of(dialstatus: str, hangupcause: str) -> Result:
    """What one leg's DIALSTATUS (and HANGUPCAUSE) means for the call."""
    if dialstatus == "ANSWER":
        return Result.ANSWERED
    if dialstatus == "CANCEL":
        return Result.CALLER_HANGUP
    if dialstatus == "BUSY":
        return Result.BUSY
    if dialstatus in ("NOANSWER", UNCONFIRMED):
        return Result.NO_ANSWER
    if dialstatus in ("CHANUNAVAIL", "CONGESTION") and hangupcause in BUSY_CAUSES:
        return Result.BUSY
    # CHANUNAVAIL, CONGESTION and the rare others (DONTCALL, TORTURE, INVALIDARGS, empty): the
    # destination did not take the call, so the caller is better served by the failover than by nothing.
    return Result.UNAVAILABLE


def member_status(members: Iterable[tuple[str, str]]) -> str:
    """The DIALSTATUS a ring-all step that nobody took amounts to, from each member's DIALSTATUS
    and HANGUPCAUSE: BUSY when every member was busy, CHANUNAVAIL when every member was unavailable,
    else NOANSWER (some rang out, or the mix says neither)."""
    results = {result_of(status, cause) for status, cause in members}
    if results == {Result.BUSY}:
        return "BUSY"
    if results == {Result.UNAVAILABLE}:
        return "CHANUNAVAIL"
    return "NOANSWER"
