"""Confirmed steps and ring-all steps as real calls on the Asterisk 22 test bed: the shipped
[did-failover-confirm] and [did-failover-member] subroutines, the far end's callees that answer
and stay silent (`vmbox`, a mobile's voicemail), press 1 or press 2 (RFC 4733 DTMF), and the
`ring`, `busy`, `answer` and `unavailable` destinations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from did_failover.storage.records import Attempt
from tests.routing.bed import Bed, Start, callers
from tests.routing.test_asterisk_forwarding import history

FAR = "@127.0.0.1:15060"


def sip(name: str) -> str:
    """The far end's destination `name` as a SIP URI."""
    return f"sip:{name}{FAR}"


def gone(b: Bed, dest: str, caller: str) -> list[dict[str, str]]:
    """DestGone events of `dest`'s channels: the far end's SIP side saw the call end."""
    reached = {e["Uniqueid"] for e in b.reached(caller) if e["Dest"] == dest}
    return [
        dict(e) for e in b.ami.matching("UserEvent", UserEvent="DestGone") if e.get("Uniqueid") in reached
    ]


async def test_a_mobile_voicemail_that_sends_no_digit_does_not_take_the_call(
    bed: Start, figures: Callable[..., None]
) -> None:
    """Step 1 answers at once and stays silent, as a carrier's voicemail does: it never presses 1,
    so step 2 rings and answers; the history shows step 1 as not accepted (UNCONFIRMED). Figure:
    how long the refused step held the call (the prompt with an 11-digit DID, then the wait)."""
    b = await bed()
    await b.did("15552100001", "endpoint:busy", busy=f"{sip('vmbox')}/confirm,endpoint:answer")
    caller = str(next(callers))
    call = await b.ami.originate("15552100001", caller)
    await b.ami.wait_dest_reached(Dest="vmbox", CallerID=caller)
    reached = time.monotonic()
    await b.ami.wait_dest_reached(Dest="answer", CallerID=caller, timeout=40)
    figures(unconfirmed_step_s=round(time.monotonic() - reached, 2))
    outcome = await b.ami.wait_outcome(call, timeout=30)
    assert (outcome.result, outcome.leg, outcome.variables["DID_FAILOVER_STEP"]) == ("ANSWERED", "BUSY", "2")
    assert [e["Dest"] for e in b.reached(caller)] == ["busy", "vmbox", "answer"]
    row = await history(b, "15552100001", caller)
    assert row.attempts[1:] == (
        Attempt("BUSY", 1, sip("vmbox"), "UNCONFIRMED"),
        Attempt("BUSY", 2, "endpoint:answer", "ANSWER"),
    )


async def test_a_callee_that_presses_1_is_bridged_at_its_step(
    bed: Start, figures: Callable[..., None]
) -> None:
    """The callee answers and sends 1 as RFC 4733 DTMF during the prompt: bridged, ANSWERED at
    that step, and the next step never rings."""
    b = await bed()
    await b.did("15552100002", "endpoint:busy", busy=f"{sip('press1')}/confirm,endpoint:answer")
    caller = str(next(callers))
    call = await b.ami.originate("15552100002", caller)
    await b.ami.wait_dest_reached(Dest="press1", CallerID=caller)
    reached = time.monotonic()
    await b.ami.wait_for("BridgeEnter", Uniqueid=call.channel_uniqueid)
    # The far end presses 1 1.5 s after it answers: the rest is the prompt's own reaction time.
    figures(answer_to_bridge_s=round(time.monotonic() - reached, 2))
    outcome = await b.ami.wait_outcome(call, timeout=30)
    assert (outcome.result, outcome.leg, outcome.variables["DID_FAILOVER_STEP"]) == ("ANSWERED", "BUSY", "1")
    assert [e["Dest"] for e in b.reached(caller)] == ["busy", "press1"]
    bridged = b.ami.matching("BridgeEnter", Uniqueid=call.channel_uniqueid)
    assert bridged, "the caller was never bridged to the callee that pressed 1"
    row = await history(b, "15552100002", caller)
    assert row.attempts[-1] == Attempt("BUSY", 1, sip("press1"), "ANSWER")


async def test_a_callee_that_presses_2_hands_the_call_to_the_next_step(bed: Start) -> None:
    """Any digit but 1 refuses the call: the callee is hung up and step 2 rings."""
    b = await bed()
    await b.did("15552100003", "endpoint:busy", busy=f"{sip('press2')}/confirm,endpoint:answer")
    caller = str(next(callers))
    _, outcome = await b.place("15552100003", caller)
    assert (outcome.result, outcome.variables["DID_FAILOVER_STEP"]) == ("ANSWERED", "2")
    assert [e["Dest"] for e in b.reached(caller)] == ["busy", "press2", "answer"]
    assert gone(b, "press2", caller), "the callee that pressed 2 was never hung up"


async def test_the_caller_hanging_up_during_the_prompt_rings_nothing_more(bed: Start) -> None:
    """The caller gives up while the callee hears the prompt: CALLER_HANGUP, no further step.
    (Asterisk notices the caller's hang-up once the prompt and its wait for a digit are over.)"""
    b = await bed()
    await b.did("15552100004", "endpoint:busy", busy=f"{sip('vmbox')}/confirm,endpoint:answer")
    caller = str(next(callers))
    call = await b.ami.originate("15552100004", caller)
    await b.ami.wait_dest_reached(Dest="vmbox", CallerID=caller)
    await asyncio.sleep(0.5)  # the callee has answered and hears the prompt
    await b.ami.hangup(call)
    outcome = await b.ami.wait_outcome(call, timeout=30)
    assert outcome.result == "CALLER_HANGUP"
    await asyncio.sleep(1)
    assert [e["Dest"] for e in b.reached(caller)] == ["busy", "vmbox"]
    await b.ami.wait_for("UserEvent", timeout=10, where=lambda e: bool(gone(b, "vmbox", caller)))


async def test_ring_all_rings_two_members_at_once_and_the_one_that_answers_takes_it(bed: Start) -> None:
    """A two-member step: both ring with REDIRECTING from the DID, `answer` takes the call, `ring`
    is cancelled; each member has its own status in the history."""
    b = await bed()
    await b.did("15552100005", "endpoint:busy", busy="endpoint:answer&endpoint:ring")
    caller = str(next(callers))
    _, outcome = await b.place("15552100005", caller)
    assert (outcome.result, outcome.leg, outcome.variables["DID_FAILOVER_STEP"]) == ("ANSWERED", "BUSY", "1")
    _, *members = b.reached(caller)
    assert sorted(e["Dest"] for e in members) == ["answer", "ring"]
    assert all(e["RedirectingFrom"] == "15552100005" and e["RedirectingCount"] == "1" for e in members)
    row = await history(b, "15552100005", caller)
    assert row.attempts[1:] == (
        Attempt("BUSY", 1, "endpoint:answer", "ANSWER"),
        Attempt("BUSY", 1, "endpoint:ring", "CANCEL"),
    )
    # The member that took the call, not the last one dialled.
    assert (row.transfer_destination, row.transfer_dialstatus) == ("endpoint:answer", "ANSWER")


async def test_ring_all_of_three_cancels_the_two_that_did_not_answer(bed: Start) -> None:
    """Three members, one answers after the others rang: the two others are cancelled, and their
    SIP side sees it (DestGone) while the call is still up."""
    b = await bed()
    await b.did(
        "15552100006", "endpoint:busy", busy=f"endpoint:ring&pstn:15552220006&{sip('press1')}/confirm"
    )
    caller = str(next(callers))
    _, outcome = await b.place("15552100006", caller)
    assert (outcome.result, outcome.leg) == ("ANSWERED", "BUSY")
    assert sorted(e["Dest"] for e in b.reached(caller)[1:]) == ["15552220006", "press1", "ring"]
    for dest in ("ring", "15552220006"):
        assert gone(b, dest, caller), f"{dest} was not cancelled on its SIP side"
    row = await history(b, "15552100006", caller)
    assert [a.status for a in row.attempts[1:]] == ["CANCEL", "CANCEL", "ANSWER"]


async def test_ring_all_members_that_are_all_busy_make_the_step_busy(bed: Start) -> None:
    """Every member busy: the step is BUSY (the no-answer list is not used), then the next step rings."""
    b = await bed()
    await b.did("15552100007", "endpoint:busy", busy="endpoint:busy&pstn:15551110007,endpoint:answer")
    caller = str(next(callers))
    _, outcome = await b.place("15552100007", caller)
    assert (outcome.result, outcome.variables["DID_FAILOVER_STEP"]) == ("ANSWERED", "2")
    row = await history(b, "15552100007", caller)
    assert row.attempts[1:3] == (
        Attempt("BUSY", 1, "endpoint:busy", "BUSY"),
        Attempt("BUSY", 1, "pstn:15551110007", "BUSY"),
    )


async def test_ring_all_with_a_busy_and_an_unavailable_member_is_no_answer(bed: Start) -> None:
    """One member busy, one unavailable: neither BUSY nor UNAVAILABLE, so the step ends NOANSWER."""
    b = await bed()
    await b.did("15552100008", "endpoint:busy", busy="endpoint:busy&endpoint:unavailable")
    caller = str(next(callers))
    _, outcome = await b.place("15552100008", caller)
    assert (outcome.result, outcome.leg, outcome.variables["DID_FAILOVER_DIALSTATUS"]) == (
        "NOANSWER",
        "BUSY",
        "NOANSWER",
    )
    row = await history(b, "15552100008", caller)
    assert [a.status for a in row.attempts[1:]] == ["BUSY", "CHANUNAVAIL"]


async def test_ring_all_with_confirm_lets_the_member_that_presses_1_take_it(bed: Start) -> None:
    """A confirmed ring-all step: the silent voicemail answers first and never confirms, and keeps
    nobody else from ringing; the member that presses 1 takes the call."""
    b = await bed()
    await b.did(
        "15552100009", "endpoint:busy", busy=f"{sip('vmbox')}&{sip('press1')}/confirm,endpoint:answer"
    )
    caller = str(next(callers))
    _, outcome = await b.place("15552100009", caller)
    assert (outcome.result, outcome.variables["DID_FAILOVER_STEP"]) == ("ANSWERED", "1")
    row = await history(b, "15552100009", caller)
    assert row.attempts[1:] == (
        Attempt("BUSY", 1, sip("vmbox"), "CANCEL"),
        Attempt("BUSY", 1, sip("press1"), "ANSWER"),
    )
    assert row.transfer_destination == sip("press1")
