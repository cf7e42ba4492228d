"""Forward lists, voicemail and business hours as real calls: the Asterisk 22 test bed, real SIP,
the real server and MariaDB. Each DID's list walks real destinations: the far end's `busy`,
`ring` and `answer` endpoints and the PSTN numbers 1555111... (busy) and 1555000... (answer)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from did_failover.storage import CallRecord
from did_failover.storage.records import Attempt
from tests.routing.bed import Bed, Start, callers
from tests.testbed.asterisk import AsteriskTestbed

SPOOL = "/tmp/did-failover-test/spool/voicemail"
"""The test bed's voicemail spool inside the chroot (asterisk.conf astspooldir)."""


async def history(b: Bed, did: str, caller: str) -> CallRecord:
    """The call-history row of `caller`'s call to `did`, once the server has written it."""
    async with asyncio.timeout(10):
        while True:
            rows = [c for c in await b.repo.list_calls(did=did) if c.caller == caller]
            if rows:
                return rows[0]
            await asyncio.sleep(0.1)


async def test_busy_primary_then_busy_first_forward_answered_by_the_second(bed: Start) -> None:
    """Busy primary, busy first step, the second answers: each leg forwarded with Diversion, the
    call history and the channel variables say which step took it."""
    b = await bed()
    await b.did("15552000001", "endpoint:busy", busy="pstn:15551110001,endpoint:answer")
    caller = str(next(callers))
    _, outcome = await b.place("15552000001", caller)
    assert (outcome.result, outcome.leg, outcome.variables["DID_FAILOVER_STEP"]) == ("ANSWERED", "BUSY", "2")
    primary, first, second = b.reached(caller)
    assert (primary["Dest"], first["Dest"], second["Dest"]) == ("busy", "15551110001", "answer")
    for forwarded in (first, second):
        assert "<sip:15552000001@" in forwarded["Diversion"] and "reason=user-busy" in forwarded["Diversion"]
    row = await history(b, "15552000001", caller)
    assert row.attempts == (
        Attempt("PRIMARY", 0, "endpoint:busy", "BUSY"),
        Attempt("BUSY", 1, "pstn:15551110001", "BUSY"),
        Attempt("BUSY", 2, "endpoint:answer", "ANSWER"),
    )
    assert (row.result, row.leg, row.transfer_destination, row.transfer_dialstatus) == (
        "ANSWERED",
        "BUSY",
        "endpoint:answer",
        "ANSWER",
    )


async def test_caller_hanging_up_during_the_second_forward_stops_the_list(bed: Start) -> None:
    """The caller gives up while step 2 rings: CALLER_HANGUP on step 2, step 3 never rings."""
    b = await bed()
    await b.did("15552000002", "endpoint:busy", busy="pstn:15551110002,endpoint:ring/20,endpoint:answer")
    caller = str(next(callers))
    call = await b.ami.originate("15552000002", caller)
    await b.ami.wait_dest_reached(Dest="ring", CallerID=caller)
    await b.ami.hangup(call)
    outcome = await b.ami.wait_outcome(call, timeout=10)
    assert (outcome.result, outcome.leg, outcome.variables["DID_FAILOVER_STEP"]) == (
        "CALLER_HANGUP",
        "BUSY",
        "2",
    )
    await asyncio.sleep(1)
    assert [e["Dest"] for e in b.reached(caller)] == ["busy", "15551110002", "ring"]
    row = await history(b, "15552000002", caller)
    assert row.attempts[-1] == Attempt("BUSY", 2, "endpoint:ring", "CANCEL")


async def test_voicemail_takes_the_message_after_every_step_failed(
    bed: Start, asterisk: AsteriskTestbed
) -> None:
    """Busy primary, a step that does not answer, then voicemail:101: VoiceMail() answers with the
    busy greeting, the caller talks and hangs up, VMSTATUS SUCCESS, the result is VOICEMAIL and the
    message is in the mailbox."""
    inbox = asterisk.host_path(f"{SPOOL}/default/101/INBOX")
    before = set(Path(inbox).glob("msg*.txt")) if inbox.exists() else set()
    b = await bed()
    await b.did("15552000003", "endpoint:busy", busy="endpoint:ring/1,voicemail:101")
    caller = str(next(callers))
    call = await b.ami.originate("15552000003", caller, talks=True)
    await b.ami.wait_for("Newstate", timeout=15, Uniqueid=call.channel_uniqueid, ChannelState="6")
    recording = asterisk.host_path(f"{SPOOL}/default/101/tmp")
    async with asyncio.timeout(30):  # the greeting plays, then the recording starts (in tmp/)
        while not (recording.exists() and any(recording.iterdir())):
            await asyncio.sleep(0.2)
    await asyncio.sleep(2)  # two seconds of tone: a message longer than minsecs
    await b.ami.hangup(call)
    outcome = await b.ami.wait_outcome(call, timeout=15)
    assert (outcome.result, outcome.leg, outcome.variables["DID_FAILOVER_STEP"]) == ("VOICEMAIL", "BUSY", "2")
    assert outcome.variables["VMSTATUS"] == "SUCCESS"
    assert [e["Dest"] for e in b.reached(caller)] == ["busy", "ring"]
    (message,) = set(inbox.glob("msg*.txt")) - before
    assert f"callerid={caller}" in message.read_text() or caller in message.read_text()
    row = await history(b, "15552000003", caller)
    assert row.attempts[-1] == Attempt("BUSY", 2, "voicemail:101", "SUCCESS")


async def test_voicemail_that_fails_leaves_the_condition(bed: Start) -> None:
    """A mailbox that does not exist: VMSTATUS FAILED, the result is the condition (BUSY)."""
    b = await bed()
    await b.did("15552000004", "endpoint:busy", busy="voicemail:999")
    caller = str(next(callers))
    _, outcome = await b.place("15552000004", caller)
    assert (outcome.result, outcome.leg, outcome.variables["VMSTATUS"]) == ("BUSY", "BUSY", "FAILED")


async def test_a_did_outside_its_hours_reaches_its_after_hours_destination(bed: Start) -> None:
    """Closed today (a dated closure): the after-hours list replaces the primary, with Diversion
    reason unconditional; the same DID inside its hours rings the primary."""
    b = await bed()
    today = datetime.now(UTC).date()
    closed = f"UTC; closed {today - timedelta(days=1)}..{today + timedelta(days=1)}"
    await b.did("15552000005", "endpoint:busy", after_hours="endpoint:answer", schedule=closed)
    await b.did(
        "15552000006", "endpoint:answer", after_hours="endpoint:busy", schedule="UTC; mon-sun 00:00-24:00"
    )
    caller = str(next(callers))
    _, outcome = await b.place("15552000005", caller)
    assert (outcome.result, outcome.leg, outcome.variables["DID_FAILOVER_STEP"]) == (
        "ANSWERED",
        "AFTER_HOURS",
        "1",
    )
    (forwarded,) = b.reached(caller)
    assert forwarded["Dest"] == "answer" and "reason=unconditional" in forwarded["Diversion"]
    inside = str(next(callers))
    _, outcome = await b.place("15552000006", inside)
    assert (outcome.result, outcome.leg) == ("ANSWERED", "PRIMARY")
    assert [e["Dest"] for e in b.reached(inside)] == ["answer"]


async def test_a_loop_through_forward_lists_still_ends_in_loop(bed: Start) -> None:
    """A's list forwards to B and B's to A (a PSTN that routes forwarded numbers back to us): every
    hop counts, so the loop is stopped with LOOP and nothing is reached."""
    b = await bed(pstn_dial="Local/{number}@from-pstn", max_hops=3)
    await b.did("15552000007", "endpoint:answer", always="pstn:15552000008,pstn:15552000008")
    await b.did("15552000008", "endpoint:answer", always="pstn:15552000007/5")
    caller = str(next(callers))
    await b.place("15552000007", caller)
    await asyncio.sleep(1)
    assert b.server.counters["loop"] >= 1
    assert b.ami.matching("VarSet", Variable="DID_FAILOVER_RESULT", Value="LOOP")
    assert b.reached(caller) == []
