"""The log output: the canonical line's fast path writes what structlog writes, lines stay in order."""

from __future__ import annotations

import asyncio
import io
import json
import re

from did_failover import logs

FIELDS = {"script": "did-failover", "uniqueid": "1795757547.1", "outcome": "answered", "duration_ms": 4.7}


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    logs.flush()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_session_line_is_the_line_structlog_writes() -> None:
    """Same keys in the same order, same values, timestamp in structlog's ISO UTC form."""
    stream = io.StringIO()
    logs.configure("info", "json", stream)
    logs.session_line("fastagi.server", dict(FIELDS))
    logs.get_logger("fastagi.server").info("session", **FIELDS)
    fast, slow = _lines(stream)
    assert list(fast) == list(slow) == ["component", *FIELDS, "event", "level", "timestamp"]
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
    assert stamp.fullmatch(str(fast.pop("timestamp"))) and stamp.fullmatch(str(slow.pop("timestamp")))
    assert fast == slow


def test_call_state_line_is_the_line_structlog_writes() -> None:
    """The tracker's `call state` lines take the same fast path and come out as structlog's would."""
    stream = io.StringIO()
    logs.configure("info", "json", stream)
    state = {"uniqueid": "1.2", "did": "15551230000", "leg": "BUSY", "destination": "x", "state": "ringing"}
    logs.info_line("fastagi.calls", "call state", dict(state))
    logs.get_logger("fastagi.calls").info("call state", **state)
    fast, slow = _lines(stream)
    assert list(fast) == list(slow) == ["component", *state, "event", "level", "timestamp"]
    fast.pop("timestamp")
    slow.pop("timestamp")
    assert fast == slow


def test_session_line_follows_level_and_format() -> None:
    """Not written at warning; written by structlog's console renderer when the format is console."""
    stream = io.StringIO()
    logs.configure("warning", "json", stream)
    logs.session_line("fastagi.server", dict(FIELDS))
    assert _lines(stream) == []
    logs.configure("info", "console", stream)
    logs.session_line("fastagi.server", dict(FIELDS))
    logs.flush()
    text = stream.getvalue()
    assert "session" in text and "uniqueid=1795757547.1" in text and not text.startswith("{")


async def test_lines_of_one_loop_pass_leave_together_and_in_order() -> None:
    """Inside the loop, lines wait for the end of the pass, then leave in the order they were logged."""
    stream = io.StringIO()
    logs.configure("info", "json", stream)
    log = logs.get_logger("test")
    log.info("first")
    logs.session_line("fastagi.server", dict(FIELDS))
    log.warning("third")
    assert stream.getvalue() == ""
    await asyncio.sleep(0)
    assert [line["event"] for line in _lines(stream)] == ["first", "session", "third"]
