"""The AGI errors: what a handler may see, so it can tell a caller hang-up from a bug."""

from __future__ import annotations


class AGIError(Exception):
    """Base of every FastAGI protocol error."""


class SessionClosed(AGIError):
    """Asterisk closed the connection (EOF) or the session was shut down."""


class CallerHungUp(AGIError):
    """The caller hung up: the channel is gone or a HANGUP line arrived."""


class DeadChannel(CallerHungUp):
    """Asterisk answered 511: the command is not permitted on a dead channel."""


class CommandRejected(AGIError):
    """Asterisk answered 510 (unknown command) or 520 (bad syntax) to a command we sent."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


class ProtocolViolation(AGIError):
    """The peer sent something that is not FastAGI: a line too long, too many lines, garbage."""


class ReplyTimeout(AGIError):
    """No reply to a command within the reply timeout."""


class UnsafeValue(AGIError, ValueError):
    """A command argument holds a newline or NUL and cannot be sent safely."""
