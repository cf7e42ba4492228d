"""Commands per call on the real Asterisk 22: each leg's read-back sets what its usual outcomes
need next (routing/ahead.py), and the dialplan sees exactly what it saw when every assignment was
a command of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from did_failover.routing.ahead import outcome_expression, outcome_of
from did_failover.routing.decision import Dial, Leg
from fastagi.protocol import format_command
from fastagi.server import SessionEnd
from fastagi.session import AGISession
from tests.routing.bed import Bed, Start, callers
from tests.testbed.asterisk import AGI_PORT, AgiStub, Ami

pytestmark = pytest.mark.asterisk

CALLS = {
    # name: (DID, primary, transfer settings, what the dialplan must see: result, leg, step)
    "primary answers": ("15553000001", "endpoint:answer", {}, ("ANSWERED", "PRIMARY", "")),
    "busy -> forward": (
        "15553000002", "endpoint:busy", {"busy": "endpoint:answer"}, ("ANSWERED", "BUSY", "1"),
    ),
    "list of three": (
        "15553000003", "endpoint:busy", {"busy": "endpoint:busy,endpoint:ring/1,endpoint:answer"},
        ("ANSWERED", "BUSY", "3"),
    ),
    "busy, no list": ("15553000004", "endpoint:busy", {}, ("BUSY", "PRIMARY", "")),
    "busy -> voicemail": (
        "15553000005", "endpoint:busy", {"busy": "voicemail:999"}, ("BUSY", "BUSY", "1"),
    ),
}  # fmt: skip


def _watch(b: Bed) -> list[tuple[int, dict[str, Any]]]:
    """Every session's command count and log fields, as each ends."""
    seen: list[tuple[int, dict[str, Any]]] = []

    def observe(session: AGISession, end: SessionEnd) -> None:
        if session.request is not None and session.request.script == "did-failover":
            seen.append((session.commands, dict(session.fields)))

    b.server.observers.append(observe)
    return seen


async def _commands(b: Bed, seen: list[tuple[int, dict[str, Any]]]) -> dict[str, int]:
    counts = {}
    for name, (did, _, _, (result, leg, step)) in CALLS.items():
        caller = str(next(callers))
        _, outcome = await b.place(did, caller)
        got = (outcome.result, outcome.leg, outcome.variables.get("DID_FAILOVER_STEP", ""))
        assert got == (result, leg, step), name
        assert outcome.variables.get("DID_FAILOVER_OUTCOME", "") == "", name
        if leg != "PRIMARY":  # the forward was marked as forwarded by this DID, step after step
            last = b.reached(caller)[-1] if step != "1" or "voicemail" not in name else None
            if last is not None:
                assert f"<sip:{did}@" in last["Diversion"] and "reason=user-busy" in last["Diversion"]
                assert last["RedirectingCount"] == "1"
        commands, fields = seen[-1]
        assert "ahead" not in fields, fields
        counts[name] = commands
    return counts


async def test_each_call_type_takes_fewer_commands_and_the_dialplan_sees_the_same(
    bed: Start, figures: Callable[..., None]
) -> None:
    """The same calls with every assignment as a command (before) and with the look-ahead (now):
    the same results, legs, steps and Diversion headers; 2 commands fewer per forwarded call."""
    b = await bed()
    for did, primary, settings, _ in CALLS.values():
        await b.did(did, primary, **settings)
    seen = _watch(b)
    handler = b.server.routes["did-failover"]
    handler.look_ahead = False  # type: ignore[attr-defined]
    before = await _commands(b, seen)
    handler.look_ahead = True  # type: ignore[attr-defined]
    after = await _commands(b, seen)
    figures(commands_before=before, commands_after=after)
    assert after == {
        "primary answers": 3,
        "busy -> forward": 5,
        "list of three": 9,
        "busy, no list": 3,
        "busy -> voicemail": 5,
    }
    assert all(after[name] < before[name] for name in CALLS)


STATUSES = ("ANSWER", "BUSY", "NOANSWER", "CANCEL", "CONGESTION", "CHANUNAVAIL", "DONTCALL", "TORTURE", "")


async def test_asterisk_decides_every_outcome_as_the_server_reads_it(ami: Ami) -> None:
    """The outcome expression, evaluated by the real Asterisk for every DIALSTATUS after Dials that
    leave HANGUPCAUSE 17 (486), 21 (403 rejected) and another (503 congestion), and with a confirmed step's
    GOSUB_RETVAL, is `result_of` as the server computes it from the same values."""
    plain, confirmed = Dial(Leg.BUSY, "endpoint:x", 5), Dial(Leg.BUSY, "endpoint:x", 5, 1, True)
    cases: list[tuple[Dial, str, str]] = []
    commands: list[str] = []
    for target in ("PJSIP/busy", "PJSIP/reject", "PJSIP/congestion"):
        commands.append(format_command("EXEC", "Dial", f"{target},5").decode().strip())
        for status in STATUSES:
            for step, retval in ((plain, ""), (confirmed, "ACCEPTED"), (confirmed, "")):
                commands.append(format_command("SET", "VARIABLE", "DIALSTATUS", status).decode().strip())
                commands.append(format_command("SET", "VARIABLE", "GOSUB_RETVAL", retval).decode().strip())
                expression = "${HANGUPCAUSE}," + outcome_expression(step.confirm, ring_all=False)
                commands.append(format_command("GET", "FULL", "VARIABLE", expression).decode().strip())
                cases.append((step, status, retval))
    async with AgiStub(port=AGI_PORT, commands=commands) as agi:
        call = await ami.originate("15553000099", str(next(callers)))
        await ami.wait_outcome(call, timeout=60)
    reads = [r for c, r in zip(commands, agi.replies, strict=True) if c.startswith("GET FULL")]
    causes = set()
    for (step, status, retval), reply in zip(cases, reads, strict=True):
        cause, _, decided = reply.removeprefix("200 result=1 (").removesuffix(")").partition(",")
        causes.add(cause)
        seen = status
        if step.confirm and status == "ANSWER" and retval != "ACCEPTED":
            seen = "UNCONFIRMED"  # what ringing.read_dial makes of it
        assert decided == outcome_of(step, seen, cause), (status, cause, retval, reply)
    assert {"17", "21"} < causes
