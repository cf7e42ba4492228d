"""Event correlation of the call tracker, replaying an AMI transcript captured on the real test bed."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from did_failover.calls.tracker import CallTracker
from did_failover.storage.records import Attempt, CallRecord, attempts_text, parse_attempts

TRANSCRIPT = json.loads((Path(__file__).parent / "data" / "ami_busy_failover.json").read_text())
AGI_UID: str = TRANSCRIPT["agi_uniqueid"]
EVENTS: list[dict[str, str]] = TRANSCRIPT["events"]
"""A busy primary (PJSIP/busy) failing over to pstn:15550008888, as Asterisk 22.10 reported it."""


def _indexes(event: str, **fields: str) -> list[int]:
    return [
        i
        for i, candidate in enumerate(EVENTS)
        if candidate["Event"] == event and all(candidate.get(k) == v for k, v in fields.items())
    ]


def _index(event: str, **fields: str) -> int:
    return _indexes(event, **fields)[0]


PRIMARY_BEGIN, TRANSFER_BEGIN = _indexes("DialBegin", Uniqueid=AGI_UID)
TRANSFER_END = _index("DialEnd", Uniqueid=AGI_UID, DialStatus="ANSWER")
TRANSFER_HANGUP = _index("Hangup", Uniqueid=EVENTS[TRANSFER_END]["DestUniqueid"])
CALL_HANGUP = _index("Hangup", Uniqueid=AGI_UID)


def _replay(tracker: CallTracker, events: list[dict[str, str]], *, finish_at: int | None = None) -> None:
    """Play the handler's side at the points it happens on the wire, and the events in between."""
    call = tracker.start(AGI_UID, "15552000001", "15557100009")
    finish_at = TRANSFER_HANGUP + 1 if finish_at is None else finish_at
    for i, event in enumerate(events):
        if i == PRIMARY_BEGIN:
            tracker.dialing(call, "PRIMARY", "endpoint:busy")
        if i == TRANSFER_BEGIN:
            tracker.dialing(call, "BUSY", "pstn:15550008888")
        if i == finish_at:
            tracker.dialed(call, "PRIMARY", "BUSY")
            tracker.dialed(call, "BUSY", "ANSWER")
            tracker.finish(call, "ANSWERED", "BUSY", "7100")
        tracker.on_event(event)
    if finish_at >= len(events):
        tracker.dialed(call, "PRIMARY", "BUSY")
        tracker.dialed(call, "BUSY", "ANSWER")
        tracker.finish(call, "ANSWERED", "BUSY", "7100")


async def test_transcript_gives_one_complete_row_at_channel_hangup() -> None:
    """In wire order: one row, written at the AGI channel's Hangup, with every AMI field."""
    rows: list[CallRecord] = []
    tracker = CallTracker(rows.append)
    tracker.set_ami_connected(True)
    _replay(tracker, EVENTS)
    (row,) = rows
    assert (row.primary_destination, row.primary_dialstatus) == ("endpoint:busy", "BUSY")
    assert (row.transfer_condition, row.transfer_destination, row.transfer_dialstatus) == (
        "BUSY",
        "pstn:15550008888",
        "ANSWER",
    )
    assert (row.result, row.leg, row.account_number, row.hangup_cause) == ("ANSWERED", "BUSY", "7100", 16)
    assert row.answered_at is not None and row.ended_at is not None and row.billsec == 0
    assert not tracker.calls and not tracker.channels


async def test_row_waits_for_hangup_after_the_session_ends() -> None:
    """The session ends before the channel hangs up (the dialplan goes on): the row waits for Hangup."""
    rows: list[CallRecord] = []
    tracker = CallTracker(rows.append)
    tracker.set_ami_connected(True)
    _replay(tracker, EVENTS[:CALL_HANGUP])
    assert rows == [] and AGI_UID in tracker.calls
    tracker.on_event(EVENTS[CALL_HANGUP])
    assert len(rows) == 1 and rows[0].ended_at is not None


async def test_hangup_before_the_session_ends_is_kept_for_the_row() -> None:
    """Out of order: the channel's Hangup arrives before the handler finishes."""
    rows: list[CallRecord] = []
    tracker = CallTracker(rows.append)
    tracker.set_ami_connected(True)
    _replay(tracker, EVENTS, finish_at=len(EVENTS))
    (row,) = rows
    assert row.hangup_cause == 16 and row.ended_at is not None and row.result == "ANSWERED"


async def test_unrelated_channels_are_ignored() -> None:
    """A busy Asterisk's other calls, interleaved at random, change nothing and leave nothing behind."""
    rows: list[CallRecord] = []
    tracker = CallTracker(rows.append)
    tracker.set_ami_connected(True)
    noise = [_renamed(event, "other") for event in EVENTS] * 3
    mixed = list(EVENTS)
    rng = random.Random(7)
    for event in noise:
        mixed.insert(rng.randrange(len(mixed) + 1), event)
    # Replay with the handler's calls at the same events as before.
    call = tracker.start(AGI_UID, "15552000001", "15557100009")
    for event in mixed:
        if event is EVENTS[PRIMARY_BEGIN]:
            tracker.dialing(call, "PRIMARY", "endpoint:busy")
        if event is EVENTS[TRANSFER_BEGIN]:
            tracker.dialing(call, "BUSY", "pstn:15550008888")
        if event is EVENTS[CALL_HANGUP]:
            tracker.finish(call, "ANSWERED", "BUSY", "7100")
        tracker.on_event(event)
    assert len(rows) == 1 and rows[0].uniqueid == AGI_UID
    assert not tracker.calls and not tracker.channels


async def test_events_out_of_order_within_the_call_never_raise() -> None:
    """Any order at all (a reconnect can replay or drop events): no exception, at most one row."""
    for seed in range(50):
        rows: list[CallRecord] = []
        tracker = CallTracker(rows.append, hangup_wait=0.01)
        tracker.set_ami_connected(True)
        shuffled = list(EVENTS)
        random.Random(seed).shuffle(shuffled)
        call = tracker.start(AGI_UID, "15552000001", "15557100009")
        tracker.dialing(call, "PRIMARY", "endpoint:busy")
        for event in shuffled:
            tracker.on_event(event)
        tracker.finish(call, "ANSWERED", "BUSY", "7100")
        await asyncio.sleep(0.02)
        assert len(rows) == 1
        assert not tracker.calls and not tracker.channels


async def test_ami_down_writes_at_once_from_what_the_agi_side_knows() -> None:
    """With AMI down the row is written when the session ends: an unanswered call has its end time
    (the session's) and no answer; nothing is made up."""
    rows: list[CallRecord] = []
    tracker = CallTracker(rows.append)
    call = tracker.start(AGI_UID, "15552000001", "15557100009")
    tracker.dialing(call, "PRIMARY", "endpoint:busy")
    tracker.dialed(call, "PRIMARY", "BUSY", "17", "")
    tracker.finish(call, "BUSY", "PRIMARY", "7100")
    (row,) = rows
    assert (row.result, row.primary_dialstatus, row.answered_at, row.billsec, row.hangup_cause) == (
        "BUSY",
        "BUSY",
        None,
        None,
        None,
    )
    assert row.ended_at is not None and row.started_at <= row.ended_at


async def test_ami_down_an_answered_leg_gets_answer_time_cause_and_billsec_from_dial() -> None:
    """Dial's ANSWEREDTIME_MS and HANGUPCAUSE give the row what AMI would: answered that long before
    Dial returned, the leg's cause, whole seconds billed."""
    rows: list[CallRecord] = []
    tracker = CallTracker(rows.append)
    call = tracker.start(AGI_UID, "15552000001", "15557100009")
    tracker.dialing(call, "PRIMARY", "endpoint:busy")
    tracker.dialed(call, "PRIMARY", "BUSY", "17", "")
    tracker.dialing(call, "BUSY", "pstn:+15557654321")
    tracker.dialed(call, "BUSY", "ANSWER", "16", "61600")
    tracker.finish(call, "ANSWERED", "BUSY", "7100")
    (row,) = rows
    assert (row.transfer_dialstatus, row.hangup_cause, row.billsec) == ("ANSWER", 16, 62)
    assert row.answered_at is not None and row.ended_at is not None
    assert (row.ended_at - row.answered_at).total_seconds() == 61.6


async def test_ami_lost_while_waiting_for_hangup_flushes_the_row() -> None:
    """AMI drops after the session ended but before the Hangup event: the row is written then."""
    rows: list[CallRecord] = []
    tracker = CallTracker(rows.append)
    tracker.set_ami_connected(True)
    _replay(tracker, EVENTS[:CALL_HANGUP])
    assert rows == []
    tracker.set_ami_connected(False)
    # AMI saw the answer; the end is the session's, as no Hangup event came.
    assert len(rows) == 1 and rows[0].answered_at is not None and rows[0].hangup_cause is None
    assert rows[0].ended_at is not None and rows[0].answered_at <= rows[0].ended_at


async def test_missing_hangup_event_is_written_after_the_wait() -> None:
    """A Hangup event that never comes does not keep the call in memory for ever."""
    rows: list[CallRecord] = []
    tracker = CallTracker(rows.append, hangup_wait=0.05)
    tracker.set_ami_connected(True)
    _replay(tracker, EVENTS[:CALL_HANGUP])
    await asyncio.sleep(0.1)
    assert len(rows) == 1 and not tracker.calls


def _renamed(event: dict[str, str], prefix: str) -> dict[str, Any]:
    return {
        key: f"{prefix}-{value}" if key in ("Uniqueid", "DestUniqueid", "Linkedid") and value else value
        for key, value in event.items()
    }


def test_attempts_read_back_as_the_legs_column_has_always_held_them() -> None:
    """The `legs` text rows written before attempts were records still reads: a status of `-`
    (Dial returned none) and no status at all (the session ended while it rang)."""
    text = "PRIMARY endpoint:alice BUSY|BUSY#1 pstn:+15551230001 -|BUSY#2 voicemail:100"
    attempts = parse_attempts(text)
    assert attempts == (
        Attempt("PRIMARY", 0, "endpoint:alice", "BUSY"),
        Attempt("BUSY", 1, "pstn:+15551230001", ""),
        Attempt("BUSY", 2, "voicemail:100", None),
    )
    assert attempts_text(attempts) == text
    assert parse_attempts(None) == () and attempts_text(()) is None
    call = CallRecord(datetime.now(UTC), "15550001", "ANSWERED", attempts=attempts)
    assert call.forwarded_to() == ["pstn:+15551230001", "voicemail:100"]
