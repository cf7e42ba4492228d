"""Every routing rule as a real call: real Asterisk 22 (test bed), real SIP, the real server, real MariaDB."""

from __future__ import annotations

import asyncio

import pytest

from tests.plugins.own_mariadb import OwnMariaDB
from tests.routing.bed import ACCOUNT, Start, callers

# -- lookups that dial nothing --------------------------------------------------------------------


async def test_unknown_did_is_not_found_and_nothing_is_dialled(bed: Start) -> None:
    """A DID not in the database: NOT_FOUND, no destination rings, AGISTATUS SUCCESS."""
    b = await bed()
    caller = str(next(callers))
    _, outcome = await b.place("15559870000", caller)
    assert (outcome.result, outcome.leg, outcome.agistatus) == ("NOT_FOUND", "", "SUCCESS")
    assert b.reached(caller) == []


@pytest.mark.parametrize("what", ["did", "account"])
async def test_inactive_did_or_account_dials_nothing(bed: Start, what: str) -> None:
    """DID or owning account inactive: INACTIVE, nothing rings."""
    b = await bed()
    await b.did("15551000001", "endpoint:answer")
    if what == "did":
        await b.repo.update_did("15551000001", active=False)
    else:
        await b.repo.update_account(ACCOUNT, active=False)
    caller = str(next(callers))
    _, outcome = await b.place("15551000001", caller)
    assert outcome.result == "INACTIVE" and b.reached(caller) == []


# -- the primary --------------------------------------------------------------------------------


async def test_answered_primary_is_answered_on_primary_leg(bed: Start) -> None:
    """The primary answers: ANSWERED, leg PRIMARY; it saw the caller's number and the owner's accountcode."""
    b = await bed()
    await b.did("15551000002", "endpoint:answer", busy="pstn:15550001234")
    caller = str(next(callers))
    call, outcome = await b.place("15551000002", caller)
    assert (outcome.result, outcome.leg, outcome.dialstatus) == ("ANSWERED", "PRIMARY", "ANSWER")
    assert [e["Dest"] for e in b.reached(caller)] == ["answer"]
    cdr = await b.ami.wait_for("Cdr", timeout=3, UniqueID=call.channel_uniqueid)
    assert cdr["AccountCode"] == ACCOUNT and cdr["Disposition"] == "ANSWERED"


async def test_busy_primary_forwards_to_busy_pstn_destination_with_diversion(bed: Start) -> None:
    """486 from the primary: the BUSY destination through the PSTN trunk, Diversion reason=user-busy."""
    b = await bed()
    await b.did("15551000003", "endpoint:busy", busy="pstn:15550002222", no_answer="endpoint:answer")
    caller = str(next(callers))
    _, outcome = await b.place("15551000003", caller)
    assert (outcome.result, outcome.leg, outcome.dialstatus) == ("ANSWERED", "BUSY", "ANSWER")
    busy_dest, forwarded = b.reached(caller)
    assert busy_dest["Dest"] == "busy" and forwarded["Dest"] == "15550002222"
    assert "<sip:15551000003@" in forwarded["Diversion"] and "reason=user-busy" in forwarded["Diversion"]
    assert forwarded["RedirectingCount"] == "1"


@pytest.mark.parametrize("primary", ["endpoint:reject", "sip:reject@127.0.0.1:15060"])
async def test_rejected_primary_cause_21_counts_as_busy(bed: Start, primary: str) -> None:
    """CHANUNAVAIL with cause 21 (call rejected) is busy: the BUSY destination takes the call."""
    b = await bed()
    await b.did("15551000004", primary, busy="endpoint:answer", unavailable="pstn:15550003333")
    caller = str(next(callers))
    _, outcome = await b.place("15551000004", caller)
    assert (outcome.result, outcome.leg) == ("ANSWERED", "BUSY")
    assert [e["Dest"] for e in b.reached(caller)] == ["reject", "answer"]


async def test_unanswered_primary_forwards_to_no_answer_sip_uri(bed: Start) -> None:
    """The primary rings past its ring timeout: the NO ANSWER SIP URI, Diversion reason=no-answer."""
    b = await bed()
    await b.did("15551000005", "endpoint:ring", no_answer="sip:answer@127.0.0.1:15060")
    caller = str(next(callers))
    _, outcome = await b.place("15551000005", caller)
    assert (outcome.result, outcome.leg) == ("ANSWERED", "NO_ANSWER")
    ring, forwarded = b.reached(caller)
    assert ring["Dest"] == "ring" and forwarded["Dest"] == "answer"
    assert "reason=no-answer" in forwarded["Diversion"]


async def test_unavailable_primary_forwards_to_unavailable_destination(bed: Start) -> None:
    """An endpoint with no contact (CHANUNAVAIL): the UNAVAILABLE destination."""
    b = await bed()
    await b.did(
        "15551000006", "endpoint:unavailable", unavailable="pstn:15550004444", no_answer="endpoint:busy"
    )
    caller = str(next(callers))
    _, outcome = await b.place("15551000006", caller)
    assert (outcome.result, outcome.leg) == ("ANSWERED", "UNAVAILABLE")
    (forwarded,) = b.reached(caller)
    assert forwarded["Dest"] == "15550004444" and "reason=unavailable" in forwarded["Diversion"]


async def test_unavailable_without_its_destination_goes_to_no_answer(bed: Start) -> None:
    """CONGESTION with no UNAVAILABLE destination: the NO ANSWER destination takes it."""
    b = await bed()
    await b.did("15551000007", "endpoint:congestion", no_answer="endpoint:answer")
    caller = str(next(callers))
    _, outcome = await b.place("15551000007", caller)
    assert (outcome.result, outcome.leg) == ("ANSWERED", "NO_ANSWER")
    assert [e["Dest"] for e in b.reached(caller)] == ["congestion", "answer"]


async def test_no_destination_for_the_condition_ends_with_the_condition(bed: Start) -> None:
    """Busy primary and no BUSY destination: result BUSY, leg PRIMARY, nothing else rings."""
    b = await bed()
    await b.did("15551000008", "endpoint:busy", no_answer="endpoint:answer")
    caller = str(next(callers))
    _, outcome = await b.place("15551000008", caller)
    assert (outcome.result, outcome.leg, outcome.dialstatus) == ("BUSY", "PRIMARY", "BUSY")
    assert [e["Dest"] for e in b.reached(caller)] == ["busy"]


async def test_failed_transfer_leg_gives_its_own_status(bed: Start) -> None:
    """The transfer leg is busy too: result BUSY, leg NO_ANSWER (the leg that handled the call last)."""
    b = await bed()
    await b.did("15551000009", "endpoint:ring", no_answer="pstn:15551119999")
    _, outcome = await b.place("15551000009")
    assert (outcome.result, outcome.leg, outcome.dialstatus) == ("BUSY", "NO_ANSWER", "BUSY")


# -- switches --------------------------------------------------------------------------------------


@pytest.mark.parametrize("switch", ["did", "account"])
async def test_transfer_off_dials_the_primary_only(bed: Start, switch: str) -> None:
    """Transfer off on the DID, or for the whole account: the primary only, result from its DIALSTATUS."""
    b = await bed()
    await b.did("15551000010", "endpoint:busy", transfer=switch != "did", busy="endpoint:answer")
    if switch == "account":
        await b.repo.update_account(ACCOUNT, transfer_enabled=False)
    caller = str(next(callers))
    _, outcome = await b.place("15551000010", caller)
    assert (outcome.result, outcome.leg) == ("BUSY", "PRIMARY")
    assert [e["Dest"] for e in b.reached(caller)] == ["busy"]


async def test_always_forwards_without_ringing_the_primary(bed: Start) -> None:
    """ALWAYS set: only the ALWAYS destination rings, Diversion reason=unconditional."""
    b = await bed()
    await b.did("15551000011", "endpoint:answer", always="pstn:15550005555", busy="endpoint:busy")
    caller = str(next(callers))
    _, outcome = await b.place("15551000011", caller)
    assert (outcome.result, outcome.leg) == ("ANSWERED", "ALWAYS")
    (forwarded,) = b.reached(caller)
    assert forwarded["Dest"] == "15550005555" and "reason=unconditional" in forwarded["Diversion"]


async def test_caller_id_did_presents_the_did_on_the_forwarded_leg(bed: Start) -> None:
    """Caller-ID mode `did`: the transfer destination sees the DID as the caller's number."""
    b = await bed()
    await b.did("15551000012", "endpoint:busy", busy="pstn:15550006666", caller_id="did")
    caller = str(next(callers))
    _, outcome = await b.place("15551000012", caller)
    assert outcome.result == "ANSWERED"
    forwarded = [
        e for e in b.ami.matching("UserEvent", UserEvent="DestReached") if e["Dest"] == "15550006666"
    ]
    assert forwarded[-1]["CallerID"] == "15551000012"
    assert [e["Dest"] for e in b.reached(caller)] == ["busy"]


# -- the caller, loops, limits, load ------------------------------------------------------------------


async def test_caller_hangup_while_primary_rings_dials_nothing_more(bed: Start) -> None:
    """The caller gives up while the primary rings: CALLER_HANGUP, the NO ANSWER destination never rings."""
    b = await bed()
    await b.did("15551000013", "endpoint:ring", ring_timeout=20, no_answer="endpoint:answer")
    caller = str(next(callers))
    call = await b.ami.originate("15551000013", caller)
    await b.ami.wait_dest_reached(Dest="ring", CallerID=caller)
    await b.ami.hangup(call)
    outcome = await b.ami.wait_outcome(call, timeout=10)
    assert outcome.result == "CALLER_HANGUP" and outcome.leg == "PRIMARY"
    await asyncio.sleep(1)
    assert [e["Dest"] for e in b.reached(caller)] == ["ring"]


async def test_loop_between_two_dids_is_stopped(bed: Start) -> None:
    """A routes to B and B back to A (a PSTN that routes forwarded numbers back to us): stopped with LOOP."""
    b = await bed(pstn_dial="Local/{number}@from-pstn", max_hops=3)
    await b.did("15551000014", "endpoint:answer", always="pstn:15551000015")
    await b.did("15551000015", "endpoint:answer", always="pstn:15551000014")
    caller = str(next(callers))
    await b.place("15551000014", caller)
    loops = b.ami.matching("VarSet", Variable="DID_FAILOVER_RESULT", Value="LOOP")
    assert len(loops) == 1
    assert b.server.counters["loop"] == 1
    assert sum(b.server.counters.values()) == 4  # three hops, then the one that found the loop
    assert b.reached(caller) == []


async def test_did_at_its_channel_limit_gets_busy(bed: Start) -> None:
    """max channels 1: a second call while the first rings is BUSY and dials nothing."""
    b = await bed()
    await b.did("15551000016", "endpoint:ring", ring_timeout=10, max_channels=1)
    first_caller, second_caller = str(next(callers)), str(next(callers))
    first = await b.ami.originate("15551000016", first_caller)
    await b.ami.wait_dest_reached(Dest="ring", CallerID=first_caller)
    _, outcome = await b.place("15551000016", second_caller)
    assert (outcome.result, outcome.leg) == ("BUSY", "")
    assert b.reached(second_caller) == []
    await b.ami.hangup(first)
    await b.ami.wait_outcome(first, timeout=10)


async def test_twenty_concurrent_calls_all_fail_over(bed: Start) -> None:
    """20 calls at once to a busy primary: every one is answered by the BUSY destination."""
    b = await bed()
    await b.did("15551000017", "endpoint:busy", busy="pstn:15550007777")
    numbers = [str(next(callers)) for _ in range(20)]
    calls = [await b.ami.originate("15551000017", caller) for caller in numbers]
    outcomes = await asyncio.gather(*(b.ami.wait_outcome(call, timeout=40) for call in calls))
    assert [(o.result, o.leg) for o in outcomes] == [("ANSWERED", "BUSY")] * 20
    for caller in numbers:
        assert [e["Dest"] for e in b.reached(caller)] == ["busy", "15550007777"]


@pytest.mark.own_mariadb
async def test_database_stopped_during_a_run(bed: Start, own_mariadb: OwnMariaDB) -> None:
    """MariaDB killed mid-run: a DID seen before still fails over from the cache; an unseen one gets
    ERROR and AGISTATUS FAILURE so the dialplan's fallback runs; routing recovers when MariaDB returns."""
    b = await bed(cache_ttl=0.5, db_timeout=1.0)
    await b.did("15551000018", "endpoint:busy", busy="endpoint:answer")
    await b.did("15551000019", "endpoint:answer")
    _, seen = await b.place("15551000018")
    assert (seen.result, seen.leg) == ("ANSWERED", "BUSY")
    await asyncio.sleep(0.6)  # the cache entry is now stale: a lookup must ask the database
    own_mariadb.kill()
    try:
        started = asyncio.get_running_loop().time()
        _, cached = await b.place("15551000018")
        assert (cached.result, cached.leg) == ("ANSWERED", "BUSY")
        _, unseen = await b.place("15551000019")
        assert (unseen.result, unseen.agistatus) == ("ERROR", "FAILURE")
        assert asyncio.get_running_loop().time() - started < 15
    finally:
        own_mariadb.start()
    _, recovered = await b.place("15551000019")
    assert (recovered.result, recovered.leg) == ("ANSWERED", "PRIMARY")
