"""What happens to a DID call, as plain functions of the DID's settings and Asterisk's DIALSTATUS.

Read top to bottom: `first_leg` decides what to dial first (or why nothing), `after_primary` what to do
when the primary leg has ended, `result_of` what a leg's DIALSTATUS means for the call.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from did_failover.storage.base import DIDRoute


class Result(StrEnum):
    """DID_FAILOVER_RESULT: how the call ended, as the dialplan reads it."""

    ANSWERED = "ANSWERED"
    BUSY = "BUSY"
    NOANSWER = "NOANSWER"
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


REASONS = {
    Leg.ALWAYS: "unconditional",
    Leg.BUSY: "user-busy",
    Leg.NO_ANSWER: "no-answer",
    Leg.UNAVAILABLE: "unavailable",
}
"""REDIRECTING(reason) for each forwarded leg: what a Diversion header says."""

BUSY_CAUSES = frozenset({"17", "21"})
"""HANGUPCAUSE user busy and call rejected: phones and trunks report busy this way too."""


class Dial(NamedTuple):
    """Dial this destination as this leg, ringing for `timeout` seconds."""

    leg: Leg
    destination: str
    timeout: int


class Finish(NamedTuple):
    """Dial nothing more: the call's result is decided."""

    result: Result
    leg: Leg | None = None


def first_leg(route: DIDRoute | None, hops: int, max_hops: int) -> Dial | Finish:
    """Decide what to dial first: the primary, the ALWAYS destination, or nothing (and why)."""
    if route is None:
        return Finish(Result.NOT_FOUND)
    if not route.did_active or not route.account_active:
        return Finish(Result.INACTIVE)
    if hops >= max_hops:
        return Finish(Result.LOOP)
    if transfer_on(route) and route.always:
        return Dial(Leg.ALWAYS, route.always, route.transfer_timeout)
    return Dial(Leg.PRIMARY, route.primary, route.ring_timeout)


def transfer_on(route: DIDRoute) -> bool:
    """Call transfer applies only when it is on for the DID and for its account."""
    return route.transfer_enabled and route.account_transfer


def after_primary(route: DIDRoute, dialstatus: str, hangupcause: str) -> Dial | Finish:
    """Given how the primary leg ended, transfer to the matching destination or finish."""
    result = result_of(dialstatus, hangupcause)
    if result in (Result.ANSWERED, Result.CALLER_HANGUP) or not transfer_on(route):
        return Finish(result, Leg.PRIMARY)
    if result is Result.BUSY and route.busy:
        return Dial(Leg.BUSY, route.busy, route.transfer_timeout)
    if result is Result.UNAVAILABLE and route.unavailable:
        return Dial(Leg.UNAVAILABLE, route.unavailable, route.transfer_timeout)
    if result in (Result.NOANSWER, Result.UNAVAILABLE) and route.no_answer:
        return Dial(Leg.NO_ANSWER, route.no_answer, route.transfer_timeout)
    return Finish(result, Leg.PRIMARY)


def result_of(dialstatus: str, hangupcause: str) -> Result:
    """What one leg's DIALSTATUS (and HANGUPCAUSE) means for the call."""
    if dialstatus == "ANSWER":
        return Result.ANSWERED
    if dialstatus == "CANCEL":
        return Result.CALLER_HANGUP
    if dialstatus == "BUSY":
        return Result.BUSY
    if dialstatus == "NOANSWER":
        return Result.NOANSWER
    if dialstatus in ("CHANUNAVAIL", "CONGESTION") and hangupcause in BUSY_CAUSES:
        return Result.BUSY
    # CHANUNAVAIL, CONGESTION and the rare others (DONTCALL, TORTURE, INVALIDARGS, empty): the
    # destination did not take the call, so the caller is better served by the failover than by nothing.
    return Result.UNAVAILABLE
