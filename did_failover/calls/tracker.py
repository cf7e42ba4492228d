"""What happened to each routed call: AGI facts plus AMI events, one call-history row when the call ends.

The routing handler reports what it decided (`start`, `dialing`, `dialed`, `finish`); the AMI listener
feeds events (`on_event`); neither ever waits for the other. A call's row is written when its channel
hangs up, or at once when the session ends while AMI is down: then answer time, cause and billable
seconds come from what Dial reported, and the end time is the session's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from did_failover.logs import info_line
from did_failover.numbers import whole_number
from did_failover.storage.records import Attempt, CallRecord

HANGUP_WAIT = 900.0
"""Seconds a finished session waits for its channel's Hangup event before its row is written anyway."""


class TrackedCall:
    """One routed call while it lasts: the handler's facts and what AMI reported."""

    __slots__ = (
        "account",
        "agi_answered",
        "answered_at",
        "answered_mono",
        "attempts",
        "billsec",
        "caller",
        "dest_uids",
        "did",
        "ended_at",
        "hangup_cause",
        "hangup_seen",
        "leg",
        "primary_destination",
        "primary_dialstatus",
        "result",
        "session_done",
        "session_ended_at",
        "started_at",
        "timer",
        "transfer_condition",
        "transfer_destination",
        "transfer_dialstatus",
        "uniqueid",
        "written",
    )

    def __init__(self, uniqueid: str, did: str, caller: str) -> None:
        self.uniqueid = uniqueid
        self.did = did
        self.caller = caller
        self.started_at = datetime.now(UTC)
        self.account: str | None = None
        self.agi_answered: tuple[datetime, int, int | None] | None = None
        """What Dial said of an answered leg: when it returned, milliseconds talked, hang-up cause."""
        self.primary_destination: str | None = None
        self.primary_dialstatus: str | None = None
        self.transfer_condition: str | None = None
        self.transfer_destination: str | None = None
        self.transfer_dialstatus: str | None = None
        self.result = ""
        self.leg: str | None = None
        self.attempts: list[Attempt] = []
        """Every destination dialled, in order: `dialing` adds one, `dialed` sets its status."""
        self.answered_at: datetime | None = None
        self.answered_mono: float | None = None
        self.billsec: int | None = None
        self.ended_at: datetime | None = None
        self.hangup_cause: int | None = None
        self.hangup_seen = False
        self.session_done = False
        self.session_ended_at: datetime | None = None
        self.written = False
        self.dest_uids: list[str] = []
        self.timer: asyncio.TimerHandle | None = None

    def record(self) -> CallRecord:
        """The call-history row: AMI's times and cause when it reported them, else what Dial and the
        session end said (the answer time from ANSWEREDTIME_MS, whole seconds billed)."""
        answered_at, ended_at, cause, billsec = (
            self.answered_at,
            self.ended_at,
            self.hangup_cause,
            self.billsec,
        )
        if ended_at is None:
            ended_at = self.session_ended_at
            if self.agi_answered is not None:
                returned, talked_ms, leg_cause = self.agi_answered
                ended_at = returned
                answered_at = answered_at or returned - timedelta(milliseconds=talked_ms)
                cause = leg_cause if cause is None else cause
                billsec = round(talked_ms / 1000) if billsec is None else billsec
        return CallRecord(
            started_at=self.started_at,
            did=self.did,
            result=self.result,
            account_number=self.account,
            caller=self.caller,
            primary_destination=self.primary_destination,
            primary_dialstatus=self.primary_dialstatus,
            transfer_condition=self.transfer_condition,
            transfer_destination=self.transfer_destination,
            transfer_dialstatus=self.transfer_dialstatus,
            leg=self.leg,
            answered_at=answered_at,
            ended_at=ended_at,
            hangup_cause=cause,
            billsec=billsec,
            uniqueid=self.uniqueid,
            attempts=tuple(self.attempts),
        )


class _DestChannel:
    """A channel our Dial created for one leg of a tracked call."""

    __slots__ = ("call", "destination", "leg")

    def __init__(self, call: TrackedCall, leg: str, destination: str) -> None:
        self.call = call
        self.leg = leg
        self.destination = destination


class CallTracker:
    """Correlates routed calls with AMI events by Uniqueid; hands finished calls to `sink`."""

    def __init__(self, sink: Callable[[CallRecord], None], hangup_wait: float = HANGUP_WAIT) -> None:
        self._sink = sink
        self._hangup_wait = hangup_wait
        self.calls: dict[str, TrackedCall] = {}
        self.channels: dict[str, _DestChannel] = {}
        self.ami_connected = False
        self._handlers: dict[str, Callable[[Mapping[str, str]], None]] = {
            "DialBegin": self._dial_begin,
            "DialEnd": self._dial_end,
            "Newstate": self._newstate,
            "BridgeEnter": self._bridge_enter,
            "Hangup": self._hangup,
        }

    # -- what the routing handler reports ---------------------------------------------------------------

    def start(self, uniqueid: str, did: str, caller: str) -> TrackedCall:
        """A routed call begins (the AGI session has its environment)."""
        call = TrackedCall(uniqueid, did, caller)
        if uniqueid:
            self.calls[uniqueid] = call
        return call

    def dialing(self, call: TrackedCall, leg: str, destination: str, step: int = 0) -> None:
        """The handler is about to Dial `destination` as `leg` (step `step` of its forward list)."""
        call.attempts.append(Attempt(leg, step, destination))
        if leg == "PRIMARY":
            call.primary_destination = destination
        else:
            call.transfer_condition = leg
            call.transfer_destination = destination

    def dialed(
        self,
        call: TrackedCall,
        leg: str,
        dialstatus: str,
        cause: str = "",
        answered_ms: str = "",
        members: tuple[str, ...] = (),
    ) -> None:
        """Dial returned with `dialstatus` (and HANGUPCAUSE and ANSWEREDTIME_MS as Dial set them),
        or VoiceMail with VMSTATUS; `members`: each ring-all member's own status, in order."""
        attempts = call.attempts
        if members and len(attempts) >= len(members):
            first = len(attempts) - len(members)
            for i, status in enumerate(members):
                attempts[first + i] = attempts[first + i]._replace(status=status)
                if status == "ANSWER" and leg != "PRIMARY":  # the member that took the call
                    call.transfer_destination = attempts[first + i].destination
        elif attempts:
            attempts[-1] = attempts[-1]._replace(status=dialstatus)
        if leg == "PRIMARY":
            call.primary_dialstatus = dialstatus
        else:
            call.transfer_dialstatus = dialstatus
        if dialstatus == "ANSWER":
            talked = whole_number(answered_ms, 18) or 0
            call.agi_answered = (datetime.now(UTC), talked, whole_number(cause, 5))

    def finish(self, call: TrackedCall, result: str, leg: str | None, account: str | None) -> None:
        """The session ended: write now unless AMI will tell us when the channel hangs up."""
        call.result = result
        call.leg = leg or None
        call.account = account
        call.session_done = True
        call.session_ended_at = datetime.now(UTC)
        if call.hangup_seen or not self.ami_connected or not call.uniqueid:
            self._write(call)
        else:
            call.timer = asyncio.get_running_loop().call_later(self._hangup_wait, self._write, call)

    # -- AMI ----------------------------------------------------------------------------------------

    def set_ami_connected(self, connected: bool) -> None:
        """AMI came up or went down; when down, calls whose session ended are written now."""
        self.ami_connected = connected
        if not connected:
            for call in [c for c in self.calls.values() if c.session_done]:
                self._write(call)

    def follows(self, uniqueid: str) -> bool:
        """Whether events of channel `uniqueid` matter: a routed call's, or one its Dial created."""
        return uniqueid in self.calls or uniqueid in self.channels

    def on_event(self, event: Mapping[str, str]) -> None:
        """One AMI event; events of channels we do not follow cost one dict lookup."""
        handler = self._handlers.get(event.get("Event", ""))
        if handler is not None:
            handler(event)

    def _dial_begin(self, event: Mapping[str, str]) -> None:
        call = self.calls.get(event.get("Uniqueid", ""))
        if call is None:
            return
        dest = event.get("DestUniqueid", "")
        ringing = call.attempts[-1] if call.attempts and call.attempts[-1].status is None else None
        leg, destination = (
            (ringing.leg, ringing.destination) if ringing else ("", event.get("DialString", ""))
        )
        if dest and dest not in self.channels:
            self.channels[dest] = _DestChannel(call, leg, destination)
            call.dest_uids.append(dest)
        self._state(call, leg, destination, "ringing")

    def _dial_end(self, event: Mapping[str, str]) -> None:
        call = self.calls.get(event.get("Uniqueid", ""))
        if call is None:
            return
        channel = self.channels.get(event.get("DestUniqueid", ""))
        leg, destination = (channel.leg, channel.destination) if channel else ("", "")
        status = event.get("DialStatus", "")
        if status == "ANSWER":
            self._answered(call)
        self._state(call, leg, destination, "dial_end", dialstatus=status)

    def _newstate(self, event: Mapping[str, str]) -> None:
        channel = self.channels.get(event.get("Uniqueid", ""))
        if channel is not None and event.get("ChannelState") == "6" and self._answered(channel.call):
            self._state(channel.call, channel.leg, channel.destination, "answered")

    def _bridge_enter(self, event: Mapping[str, str]) -> None:
        channel = self.channels.get(event.get("Uniqueid", ""))
        if channel is not None:
            self._answered(channel.call)
            self._state(channel.call, channel.leg, channel.destination, "bridged")

    def _hangup(self, event: Mapping[str, str]) -> None:
        uniqueid = event.get("Uniqueid", "")
        cause = event.get("Cause", "")
        channel = self.channels.pop(uniqueid, None)
        if channel is not None:
            leg_call = channel.call
            if leg_call.answered_mono is not None and leg_call.billsec is None:
                leg_call.billsec = round(time.monotonic() - leg_call.answered_mono)
            self._state(leg_call, channel.leg, channel.destination, "hangup", cause=cause)
            return
        call = self.calls.get(uniqueid)
        if call is None:
            return
        call.hangup_seen = True
        call.ended_at = datetime.now(UTC)
        call.hangup_cause = whole_number(cause, 5)
        if call.answered_mono is not None and call.billsec is None:
            call.billsec = round(time.monotonic() - call.answered_mono)
        self._state(call, call.leg or "", "", "ended", cause=cause)
        if call.session_done:
            self._write(call)

    def _answered(self, call: TrackedCall) -> bool:
        if call.answered_mono is not None:
            return False
        call.answered_mono = time.monotonic()
        call.answered_at = datetime.now(UTC)
        return True

    @staticmethod
    def _state(call: TrackedCall, leg: str, destination: str, state: str, **extra: str) -> None:
        """One log line per state change, keyed like the session's canonical line (several a call:
        the fast path of `info_line`)."""
        info_line(
            "did_failover.calls",
            "call state",
            {
                "uniqueid": call.uniqueid,
                "did": call.did,
                "leg": leg,
                "destination": destination,
                "state": state,
                **extra,
            },
        )

    def _write(self, call: TrackedCall) -> None:
        """Hand the call's row to the sink once and forget the call."""
        if call.written:
            return
        call.written = True
        if self.calls.get(call.uniqueid) is call:
            del self.calls[call.uniqueid]
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None
        for uid in call.dest_uids:
            self.channels.pop(uid, None)
        self._sink(call.record())
