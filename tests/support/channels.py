"""Fake channels: the Asterisk side of a session, answering each command like a real channel would."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

HOST = "127.0.0.1"
OUTCOME = "DID_FAILOVER_OUTCOME"


def _outcome(status: str, cause: str = "") -> str:
    """The outcome Asterisk's read-back decides on for a DIALSTATUS and HANGUPCAUSE."""
    named = {"ANSWER": "ANSWERED", "CANCEL": "CALLER_HANGUP", "BUSY": "BUSY", "NOANSWER": "NOANSWER"}
    if status in ("CHANUNAVAIL", "CONGESTION") and cause in ("17", "21"):
        return "BUSY"
    return named.get(status, "UNAVAILABLE")


@dataclass
class TimedCall:
    """What one fake-Asterisk session saw: commands, `failure`, and the setup delay to the first Dial."""

    commands: list[str] = field(default_factory=list)
    failure: bool = False
    closed_by_server: bool = False
    setup: float | None = None
    """Seconds from connect() to the first `EXEC Dial` received."""
    duration: float = 0.0

    @property
    def result(self) -> str | None:
        """The DID_FAILOVER_RESULT the server set, None when it set none."""
        for command in self.commands:
            if command.startswith("EXEC MSet") and "DID_FAILOVER_RESULT=" in command:
                return command.split("DID_FAILOVER_RESULT=", 1)[1].split(",", 1)[0]
        return None


Answer = Callable[[str, int], list[str] | None]
"""(command, index) -> the lines to answer; None closes the connection at once (abrupt disconnect)."""


async def timed_call(
    port: int,
    env: bytes,
    answer: Answer,
    *,
    host: str = HOST,
    reply_delay: float = 0.0,
    timeout: float = 15.0,
) -> TimedCall:
    """Play Asterisk for one session; `reply_delay` seconds before each Dial's reply (the call rings)."""
    seen = TimedCall()
    start = time.perf_counter()  # uvloop's loop.time() only has millisecond resolution
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(env)
        async with asyncio.timeout(timeout):
            while line := await reader.readline():
                text = line.decode("utf-8", errors="replace").rstrip("\n")
                if text.lower().startswith("failure"):
                    seen.failure = True
                    continue
                if text.startswith("EXEC Dial") and seen.setup is None:
                    seen.setup = time.perf_counter() - start
                seen.commands.append(text)
                lines = answer(text, len(seen.commands) - 1)
                if lines is None:
                    writer.transport.abort()
                    break
                if text.startswith("EXEC Dial") and reply_delay:
                    await asyncio.sleep(reply_delay)
                writer.write("".join(f"{a}\n" for a in lines).encode())
            else:
                seen.closed_by_server = True
    except ConnectionError:
        seen.closed_by_server = True
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    seen.duration = time.perf_counter() - start
    return seen


class FakeChannel:
    """A channel whose Dials end with the given `DIALSTATUS,HANGUPCAUSE` values in turn (then ANSWER,16).

    `hops` and `group_count` are what the channel holds for the hop counter and the DID's GROUP_COUNT.
    `hangup_on_dial=N`: HANGUP comes with the reply to the Nth Dial (the next status is still read).
    `hangup_before=N`: HANGUP comes just before the reply to command N (from 0): the caller gave up,
    so DIALSTATUS reads CANCEL from then on. VoiceMail() leaves VMSTATUS `vmstatus`. `look_ahead`:
    a Dial's read-back returns the outcome a real channel decides on, as if it made the assignments
    (routing/ahead.py; without it the server sends them as MSets, as to an older channel). A responder
    for `fastagi.client.call` and an `Answer` for `timed_call` alike.
    """

    def __init__(
        self,
        *statuses: str,
        hops: str = "",
        group_count: str = "1",
        hangup_on_dial: int = 0,
        hangup_before: int | None = None,
        vmstatus: str = "SUCCESS",
        look_ahead: bool = False,
    ) -> None:
        self.statuses = list(statuses)
        self.look_ahead = look_ahead
        self.vmstatus = vmstatus
        self.hops = hops
        self.group_count = group_count
        self.hangup_on_dial = hangup_on_dial
        self.hangup_before = hangup_before
        self.dials = 0
        self.commands = 0
        self.hungup = False

    def __call__(self, command: str, index: int | None = None) -> list[str]:
        """The lines Asterisk answers `command` with."""
        lines: list[str] = []
        if self.commands == self.hangup_before and not self.hungup:
            self.hungup = True
            lines.append("HANGUP")
        self.commands += 1
        if command.startswith("EXEC Dial"):
            self.dials += 1
            if self.dials == self.hangup_on_dial:
                lines.append("HANGUP")
        elif command.startswith("GET FULL VARIABLE"):
            if command.startswith(("GET FULL VARIABLE ${VMSTATUS}", 'GET FULL VARIABLE "${VMSTATUS}')):
                return [*lines, f"200 result=1 ({self.vmstatus})"]
            if "DIALSTATUS" in command:
                status = (
                    "CANCEL," if self.hungup else (self.statuses.pop(0) if self.statuses else "ANSWER,16")
                )
                if self.look_ahead and OUTCOME in command:
                    status = f"{status},,{_outcome(*status.split(',')[:2])}"
                return [*lines, f"200 result=1 ({status})"]
            group = f",{self.group_count}" if "GROUP_COUNT" in command else ""
            return [*lines, f"200 result=1 ({self.hops},,1001{group})"]
        elif command == "GET VARIABLE VMSTATUS":
            return [*lines, f"200 result=1 ({self.vmstatus})"]
        return [*lines, "200 result=0"]


def channel(*statuses: str, hangup_before: int | None = None) -> Answer:
    """A fresh `FakeChannel` for one `timed_call`."""
    return FakeChannel(*statuses, hangup_before=hangup_before)
