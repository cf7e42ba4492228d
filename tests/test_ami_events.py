"""AMI events on the short path: parsed as Asterisk writes them, however TCP splits them, only ours."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from did_failover.calls.ami import EventProtocol, parse_event
from did_failover.calls.tracker import CallTracker
from did_failover.storage.records import CallRecord

OURS = "1796150000.11"
DEST = "1796150000.12"
OTHER = "1796150000.99"


def _event(name: str, **headers: str) -> str:
    lines = [f"Event: {name}", "Privilege: call,all", *(f"{k}: {v}" for k, v in headers.items())]
    return "\r\n".join(lines) + "\r\n\r\n"


STREAM = "".join(
    [
        _event("Newchannel", Channel="PJSIP/x-1", Uniqueid=OTHER),
        _event("DialBegin", Channel="PJSIP/pstn-1", Uniqueid=OURS, DestUniqueid=DEST, DialString="busy"),
        _event("DialBegin", Channel="PJSIP/other-1", Uniqueid=OTHER, DestUniqueid="x", DialString="x"),
        _event("Newstate", Uniqueid=DEST, ChannelState="6", ChannelStateDesc="Up"),
        _event("DialEnd", Uniqueid=OURS, DestUniqueid=DEST, DialStatus="ANSWER"),
        _event("BridgeEnter", Uniqueid=DEST, BridgeUniqueid="b-1"),
        _event("NewCallerid", Uniqueid=OURS, CallerIDNum="15550001111"),
        _event("Hangup", Uniqueid=DEST, Cause="16", **{"Cause-txt": "Normal Clearing"}),
        _event("Hangup", Uniqueid=OURS, Cause="16", **{"Cause-txt": "Normal Clearing"}),
    ]
)


def test_an_event_block_becomes_a_dict_of_its_headers() -> None:
    """`Key: value` lines, values keep their own `: `, an empty value stays empty."""
    event = parse_event(
        "Event: Hangup\r\nUniqueid: 1.2\r\nCause-txt: Normal: Clearing\r\nAccountCode: \r\nX:"
    )
    assert event == {
        "Event": "Hangup",
        "Uniqueid": "1.2",
        "Cause-txt": "Normal: Clearing",
        "AccountCode": "",
        "X": "",
    }


def _tracker_with_a_call(rows: list[CallRecord]) -> CallTracker:
    tracker = CallTracker(rows.append)
    tracker.set_ami_connected(True)
    call = tracker.start(OURS, "15551230000", "15550001111")
    tracker.dialing(call, "BUSY", "endpoint:answer")
    tracker.finish(call, "ANSWERED", "BUSY", "2001")
    return tracker


def _feed(chunks: list[bytes]) -> tuple[list[CallRecord], CallTracker]:
    rows: list[CallRecord] = []
    tracker = _tracker_with_a_call(rows)
    protocol = EventProtocol(tracker)
    protocol.connection_made(asyncio.Transport())
    protocol.version = "11.0.0"  # the greeting was read (panoramisk's own path)
    for chunk in chunks:
        protocol.data_received(chunk)
    return rows, tracker


async def test_the_tracker_gets_its_events_of_its_calls_and_writes_the_row() -> None:
    """DialBegin .. Hangup of a followed call reach the tracker: the row has answer, cause and billsec."""
    rows, tracker = _feed([STREAM.encode()])
    assert len(rows) == 1
    row = rows[0]
    assert (row.uniqueid, row.result, row.leg, row.hangup_cause) == (OURS, "ANSWERED", "BUSY", 16)
    assert row.answered_at is not None and row.ended_at is not None and row.billsec == 0
    assert not tracker.channels and not tracker.calls


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(1, len(STREAM.encode()) - 1), max_size=12, unique=True))
def test_events_split_anywhere_by_tcp_give_the_same_row(cuts: list[int]) -> None:
    """However the stream is cut into reads, the tracker ends with the same single row."""
    data = STREAM.encode()
    points = [0, *sorted(cuts), len(data)]
    chunks = [data[a:b] for a, b in itertools.pairwise(points)]

    async def run() -> list[CallRecord]:
        return _feed(chunks)[0]

    rows = asyncio.run(run())
    assert [(r.uniqueid, r.hangup_cause) for r in rows] == [(OURS, 16)]


class _RecordingTracker(CallTracker):
    """A real tracker that also keeps which events reached it."""

    def __init__(self, rows: list[CallRecord]) -> None:
        super().__init__(rows.append)
        self.seen: list[tuple[str, str]] = []

    def on_event(self, event: Mapping[str, str]) -> None:
        """Record, then track as usual."""
        self.seen.append((event["Event"], event.get("Uniqueid", "")))
        super().on_event(event)


async def test_only_the_tracked_events_of_followed_channels_reach_the_tracker() -> None:
    """Another call's DialBegin, Newchannel and NewCallerid never reach the tracker; ours all do."""
    rows: list[CallRecord] = []
    tracker = _RecordingTracker(rows)
    tracker.set_ami_connected(True)
    call = tracker.start(OURS, "15551230000", "15550001111")
    tracker.dialing(call, "BUSY", "endpoint:answer")
    tracker.finish(call, "ANSWERED", "BUSY", "2001")
    protocol = EventProtocol(tracker)
    protocol.connection_made(asyncio.Transport())
    protocol.version = "11.0.0"
    protocol.data_received(STREAM.encode())
    assert tracker.seen == [
        ("DialBegin", OURS),
        ("Newstate", DEST),
        ("DialEnd", OURS),
        ("BridgeEnter", DEST),
        ("Hangup", DEST),
        ("Hangup", OURS),
    ]
    assert len(rows) == 1
