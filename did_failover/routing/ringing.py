"""One Dial of a leg, as sent and as read back: a plain destination, a step whose callee must
confirm, or a ring-all step whose members ring at once, each on a Local channel of its own.

A confirmed step dials with U(did-failover-confirm^DID): the callee hears the prompt, and
GOSUB_RETVAL says whether it pressed 1. A ring-all step dials Local/N@did-failover-member for
its Nth member, the member's dial string in DID_FAILOVER_MEMBER_N; each Local channel reports its
member's DIALSTATUS and cause into SHARED(DID_FAILOVER_MEMBER_N) of our channel (asterisk/
extensions.conf). Everything is set in the MSet that precedes a forwarded leg's Dial and read in
the GET FULL VARIABLE that follows it, so neither costs a round trip of its own.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from did_failover.errors import InvalidDestination
from did_failover.numbers import whole_number
from did_failover.routing.decision import UNCONFIRMED, Dial, member_status
from did_failover.routing.dialstring import DialTemplates
from did_failover.routing.forwards import MEMBER_SEPARATOR

DIAL_RESULT = "${DIALSTATUS},${HANGUPCAUSE},${ANSWEREDTIME_MS}"
"""Read after each Dial: how the leg ended and, when answered, how long it talked (the call history
has answer and end time, cause and billable seconds from this even without AMI)."""
CONFIRM_RESULT = DIAL_RESULT + ",${GOSUB_RETVAL}"
"""After a confirmed step's Dial: also what its callee did at the prompt (ACCEPTED, UNCONFIRMED)."""
CONFIRM_CONTEXT = "did-failover-confirm"
MEMBER_CONTEXT = "did-failover-member"
ACCEPTED = "ACCEPTED"
_CHANNEL = re.compile(r"[A-Za-z0-9_.:@;/+\-]{1,200}", re.ASCII)
"""A channel name as Asterisk makes them (`PJSIP/pstn-00000001`, `Local/123@ctx-00000002;2`)."""


class DialPlan(NamedTuple):
    """What the handler sends for one leg: assignments for the MSet before it (`` for none), Dial's
    argument, and the expression to read back once Dial returns."""

    sets: str
    dial: str
    expression: str


class Ended(NamedTuple):
    """How a leg ended: its DIALSTATUS as the decision reads it (UNCONFIRMED when the callee did
    not press 1; for ring-all, what the members amount to), HANGUPCAUSE, ANSWEREDTIME_MS, and each
    member's own status (empty for a single destination)."""

    status: str
    cause: str
    answered_ms: str
    members: tuple[str, ...] = ()


def plan_dial(
    templates: DialTemplates, step: Dial, caller_id: str | None, did: str, channel: str, field: str
) -> DialPlan:
    """The MSet, Dial and read-back of one leg, every destination checked again on its way out."""
    confirm = f"U({CONFIRM_CONTEXT}^{did})" if step.confirm else ""
    members = step.members
    if len(members) == 1:
        target = templates.dial_string(step.destination, field)
        if not confirm:
            return DialPlan("", target + templates.dial_options(step.timeout, caller_id), DIAL_RESULT)
        options = templates.dial_options(step.timeout, caller_id, confirm)
        return DialPlan("GOSUB_RETVAL=", target + options, CONFIRM_RESULT)
    if not _CHANNEL.fullmatch(channel):
        raise InvalidDestination(f"channel name {channel[:60]!r} cannot take ring-all results", field)
    sets = [f"__DID_FAILOVER_CALLER={channel}", "GOSUB_RETVAL=", f"__DID_FAILOVER_MEMBER_OPTIONS={confirm}"]
    for number, member in enumerate(members, 1):
        sets.append(f"__DID_FAILOVER_MEMBER_{number}={templates.dial_string(member, field)}")
        sets.append(f"SHARED(DID_FAILOVER_MEMBER_{number})=")
    dial = MEMBER_SEPARATOR.join(f"Local/{n}@{MEMBER_CONTEXT}" for n in range(1, len(members) + 1))
    options = templates.dial_options(step.timeout, caller_id)
    return DialPlan(",".join(sets), dial + options, _members_result(len(members)))


def read_dial(step: Dial, value: str) -> Ended:
    """How the leg of `plan_dial` ended, from what its expression read back: DIALSTATUS,
    HANGUPCAUSE, ANSWEREDTIME_MS, then GOSUB_RETVAL (confirmed) or DIALEDPEERNUMBER and each
    member's report (ring all)."""
    members = step.members
    parts = value.split(",")
    parts += [""] * (4 + len(members) - len(parts))
    status, cause, answered_ms, fourth = parts[:4]
    if len(members) == 1:
        if step.confirm and status == "ANSWER" and fourth != ACCEPTED:
            status = UNCONFIRMED
        return Ended(status, cause, answered_ms)
    answered_by = _member_number(fourth)
    own: list[tuple[str, str]] = []
    for number, report in enumerate(parts[4 : 4 + len(members)], 1):
        member, _, member_cause = report.partition(":")
        if status == "ANSWER" and number == answered_by:
            own.append(("ANSWER", cause))
        elif member and member not in ("ANSWER", "CANCEL"):
            own.append((member, member_cause))
        else:  # still ringing when the step ended: another member took the call, or time ran out
            own.append(("CANCEL" if status in ("ANSWER", "CANCEL") else "NOANSWER", ""))
    if status not in ("ANSWER", "CANCEL"):
        status = member_status(own)
    return Ended(status, cause, answered_ms, tuple(member for member, _ in own))


@lru_cache(maxsize=8)
def _members_result(count: int) -> str:
    """The read-back of a ring-all step of `count` members: DIAL_RESULT, the Local channel that
    answered, and each member's report."""
    reports = ",".join(f"${{SHARED(DID_FAILOVER_MEMBER_{n})}}" for n in range(1, count + 1))
    return f"{DIAL_RESULT},${{DIALEDPEERNUMBER}},{reports}"


def _member_number(peer: str) -> int:
    """Which member answered, from DIALEDPEERNUMBER (`2@did-failover-member`); 0 when none."""
    number, _, context = peer.partition("@")
    member = whole_number(number, 3) if context.startswith(MEMBER_CONTEXT) else None
    return member or 0
