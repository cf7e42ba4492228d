"""One FastAGI session: the asyncio protocol that reads Asterisk's lines and the commands a handler sends."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any, cast

from fastagi.errors import (
    AGIError,
    CallerHungUp,
    CommandRejected,
    ReplyTimeout,
    SessionClosed,
)
from fastagi.protocol import (
    AGIRequest,
    Framer,
    Reply,
    ReplyReader,
    format_command,
    format_exec,
)

MAX_STRAY_LINES = 64
"""Unsolicited lines (other than HANGUP) tolerated while no command waits for a reply."""


@lru_cache(maxsize=4096)
def _full_variable_line(expression: str) -> bytes:
    """`GET FULL VARIABLE expression`, encoded; a route sends the same few over and over."""
    return format_command("GET", "FULL", "VARIABLE", expression)


class AGISession(asyncio.Protocol):
    """A FastAGI connection from Asterisk: collects the environment, then carries commands and replies.

    The server creates one per connection and starts the handler once the environment block is in.
    Handlers use `command()` and the helpers below; `fields` feeds the session's canonical log line.
    """

    __slots__ = (
        "_command_timeout",
        "_env_timeout",
        "_env_timer",
        "_framer",
        "_loop",
        "_on_request",
        "_pending",
        "_reader",
        "_stray",
        "_timer",
        "_transport",
        "_waiter",
        "close_reason",
        "closed",
        "commands",
        "fields",
        "first_dial",
        "hungup",
        "outcome",
        "peer",
        "request",
        "started",
        "task",
    )

    def __init__(
        self,
        on_request: Callable[[AGISession], None],
        env_timeout: float,
        command_timeout: float,
    ) -> None:
        self._on_request = on_request
        self._command_timeout = command_timeout
        self._env_timeout = env_timeout
        self._transport: asyncio.Transport | None = None
        self._framer = Framer()
        self._pending = True
        """No request yet: the session ends in `connection_lost` (reported with request None)."""
        self._env_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[Reply] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._reader = ReplyReader()
        self._stray = 0
        self.request: AGIRequest | None = None
        self.peer: str = ""
        self.started = time.monotonic()
        self.first_dial: float | None = None
        self.hungup = False
        self.closed = False
        self.commands = 0
        self.close_reason = ""
        self.fields: dict[str, Any] = {}
        """Extra fields for the session's log line (the handler's own, never read by the server)."""
        self.outcome: str | None = None
        """What the handler says the session came to (`healthy`, `answered`...); None: `ok`."""
        self.task: asyncio.Task[None] | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the clock for the environment block."""
        # uvloop's transports are not asyncio.Transport subclasses, but they behave as one.
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        # Kept: asyncio.get_running_loop() costs a getpid() system call every time it is asked.
        self._loop = loop = asyncio.get_running_loop()
        self._env_timer = loop.call_later(self._env_timeout, self._abort, "no environment block in time")

    def data_received(self, data: bytes) -> None:
        """Hand what arrived to the framer, then start the session or handle each reply line."""
        framer = self._framer
        request, lines = framer.feed(data)
        if request is not None:
            self._start(request)
        for line in lines:
            self._line(line)
            if self.closed:
                return
        if framer.problem:
            self._abort(framer.problem)

    def eof_received(self) -> bool | None:
        """Asterisk closed its side: the session is over."""
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """Fail whatever waits, stop timers; the handler task then ends on SessionClosed."""
        if not self.closed:
            self.closed = True
            if not self.close_reason:
                self.close_reason = "EOF before end of environment" if self._pending else "closed by Asterisk"
        if self._env_timer is not None:
            self._env_timer.cancel()
            self._env_timer = None
        self._stop_timer()
        self._transport = None  # transport -> protocol -> transport: let the pair go by refcount
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(SessionClosed(self.close_reason))
        if self._pending:
            # The handler never started: this is where the session ends.
            self._pending = False
            self._on_request(self)

    # -- lines --------------------------------------------------------------------------------------

    def _start(self, request: AGIRequest) -> None:
        """The environment is complete: stop its timer and hand the session to its handler."""
        self._pending = False
        if self._env_timer is not None:
            self._env_timer.cancel()
            self._env_timer = None
        self.request = request
        self._on_request(self)

    def _line(self, text: str) -> None:
        """One line after the environment: HANGUP, or (part of) the reply to the waiting command."""
        if text == "HANGUP":
            self.hungup = True
            return
        waiter = self._waiter
        if waiter is None or waiter.done():
            self._stray += 1
            if self._stray > MAX_STRAY_LINES:
                self._abort("too many lines with no command waiting")
            return
        try:
            reply = self._reader.feed(text)
        except AGIError as exc:
            self._waiter = None
            self._stop_timer()
            waiter.set_exception(exc)
            return
        if reply is not None:
            self._waiter = None
            self._stop_timer()
            waiter.set_result(reply)

    def _abort(self, reason: str) -> None:
        """Close the connection at once for a protocol reason."""
        if self.closed:
            return
        self.close_reason = reason
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    # -- commands -----------------------------------------------------------------------------------

    def command(self, *words: str, timeout: float | None = -1.0) -> asyncio.Future[Reply]:
        """Send one command; await the result for its reply. `timeout=None` waits as long as it takes."""
        if timeout is not None and timeout < 0:
            timeout = self._command_timeout
        return self._send(format_command(*words), timeout)

    def exec(self, app: str, options: str = "") -> asyncio.Future[Reply]:
        """Run a dialplan application (await the result); the options always travel as one quoted
        token, and there is no timeout: a Dial lasts as long as the call."""
        waiter = self._send(format_exec(app, options), None)
        if app == "Dial" and self.first_dial is None:
            self.first_dial = time.monotonic()  # session setup latency ends here (metrics)
        return waiter

    def _send(self, line: bytes, timeout: float | None) -> asyncio.Future[Reply]:
        """Write one command line; the future gets its reply (or the error that ended the wait)."""
        transport = self._transport
        if self.closed or transport is None:
            raise SessionClosed(self.close_reason or "session closed")
        if self._waiter is not None:
            raise RuntimeError("a command is already waiting for its reply")
        loop = self._loop
        assert loop is not None  # set with the transport
        waiter: asyncio.Future[Reply] = loop.create_future()
        self._waiter = waiter
        self._reader.reset()
        self._stray = 0
        self.commands += 1
        transport.write(line)
        if timeout is not None:
            self._timer = loop.call_later(timeout, self._reply_timeout, waiter, timeout)
        return waiter

    def _reply_timeout(self, waiter: asyncio.Future[Reply], timeout: float) -> None:
        self._timer = None
        if not waiter.done():
            self._waiter = None
            waiter.set_exception(ReplyTimeout(f"no reply within {timeout:g} s"))
            self._abort("reply timeout")

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def set_variable(self, name: str, value: str) -> None:
        """Set a channel variable (prefix `__` for an inherited one)."""
        await self.command("SET", "VARIABLE", name, value)

    async def get_variable(self, name: str) -> str | None:
        """Read a channel variable, None when unset."""
        reply = await self.command("GET", "VARIABLE", name)
        return reply.data if reply.result == "1" else None

    async def get_full_variable(self, expression: str) -> str | None:
        """Evaluate a dialplan expression such as `${DIALSTATUS},${HANGUPCAUSE}`."""
        reply = await self._send(_full_variable_line(expression), self._command_timeout)
        return reply.data if reply.result == "1" else None

    async def verbose(self, message: str, level: int = 1) -> None:
        """Write a line to the Asterisk console/log."""
        await self.command("VERBOSE", message.replace("\n", " ").replace("\0", ""), str(level))

    async def fail(self, reason: str) -> None:
        """End the session with AGISTATUS=FAILURE after a VERBOSE saying `reason` (best effort)."""
        if self.closed:
            return
        with contextlib.suppress(AGIError, OSError):
            await self.verbose(reason)
        self.send_failure()

    def send_failure(self) -> None:
        """Write the `failure` line: res_agi ends the session with AGISTATUS=FAILURE."""
        if not self.closed and self._transport is not None:
            self._transport.write(b"failure\n")
            self.close("failure")

    def close(self, reason: str = "closed by server") -> None:
        """Close the connection after what was written is flushed."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = self.close_reason or reason
        if self._transport is not None:
            self._transport.close()

    def refuse(self, reason: str) -> None:
        """Drop a connection that will never become a session (refused at accept): no report."""
        self._pending = False
        self._abort(reason)

    def abort(self, reason: str) -> None:
        """Drop the connection at once (shutdown after the grace period)."""
        self._abort(reason)

    def check_alive(self) -> None:
        """Raise CallerHungUp when a HANGUP line has arrived."""
        if self.hungup:
            raise CallerHungUp("caller hung up")


Handler = Callable[[AGISession], Awaitable[None]]
"""A route: a coroutine function that drives one session."""

__all__ = ["AGISession", "CallerHungUp", "CommandRejected", "Handler"]
