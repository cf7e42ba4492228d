"""What the read-back after a leg sets ahead of time, so that the usual outcomes need no command of
their own.

A leg's Dial is followed by one GET FULL VARIABLE that reads how it ended. That same expression
now also decides, inside Asterisk, which of five outcomes it was (the classes of `result_of`:
ANSWERED, CALLER_HANGUP, BUSY, NOANSWER, UNAVAILABLE) and, for that outcome alone, sets
- the final DID_FAILOVER_RESULT, _LEG, _STEP and _DIALSTATUS when the outcome ends the call, or
- the next leg's REDIRECTING (what the Diversion header says) when the outcome hands the call to a
  plain step or a voicemail step of a forward list.

So the MSet before such a next leg, and the MSet at the end, are no longer sent: a forwarded call
takes 5 commands instead of 7, an answered primary 3 instead of 4. The expression returns the
outcome it decided on; the handler checks it against its own reading (`decision.result_of`) and
sends the MSets as before whenever the two differ, or the next leg is not the one set ahead.

Writes for an outcome that did not happen go to DID_FAILOVER_OUTCOME itself, with its own value,
and the expression empties it at the end: the dialplan sees the same variables as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple

from did_failover.routing.decision import (
    BUSY_CAUSES,
    REASONS,
    UNCONFIRMED,
    VOICEMAIL_OK,
    Dial,
    Finish,
    Leg,
    Next,
    Result,
    Voicemail,
    after_primary,
    after_step,
    result_of,
)
from did_failover.routing.ringing import Ended, read_dial
from did_failover.storage.records import DIDRoute
from fastagi.session import AGISession

OUTCOME = "DID_FAILOVER_OUTCOME"
"""The outcome the read-back decided on, while it runs; empty once it has."""

_STATUS, _CAUSE, _RETVAL = '"${DIALSTATUS}"', '"${HANGUPCAUSE}"', '"${GOSUB_RETVAL}"'
_ACCEPTED = "ACCEPTED"  # ringing.ACCEPTED: what [did-failover-confirm] returns when the callee pressed 1
_STATUS_VALUES = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ_")

_SAMPLE = {
    Result.ANSWERED: ("ANSWER", ""),
    Result.CALLER_HANGUP: ("CANCEL", ""),
    Result.BUSY: ("BUSY", "17"),
    Result.NO_ANSWER: ("NOANSWER", ""),
    Result.UNAVAILABLE: ("CHANUNAVAIL", "3"),
}
"""A DIALSTATUS and HANGUPCAUSE of each outcome: what follows a leg depends on its outcome alone."""


class Ahead(NamedTuple):
    """What one leg's read-back sets ahead: `suffix` goes after the leg's own expression; by
    outcome, the DID_FAILOVER_RESULT it set because the outcome ends the call (`finishes`; the
    leg, its step and its DIALSTATUS with it), or the next leg it set REDIRECTING for (`forwards`)."""

    suffix: str
    finishes: Mapping[str, str]
    forwards: Mapping[str, Dial | Voicemail]


def final_assignments(result: str, leg: str, step: int | str, dialstatus: str) -> str:
    """The MSet that tells the dialplan how the call ended (and what a read-back set ahead)."""
    return (
        f"DID_FAILOVER_RESULT={result},DID_FAILOVER_LEG={leg},DID_FAILOVER_STEP={step or ''},"
        f"DID_FAILOVER_DIALSTATUS={dialstatus}"
    )


def outcome_of(step: Dial, status: str, cause: str) -> str:
    """The outcome of a leg as the read-back decides it, from the handler's own reading of it (a
    ring-all step's other outcomes come from its members: the read-back leaves them alone)."""
    if len(step.members) > 1 and status not in ("ANSWER", "CANCEL"):
        return ""
    return str(result_of(status, cause))


@lru_cache(maxsize=4096)
def dial_ahead(route: DIDRoute, step: Dial, rung: int, redirects: int, max_ring: int) -> Ahead:
    """The look-ahead of `step`, which has rung `rung` seconds once it ends, on a call whose
    REDIRECTING count was `redirects` when it came in."""
    ring_all = len(step.members) > 1
    finishes: dict[str, str] = {}
    forwards: dict[str, Dial | Voicemail] = {}
    sets: dict[str, list[tuple[str, str]]] = {}
    for result in (Result.ANSWERED, Result.CALLER_HANGUP) if ring_all else tuple(_SAMPLE):
        status, cause = _SAMPLE[result]
        nxt: Next
        if step.leg is Leg.PRIMARY:
            nxt = after_primary(route, status, cause, max_ring)
        else:
            nxt = after_step(route, step, status, cause, rung, max_ring)
        outcome = str(result)
        if isinstance(nxt, Finish):
            finishes[outcome] = str(nxt.result)
            dialstatus = _dialstatus_value(result, step.confirm)
            sets[outcome] = [
                ("DID_FAILOVER_RESULT", str(nxt.result)),
                ("DID_FAILOVER_LEG", str(step.leg)),
                ("DID_FAILOVER_STEP", str(step.step or "")),
                ("DID_FAILOVER_DIALSTATUS", dialstatus),
            ]
        elif isinstance(nxt, Voicemail) or not (nxt.confirm or len(nxt.members) > 1):
            # A next step with variables of its own (confirmed, ring all) keeps its MSet.
            forwards[outcome] = nxt
            sets[outcome] = [
                ("REDIRECTING(from-num,i)", route.did),
                ("REDIRECTING(reason,i)", REASONS[nxt.leg]),
                ("REDIRECTING(count,i)", str(redirects + 1)),
            ]
    decided = f"${{SET({OUTCOME}={outcome_expression(step.confirm, ring_all)})}}"
    universe = ("ANSWERED", "CALLER_HANGUP", "") if ring_all else tuple(str(r) for r in _SAMPLE)
    assignments = _assignments(sets, universe)
    return Ahead(f"{decided},{assignments}${{SET({OUTCOME}=)}}", finishes, forwards)


def voicemail_ahead(step: Voicemail, before: Result, dialstatus: str) -> str | None:
    """The read-back after a voicemail step, which always ends the call: VMSTATUS, then the final
    assignments made on the spot, each returning what it set (None when the DIALSTATUS is not one
    to write into an expression)."""
    if not set(dialstatus) <= _STATUS_VALUES:
        return None
    reached = " | ".join(f'"${{VMSTATUS}}" = "{status}"' for status in sorted(VOICEMAIL_OK))
    result = f"${{IF($[{reached}]?{Result.VOICEMAIL}:{before})}}"
    return "${VMSTATUS}," + ",".join(
        f"${{SET({name}={value})}}"
        for name, value in (
            ("DID_FAILOVER_RESULT", result),
            ("DID_FAILOVER_LEG", str(step.leg)),
            ("DID_FAILOVER_STEP", str(step.step)),
            ("DID_FAILOVER_DIALSTATUS", dialstatus),
        )
    )


def _conditions(confirm: bool) -> dict[Result, str]:
    """Each outcome as an Asterisk expression over DIALSTATUS, HANGUPCAUSE and (a confirmed step)
    GOSUB_RETVAL: `result_of`, written for `$[...]`; UNAVAILABLE is what none of them matches."""
    accepted = f' & {_RETVAL} = "{_ACCEPTED}"' if confirm else ""
    causes = " | ".join(f'{_CAUSE} = "{cause}"' for cause in sorted(BUSY_CAUSES))
    unconfirmed = f' | ({_STATUS} = "ANSWER" & {_RETVAL} != "{_ACCEPTED}")' if confirm else ""
    return {
        Result.ANSWERED: f'{_STATUS} = "ANSWER"{accepted}',
        Result.CALLER_HANGUP: f'{_STATUS} = "CANCEL"',
        Result.BUSY: f'{_STATUS} = "BUSY" | (({_STATUS} = "CHANUNAVAIL" | {_STATUS} = "CONGESTION")'
        f" & ({causes}))",
        Result.NO_ANSWER: f'{_STATUS} = "NOANSWER"{unconfirmed}',
    }


def outcome_expression(confirm: bool, ring_all: bool) -> str:
    """Nested IF()s giving the outcome's name (ring all: only ANSWERED or CALLER_HANGUP, else '')."""
    conditions = _conditions(confirm)
    chosen = (Result.ANSWERED, Result.CALLER_HANGUP) if ring_all else tuple(conditions)
    text = "" if ring_all else str(Result.UNAVAILABLE)
    for result in reversed(chosen):
        text = f"${{IF($[{conditions[result]}]?{result}:{text})}}"
    return text


def _dialstatus_value(result: Result, confirm: bool) -> str:
    """What DID_FAILOVER_DIALSTATUS gets for an outcome: the leg's DIALSTATUS as the handler reads
    it (UNCONFIRMED for a confirmed step's callee that did not press 1)."""
    if confirm and result is Result.NO_ANSWER:
        return f'${{IF($[{_STATUS} = "ANSWER"]?{UNCONFIRMED}:${{DIALSTATUS}})}}'
    return "${DIALSTATUS}"


def _assignments(sets: Mapping[str, list[tuple[str, str]]], universe: tuple[str, ...]) -> str:
    """One SET() per name, made only for the outcomes that assign it: the name is chosen by the
    outcome, and an outcome that does not assign it writes DID_FAILOVER_OUTCOME's own value back.
    `universe`: every outcome the read-back can decide on."""
    names: dict[str, dict[str, str]] = {}
    for outcome, assignments in sets.items():
        for name, value in assignments:
            names.setdefault(name, {})[outcome] = value
    held = f"${{{OUTCOME}}}"
    out = []
    for name, by_outcome in names.items():
        everyone = len(by_outcome) == len(universe)
        if all(value == outcome for outcome, value in by_outcome.items()):
            value = held  # DID_FAILOVER_RESULT: the outcome's own name
        else:
            groups: dict[str, list[str]] = {}
            for outcome, assigned in by_outcome.items():
                groups.setdefault(assigned, []).append(outcome)
            chosen = list(groups.items())
            value = chosen.pop()[0] if everyone else held
            for assigned, outcomes in reversed(chosen):
                value = f"${{IF($[{_among(outcomes, universe)}]?{assigned}:{value})}}"
        target = name if everyone else f"${{IF($[{_among(list(by_outcome), universe)}]?{name}:{OUTCOME})}}"
        out.append(f"${{SET({target}={value})}}")
    return "".join(out)


def _among(outcomes: list[str], universe: tuple[str, ...]) -> str:
    """`$[...]`: DID_FAILOVER_OUTCOME is one of `outcomes` (said the shorter way)."""
    held = f'"${{{OUTCOME}}}"'
    others = [outcome for outcome in universe if outcome not in outcomes]
    if len(others) < len(outcomes):
        return " & ".join(f'{held} != "{outcome}"' for outcome in others)
    return " | ".join(f'{held} = "{outcome}"' for outcome in outcomes)


def taken(
    ahead: Ahead, step: Dial, status: str, cause: str, decided: str | None
) -> tuple[str | None, Dial | Voicemail | None] | None:
    """What the read-back set, given how the handler reads the leg's end and the outcome Asterisk
    decided on: the final assignments now on the channel (None: the MSet at the end is needed) and
    the next leg whose REDIRECTING is set (None: its MSet is needed). None when the two readings
    differ: then nothing set ahead is relied on."""
    outcome = outcome_of(step, status, cause)
    if decided != outcome:
        return None
    result = ahead.finishes.get(outcome)
    held = final_assignments(result, str(step.leg), step.step, status) if result else None
    return held, ahead.forwards.get(outcome)


async def read_leg(
    session: AGISession, step: Dial, expression: str, ahead: Ahead | None
) -> tuple[Ended, str | None, Dial | Voicemail | None]:
    """Read how a leg's Dial ended (`expression`: ringing.plan_dial's) and, with a look-ahead,
    what it set ahead (`taken`); a difference between the two readings goes in the log line."""
    if ahead is None:
        return read_dial(step, await session.get_full_variable(expression) or ","), None, None
    value = await session.get_full_variable(f"{expression},{ahead.suffix}") or ","
    width = expression.count(",") + 1
    parts = value.split(",", width + 1)
    ended = read_dial(step, ",".join(parts[:width]))
    decided = parts[width] if len(parts) > width else None
    got = taken(ahead, step, ended.status, ended.cause, decided)
    if got is None:
        if decided is not None:
            session.fields["ahead"] = f"{decided} (Asterisk) != {ended.status},{ended.cause}"
        return ended, None, None
    return ended, *got


async def read_voicemail(
    session: AGISession, step: Voicemail, before: Result, dialstatus: str
) -> tuple[str, str | None]:
    """VMSTATUS after a voicemail step, and the final assignments its read-back made (None unless
    what Asterisk returned shows each of them)."""
    expression = voicemail_ahead(step, before, dialstatus)
    if expression is None:
        return await session.get_variable("VMSTATUS") or "", None
    value = await session.get_full_variable(expression) or ""
    status = value.split(",", 1)[0]
    result = str(Result.VOICEMAIL if status in VOICEMAIL_OK else before)
    shown = ",".join((status, result, str(step.leg), str(step.step), dialstatus))
    held = final_assignments(result, str(step.leg), step.step, dialstatus) if value == shown else None
    return status, held
